#include "core/mem/guest_snapshot.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// Copies go into mmap'd chunks. Fresh anonymous memory costs a page fault and a zeroing per page,
// inside the freeze window; so freed chunks are kept for the next dump up to a small bound (the
// daemon's footprint stays flat) and the rest go back to the kernel.
constexpr uint64_t kChunkBytes = 1 << 20;
constexpr size_t kPooledChunks = 48;  // 48 MiB kept warm

class ChunkPool {
 public:
  std::span<uint8_t> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        std::span<uint8_t> c = free_.back();
        free_.pop_back();
        return c;
      }
    }
    void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) return {};
    return {static_cast<uint8_t*>(p), kChunkBytes};
  }
  void Warm() {
    std::lock_guard<std::mutex> lock(mu_);
    while (free_.size() < kPooledChunks) {
      void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
      if (p == MAP_FAILED) return;
      // MAP_POPULATE maps the pages; a write from here makes the first real copy fast too.
      auto* bytes = static_cast<volatile uint8_t*>(p);
      for (uint64_t at = 0; at < kChunkBytes; at += 4096) bytes[at] = 0;
      free_.push_back({static_cast<uint8_t*>(p), kChunkBytes});
    }
  }
  void Give(std::span<uint8_t> c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < kPooledChunks) {
        free_.push_back(c);
        return;
      }
    }
    munmap(c.data(), c.size());
  }

 private:
  std::mutex mu_;
  std::vector<std::span<uint8_t>> free_;
};

ChunkPool& Pool() {
  static ChunkPool* pool = new ChunkPool();  // never destroyed: dumps may end during exit
  return *pool;
}

constexpr uint64_t kPagesPerChunk = kChunkBytes / GuestSnapshot::kBlockBytes;

}  // namespace

void GuestSnapshot::WarmPool() { Pool().Warm(); }

GuestSnapshot::GuestSnapshot(uint64_t max_bytes) : max_pages_(max_bytes / kBlockBytes) {}

GuestSnapshot::~GuestSnapshot() {
  for (std::span<uint8_t> c : chunks_) Pool().Give(c);
}

absl::Status GuestSnapshot::MarkPhys(uint64_t pa_page, const GuestRam& ram) {
  const uint64_t region = pa_page >> kRegionShift;
  const uint64_t frame = (pa_page >> 12) & ((1u << (kRegionShift - 12)) - 1);
  const uint64_t bit = 1ull << (frame % 64);
  if (region != memo_region_) {
    auto it = regions_.find(region);
    memo_region_ = region;
    memo_bits_ = it == regions_.end() ? nullptr : it->second.get();
  }
  if (memo_bits_ != nullptr && ((*memo_bits_)[frame / 64] & bit) != 0) return absl::OkStatus();
  // Only frames that are there to copy, checked before any bookkeeping: Seal must not fail on a
  // frame the walk never really read, and a hostile address must not cost a region of marks.
  absl::StatusOr<uint64_t> readable = ram.ContiguousBytes(Pa(pa_page), kBlockBytes);
  if (!readable.ok() || *readable < kBlockBytes) {
    return FaultError(Pa(pa_page), "is not a whole page of guest RAM");
  }
  if (marked_ >= max_pages_) {
    return absl::ResourceExhaustedError(absl::StrCat("the dump's page snapshot is full (",
                                                     max_pages_ * kBlockBytes, " bytes copied)"));
  }
  if (memo_bits_ == nullptr) {
    std::unique_ptr<RegionBits>& bits = regions_[region];
    bits = std::make_unique<RegionBits>();  // zeroed
    memo_bits_ = bits.get();
  }
  (*memo_bits_)[frame / 64] |= bit;
  ++marked_;
  ram_ = &ram;
  return absl::OkStatus();
}

void GuestSnapshot::NoteLeaf(uint64_t root, uint64_t va_base, uint64_t leaf_bytes,
                             uint64_t pa_base) {
  // Kept as a map, not a log: a walk misses its TLB on the same leaves again and again (a hostile
  // one on every read), and each leaf needs one entry. Past the bound, a leaf goes unnoted and
  // the decode stage says its pages were not copied.
  if (leaf_bytes == 0 || (leaf_bytes & (leaf_bytes - 1)) != 0) return;
  const int shift = __builtin_ctzll(leaf_bytes);
  int k = 0;
  while (k < leaf_kinds_ && leaf_index_[k].shift != shift) ++k;
  if (k == leaf_kinds_) {
    if (leaf_kinds_ == LeafShifts::kMax) return;  // no format has more leaf sizes
    leaf_index_[leaf_kinds_++].shift = shift;
  }
  const LeafKey key{root, va_base >> shift};
  absl::flat_hash_map<LeafKey, uint64_t>& leaves = leaf_index_[k].leaves;
  if (leaves_ >= max_leaves() && !leaves.contains(key)) return;
  if (leaves.insert_or_assign(key, pa_base).second) ++leaves_;
}

absl::Status GuestSnapshot::Seal() {
  if (sealed_) return absl::OkStatus();
  sealed_ = true;
  // The marks in ascending frame order: regions sorted, then their bits.
  std::vector<std::pair<uint64_t, const RegionBits*>> order;
  order.reserve(regions_.size());
  for (const auto& [region, bits] : regions_) order.emplace_back(region, bits.get());
  std::sort(order.begin(), order.end());
  frames_.reserve(marked_);
  for (const auto& [region, bits] : order) {
    for (size_t w = 0; w < bits->size(); ++w) {
      for (uint64_t word = (*bits)[w]; word != 0; word &= word - 1) {
        frames_.push_back((region << kRegionShift) | ((w * 64 + __builtin_ctzll(word)) << 12));
      }
    }
  }
  while (copied_ < frames_.size()) {
    std::span<uint8_t> c = Pool().Take();
    if (c.empty()) return absl::ResourceExhaustedError("no memory for the dump's page snapshot");
    chunks_.push_back(c);
    const uint64_t n = std::min<uint64_t>(kPagesPerChunk, frames_.size() - copied_);
    KF_RETURN_IF_ERROR(
        ram_->CopyPages(std::span<const uint64_t>(frames_).subspan(copied_, n), c.data()));
    copied_ += n;
  }
  return absl::OkStatus();
}

void GuestSnapshot::Index() {
  if (indexed_) return;
  indexed_ = true;
  if (!sealed_ && copy_cut_.ok()) {
    copy_cut_ = absl::InternalError("the copy stage ended without copying its pages (not sealed)");
  }
  phys_.reserve(copied_);
  for (uint64_t i = 0; i < copied_; ++i) {
    phys_.emplace(frames_[i],
                  chunks_[i / kPagesPerChunk].data() + (i % kPagesPerChunk) * kBlockBytes);
  }
}

const uint8_t* GuestSnapshot::FindPhys(uint64_t pa_page) const {
  auto it = phys_.find(pa_page);
  return it == phys_.end() ? nullptr : it->second;
}

std::optional<uint64_t> GuestSnapshot::FindLeaf(uint64_t root, uint64_t va) const {
  for (int k = 0; k < leaf_kinds_; ++k) {
    const int shift = leaf_index_[k].shift;
    auto it = leaf_index_[k].leaves.find(LeafKey{root, va >> shift});
    if (it != leaf_index_[k].leaves.end()) return it->second + (va & ((1ull << shift) - 1));
  }
  return std::nullopt;
}

}  // namespace kfreeze
