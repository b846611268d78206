#include "core/walkers/sdt/sdt_capture.h"

#include <bpf/btf.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/btf/offset_resolver.h"

namespace kfreeze::walkers::sdt {
namespace {

using kfreeze::v1::FailureDumpReport;

// What the scan of every section found, for the reasons when nothing was captured.
struct Findings {
  bool allocator_type = false;
  bool static_type = false;
  std::string allocator_layout_error;
  std::string static_layout_error;
  bool allocator_instance = false;
  bool static_instance = false;
};

struct Var {
  std::string name;
  uint32_t offset = 0;
  uint32_t size = 0;
  uint32_t type_id = 0;  // the variable's type, typedefs and modifiers stripped
};

std::vector<Var> DatasecVars(const GlobalSection& s, const OffsetResolver& resolver) {
  std::vector<Var> out;
  const struct btf_type* sec = btf__type_by_id(s.btf, s.datasec_type_id);
  if (sec == nullptr || !btf_is_datasec(sec)) return out;
  const struct btf_var_secinfo* info = btf_var_secinfos(sec);
  for (uint16_t i = 0; i < btf_vlen(sec); ++i) {
    const struct btf_type* var = btf__type_by_id(s.btf, info[i].type);
    if (var == nullptr || !btf_is_var(var)) continue;
    absl::StatusOr<uint32_t> type = resolver.SkipModsAndTypedefs(var->type);
    if (!type.ok()) continue;
    out.push_back({btf__name_by_offset(s.btf, var->name_off), info[i].offset, info[i].size, *type});
  }
  return out;
}

bool IsStruct(const struct btf* btf, uint32_t id, absl::string_view name) {
  const struct btf_type* t = btf__type_by_id(btf, id);
  return t != nullptr && btf_is_struct(t) && name == btf__name_by_offset(btf, t->name_off);
}

// The bytes of `v`, or empty when the section is shorter than the BTF says.
absl::Span<const uint8_t> Slice(const GlobalSection& s, const Var& v, uint64_t size) {
  if (uint64_t{v.offset} + size > s.bytes.size() || size > v.size) return {};
  return absl::MakeConstSpan(s.bytes).subspan(v.offset, size);
}

void ScanSection(const GlobalSection& s, const ArenaAllocatorInputs& in, Findings& f,
                 FailureDumpReport& report) {
  const bool has_allocator = btf__find_by_name_kind(s.btf, "scx_allocator", BTF_KIND_STRUCT) > 0;
  const bool has_static = btf__find_by_name_kind(s.btf, "scx_static", BTF_KIND_STRUCT) > 0;
  if (!has_allocator && !has_static) return;
  f.allocator_type |= has_allocator;
  f.static_type |= has_static;
  const OffsetResolver resolver(s.btf);
  std::optional<SdtLayout> sdt;
  if (has_allocator) {
    absl::StatusOr<SdtLayout> l = ResolveSdtLayout(resolver);
    if (l.ok()) {
      sdt = *l;
    } else {
      f.allocator_layout_error = std::string(l.status().message());
    }
  }
  std::optional<ScxStaticLayout> bump;
  if (has_static) {
    absl::StatusOr<ScxStaticLayout> l = ResolveScxStaticLayout(resolver);
    if (l.ok()) {
      bump = *l;
    } else {
      f.static_layout_error = std::string(l.status().message());
    }
  }
  if (in.arena.memory == nullptr) return;
  for (const Var& v : DatasecVars(s, resolver)) {
    if (sdt && IsStruct(s.btf, v.type_id, "scx_allocator")) {
      absl::Span<const uint8_t> bytes = Slice(s, v, sdt->allocator_size);
      if (bytes.empty()) continue;
      kfreeze::v1::SdtAllocatorSnapshot snap =
          WalkSdtAllocator(bytes, *sdt, in.arena, s.btf, v.name, in.caps, in.expired);
      // An allocator never passed to scx_alloc_init is all zeros: nothing to show.
      if (snap.entries_size() == 0 && snap.elem_size() == 0) continue;
      f.allocator_instance = true;
      *report.add_sdt_allocations() = std::move(snap);
    } else if (bump && IsStruct(s.btf, v.type_id, "scx_static")) {
      absl::Span<const uint8_t> bytes = Slice(s, v, bump->size);
      if (bytes.empty()) continue;
      f.static_instance = true;
      auto* ranges = report.mutable_scx_static_ranges();
      kfreeze::v1::ScxStaticRange range;
      if (ReadScxStatic(bytes, *bump, in.arena, v.name, &range)) {
        *ranges->add_ranges() = std::move(range);
      } else {
        ranges->set_skipped(ranges->skipped() + 1);
      }
    }
  }
}

// The first missing prerequisite, in the order a reader would check them.
std::string Reason(bool type, const std::string& layout_error, bool arena, bool instance,
                   absl::string_view no_type, absl::string_view layout_prefix,
                   absl::string_view no_instance) {
  if (!type) return std::string(no_type);
  if (!layout_error.empty()) return absl::StrCat(layout_prefix, layout_error);
  if (!arena) return std::string(kReasonSdtAllocNoArena);
  if (!instance) return std::string(no_instance);
  return "";
}

}  // namespace

bool DeclaresArenaAllocator(const struct btf* btf) {
  return btf__find_by_name_kind(btf, "scx_allocator", BTF_KIND_STRUCT) > 0 ||
         btf__find_by_name_kind(btf, "scx_static", BTF_KIND_STRUCT) > 0;
}

void CaptureArenaAllocators(const ArenaAllocatorInputs& in, FailureDumpReport& report) {
  if (in.expired && in.expired())
    return MarkArenaAllocatorsUnavailable(report, kReasonSdtAllocDeadlineExceeded);
  if (in.sections.empty()) return MarkArenaAllocatorsUnavailable(report, kReasonSdtAllocNoBss);
  Findings f;
  for (const GlobalSection& s : in.sections) ScanSection(s, in, f, report);
  const bool arena = in.arena.memory != nullptr;
  if (std::string r =
          Reason(f.allocator_type, f.allocator_layout_error, arena, f.allocator_instance,
                 kReasonSdtAllocNoType, kReasonSdtLayoutPrefix, kReasonSdtAllocNoInstance);
      !r.empty()) {
    report.set_sdt_alloc_unavailable(r);
  }
  if (std::string r =
          Reason(f.static_type, f.static_layout_error, arena, f.static_instance,
                 kReasonScxStaticNoType, kReasonScxStaticLayoutPrefix, kReasonScxStaticNoInstance);
      !r.empty()) {
    report.set_scx_static_unavailable(r);
  }
}

void MarkArenaAllocatorsUnavailable(FailureDumpReport& report, absl::string_view reason) {
  report.set_sdt_alloc_unavailable(std::string(reason));
  report.set_scx_static_unavailable(std::string(reason));
}

}  // namespace kfreeze::walkers::sdt
