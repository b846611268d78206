// Guest-physical -> RAM-file layout: which GPA ranges live at which offsets of the shared RAM file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/base/types.h"

namespace kfreeze {

struct RamRegion {
  Pa gpa;                    // first guest-physical address of the range
  uint64_t size = 0;         // bytes
  uint64_t file_offset = 0;  // where the range starts in the RAM file
};

// Sorted, non-overlapping regions. Does not check against the file; GuestRam does that.
class RamLayout {
 public:
  // QEMU q35 (7.2 pc_q35_init): RAM below 2 GiB if it is >= 2.75 GiB, else up to 2.75 GiB; the
  // rest starts at GPA 4 GiB and follows in the file.
  static RamLayout Q35(uint64_t ram_bytes);
  // QEMU i440fx "pc" with gigabyte alignment: RAM below 3 GiB if it is >= 3.5 GiB, else up to
  // 3.5 GiB; the rest at 4 GiB.
  static RamLayout Pc(uint64_t ram_bytes);
  // GPA == file offset for the whole file (no hole).
  static RamLayout Flat(uint64_t ram_bytes);
  // QEMU arm "virt" (hw/arm/virt.c VIRT_MEM): all RAM in one range from GPA 1 GiB.
  static RamLayout Virt(uint64_t ram_bytes);
  static constexpr uint64_t kVirtRamBase = 0x40000000;

  // `spec` is "q35", "pc", "flat", "virt", or a comma list of GPA:SIZE@FILEOFFSET (numbers in C
  // syntax, sizes may end in K/M/G), e.g. "0:2G@0,0x100000000:1G@2G". `ram_bytes` sizes the named
  // ones.
  static absl::StatusOr<RamLayout> Parse(absl::string_view spec, uint64_t ram_bytes);

  // Parses HMP `info mtree -f`: the flat view of address space "memory", keeping the ranges that
  // belong to the largest RAM memory region (the guest's main RAM, e.g. "mem0" or "pc.ram").
  static absl::StatusOr<RamLayout> FromMtree(absl::string_view mtree_text);

  // Sorts, merges adjacent ranges, rejects overlaps, empty ranges and overflow.
  static absl::StatusOr<RamLayout> FromRegions(std::vector<RamRegion> regions);

  const std::vector<RamRegion>& regions() const { return regions_; }
  // One past the highest guest-physical address backed by RAM.
  uint64_t EndPa() const;
  // Largest file offset + size over all regions.
  uint64_t FileBytesNeeded() const;
  std::string ToString() const;

 private:
  std::vector<RamRegion> regions_;
};

}  // namespace kfreeze
