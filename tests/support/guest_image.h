// Synthetic x86-64 and arm64 guest images for tests and benchmarks: a RAM file (memfd) holding real
// page tables, a VMCOREINFO note, kallsyms tables in any encoding, a BTF blob and kernel-like
// objects at addresses of the test's choosing. Walker tests build their fixtures on it:
//
//   GuestImageBuilder b({.kaslr_offset = 0x1e000000});
//   b.btf().AddStruct("idr", {{"idr_rt", "struct xarray"}, {"idr_base", "unsigned int"}, ...});
//   Kva idr = b.AddGlobal("map_idr", b.SizeOf("struct idr"));
//   Kva node = b.AllocStruct("struct xa_node", Placement::kVmalloc);
//   b.WriteMember(node, "xa_node.shift", 6);
//   GuestImage image = b.Build();
//   auto ctx = KernelContext::Attach(image.attach_options());
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/base/types.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/kallsyms.h"
#include "core/kernel/kernel_context.h"
#include "core/mem/ram_layout.h"
#include "tests/support/btf_builder.h"
#include "tests/support/page_table_builder.h"
#include "tests/support/phys_memory.h"

namespace kfreeze::testing {

// arm64 images (GuestImageOptions::arch = kArm64): QEMU virt RAM, the kernel's VA layout
// (arch/arm64/include/asm/memory.h) and the VMCOREINFO keys arm64 prints.
struct Arm64ImageOptions {
  int page_shift = 12;              // 12, 14, 16: 4K, 16K, 64K granule
  int va_bits = 48;                 // CONFIG_ARM64_VA_BITS: PAGE_OFFSET = -(1 << va_bits)
  std::optional<int> walk_va_bits;  // 64 - T1SZ when it differs (52-bit kernel, 48-bit CPU)
  bool print_t1sz = true;           // NUMBER(TCR_EL1_T1SZ) (v5.9+)
  bool lpa_64k = false;             // 64K granule with 52-bit output addresses (FEAT_LPA)
  uint64_t ram_base = 0x40000000;   // GPA of RAM (hw/arm/virt.c); file offset 0
  uint64_t linear_offset = 0;       // linear-map randomization: memstart_addr lowered by this
  uint64_t linear_leaf = 0;         // leaf of the linear map; 0 = the granule (rodata=full)
  uint64_t pac_mask = 0xfff0000000000000ull;  // NUMBER(KERNELPACMASK)

  int WalkVaBits() const { return walk_va_bits.value_or(va_bits); }
  static Arm64ImageOptions Granule(int page_shift, int va_bits) {
    Arm64ImageOptions a;
    a.page_shift = page_shift;
    a.va_bits = va_bits;
    return a;
  }
};

struct GuestImageOptions {
  GuestArch arch = GuestArch::kX86_64;
  Arm64ImageOptions arm64;  // arch == kArm64 only; levels/page_offset_base/leaves are x86's
  uint64_t ram_bytes = 64ull << 20;
  int levels = 4;                            // 4- or 5-level paging
  uint64_t kaslr_offset = 0;                 // virtual slide, 2 MiB aligned
  uint64_t image_pa = 16ull << 20;           // physical address of _text, 2 MiB aligned
  uint64_t image_reserve = 16ull << 20;      // physical bytes reserved for the image
  std::optional<uint64_t> page_offset_base;  // default: the non-KASLR base for `levels`
  uint64_t direct_map_leaf = k1G;            // k1G or k2M
  uint64_t image_leaf = k2M;                 // k2M or k4K
  KallsymsEncoding encoding = KallsymsEncoding::kPlaceRelative;
  std::string release = "7.2.0-kfreeze-synthetic";
  uint32_t nr_cpus = 4;     // CPUs with per-CPU areas (possible and online)
  uint32_t nr_cpu_ids = 0;  // 0: nr_cpus; larger leaves a zero tail in __per_cpu_offset
  std::optional<uint64_t> vmcoreinfo_pa;  // page for the note; allocated when absent
  size_t filler_symbols = 0;              // extra text symbols (benchmarks want ~190k)
};

// What the image contains, for assertions.
struct GuestImageTruth {
  GuestArch arch = GuestArch::kX86_64;
  uint64_t kaslr_offset = 0;
  uint64_t phys_base = 0;         // x86-64
  uint64_t page_offset_base = 0;  // the VA that maps PA 0 by the linear-map formula
  uint64_t ram_base = 0;          // GPA of file offset 0
  uint64_t kimage_voffset = 0;    // arm64
  uint64_t phys_offset = 0;       // arm64 PHYS_OFFSET
  uint64_t linear_map_start = 0;  // VA of the first byte of RAM
  int levels = 4;
  Pa root;
  Pa vmcoreinfo_pa;
  std::string release;
  std::string vmcoreinfo_text;
  KallsymsEncoding encoding = KallsymsEncoding::kPlaceRelative;
  std::map<std::string, Kva> symbols;
  std::vector<uint64_t> per_cpu_offsets;  // indexed by CPU, nr_cpu_ids entries
  std::vector<uint8_t> btf;
  uint64_t ram_bytes = 0;
};

class GuestImage {
 public:
  GuestImage(int fd, uint64_t file_bytes, GuestImageTruth truth, VirtualMap vmap);
  ~GuestImage();
  GuestImage(GuestImage&& other) noexcept;
  GuestImage& operator=(GuestImage&&) = delete;
  GuestImage(const GuestImage&) = delete;

