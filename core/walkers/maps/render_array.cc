// BPF_MAP_TYPE_ARRAY, PERCPU_ARRAY and the fd-array family (kernel/bpf/arraymap.c): struct
// bpf_array holds value[] (elem_size apart), pptrs[] or ptrs[] in one flexible union.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {

// The kernel's elem_size (round_up(value_size, 8)); checked against value_size because a wrong
// stride would shift every key after the first.
bool ElemSize(MapContext& ctx, uint64_t* elem_size) {
  absl::StatusOr<uint64_t> v =
      ReadField(ctx.reader(), ctx.map().kva, ctx.off().array.value.elem_size);
  if (!v.ok()) {
    ctx.Unreadable(v.status());
    return false;
  }
  if (*v != RoundUp8(ctx.map().value_size)) {
    ctx.Error(absl::StrCat("bpf_array.elem_size ", *v, " does not match value_size ",
                           ctx.map().value_size));
    return false;
  }
  *elem_size = *v;
  return true;
}

// Keys rendered, with the cap reported.
uint32_t KeysToRender(MapContext& ctx, uint32_t cap, absl::string_view kind) {
  const uint32_t n = std::min(ctx.map().max_entries, cap);
  if (ctx.map().max_entries > cap) {
    ctx.Error(absl::StrCat(kind, " truncated at ", cap,
                           " keys (max_entries=", ctx.map().max_entries, ")"));
  }
  return n;
}

}  // namespace

void RenderArray(MapContext& ctx) {
  if (!ctx.off().array.ok()) return ctx.Error(std::string(ctx.off().array.status.message()));
  const BpfMapInfo& m = ctx.map();
  const Kva values = m.kva + ctx.off().array.value.value;
  // Global sections (.bss/.data/.rodata) are one-entry arrays: a single `value` (a Datasec).
  if (m.max_entries <= 1) {
    if (m.max_entries == 1) {
      ctx.ReadRendered(values, m.value_size, m.btf_value_type_id, ctx.out()->mutable_value());
    }
    return;
  }
  uint64_t elem_size = 0;
  if (!ElemSize(ctx, &elem_size)) return;
  const uint32_t n = KeysToRender(ctx, ctx.caps().max_array_entries, "ARRAY");
  uint32_t unreadable = 0;
  for (uint32_t key = 0; key < n; ++key) {
    auto* entry = ctx.out()->add_array_entries();
    entry->set_key(key);
    if (!ctx.ReadRendered(values + key * elem_size, m.value_size, m.btf_value_type_id,
                          entry->mutable_value())) {
      ++unreadable;
    }
  }
  if (unreadable > 0) ctx.Error(absl::StrCat(unreadable, " keys unreadable"));
}

void RenderPercpuArray(MapContext& ctx) {
  if (!ctx.off().array.ok()) return ctx.Error(std::string(ctx.off().array.status.message()));
  if (ctx.percpu() == nullptr) return ctx.Error("per-CPU layout unavailable");
  const BpfMapInfo& m = ctx.map();
  const uint32_t n = KeysToRender(ctx, ctx.caps().max_percpu_keys, "PERCPU_ARRAY");
  std::vector<uint8_t> pptrs;
  if (!ctx.ReadRaw(m.kva + ctx.off().array.value.value, uint64_t{n} * 8, &pptrs)) return;
  const PerCpuLayout& percpu = *ctx.percpu();
  const std::vector<CpuId>& possible = percpu.PossibleCpus();
  const CpuId last = possible.empty() ? 0 : possible.back();
  for (uint32_t key = 0; key < n; ++key) {
    uint64_t pptr = 0;
    std::memcpy(&pptr, pptrs.data() + key * 8, 8);
    auto* entry = ctx.out()->add_percpu_entries();
    entry->set_key(key);
    // Index = CPU id; a CPU that is not possible stays null (no per-CPU area exists for it).
    for (CpuId cpu = 0; !possible.empty() && cpu <= last; ++cpu) {
      auto* slot = entry->add_per_cpu();
      absl::StatusOr<Kva> at = percpu.PerCpuPtr(Kva(pptr), cpu);
      if (!at.ok()) continue;
      ctx.ReadRendered(*at, m.value_size, m.btf_value_type_id, slot->mutable_value());
    }
  }
}

void RenderFdArray(MapContext& ctx) {
  if (!ctx.off().array.ok()) return ctx.Error(std::string(ctx.off().array.status.message()));
  const BpfMapInfo& m = ctx.map();
  const uint32_t scan = std::min(m.max_entries, ctx.caps().max_fd_slots);
  auto* fd = ctx.out()->mutable_fd_array();
  fd->set_scanned(scan);
  if (m.max_entries > scan) fd->set_truncated(true);
  std::vector<uint8_t> slots;
  if (!ctx.ReadRaw(m.kva + ctx.off().array.value.value, uint64_t{scan} * 8, &slots)) {
    fd->set_unreadable(scan);
    return;
  }
  for (uint32_t i = 0; i < scan; ++i) {
    uint64_t ptr = 0;
    std::memcpy(&ptr, slots.data() + i * 8, 8);
    if (ptr == 0) continue;
    fd->set_populated(fd->populated() + 1);
    if (static_cast<uint32_t>(fd->indices_size()) < ctx.caps().max_fd_indices) {
      fd->add_indices(i);
    } else {
      fd->set_indices_truncated(true);
    }
  }
  if (fd->truncated()) {
    ctx.Error(absl::StrCat("fd array scanned ", scan, " of ", m.max_entries, " slots"));
  }
  if (fd->indices_truncated()) {
    ctx.Error(absl::StrCat("fd array indices listed up to ", ctx.caps().max_fd_indices));
  }
}

void RenderFdArrayIds(MapContext& ctx) {
  if (!ctx.off().array.ok()) return;
  const Kva slots = ctx.map().kva + ctx.off().array.value.value;
  for (uint32_t index : ctx.out()->fd_array().indices()) {
    absl::StatusOr<uint64_t> inner = ctx.reader().ReadU64(slots + uint64_t{index} * 8);
    if (!inner.ok()) {
      ctx.Unreadable(inner.status());
      continue;
    }
    uint32_t id = 0;
    const bool ok = ctx.map().type == kMapProgArray ? ctx.ProgId(Kva(*inner), &id)
                                                    : ctx.InnerMapId(Kva(*inner), &id);
    if (!ok) continue;
    auto* e = ctx.out()->add_entries();
    e->set_key_hex(&index, 4);
    e->set_value_hex(&id, 4);
    e->mutable_value()->mutable_uint()->set_bits(32);
    e->mutable_value()->mutable_uint()->set_value(id);
  }
}

}  // namespace kfreeze::walkers::maps
