// Strong address types: a kernel virtual address (Kva) and a guest-physical address (Pa) never mix.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace kfreeze {

// Both types are thin wrappers over u64: arithmetic stays explicit and wraps like the kernel's.
struct Kva {
  uint64_t value = 0;

  constexpr Kva() = default;
  constexpr explicit Kva(uint64_t v) : value(v) {}
  constexpr Kva operator+(uint64_t delta) const { return Kva(value + delta); }
  constexpr Kva operator-(uint64_t delta) const { return Kva(value - delta); }
  constexpr uint64_t operator-(Kva other) const { return value - other.value; }
  constexpr bool IsNull() const { return value == 0; }
  constexpr auto operator<=>(const Kva&) const = default;
};

struct Pa {
  uint64_t value = 0;

  constexpr Pa() = default;
  constexpr explicit Pa(uint64_t v) : value(v) {}
  constexpr Pa operator+(uint64_t delta) const { return Pa(value + delta); }
  constexpr uint64_t operator-(Pa other) const { return value - other.value; }
  constexpr auto operator<=>(const Pa&) const = default;
};

// The guest's instruction set, decided once from its VMCOREINFO at attach.
enum class GuestArch : uint8_t { kX86_64, kArm64 };

inline const char* GuestArchName(GuestArch arch) {
  return arch == GuestArch::kArm64 ? "aarch64" : "x86_64";
}

// Logical CPU id as the guest kernel numbers it (not a vCPU index).
using CpuId = uint32_t;

// Hex with 0x prefix: the one textual form of an address everywhere in kfreeze output.
inline std::string Hex(uint64_t v) { return absl::StrFormat("0x%x", v); }
inline std::string Hex(Kva v) { return Hex(v.value); }
inline std::string Hex(Pa v) { return Hex(v.value); }

template <typename H>
H AbslHashValue(H h, Kva k) {
  return H::combine(std::move(h), k.value);
}
template <typename H>
H AbslHashValue(H h, Pa p) {
  return H::combine(std::move(h), p.value);
}

}  // namespace kfreeze
