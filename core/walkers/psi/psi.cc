#include "core/walkers/psi/psi.h"

#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/guest_text.h"
#include "core/base/reasons.h"
#include "core/base/status.h"
#include "core/ds/list.h"

namespace kfreeze::walkers::psi {
namespace {

constexpr std::pair<const char*, std::pair<const char*, const char*>> kStates[] = {
    {"PSI_IO_SOME", {"io", "some"}},      {"PSI_IO_FULL", {"io", "full"}},
    {"PSI_MEM_SOME", {"memory", "some"}}, {"PSI_MEM_FULL", {"memory", "full"}},
    {"PSI_CPU_SOME", {"cpu", "some"}},    {"PSI_CPU_FULL", {"cpu", "full"}},
    {"PSI_IRQ_FULL", {"irq", "full"}},
};

// One psi_group -> a CgroupPsiStat's numbers.
absl::Status ReadGroup(Reader& reader, const PsiContext& ctx, Kva group,
                       kfreeze::v1::CgroupPsiStat* out) {
  const uint32_t row = ctx.states_per_row;
  std::vector<uint64_t> total(row), avg(row * 3);
  KF_RETURN_IF_ERROR(reader.ReadVirt(
      group + ctx.total, std::span<uint8_t>(reinterpret_cast<uint8_t*>(total.data()), row * 8)));
  KF_RETURN_IF_ERROR(reader.ReadVirt(
      group + ctx.avg, std::span<uint8_t>(reinterpret_cast<uint8_t*>(avg.data()), row * 24)));
  for (const PsiState& s : ctx.states) {
    kfreeze::v1::PsiStateStat* st = out->add_states();
    st->set_resource(s.resource);
    st->set_kind(s.kind);
    st->set_total_ns(total[s.index]);  // total[PSI_AVGS][state]
    st->set_avg10_raw(avg[s.index * 3]);
    st->set_avg60_raw(avg[s.index * 3 + 1]);
    st->set_avg300_raw(avg[s.index * 3 + 2]);
  }
  if (ctx.irq_full) {
    out->set_total_ns(total[*ctx.irq_full]);
    out->set_avg10_raw(avg[*ctx.irq_full * 3]);
  }
  return absl::OkStatus();
}

constexpr size_t kMaxProblems = 16;

class CgroupWalk {
 public:
  CgroupWalk(Reader& reader, const PsiContext& ctx, kfreeze::v1::FailureDumpReport& report)
      : reader_(reader), ctx_(ctx), c_(*ctx.cgroup), report_(report) {}

  absl::StatusOr<std::string> Name(Kva cgrp) {
    KF_ASSIGN_OR_RETURN(Kva kn, reader_.ReadPtr(cgrp + c_.kn));
    if (kn.IsNull()) return BadData("cgroup without kernfs node");
    KF_ASSIGN_OR_RETURN(Kva name, reader_.ReadPtr(kn + c_.kn_name));
    return reader_.ReadCString(name, kMaxCgroupNameLen);
  }

  std::vector<Kva> Children(Kva cgrp) {
    ds::ListWalk w = ds::ListForEach(reader_, cgrp + c_.self + c_.children, kMaxChildren);
    if (!w.complete()) {
      if (incomplete_children_++ == 0) first_incomplete_ = cgrp;
    }
    std::vector<Kva> out;
    for (Kva node : w.nodes) out.push_back(node - c_.sibling - c_.self);
    return out;
  }

  // The cgroup at `path` below the root, by kernfs names.
  absl::StatusOr<Kva> Resolve(Kva root, const std::string& path) {
    Kva at = root;
    for (absl::string_view comp : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      std::optional<Kva> next;
      for (Kva child : Children(at)) {
        absl::StatusOr<std::string> name = Name(child);
        if (name.ok() && *name == comp) {
          next = child;
          break;
        }
      }
      if (!next) return absl::NotFoundError(absl::StrCat("no cgroup ", path));
      at = *next;
    }
    return at;
  }

