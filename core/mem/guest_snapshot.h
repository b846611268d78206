// The guest pages one dump read while its VM stood still, copied into private memory.
//
// A dump runs in two stages over the same walker code. In the freeze window a Reader in record
// mode walks the guest straight from its RAM and marks here every 4 KiB frame it read, and every
// page-walk translation it used (the copy stage); Seal then copies the marked frames, still in
// the window. After `cont` a Reader in replay mode runs the walk again from these pages alone (the
// decode stage), so BTF rendering, symbolization and joins never hold the guest. Frames are keyed
// by guest-physical address (aliases share one copy); the decode stage translates the linear maps
// by arithmetic and everything else through the translations the copy stage noted, so it needs
// neither page tables nor guest RAM.
//
// Why mark and copy at the end rather than copy on first touch: a walk revisits pages all the
// time (hash buckets, task lists), and a mark is a bit test where a copy-on-touch snapshot paid a
// hash lookup on every change of page. Measured on the scale guest in bench/guest.
//
// Bounded: at most `max_bytes` of pages; past it a mark fails with ResourceExhausted. Memory is
// mmap'd in chunks and unmapped with the snapshot, so a large dump leaves no heap behind.
// One thread at a time (a dump's stages run one after the other).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"
#include "core/mem/translator.h"

namespace kfreeze {

class GuestSnapshot {
 public:
  // The unit copied: a page. Measured on the scale guest (100k-entry map, 2,000 tasks), 512-byte
  // blocks copied a third fewer bytes but made the window 40 % longer: the lookups dominate.
  static constexpr uint64_t kBlockBytes = 4096;

  explicit GuestSnapshot(uint64_t max_bytes);
  // Fills the process's pool of snapshot memory to its bound (48 MiB), mapped and touched. The
  // first write to fresh memory is slow (a page fault and a zeroing per page; under nested
  // paging 10-14 us a page, so 42 MB cost 82-145 ms inside the window of a one-shot dump): a
  // process that dumps once calls this before it pauses the VM. A daemon's pool stays warm.
  static void WarmPool();
  ~GuestSnapshot();
  GuestSnapshot(const GuestSnapshot&) = delete;
  GuestSnapshot& operator=(const GuestSnapshot&) = delete;

  // Copy stage. Marks guest-physical frame `pa_page` (4 KiB aligned) of `ram` for Seal to copy;
  // ResourceExhausted once max_bytes worth of frames are marked.
  absl::Status MarkPhys(uint64_t pa_page, const GuestRam& ram);
  // Notes that under page-table root `root`, [va_base, va_base + leaf_bytes) maps to `pa_base`
  // (a 4K, 2M or 1G leaf of a page walk; the linear maps need no note).
  void NoteLeaf(uint64_t root, uint64_t va_base, uint64_t leaf_bytes, uint64_t pa_base);
  // The copy stage's end, VM still paused: copies every marked frame, in guest-physical order
  // (one streaming pass, as fast as a memcpy of as many contiguous bytes). A frame that no longer
  // reads (the VM died) fails it; the frames copied before it stay usable.
  absl::Status Seal();

  // Decode stage: builds the lookups (after Seal; idempotent). Replay Readers call it.
  void Index();
  // The copy of a frame, or null when the copy stage never read it.
  const uint8_t* FindPhys(uint64_t pa_page) const;
  // The guest-physical address `va` had under `root` in the copy stage's page walks, if any.
  std::optional<uint64_t> FindLeaf(uint64_t root, uint64_t va) const;

  // Why the copy stage stopped early (its budget or deadline), OK when it ran to the end: a page
  // the decode stage misses is then one the copy stage never reached.
  void SetCopyCut(absl::Status cut) { copy_cut_ = std::move(cut); }
  const absl::Status& copy_cut() const { return copy_cut_; }

  // Bytes of the frames marked (whole pages): what the copy stage costs in memcpy.
  uint64_t bytes() const { return pages() * kBlockBytes; }
  uint64_t pages() const { return marked_; }

 private:
  // Marks of 128 MiB of guest-physical space (32,768 frames), made on first use.
  static constexpr int kRegionShift = 27;
  using RegionBits = std::array<uint64_t, (1u << (kRegionShift - 12)) / 64>;

  struct LeafKey {
    uint64_t root;
    uint64_t tag;  // va >> leaf shift
    bool operator==(const LeafKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const LeafKey& k) {
      return H::combine(std::move(h), k.root, k.tag);
    }
  };

  uint64_t max_pages_;
  const GuestRam* ram_ = nullptr;
  // Copy stage: how many frames are marked, their marks by region, the leaves used.
  uint64_t marked_ = 0;
  absl::flat_hash_map<uint64_t, std::unique_ptr<RegionBits>> regions_;
  uint64_t memo_region_ = ~0ull;
  RegionBits* memo_bits_ = nullptr;
  // Leaves noted, at most four per page the snapshot may hold.
  uint64_t leaves_ = 0;
  uint64_t max_leaves() const { return 4 * max_pages_; }
  // Seal: the marked frames in ascending order, frames_[i] copied to page i of the chunks; how
  // many were copied.
  std::vector<uint64_t> frames_;
  std::vector<std::span<uint8_t>> chunks_;  // mmap'd
  uint64_t copied_ = 0;
  bool sealed_ = false;
  // Index: the decode stage's lookups.
  bool indexed_ = false;
  absl::flat_hash_map<uint64_t, const uint8_t*> phys_;
  // By NoteLeaf, one map per leaf size seen (the guest architecture's, at most LeafShifts::kMax).
  struct LeafIndex {
    int shift = 0;
    absl::flat_hash_map<LeafKey, uint64_t> leaves;
  };
  std::array<LeafIndex, LeafShifts::kMax> leaf_index_;
  int leaf_kinds_ = 0;
  absl::Status copy_cut_;
};

}  // namespace kfreeze
