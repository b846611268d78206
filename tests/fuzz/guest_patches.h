// The guest-memory fuzzers' input format and bookkeeping: an input is a list of byte patches, each
// aimed at one region of a synthetic guest's memory, applied before a walk and undone after it so
// the guests are built once per process. Per input the walk must stay inside its bounds: wall time
// and growth of the process's peak RSS (what a hostile guest may cost), checked here and enforced
// by aborting, which libFuzzer reports as a crash with the input saved.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace kfreeze::fuzz {

// Patch wire format: { u8 region; u32 offset (LE, taken modulo the region size); u8 length;
// length bytes } repeated; a truncated tail is ignored.
struct Patch {
  uint8_t region = 0;
  uint32_t offset = 0;
  std::span<const uint8_t> bytes;
};

inline std::vector<Patch> ParsePatches(const uint8_t* data, size_t size, size_t max_patches = 64) {
  std::vector<Patch> out;
  size_t at = 0;
  while (at + 6 <= size && out.size() < max_patches) {
    Patch p;
    p.region = data[at];
    std::memcpy(&p.offset, data + at + 1, 4);
    const size_t len = data[at + 5];
    at += 6;
    if (len > size - at) break;
    p.bytes = std::span<const uint8_t>(data + at, len);
    at += len;
    out.push_back(p);
  }
  return out;
}

// Applies patches to memory spans and restores the original bytes afterwards (in reverse, so
// overlapping patches unwind correctly).
class PatchSet {
 public:
  explicit PatchSet(std::vector<std::span<uint8_t>> regions) : regions_(std::move(regions)) {}

  void Apply(const std::vector<Patch>& patches) {
    for (const Patch& p : patches) {
      if (regions_.empty()) return;
      std::span<uint8_t> r = regions_[p.region % regions_.size()];
      if (r.empty()) continue;
      const size_t off = p.offset % r.size();
      const size_t len = std::min(p.bytes.size(), r.size() - off);
      if (len == 0) continue;
      saved_.push_back(
          {r.data() + off, std::vector<uint8_t>(r.data() + off, r.data() + off + len)});
      std::memcpy(r.data() + off, p.bytes.data(), len);
    }
  }
  void Restore() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      std::memcpy(it->first, it->second.data(), it->second.size());
    }
    saved_.clear();
  }

 private:
  std::vector<std::span<uint8_t>> regions_;
  std::vector<std::pair<uint8_t*, std::vector<uint8_t>>> saved_;
};

inline uint64_t PeakRssBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

// Resident bytes now (/proc/self/statm), the floor an input's own growth is measured from.
inline uint64_t CurrentRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The acceptance bounds of one input: its walk ends within `wall`, and if it raised the process's
// peak RSS (getrusage ru_maxrss), the new peak is less than `rss` above the resident size the
// input started from. (Measured per input: ASan's quarantine and libFuzzer's corpus grow the
// process across inputs by themselves.)
class InputBounds {
 public:
  using Clock = std::chrono::steady_clock;
  InputBounds(Clock::duration wall, uint64_t rss)
      : wall_(wall),
        rss_(rss),
        start_(Clock::now()),
        rss_start_(CurrentRssBytes()),
        peak_start_(PeakRssBytes()) {}

  void Check(const char* what) const {
    const auto took = Clock::now() - start_;
    if (took > wall_) {
      std::fprintf(stderr, "%s: input took %lld ms (bound %lld ms)\n", what,
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
                   static_cast<long long>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(wall_).count()));
      std::abort();
    }
    const uint64_t peak = PeakRssBytes();
    if (peak > peak_start_ && peak > rss_start_ + rss_) {
      std::fprintf(stderr, "%s: peak RSS %llu bytes, %llu above the input's start (bound %llu)\n",
                   what, static_cast<unsigned long long>(peak),
                   static_cast<unsigned long long>(peak - rss_start_),
                   static_cast<unsigned long long>(rss_));
      std::abort();
    }
  }

 private:
  Clock::duration wall_;
  uint64_t rss_;
  Clock::time_point start_;
  uint64_t rss_start_;
  uint64_t peak_start_;
};

}  // namespace kfreeze::fuzz
