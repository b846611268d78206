// Sparse physical memory, allocator and virtual-map bookkeeping for the image builder.
#include "tests/support/phys_memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(const char* what, uint64_t value) {
  std::fprintf(stderr, "guest image builder: %s (0x%llx)\n", what,
               static_cast<unsigned long long>(value));
  std::abort();
}

}  // namespace

void PhysMemory::Write(Pa pa, std::span<const uint8_t> bytes) {
  uint64_t done = 0;
  while (done < bytes.size()) {
    const uint64_t at = pa.value + done;
    const uint64_t pfn = at / kTestPageSize, off = at % kTestPageSize;
    const uint64_t n = std::min<uint64_t>(bytes.size() - done, kTestPageSize - off);
    auto& page = pages_[pfn];
    if (!page) page = std::make_unique<std::array<uint8_t, kTestPageSize>>();  // value-init: zeros
    std::memcpy(page->data() + off, bytes.data() + done, n);
    done += n;
  }
}

void PhysMemory::Read(Pa pa, std::span<uint8_t> out) const {
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t at = pa.value + done;
    const uint64_t pfn = at / kTestPageSize, off = at % kTestPageSize;
    const uint64_t n = std::min<uint64_t>(out.size() - done, kTestPageSize - off);
    auto it = pages_.find(pfn);
    if (it == pages_.end()) {
      std::memset(out.data() + done, 0, n);
    } else {
      std::memcpy(out.data() + done, it->second->data() + off, n);
    }
    done += n;
  }
}

uint64_t PhysMemory::GetU64(Pa pa) const {
  uint64_t v = 0;
  Read(pa, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&v), 8));
  return v;
}

Pa PhysAllocator::Alloc(uint64_t bytes, uint64_t align) {
  const uint64_t at = (next_ + align - 1) / align * align;
  if (at + bytes > limit_ || at + bytes < at) Die("out of physical memory at", at);
  next_ = at + bytes;
  return Pa(at);
}

void VirtualMap::AddLinear(Kva va, Pa pa, uint64_t bytes) {
  linear_.push_back({va.value, pa.value, bytes});
}

void VirtualMap::AddPage(Kva va, Pa pa) {
  pages_[va.value / kTestPageSize] = pa.value / kTestPageSize;
}

std::optional<Pa> VirtualMap::Translate(Kva va) const {
  // Page mappings first: vmalloc-style pages may sit inside a linear window (e.g. the 1 GiB image).
  auto it = pages_.find(va.value / kTestPageSize);
  if (it != pages_.end()) return Pa(it->second * kTestPageSize + va.value % kTestPageSize);
  for (const Linear& l : linear_) {
    if (va.value >= l.va && va.value - l.va < l.bytes) return Pa(l.pa + (va.value - l.va));
  }
  return std::nullopt;
}

}  // namespace kfreeze::testing
