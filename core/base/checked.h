// Overflow-checked arithmetic for sizes and addresses derived from guest data.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace kfreeze {

inline std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> CheckedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, clamped to T's range instead of wrapping: per-CPU sums of guest counters.
template <typename T>
T SaturatingAdd(T a, T b) {
  static_assert(std::is_integral_v<T>);
  T r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::min();
}

// [start, start+len) lies within [0, limit).
inline bool RangeWithin(uint64_t start, uint64_t len, uint64_t limit) {
  return start <= limit && len <= limit - start;
}

}  // namespace kfreeze
