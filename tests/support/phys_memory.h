// Test-side model of a guest's memory while an image is being built: sparse physical pages, a
// bump allocator, and the builder's own record of virtual mappings (independent of the
// Translator under test, so tests compare two implementations).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/base/types.h"

namespace kfreeze::testing {

inline constexpr uint64_t kTestPageSize = 4096;

// Sparse guest-physical memory: untouched pages read as zero and are not stored.
class PhysMemory {
 public:
  void Write(Pa pa, std::span<const uint8_t> bytes);
  void Read(Pa pa, std::span<uint8_t> out) const;
  template <typename T>
  void Put(Pa pa, T v) {
    Write(pa, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof(T)));
  }
  uint64_t GetU64(Pa pa) const;
  // Pages that were written, by page frame number.
  const std::map<uint64_t, std::unique_ptr<std::array<uint8_t, kTestPageSize>>>& pages() const {
    return pages_;
  }

 private:
  std::map<uint64_t, std::unique_ptr<std::array<uint8_t, kTestPageSize>>> pages_;
};

// Hands out physical ranges upward from `start`, never beyond `limit`; aborts the test on overflow.
class PhysAllocator {
 public:
  PhysAllocator(uint64_t start, uint64_t limit) : next_(start), limit_(limit) {}
  Pa Alloc(uint64_t bytes, uint64_t align = kTestPageSize);
  uint64_t next() const { return next_; }

 private:
  uint64_t next_;
  uint64_t limit_;
};

// The builder's record of what each virtual page maps to.
class VirtualMap {
 public:
  // A linear range: va..va+bytes -> pa..pa+bytes.
  void AddLinear(Kva va, Pa pa, uint64_t bytes);
  void AddPage(Kva va, Pa pa);  // one 4K page
  std::optional<Pa> Translate(Kva va) const;

 private:
  struct Linear {
    uint64_t va, pa, bytes;
  };
  std::vector<Linear> linear_;
  std::map<uint64_t, uint64_t> pages_;  // va page -> pa page
};

}  // namespace kfreeze::testing