  int fd() const { return fd_; }
  // "/proc/self/fd/N": openable by path within this process.
  std::string path() const;
  // Options for KernelContext::Attach on this image (by fd, flat layout).
  AttachOptions attach_options() const;
  const GuestImageTruth& truth() const { return truth_; }
  Kva symbol(absl::string_view name) const;

  // Post-build corruption for hostile-input tests.
  void WritePhys(Pa pa, std::span<const uint8_t> bytes);
  void WriteVirt(Kva va, std::span<const uint8_t> bytes);
  template <typename T>
  void Put(Kva va, T v) {
    WriteVirt(va, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof(T)));
  }
  template <typename T>
  void PutPhys(Pa pa, T v) {
    WritePhys(pa, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof(T)));
  }
  std::optional<Pa> Translate(Kva va) const { return vmap_.Translate(va); }
  void Truncate(uint64_t bytes);

 private:
  int fd_;
  uint64_t file_bytes_;
  GuestImageTruth truth_;
  VirtualMap vmap_;
};

enum class Placement { kDirectMap, kVmalloc };

class GuestImageBuilder {
 public:
  explicit GuestImageBuilder(GuestImageOptions options = {});
  ~GuestImageBuilder();

  const GuestImageOptions& options() const { return options_; }
  BtfBuilder& btf() { return btf_; }
  // sizeof via the BTF built so far ("struct rq", "u64").
  uint64_t SizeOf(absl::string_view type);

  // Kernel image objects, each with a kallsyms symbol.
  Kva AddGlobal(absl::string_view name, uint64_t bytes, uint64_t align = 8, char type = 'D');
  Kva AddFunction(absl::string_view name);
  // A per-CPU variable: returns the template address (the symbol's value).
  Kva AddPerCpu(absl::string_view name, uint64_t bytes, uint64_t align = 64);
  Kva PerCpuAddress(Kva template_kva, CpuId cpu) const;
  void AddSymbol(absl::string_view name, Kva address, char type);

  // Heap-like memory: the direct map (physically contiguous) or vmalloc (4 KiB pages placed in
  // reverse physical order, so a multi-page object is never physically contiguous).
  Kva Alloc(uint64_t bytes, Placement where = Placement::kDirectMap, uint64_t align = 64);
  Kva AllocStruct(absl::string_view type, Placement where = Placement::kDirectMap);
  // A kernel address nothing maps (in the vmalloc area, beyond anything allocated).
  Kva Unmapped() const;

  void WriteVirt(Kva va, std::span<const uint8_t> bytes);
  template <typename T>
  void Put(Kva va, T v) {
    WriteVirt(va, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof(T)));
  }
  void PutPtr(Kva at, Kva target) { Put<uint64_t>(at, target.value); }
  void PutString(Kva at, absl::string_view s);  // with a NUL
  void WritePhys(Pa pa, std::span<const uint8_t> bytes) { mem_.Write(pa, bytes); }
  std::optional<Pa> Translate(Kva va) const { return vmap_.Translate(va); }

  // Members by BTF path ("rq.scx.nr_running"); integers up to 8 bytes, bitfields included.
  void WriteMember(Kva object, absl::string_view path, uint64_t value);
  void WriteMemberBytes(Kva object, absl::string_view path, std::span<const uint8_t> bytes);
  void WriteMemberString(Kva object, absl::string_view path, absl::string_view s);
  uint64_t OffsetOf(absl::string_view path);

  // Extra VMCOREINFO lines ("KEY=value") and keys to leave out (e.g. "SYMBOL(_stext)").
  void AddVmcoreInfoLine(absl::string_view line) { extra_vmcoreinfo_.emplace_back(line); }
  void OmitVmcoreInfoKey(absl::string_view key) { omit_vmcoreinfo_.emplace_back(key); }

  // Physical address of the page-table entry mapping `va` at `level` (0 = PTE); after Build the
  // same is available from GuestImage for corruption tests.
  Pa PageTableEntry(Kva va, int level) const { return tables_->EntryAddress(va, level); }

  GuestImage Build();

 private:
  const OffsetResolver& Resolver();
  void LayOutX86();
  void LayOutArm64();
  Kva ImageKva(uint64_t image_offset) const;
  Pa ImagePa(uint64_t image_offset) const;
  std::string ArchVmcoreInfo() const;
  void WriteAttachGlobals();
  struct Placed;
  void PlaceRodata(Placed& placed);
  std::string VmcoreInfoText(const Placed& placed) const;

  GuestImageOptions options_;
  PhysMemory mem_;
  std::unique_ptr<PhysAllocator> phys_;
  std::unique_ptr<PageTableWriter> tables_;
  int levels_ = 4;
  uint64_t page_bytes_ = k4K;  // the granule: vmalloc pages and page-table pages
  uint64_t ram_base_ = 0;      // GPA of file offset 0
  uint64_t image_base_ = 0;    // VA of _text
  uint64_t phys_offset_ = 0;   // arm64 PHYS_OFFSET
  VirtualMap vmap_;
  BtfBuilder btf_;
  std::unique_ptr<OffsetResolver> resolver_;
  uint32_t resolver_types_ = 0;

  uint64_t text_cursor_ = 0, data_cursor_ = 0, percpu_cursor_ = 0;
  uint64_t vmalloc_cursor_ = 0;
  uint64_t page_offset_base_ = 0;  // the VA that maps PA 0 (x86 page_offset_base)
  std::map<std::string, std::pair<Kva, char>> symbols_;
  std::vector<Kva> percpu_areas_;
  std::vector<std::string> extra_vmcoreinfo_;
  std::vector<std::string> omit_vmcoreinfo_;
};

}  // namespace kfreeze::testing
