// Arena pointers as the allocators store them, resolved against a captured arena.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/btf_render/render.h"

namespace kfreeze::walkers::sdt {

struct ArenaWindow {
  const btf_render::ArenaMemory* memory = nullptr;  // the captured pages (borrowed)
  uint64_t user_vm_start = 0;

  // The arena address `ptr` designates. The kernel maps user address A to kern_vm_start + (u32)A,
  // so only the low 32 bits of a stored pointer matter: the same slot reads the same whether the
  // program kept the user or the kernel form.
  uint64_t ToUser(uint64_t ptr) const {
    const uint32_t from_start = static_cast<uint32_t>(ptr) - static_cast<uint32_t>(user_vm_start);
    return user_vm_start + from_start;
  }
  bool Contains(uint64_t ptr) const { return memory != nullptr && memory->Contains(ToUser(ptr)); }
  absl::Status Read(uint64_t ptr, absl::Span<uint8_t> out) const {
    if (!Contains(ptr)) return absl::OutOfRangeError("pointer outside the arena");
    return memory->Read(ToUser(ptr), out);
  }
};

}  // namespace kfreeze::walkers::sdt