  // Depth-first, parents before children; `path` is the cgroup's own path. A cgroup enters the
  // pending stack at most once (the seen check comes before the push) and holds only its parent's
  // index, so a guest whose child lists all lead into one shared ring costs one entry per distinct
  // cgroup, never one per edge; paths are built once per visited cgroup and capped.
  void Walk(Kva cgrp, const std::string& path, bool is_root) {
    struct Pending {
      Kva cgrp;
      uint32_t parent;  // index into paths_ (kNoParent for the start)
    };
    constexpr uint32_t kNoParent = ~0u;
    std::vector<Pending> stack = {{cgrp, kNoParent}};
    seen_.insert(cgrp.value);
    while (!stack.empty()) {
      if (reader_.BudgetExhausted()) {
        Problem(absl::StrCat("cgroup walk cut: ", reader_.budget()->status().message()));
        break;
      }
      const Pending at = stack.back();
      stack.pop_back();
      std::string p = path;
      if (at.parent != kNoParent) {
        absl::StatusOr<std::string> name = Name(at.cgrp);
        if (!name.ok()) {
          Problem(absl::StrCat("cgroup ", Hex(at.cgrp), ": ", name.status().message()));
          continue;
        }
        p = ChildPath(paths_[at.parent], *name);
        if (p.size() > kMaxCgroupPathLen) {
          if (long_paths_++ == 0) first_long_path_ = at.cgrp;
          continue;
        }
      }
      if (!reader_.ChargeHeld(p.size() + sizeof(Pending))) {
        Problem(absl::StrCat("cgroup walk cut: ", reader_.budget()->status().message()));
        break;
      }
      held_ += p.size() + sizeof(Pending);
      const uint32_t index = static_cast<uint32_t>(paths_.size());
      paths_.push_back(std::move(p));
      if (!(is_root && at.cgrp == cgrp)) Emit(at.cgrp, paths_.back());  // root: psi_system's
      std::vector<Kva> kids = Children(at.cgrp);
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) {
        if (seen_.contains(it->value)) continue;
        if (seen_.size() >= kMaxCgroups) {
          // What is pending is still walked; nothing more is taken on.
          if (!capped_) Problem(absl::StrCat("cgroup walk cut at ", kMaxCgroups, " cgroups"));
          capped_ = true;
          break;
        }
        seen_.insert(it->value);
        stack.push_back({*it, index});
      }
    }
    reader_.ReleaseHeld(held_);
    held_ = 0;
  }

  static std::string ChildPath(const std::string& parent, absl::string_view name) {
    return parent == "/" ? absl::StrCat("/", name) : absl::StrCat(parent, "/", name);
  }

  void Emit(Kva cgrp, const std::string& path) {
    absl::StatusOr<Kva> psi = reader_.ReadPtr(cgrp + c_.psi);
    if (!psi.ok() || psi->IsNull()) {
      Problem(absl::StrCat(GuestText(path), ": no psi_group"));
      return;
    }
    if (!reader_.ChargeNodes(1)) {
      Problem(absl::StrCat("cgroup walk cut: ", reader_.budget()->status().message()));
      return;
    }
    kfreeze::v1::CgroupPsiStat stat;
    stat.set_cgroup_kva(cgrp.value);
    stat.set_path(GuestText(path));
    if (!IsValidUtf8(path)) stat.set_path_raw(path);
    if (auto serial = reader_.ReadU64(cgrp + c_.self + c_.serial_nr); serial.ok()) {
      stat.set_serial_nr(*serial);
    }
    absl::Status s = ReadGroup(reader_, ctx_, *psi, &stat);
    if (!s.ok()) {
      Problem(absl::StrCat(GuestText(path), ": ", s.message()));
      return;
    }
    *report_.add_cgroup_psi() = std::move(stat);
  }

  // The first kMaxProblems are kept; a hostile tree can fail every cgroup, the reason stays short.
  void Problem(std::string p) {
    if (problems_.size() < kMaxProblems) {
      problems_.push_back(std::move(p));
    } else {
      ++more_problems_;
    }
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    // Per-cgroup conditions a hostile tree repeats for every cgroup are counted, not listed.
    if (incomplete_children_ > 0) {
      out.push_back(incomplete_children_ == 1
                        ? absl::StrCat("children of ", Hex(first_incomplete_), " incomplete")
                        : absl::StrCat("children of ", incomplete_children_,
                                       " cgroups incomplete (first ", Hex(first_incomplete_), ")"));
    }
    if (long_paths_ > 0) {
      out.push_back(absl::StrCat(long_paths_, " cgroup(s) with a path longer than ",
                                 kMaxCgroupPathLen, " bytes skipped (first ", Hex(first_long_path_),
                                 ")"));
    }
    out.insert(out.end(), problems_.begin(), problems_.end());
    if (more_problems_ > 0) out.push_back(absl::StrCat("+", more_problems_, " more"));
    return out;
  }

 private:
  Reader& reader_;
  const PsiContext& ctx_;
  const PsiContext::Cgroup& c_;
  kfreeze::v1::FailureDumpReport& report_;
  absl::flat_hash_set<uint64_t> seen_;  // pushed or visited
  std::vector<std::string> paths_;      // of every visited cgroup, by visit order
  uint64_t held_ = 0;                   // bytes charged to the dump's memory budget
  std::vector<std::string> problems_;
  uint64_t more_problems_ = 0;
  uint64_t incomplete_children_ = 0, long_paths_ = 0;
  bool capped_ = false;
  Kva first_incomplete_, first_long_path_;
};

}  // namespace

