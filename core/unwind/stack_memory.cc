#include "core/unwind/stack_memory.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace kfreeze {

void StackMemory::Add(uint64_t kva, std::vector<uint8_t> bytes) {
  const uint64_t room = std::numeric_limits<uint64_t>::max() - kva;
  if (bytes.size() > room) bytes.resize(room);
  if (bytes.empty()) return;
  bytes_ += bytes.size();
  auto at = std::upper_bound(ranges_.begin(), ranges_.end(), kva,
                             [](uint64_t v, const Range& r) { return v < r.begin; });
  ranges_.insert(at, Range{kva, std::move(bytes)});
  max_end_.resize(ranges_.size());
  uint64_t max_end = 0;
  for (size_t i = 0; i < ranges_.size(); ++i) {
    max_end = std::max(max_end, ranges_[i].end());
    max_end_[i] = max_end;
  }
}

const StackMemory::Range* StackMemory::Find(uint64_t kva, size_t len) const {
  if (len > std::numeric_limits<uint64_t>::max() - kva) return nullptr;
  const uint64_t end = kva + len;
  // The last range starting at or below kva, then back through earlier ones for as long as some
  // range that far back still reaches kva (max_end_ says when none does).
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), kva,
                             [](uint64_t v, const Range& r) { return v < r.begin; });
  for (size_t i = static_cast<size_t>(it - ranges_.begin()); i-- > 0;) {
    if (max_end_[i] < end) break;
    if (ranges_[i].end() >= end) return &ranges_[i];
  }
  return nullptr;
}

std::optional<uint64_t> StackMemory::ReadU64(uint64_t kva) const {
  uint64_t v = 0;
  if (!Read(kva, &v, sizeof(v))) return std::nullopt;
  return v;
}

bool StackMemory::Contains(uint64_t kva, size_t len) const { return Find(kva, len) != nullptr; }

bool StackMemory::Read(uint64_t kva, void* out, size_t len) const {
  const Range* r = Find(kva, len);
  if (r == nullptr) return false;
  std::memcpy(out, r->bytes.data() + (kva - r->begin), len);
  return true;
}

std::optional<uint64_t> StackMemory::RangeStart(uint64_t kva, size_t len) const {
  const Range* r = Find(kva, len);
  if (r == nullptr) return std::nullopt;
  return r->begin;
}

}  // namespace kfreeze
