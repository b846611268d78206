// Kernel stack bytes copied out of the guest while it was paused, by kernel virtual address. The
// unwinder reads only from here, never from live guest memory. Ranges may overlap (a task stack
// and a vCPU's region above RSP); they were copied from the same paused guest, so any range that
// holds a whole read serves it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace kfreeze {

class StackMemory {
 public:
  // Bytes that would wrap past the top of the address space are dropped.
  void Add(uint64_t kva, std::vector<uint8_t> bytes);
  std::optional<uint64_t> ReadU64(uint64_t kva) const;
  // All of [kva, kva + len) lies within one captured range.
  bool Contains(uint64_t kva, size_t len) const;
  // Copies [kva, kva + len) into out when Contains(kva, len).
  bool Read(uint64_t kva, void* out, size_t len) const;
  // The start of the captured range holding [kva, kva + len), for telling stacks apart.
  std::optional<uint64_t> RangeStart(uint64_t kva, size_t len) const;
  size_t bytes() const { return bytes_; }
  size_t ranges() const { return ranges_.size(); }

 private:
  struct Range {
    uint64_t begin = 0;
    std::vector<uint8_t> bytes;
    uint64_t end() const { return begin + bytes.size(); }
  };
  const Range* Find(uint64_t kva, size_t len) const;

  std::vector<Range> ranges_;      // sorted by begin
  std::vector<uint64_t> max_end_;  // max_end_[i] = max end() of ranges_[0..i]
  size_t bytes_ = 0;
};

}  // namespace kfreeze