PsiContext BuildPsiContext(const KernelView& kernel) {
  PsiContext ctx;
  ctx.symbols = &kernel.symbols;
  ctx.psi_system = kernel.symbols.Address("psi_system");
  ctx.psi_disabled = kernel.symbols.Address("psi_disabled");
  ctx.cgrp_dfl_root = kernel.symbols.Address("cgrp_dfl_root");
  // psi_group.total[NR_PSI_AGGREGATORS][NR_PSI_STATES - 1] and avg[][3], sized from BTF.
  struct PsiGroupLayout {
    MemberLocation total, avg;
    int64_t nr_states = 0;
  };
  const Group<PsiGroupLayout> pg =
      ResolveGroup<PsiGroupLayout>(kernel.btf, "psi_group", [](OffsetGroup& g, PsiGroupLayout& o) {
        o.total = g.Member("psi_group.total");
        o.avg = g.Member("psi_group.avg");
        o.nr_states = g.EnumValue("NR_PSI_STATES");
      });
  ctx.total = pg->total.ByteOffset();
  ctx.avg = pg->avg.ByteOffset();
  if (pg.ok()) {
    const int64_t nr_states = pg->nr_states;
    ctx.states_per_row = static_cast<uint32_t>(nr_states - 1);  // PSI_NONIDLE has no total
    for (const auto& [enumerator, names] : kStates) {
      absl::StatusOr<int64_t> v = kernel.btf.EnumValue(enumerator);
      if (!v.ok() || *v < 0 || *v >= ctx.states_per_row) continue;
      ctx.states.push_back({*v, names.first, names.second});
      if (std::string_view(enumerator) == "PSI_IRQ_FULL") ctx.irq_full = *v;
    }
    if (nr_states < 2 || pg->total.byte_size < ctx.states_per_row * 8ull ||
        pg->avg.byte_size < ctx.states_per_row * 24ull) {
      ctx.status = BadData(absl::StrCat("psi_group arrays smaller than NR_PSI_STATES ", nr_states));
    }
  } else {
    ctx.status = pg.status;
  }
  if (ctx.status.ok() && !ctx.psi_system) ctx.status = absl::NotFoundError("no psi_system symbol");

  ctx.cgroup = ResolveGroup<PsiContext::Cgroup>(
      kernel.btf, "cgroup", [](OffsetGroup& g, PsiContext::Cgroup& c) {
        c.root_cgrp = g.Offset("cgroup_root.cgrp");
        c.self = g.Offset("cgroup.self");
        c.sibling = g.Offset("cgroup_subsys_state.sibling");
        c.children = g.Offset("cgroup_subsys_state.children");
        c.serial_nr = g.Offset("cgroup_subsys_state.serial_nr");
        c.kn = g.Offset("cgroup.kn");
        c.kn_name = g.Offset("kernfs_node.name");
        c.psi = g.Offset("cgroup.psi");
      });
  if (ctx.cgroup.ok() && !ctx.cgrp_dfl_root) {
    ctx.cgroup.status = absl::NotFoundError("no cgrp_dfl_root symbol");
  }
  return ctx;
}

void CapturePsi(Reader& reader, const PsiContext& ctx, const PsiOptions& options,
                kfreeze::v1::FailureDumpReport& report) {
  if (!ctx.status.ok()) {
    report.set_cgroup_psi_unavailable(absl::StrCat(kReasonPsiPrefix, ctx.status.message()));
    return;
  }
  if (ctx.psi_disabled) {
    // static_key_false.key.enabled (atomic_t at offset 0): set by psi=0 / PSI_DEFAULT_DISABLED.
    absl::StatusOr<int32_t> disabled = reader.ReadS32(*ctx.psi_disabled);
    if (disabled.ok() && *disabled > 0) {
      report.set_cgroup_psi_unavailable(std::string(kReasonPsiDisabled));
      return;
    }
  }
  kfreeze::v1::CgroupPsiStat system;
  system.set_cgroup_kva(ctx.psi_system->value);  // the group itself: it has no cgroup
  system.set_path("/");
  system.set_is_system(true);
  if (absl::Status s = ReadGroup(reader, ctx, *ctx.psi_system, &system); !s.ok()) {
    report.set_cgroup_psi_unavailable(absl::StrCat(kReasonPsiPrefix, "psi_system: ", s.message()));
    return;
  }
  *report.add_cgroup_psi() = std::move(system);
  if (!ctx.cgroup) {
    report.set_cgroup_psi_unavailable(
        absl::StrCat(kReasonPsiPartialPrefix, "cgroups not walked: ", ctx.cgroup.status.message()));
    return;
  }
  CgroupWalk walk(reader, ctx, report);
  const Kva root = *ctx.cgrp_dfl_root + ctx.cgroup->root_cgrp;
  absl::StatusOr<Kva> start = walk.Resolve(root, options.root_path);
  if (!start.ok()) {
    walk.Problem(std::string(start.status().message()));
  } else {
    std::string path = absl::StrCat(
        "/", absl::StrJoin(absl::StrSplit(options.root_path, '/', absl::SkipEmpty()), "/"));
    walk.Walk(*start, path, *start == root);
  }
  if (!walk.problems().empty()) {
    report.set_cgroup_psi_unavailable(
        absl::StrCat(kReasonPsiPartialPrefix, absl::StrJoin(walk.problems(), "; ")));
  }
}

}  // namespace kfreeze::walkers::psi
