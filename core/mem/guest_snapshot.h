// The guest pages one dump read while its VM stood still, copied into private memory.
//
// A dump runs in two stages over the same walker code: in the freeze window a Reader in record
// mode walks the guest and copies every 4 KiB page it touches here (the copy stage); after `cont`
// a Reader in replay mode runs the walk again from these pages alone (the decode stage), so BTF
// rendering, symbolization and joins never hold the guest. Blocks are keyed by guest-physical
// address (aliases share one copy) and reached from (page-table root, virtual page) the way the
// copy stage translated them, so the decode stage needs neither page tables nor guest RAM.
//
// Bounded: at most `max_bytes` of pages; past it a record fails with ResourceExhausted. Memory is
// mmap'd in chunks and unmapped with the snapshot, so a large dump leaves no heap behind.
// One thread at a time (a dump's stages run one after the other).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"

namespace kfreeze {

class GuestSnapshot {
 public:
  // The unit copied: a page. Measured on the scale guest (100k-entry map, 2,000 tasks), 512-byte
  // blocks copied a third fewer bytes but made the window 40 % longer: the lookups dominate.
  static constexpr uint64_t kBlockBytes = 4096;

  explicit GuestSnapshot(uint64_t max_bytes);
  ~GuestSnapshot();
  GuestSnapshot(const GuestSnapshot&) = delete;
  GuestSnapshot& operator=(const GuestSnapshot&) = delete;

  // Copy stage. The page of guest-physical frame `pa_page` (4 KiB aligned), copied from `ram`
  // unless already held; returns the copy.
  absl::StatusOr<const uint8_t*> RecordPhys(uint64_t pa_page, const GuestRam& ram);
  // The same, remembering that virtual page `va_page` under page-table root `root` maps there.
  absl::StatusOr<const uint8_t*> RecordVirt(uint64_t root, uint64_t va_page, uint64_t pa_page,
                                            const GuestRam& ram);

  // Decode stage: the copy of a page, or null when the copy stage never read it.
  const uint8_t* FindPhys(uint64_t pa_page) const;
  // The copy and frame of a virtual page; {null, 0} when never read.
  std::pair<const uint8_t*, uint64_t> FindVirt(uint64_t root, uint64_t va_page) const;

  // Why the copy stage stopped early (its budget or deadline), OK when it ran to the end: a page
  // the decode stage misses is then one the copy stage never reached.
  void SetCopyCut(absl::Status cut) { copy_cut_ = std::move(cut); }
  const absl::Status& copy_cut() const { return copy_cut_; }

  // Bytes copied (whole pages): what the copy stage cost in memcpy.
  uint64_t bytes() const { return pages_ * kBlockBytes; }
  uint64_t pages() const { return pages_; }

 private:
  struct VirtKey {
    uint64_t root;
    uint64_t va_page;
    bool operator==(const VirtKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const VirtKey& k) {
      return H::combine(std::move(h), k.root, k.va_page);
    }
  };
  struct VirtEntry {
    uint64_t pa_page;
    const uint8_t* data;
  };

  absl::StatusOr<uint8_t*> NewPage();

  uint64_t max_pages_;
  uint64_t pages_ = 0;
  std::vector<std::span<uint8_t>> chunks_;  // mmap'd
  uint64_t chunk_used_ = 0;                 // pages used in chunks_.back()
  absl::flat_hash_map<uint64_t, const uint8_t*> phys_;
  absl::flat_hash_map<VirtKey, VirtEntry> virt_;
  absl::Status copy_cut_;
};

}  // namespace kfreeze
