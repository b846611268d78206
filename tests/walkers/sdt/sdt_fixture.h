// Synthetic scx-library program BTF (lib/sdt_task_defs.h shapes) and arena pages for the sdt
// walker tests.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/btf_render/render.h"

namespace kfreeze::walkers::sdt::testing {

inline constexpr uint64_t kUserVmStart = uint64_t{1} << 32;
inline constexpr uint64_t kPage = 4096;

struct SdtBtfOptions {
  bool desc_chunk_first = false;  // reorder sdt_desc: chunk, nr_free, allocated[]
  bool with_allocator = true;
  bool allocator_has_root = true;
  bool with_static = true;
  int64_t levels = 3;                 // SDT_TASK_LEVELS; 0 leaves enum sdt_consts out
  uint32_t payload_struct_count = 1;  // structs of the payload's size (task_ctx, task_ctx2, ...)
};

// Type ids and layout facts the tests need.
struct SdtBtf {
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf{nullptr, btf__free};
  uint32_t datasec = 0;
  uint32_t payload_struct = 0;
  // sdt_desc member offsets as built.
  uint64_t desc_allocated = 0, desc_nr_free = 0, desc_chunk = 0, desc_size = 80;
  // .bss: task_allocator (struct scx_allocator, 40 bytes) at 0, scx_static (24 bytes) at 40.
  static constexpr uint32_t kAllocatorOff = 0, kStaticOff = 40, kBssSize = 64;
};

inline SdtBtf BuildSdtBtf(const SdtBtfOptions& o = {}) {
  SdtBtf out;
  out.btf.reset(btf__new_empty());
  struct btf* b = out.btf.get();
  const int u64 = btf__add_int(b, "u64", 8, 0);
  const int s32 = btf__add_int(b, "s32", 4, BTF_INT_SIGNED);
  const int s64 = btf__add_int(b, "s64", 8, BTF_INT_SIGNED);
  const int vptr = btf__add_ptr(b, 0);
  const int u32 = btf__add_int(b, "u32", 4, 0);
  if (o.levels != 0) {
    btf__add_enum(b, "sdt_consts", 4);
    btf__add_enum_value(b, "SDT_TASK_LEVELS", o.levels);
    btf__add_enum_value(b, "SDT_TASK_ENTS_PER_CHUNK", 512);
  }
  const int pool = btf__add_struct(b, "sdt_pool", 32);
  btf__add_field(b, "slab", vptr, 0, 0);
  btf__add_field(b, "elem_size", u64, 64, 0);
  btf__add_field(b, "max_elems", u64, 128, 0);
  btf__add_field(b, "idx", u64, 192, 0);
  const int bitmap = btf__add_array(b, u32, u64, 8);
  const int chunk_fwd = btf__add_fwd(b, "sdt_chunk", BTF_FWD_STRUCT);
  const int chunk_ptr = btf__add_ptr(b, chunk_fwd);
  const int desc = btf__add_struct(b, "sdt_desc", 80);
  if (o.desc_chunk_first) {
    out.desc_chunk = 0, out.desc_nr_free = 8, out.desc_allocated = 16;
  } else {
    out.desc_allocated = 0, out.desc_nr_free = 64, out.desc_chunk = 72;
  }
  btf__add_field(b, "allocated", bitmap, out.desc_allocated * 8, 0);
  btf__add_field(b, "nr_free", u64, out.desc_nr_free * 8, 0);
  btf__add_field(b, "chunk", chunk_ptr, out.desc_chunk * 8, 0);
  const int desc_ptr = btf__add_ptr(b, desc);
  const int ptrs = btf__add_array(b, u32, desc_ptr, 512);
  const int vptrs = btf__add_array(b, u32, vptr, 512);
  const int slots = btf__add_union(b, "", 4096);
  btf__add_field(b, "descs", ptrs, 0, 0);
  btf__add_field(b, "data", vptrs, 0, 0);
  btf__add_struct(b, "sdt_chunk", 4096);
  btf__add_field(b, "", slots, 0, 0);
  const int id = btf__add_union(b, "sdt_id", 8);
  btf__add_field(b, "val", s64, 0, 0);
  const int flex = btf__add_array(b, u32, u64, 0);
  btf__add_struct(b, "sdt_data", 8);
  btf__add_field(b, "tid", id, 0, 0);
  btf__add_field(b, "payload", flex, 64, 0);
  (void)s32;
  int allocator = 0;
  if (o.with_allocator) {
    allocator = btf__add_struct(b, "scx_allocator", 40);
    btf__add_field(b, "pool", pool, 0, 0);
    if (o.allocator_has_root) btf__add_field(b, "root", desc_ptr, 256, 0);
  }
  int bump = 0;
  if (o.with_static) {
    bump = btf__add_struct(b, "scx_static", 24);
    btf__add_field(b, "max_alloc_bytes", u64, 0, 0);
    btf__add_field(b, "memory", vptr, 64, 0);
    btf__add_field(b, "off", u64, 128, 0);
  }
  for (uint32_t i = 0; i < o.payload_struct_count; ++i) {
    const std::string name = i == 0 ? "task_ctx" : absl::StrCat("other_ctx", i);
    const int t = btf__add_struct(b, name.c_str(), 16);
    btf__add_field(b, "pid", u64, 0, 0);
    btf__add_field(b, "weight", u64, 64, 0);
    if (i == 0) out.payload_struct = t;
  }
  int vars[2] = {0, 0};
  if (allocator) vars[0] = btf__add_var(b, "task_allocator", BTF_VAR_GLOBAL_ALLOCATED, allocator);
  if (bump) vars[1] = btf__add_var(b, "scx_static", BTF_VAR_GLOBAL_ALLOCATED, bump);
  out.datasec = btf__add_datasec(b, ".bss", SdtBtf::kBssSize);
  if (vars[0]) btf__add_datasec_var_info(b, vars[0], SdtBtf::kAllocatorOff, 40);
  if (vars[1]) btf__add_datasec_var_info(b, vars[1], SdtBtf::kStaticOff, 24);
  return out;
}

// Arena pages by user address; unwritten pages are absent (not captured).
class FakeArena : public btf_render::ArenaMemory {
 public:
  explicit FakeArena(uint64_t pages = 64) : end_(kUserVmStart + pages * kPage) {}
  bool Contains(uint64_t addr) const override { return addr >= kUserVmStart && addr < end_; }
  absl::Status Read(uint64_t addr, absl::Span<uint8_t> out) const override {
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = pages_.find((addr + i) & ~(kPage - 1));
      if (it == pages_.end()) return absl::NotFoundError("page not captured");
      out[i] = it->second[(addr + i) & (kPage - 1)];
    }
    return absl::OkStatus();
  }
  void Put64(uint64_t addr, uint64_t v) {
    for (int i = 0; i < 8; ++i) Page(addr + i)[(addr + i) & (kPage - 1)] = uint8_t(v >> (8 * i));
  }
  // An arena address by page index and offset.
  static uint64_t At(uint64_t page, uint64_t off = 0) { return kUserVmStart + page * kPage + off; }

 private:
  std::vector<uint8_t>& Page(uint64_t addr) {
    auto& p = pages_[addr & ~(kPage - 1)];
    p.resize(kPage);
    return p;
  }
  uint64_t end_;
  std::map<uint64_t, std::vector<uint8_t>> pages_;
};

inline void Put64(std::vector<uint8_t>& bytes, uint64_t off, uint64_t v) {
  std::memcpy(bytes.data() + off, &v, 8);
}

}  // namespace kfreeze::walkers::sdt::testing
