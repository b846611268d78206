// Guest-physical memory: the VMM's shared RAM file (or memfd) mapped read-only, addressed by Pa.
// Every read is bounds-checked against the region table and returns a Status: an address outside
// guest RAM is a fault, never zeros. If the file shrinks while mapped (the VM was killed), the
// SIGBUS is caught, the read fails and the GuestRam is marked lost.
// Not checked here: whether the bytes make sense (callers validate), virtual addresses
// (Translator).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/ram_layout.h"

namespace kfreeze {

// Matches a page whose first bytes equal `bytes` where `mask` is set (both the same length, <= 64).
struct PagePattern {
  std::span<const uint8_t> bytes;
  std::span<const uint8_t> mask;
  uint64_t page_size = 4096;
};

class GuestRam {
 public:
  // Opens `path` read-only. Without a layout, the q35 default for the file's size is used.
  static absl::StatusOr<std::unique_ptr<GuestRam>> OpenFile(const std::string& path,
                                                            std::optional<RamLayout> layout = {});
  // Maps an already-open fd (e.g. a memfd passed by the VMM); the fd is duplicated, not adopted.
  static absl::StatusOr<std::unique_ptr<GuestRam>> OpenFd(int fd,
                                                          std::optional<RamLayout> layout = {});
  ~GuestRam();
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  // Copies [pa, pa + out.size()) into `out`; may span regions, fails on any hole.
  absl::Status Read(Pa pa, std::span<uint8_t> out) const;
  absl::StatusOr<uint64_t> ReadU64(Pa pa) const;
  // Asks the CPU to start loading the cache line of `pa` (nothing if it is not guest RAM): a walk
  // that knows its next addresses overlaps their memory latency. Never faults.
  void Prefetch(Pa pa) const;
  // Copies whole 4 KiB frames: frame pa_pages[i] (page aligned) to dst + i * 4096. A bulk copy
  // that bypasses the cache; fastest with the frames in ascending order.
  absl::Status CopyPages(std::span<const uint64_t> pa_pages, uint8_t* dst) const;

  // Bytes readable from `pa` without leaving its region (at most `want`); fault if unmapped.
  absl::StatusOr<uint64_t> ContiguousBytes(Pa pa, uint64_t want) const;

  // First page at or after `from` that matches; nullopt if none. Page starts are GPA-aligned.
  absl::StatusOr<std::optional<Pa>> FindPage(const PagePattern& pattern, Pa from = Pa(0)) const;

  const RamLayout& layout() const { return layout_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // True once a read hit SIGBUS: the backing file shrank; every later read fails fast.
  bool lost() const { return lost_.load(std::memory_order_relaxed); }
  const std::string& source() const { return source_; }

 private:
  GuestRam() = default;
  static absl::StatusOr<std::unique_ptr<GuestRam>> Map(int owned_fd, std::string source,
                                                       std::optional<RamLayout> layout);
  // FindPage over [begin, end) of one region (GPAs), skipping pages the file does not hold.
  absl::StatusOr<std::optional<Pa>> ScanWindow(const RamRegion& region, uint64_t begin,
                                               uint64_t end, const PagePattern& pattern) const;
  const RamRegion* FindRegion(uint64_t pa) const;
  absl::Status LostError(Pa pa) const;

  int fd_ = -1;
  const uint8_t* base_ = nullptr;
  uint64_t file_bytes_ = 0;
  RamLayout layout_;
  std::string source_;
  mutable std::atomic<bool> lost_{false};
};

}  // namespace kfreeze
