// PTR kind: the raw value, and a chase only into captured arena memory. Kernel pointers are never
// dereferenced here; every pointer that is not chased says why.
#include <bpf/btf.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/btf_render/renderer.h"

namespace kfreeze::btf_render::internal {

void Renderer::RenderPtr(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out) {
  const uint64_t value = LoadLe(bytes.first(PointerSize()));
  auto* pv = out->mutable_ptr();
  pv->set_value(value);
  if (value == 0) return;
  uint32_t target_id = t->type;
  std::string reason;
  const btf_type* target = Peel(&target_id, &reason);
  if (target == nullptr) return pv->set_deref_skipped_reason(reason);
  if (btf_kind(target) == BTF_KIND_FUNC_PROTO || btf_kind(target) == BTF_KIND_FUNC) {
    return pv->set_deref_skipped_reason(std::string(kRenderReasonFunctionPointer));
  }
  const ArenaMemory* arena = options_.arena;
  if (arena == nullptr) return pv->set_deref_skipped_reason(std::string(kRenderReasonNoArena));
  if (!arena->Contains(value)) {
    return pv->set_deref_skipped_reason(std::string(kRenderReasonKernelPointer));
  }
  uint64_t size = 0;
  if (!SizeOf(target_id, target, &size, &reason) || size == 0) {
    return pv->set_deref_skipped_reason(std::string(kRenderReasonUnsizedPointee));
  }
  if (depth + kDerefLevels > options_.caps.max_depth) {
    Note(absl::StrCat(kRenderReasonDepthCap, " (", options_.caps.max_depth, ")"));
    return pv->set_deref_skipped_reason(std::string(kRenderReasonDepthCap));
  }
  if (std::find(chase_stack_.begin(), chase_stack_.end(), value) != chase_stack_.end()) {
    return pv->set_deref_skipped_reason(std::string(kRenderReasonPointerCycle));
  }
  const uint64_t len = std::min<uint64_t>(size, options_.caps.max_pointer_chase_bytes);
  if (len < size) {
    Note(absl::StrCat("pointer chase capped at ", len, " of ", size, " bytes"));
  }
  std::vector<uint8_t> buffer(len);
  if (absl::Status st = arena->Read(value, absl::MakeSpan(buffer)); !st.ok()) {
    return pv->set_deref_skipped_reason(
        absl::StrCat(kRenderReasonArenaReadFailedPrefix, st.message()));
  }
  chase_stack_.push_back(value);
  RenderType(t->type, buffer, depth + kDerefLevels, pv->mutable_deref());
  chase_stack_.pop_back();
}

}  // namespace kfreeze::btf_render::internal
