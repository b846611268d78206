#include "core/walkers/prog/prog_stats.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/guest_text.h"
#include "core/base/reasons.h"
#include "core/base/status.h"
#include "core/ds/xarray.h"

namespace kfreeze::walkers::prog {
namespace {

constexpr const char* kGlobalSections[] = {".bss", ".data", ".rodata"};

struct UsedMap {
  Kva kva;
  std::string name;
  uint32_t type = 0;
};

struct StructOpsProg {
  kfreeze::v1::ProgRuntimeStats stats;
  std::vector<UsedMap> maps;
};

// "<obj>.bss" -> "obj"; nullopt for other names.
std::optional<std::string> ObjectOf(const std::string& map_name) {
  for (const char* sec : kGlobalSections) {
    if (absl::EndsWith(map_name, sec) && map_name.size() > strlen(sec)) {
      return map_name.substr(0, map_name.size() - strlen(sec));
    }
  }
  return std::nullopt;
}

absl::StatusOr<StructOpsProg> ReadProg(Reader& reader, const ProgContext& ctx, Kva prog) {
  const ProgOffsets& o = ctx.off;
  StructOpsProg out;
  KF_ASSIGN_OR_RETURN(Kva aux, reader.ReadPtr(prog + o.aux));
  if (aux.IsNull()) return BadData("bpf_prog.aux is NULL");
  out.stats.set_prog_kva(prog.value);
  if (auto id = reader.ReadU32(aux + o.aux_id); id.ok()) out.stats.set_prog_id(*id);
  KF_ASSIGN_OR_RETURN(std::string name, reader.ReadCharArray(aux + o.aux_name, 16));
  out.stats.set_name(GuestText(name));
  if (o.verified_insns) {
    if (auto v = reader.ReadU32(aux + *o.verified_insns); v.ok()) out.stats.set_verified_insns(*v);
  }
  KF_ASSIGN_OR_RETURN(Kva stats, reader.ReadPtr(prog + o.stats));
  if (!stats.IsNull()) {
    uint64_t cnt = 0, nsecs = 0, misses = 0;
    for (CpuId cpu : ctx.percpu->PossibleCpus()) {
      KF_ASSIGN_OR_RETURN(Kva at, ctx.percpu->PerCpuPtr(stats, cpu));
      KF_ASSIGN_OR_RETURN(uint64_t c, reader.ReadU64(at + o.stats_cnt));
      KF_ASSIGN_OR_RETURN(uint64_t n, reader.ReadU64(at + o.stats_nsecs));
      KF_ASSIGN_OR_RETURN(uint64_t m, reader.ReadU64(at + o.stats_misses));
      cnt = SaturatingAdd(cnt, c);
      nsecs = SaturatingAdd(nsecs, n);
      misses = SaturatingAdd(misses, m);
    }
    out.stats.set_cnt(cnt);
    out.stats.set_nsecs(nsecs);
    out.stats.set_misses(misses);
  }
  KF_ASSIGN_OR_RETURN(Kva used, reader.ReadPtr(aux + o.used_maps));
  KF_ASSIGN_OR_RETURN(uint32_t used_cnt, reader.ReadU32(aux + o.used_map_cnt));
  for (uint32_t i = 0; i < std::min(used_cnt, kMaxUsedMaps) && !used.IsNull(); ++i) {
    absl::StatusOr<Kva> map = reader.ReadPtr(used + uint64_t{i} * 8);
    if (!map.ok() || map->IsNull()) continue;
    UsedMap m{*map, "", 0};
    if (auto n = reader.ReadCharArray(*map + ctx.off.map_name, 16); n.ok()) m.name = GuestText(*n);
    if (auto t = reader.ReadU32(*map + ctx.off.map_type); t.ok()) m.type = *t;
    out.maps.push_back(std::move(m));
  }
  return out;
}

void SetActive(const std::vector<StructOpsProg>& progs, kfreeze::v1::FailureDumpReport& report,
               uint32_t struct_ops_map_type) {
  std::optional<std::string> obj;
  for (const StructOpsProg& p : progs) {
    for (const UsedMap& m : p.maps) {
      if (!obj) obj = ObjectOf(m.name);
    }
    if (obj) break;
  }
  absl::flat_hash_set<uint64_t> seen;
  auto add = [&](Kva k) {
    if (seen.insert(k.value).second) report.add_active_map_kvas(k.value);
  };
  if (obj) {
    report.set_active_obj_name(*obj);
    // Every map that programs of this object use (theirs share its global sections).
    for (const StructOpsProg& p : progs) {
      bool mine = false;
      for (const UsedMap& m : p.maps) mine |= ObjectOf(m.name) == obj;
      if (!mine) continue;
      for (const UsedMap& m : p.maps) add(m.kva);
    }
    return;
  }
  // No global sections: name the scheduler by its struct_ops map, if a program uses one.
  for (const StructOpsProg& p : progs) {
    for (const UsedMap& m : p.maps) {
      if (m.type == struct_ops_map_type && !m.name.empty()) {
        report.set_active_obj_name(m.name);
        add(m.kva);
        return;
      }
    }
  }
}

}  // namespace

ProgContext BuildProgContext(const KernelView& kernel) {
  ProgContext ctx;
  ctx.percpu = &kernel.percpu;
  ctx.prog_idr = kernel.symbols.Address("prog_idr");
  const Group<ds::IdrOffsets> idr = ds::ResolveIdrOffsets(kernel.btf);
  const Group<ProgOffsets> off =
      ResolveGroup<ProgOffsets>(kernel.btf, "bpf_prog", [](OffsetGroup& g, ProgOffsets& o) {
        o.type = g.Offset("bpf_prog.type");
        o.aux = g.Offset("bpf_prog.aux");
        o.stats = g.Offset("bpf_prog.stats");
        o.aux_id = g.Offset("bpf_prog_aux.id");
        o.aux_name = g.Offset("bpf_prog_aux.name");
        o.used_maps = g.Offset("bpf_prog_aux.used_maps");
        o.used_map_cnt = g.Offset("bpf_prog_aux.used_map_cnt");
        o.verified_insns = g.OptionalOffset("bpf_prog_aux.verified_insns");
        o.stats_cnt = g.Offset("bpf_prog_stats.cnt");
        o.stats_nsecs = g.Offset("bpf_prog_stats.nsecs");
        o.stats_misses = g.Offset("bpf_prog_stats.misses");
        o.map_name = g.Offset("bpf_map.name");
        o.map_type = g.Offset("bpf_map.map_type");
        o.prog_type_struct_ops = static_cast<uint32_t>(g.EnumValue("BPF_PROG_TYPE_STRUCT_OPS"));
        o.map_type_struct_ops = static_cast<uint32_t>(g.EnumValue("BPF_MAP_TYPE_STRUCT_OPS"));
      });
  if (!idr.ok()) {
    ctx.status = idr.status;
  } else if (!off.ok()) {
    ctx.status = off.status;
  } else if (!ctx.prog_idr) {
    ctx.status = absl::NotFoundError("no prog_idr symbol");
  }
  ctx.idr = *idr;
  ctx.off = *off;
  return ctx;
}

void CaptureProgStats(Reader& reader, const ProgContext& ctx,
                      kfreeze::v1::FailureDumpReport& report) {
  if (!ctx.status.ok()) {
    report.set_prog_runtime_stats_unavailable(
        absl::StrCat(std::string(kReasonProgAccessorUnavailable), ": ", ctx.status.message()));
    return;
  }
  ds::XaWalk walk = ds::XaForEach(reader, *ctx.prog_idr + ctx.idr.xa_head, ctx.idr, kMaxProgs);
  if (walk.root_lost) {
    report.set_prog_runtime_stats_unavailable(absl::StrCat(
        std::string(kReasonProgAccessorUnavailable), ": ", walk.first_error.message()));
    return;
  }
  std::vector<StructOpsProg> progs;
  std::vector<std::string> problems;
  for (const ds::XaEntry& e : walk.entries) {
    absl::StatusOr<uint32_t> type = reader.ReadU32(e.entry + ctx.off.type);
    if (!type.ok()) {
      problems.push_back(absl::StrCat("prog ", Hex(e.entry), ": ", type.status().message()));
      continue;
    }
    if (*type != ctx.off.prog_type_struct_ops) continue;
    absl::StatusOr<StructOpsProg> p = ReadProg(reader, ctx, e.entry);
    if (!p.ok()) {
      problems.push_back(absl::StrCat("prog ", Hex(e.entry), ": ", p.status().message()));
      continue;
    }
    *report.add_prog_runtime_stats() = p->stats;
    progs.push_back(*std::move(p));
  }
  SetActive(progs, report, ctx.off.map_type_struct_ops);
  if (walk.truncated || walk.errors > 0) {
    problems.push_back(absl::StrCat("prog_idr walk incomplete (", walk.errors, " errors)"));
  }
  if (progs.empty() && problems.empty()) {
    report.set_prog_runtime_stats_unavailable(std::string(kReasonNoStructOpsLoaded));
  } else if (!problems.empty()) {
    report.set_prog_runtime_stats_unavailable(absl::StrCat(
        kReasonProgStatsPartialPrefix, problems.front(),
        problems.size() > 1 ? absl::StrCat(" (+", problems.size() - 1, " more)") : ""));
  }
}

}  // namespace kfreeze::walkers::prog
