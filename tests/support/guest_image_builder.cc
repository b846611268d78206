// GuestImageBuilder: memory layout, allocation and writes (Build() is in guest_image_build.cc).
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "core/mem/translator.h"
#include "tests/support/arm64_page_table_builder.h"
#include "tests/support/die.h"
#include "tests/support/guest_image.h"
#include "tests/support/image_layout.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(std::string_view what) { DieInTest("GuestImageBuilder", what); }

}  // namespace

GuestImageBuilder::GuestImageBuilder(GuestImageOptions options) : options_(std::move(options)) {
  const GuestImageOptions& o = options_;
  if (o.kaslr_offset % k2M) Die("kaslr_offset must be 2 MiB aligned");
  if (o.image_pa + o.image_reserve > o.ram_bytes) Die("kernel image does not fit in RAM");
  if (o.image_reserve < kImageMinReserve) Die("image_reserve too small");
  if (o.arch == GuestArch::kArm64) {
    LayOutArm64();
  } else {
    LayOutX86();
  }
  data_cursor_ = kDataOffset;
  // The root allocated by the layout, at kDataOffset.
  AddGlobal(o.arch == GuestArch::kArm64 ? "swapper_pg_dir" : "init_top_pgt", page_bytes_,
            page_bytes_);
  AddSymbol("_text", ImageKva(0), 'T');
  AddSymbol("_stext", ImageKva(0), 'T');
  AddSymbol("__per_cpu_start", ImageKva(kPerCpuOffset), 'D');
  AddSymbol("__per_cpu_end", ImageKva(kPerCpuOffset + kPerCpuBytes), 'D');
  for (uint32_t cpu = 0; cpu < o.nr_cpus; ++cpu)
    percpu_areas_.push_back(Alloc(kPerCpuBytes, Placement::kDirectMap, k4K));
  btf_.AddAttachTypes();
  WriteAttachGlobals();
}

void GuestImageBuilder::LayOutX86() {
  const GuestImageOptions& o = options_;
  if (o.levels != 4 && o.levels != 5) Die("levels must be 4 or 5");
  if (o.image_pa % k2M) Die("image_pa must be 2 MiB aligned");
  levels_ = o.levels;
  image_base_ = kStartKernelMap + kTextLinkOffset + o.kaslr_offset;
  page_offset_base_ = o.page_offset_base.value_or(o.levels == 5 ? kDirectMapL5 : kDirectMapL4);
  vmalloc_cursor_ = o.levels == 5 ? kVmallocL5 : kVmallocL4;
  phys_ = std::make_unique<PhysAllocator>(o.image_pa + o.image_reserve, o.ram_bytes);
  tables_ = std::make_unique<PageTableBuilder>(mem_, *phys_, o.levels, ImagePa(kDataOffset));

  // Kernel image: linear through phys_base, mapped with image_leaf pages like level2_kernel_pgt.
  vmap_.AddLinear(ImageKva(0), Pa(o.image_pa), o.image_reserve);
  tables_->Map(ImageKva(0), Pa(o.image_pa), AlignUp(o.image_reserve, o.image_leaf), o.image_leaf);
  // Direct map over all of RAM (rounded up to the leaf, as the kernel does with 1G pages).
  vmap_.AddLinear(Kva(page_offset_base_), Pa(0), o.ram_bytes);
  tables_->Map(Kva(page_offset_base_), Pa(0), AlignUp(o.ram_bytes, o.direct_map_leaf),
               o.direct_map_leaf);
}

void GuestImageBuilder::LayOutArm64() {
  const GuestImageOptions& o = options_;
  const Arm64ImageOptions& a = o.arm64;
  const int walk_bits = a.WalkVaBits();
  const Arm64Geometry g{a.page_shift, walk_bits, a.page_shift == 16 ? a.lpa_64k : walk_bits == 52};
  page_bytes_ = 1ull << a.page_shift;
  if (o.image_pa % page_bytes_ || a.ram_base % page_bytes_) Die("image_pa/ram_base off granule");
  ram_base_ = a.ram_base;
  // memory.h: PAGE_OFFSET = -(1 << VA_BITS); PAGE_END = -(1 << (VA_BITS_MIN - 1)); the image at
  // KIMAGE_VADDR = MODULES_END = PAGE_END + 2 GiB, plus the KASLR slide.
  const uint64_t page_offset = ~0ull << a.va_bits;
  const int va_bits_min = a.va_bits > 48 ? 48 : a.va_bits;
  const uint64_t page_end = ~0ull << (va_bits_min - 1);
  image_base_ = page_end + 2 * k1G + o.kaslr_offset;
  // arm64_memblock_init: memstart_addr = RAM start, lowered by the linear-map randomization and,
  // for a 52-bit kernel walking 48 bits, by _PAGE_OFFSET(vabits_actual) - _PAGE_OFFSET(52).
  phys_offset_ = a.ram_base - a.linear_offset - ((~0ull << walk_bits) - page_offset);
  page_offset_base_ = page_offset - phys_offset_;  // __phys_to_virt(0), mod 2^64
  vmalloc_cursor_ = image_base_ - o.kaslr_offset + 4 * k1G;
  phys_ = std::make_unique<PhysAllocator>(ram_base_ + o.image_pa + o.image_reserve,
                                          ram_base_ + o.ram_bytes);
  // 64K, 52-bit kernel, 48-bit walk: TTBR1 points TTBR1_BADDR_4852_OFFSET into swapper_pg_dir.
  const uint64_t ttbr1_offset =
      a.page_shift == 16 && a.va_bits == 52 && walk_bits == 48 ? (1024 - 64) * 8 : 0;
  auto tables =
      std::make_unique<Arm64PageTableBuilder>(mem_, *phys_, g, ImagePa(kDataOffset) + ttbr1_offset);
  levels_ = tables->levels();
  tables_ = std::move(tables);

  vmap_.AddLinear(ImageKva(0), ImagePa(0), o.image_reserve);
  tables_->Map(ImageKva(0), ImagePa(0), AlignUp(o.image_reserve, page_bytes_), page_bytes_);
  const uint64_t linear_leaf = a.linear_leaf ? a.linear_leaf : page_bytes_;
  const Kva linear(page_offset_base_ + ram_base_);
  vmap_.AddLinear(linear, Pa(ram_base_), o.ram_bytes);
  tables_->Map(linear, Pa(ram_base_), AlignUp(o.ram_bytes, linear_leaf), linear_leaf);
}

GuestImageBuilder::~GuestImageBuilder() = default;

Kva GuestImageBuilder::ImageKva(uint64_t off) const { return Kva(image_base_ + off); }

Pa GuestImageBuilder::ImagePa(uint64_t off) const {
  return Pa(ram_base_ + options_.image_pa + off);
}

void GuestImageBuilder::WriteAttachGlobals() {
  const GuestImageOptions& o = options_;
  const uint32_t nr_cpu_ids = o.nr_cpu_ids ? o.nr_cpu_ids : o.nr_cpus;
  if (nr_cpu_ids < o.nr_cpus || nr_cpu_ids > kNrCpusConfig) Die("bad nr_cpu_ids");
  if (o.arch == GuestArch::kArm64) {
    Put<uint64_t>(AddGlobal("kimage_voffset", 8), ImageKva(0).value - ImagePa(0).value);
    Put<uint64_t>(AddGlobal("memstart_addr", 8), phys_offset_);
  } else {
    Put<uint64_t>(AddGlobal("page_offset_base", 8), page_offset_base_);
  }
  Put<uint32_t>(AddGlobal("nr_cpu_ids", 4, 4), nr_cpu_ids);
  const Kva offsets = AddGlobal("__per_cpu_offset", 8 * kNrCpusConfig);
  uint64_t mask = 0;
  for (uint32_t cpu = 0; cpu < o.nr_cpus; ++cpu) {
    Put<uint64_t>(offsets + 8 * cpu, percpu_areas_[cpu] - ImageKva(kPerCpuOffset));
    mask |= 1ull << cpu;
  }
  Put<uint64_t>(AddGlobal("__cpu_possible_mask", 8), mask);
  Put<uint64_t>(AddGlobal("__cpu_online_mask", 8), mask);
  const Kva uts = AddGlobal("init_uts_ns", SizeOf("struct uts_namespace"));
  WriteMemberString(uts, "uts_namespace.name.sysname", "Linux");
  WriteMemberString(uts, "uts_namespace.name.release", o.release);
  WriteMemberString(uts, "uts_namespace.name.machine", GuestArchName(o.arch));
  AddGlobal("init_task", 4096, 64);
  AddFunction("start_kernel");
}

const OffsetResolver& GuestImageBuilder::Resolver() {
  if (!resolver_ || resolver_types_ != btf_.type_count()) {
    resolver_ = std::make_unique<OffsetResolver>(btf_.btf());
    resolver_types_ = btf_.type_count();
  }
  return *resolver_;
}

uint64_t GuestImageBuilder::SizeOf(absl::string_view type) {
  absl::StatusOr<uint64_t> size = Resolver().SizeOf(type);
  if (!size.ok()) Die(std::string(size.status().message()));
  return *size;
}

uint64_t GuestImageBuilder::OffsetOf(absl::string_view path) {
  absl::StatusOr<uint64_t> off = Resolver().Offset(path);
  if (!off.ok()) Die(std::string(off.status().message()));
  return *off;
}

void GuestImageBuilder::AddSymbol(absl::string_view name, Kva address, char type) {
  symbols_[std::string(name)] = {address, type};
}

Kva GuestImageBuilder::AddGlobal(absl::string_view name, uint64_t bytes, uint64_t align,
                                 char type) {
  const uint64_t at = AlignUp(data_cursor_, align);
  if (at + bytes > kDataOffset + kDataBytes) Die("image data section full");
  data_cursor_ = at + bytes;
  AddSymbol(name, ImageKva(at), type);
  return ImageKva(at);
}

Kva GuestImageBuilder::AddFunction(absl::string_view name) {
  const uint64_t at = text_cursor_;
  if (at + 16 > kTextBytes) Die("image text section full");
  text_cursor_ += 16;
  AddSymbol(name, ImageKva(at), 'T');
  return ImageKva(at);
}

Kva GuestImageBuilder::AddPerCpu(absl::string_view name, uint64_t bytes, uint64_t align) {
  const uint64_t at = AlignUp(percpu_cursor_, align);
  if (at + bytes > kPerCpuBytes) Die("per-CPU section full");
  percpu_cursor_ = at + bytes;
  const Kva kva = ImageKva(kPerCpuOffset + at);
  AddSymbol(name, kva, 'D');
  return kva;
}

Kva GuestImageBuilder::PerCpuAddress(Kva template_kva, CpuId cpu) const {
  if (cpu >= percpu_areas_.size()) Die("no such CPU");
  return percpu_areas_[cpu] + (template_kva - ImageKva(kPerCpuOffset));
}

Kva GuestImageBuilder::Alloc(uint64_t bytes, Placement where, uint64_t align) {
  if (where == Placement::kDirectMap) {
    return Kva(page_offset_base_ + phys_->Alloc(bytes == 0 ? 1 : bytes, align).value);
  }
  const uint64_t page = page_bytes_;
  const uint64_t pages = AlignUp(bytes == 0 ? 1 : bytes, page) / page;
  const Kva va(vmalloc_cursor_);
  std::vector<Pa> frames;
  for (uint64_t i = 0; i < pages; ++i) frames.push_back(phys_->Alloc(page, page));
  for (uint64_t i = 0; i < pages; ++i) {
    const Pa pa = frames[pages - 1 - i];  // reverse order: never physically contiguous
    tables_->Map(va + i * page, pa, page, page);
    for (uint64_t sub = 0; sub < page; sub += k4K) vmap_.AddPage(va + i * page + sub, pa + sub);
    mem_.Put<uint8_t>(pa, 0);
  }
  vmalloc_cursor_ += (pages + 1) * page;  // one unmapped guard page, as vmalloc leaves
  return va;
}

Kva GuestImageBuilder::AllocStruct(absl::string_view type, Placement where) {
  return Alloc(SizeOf(type), where);
}

Kva GuestImageBuilder::Unmapped() const { return Kva(vmalloc_cursor_ + k1G); }

void GuestImageBuilder::WriteVirt(Kva va, std::span<const uint8_t> bytes) {
  uint64_t done = 0;
  while (done < bytes.size()) {
    const Kva at = va + done;
    std::optional<Pa> pa = vmap_.Translate(at);
    if (!pa) Die(absl::StrCat("write to unmapped ", Hex(at)));
    const uint64_t n = std::min<uint64_t>(bytes.size() - done, k4K - (at.value % k4K));
    mem_.Write(*pa, bytes.subspan(done, n));
    done += n;
  }
}

void GuestImageBuilder::PutString(Kva at, absl::string_view s) {
  WriteVirt(at, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  Put<uint8_t>(at + s.size(), 0);
}

void GuestImageBuilder::WriteMember(Kva object, absl::string_view path, uint64_t value) {
  absl::StatusOr<MemberLocation> loc = Resolver().Member(path);
  if (!loc.ok()) Die(std::string(loc.status().message()));
  if (loc->bitfield_bits == 0) {
    if (loc->byte_size == 0 || loc->byte_size > 8 || loc->bit_offset % 8)
      Die(absl::StrCat("cannot write ", path));
    WriteVirt(object + loc->ByteOffset(),
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), loc->byte_size));
    return;
  }
  // Bitfield: read-modify-write the 8 bytes starting at its first byte.
  const Kva at = object + loc->bit_offset / 8;
  const uint32_t shift = loc->bit_offset % 8;
  std::optional<Pa> pa = vmap_.Translate(at);
  if (!pa) Die("bitfield write to unmapped memory");
  uint64_t word = 0;
  mem_.Read(*pa, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&word), 8));
  const uint64_t mask = (loc->bitfield_bits == 64 ? ~0ull : ((1ull << loc->bitfield_bits) - 1))
                        << shift;
  word = (word & ~mask) | ((value << shift) & mask);
  Put<uint64_t>(at, word);
}

void GuestImageBuilder::WriteMemberBytes(Kva object, absl::string_view path,
                                         std::span<const uint8_t> bytes) {
  absl::StatusOr<MemberLocation> loc = Resolver().Member(path);
  if (!loc.ok()) Die(std::string(loc.status().message()));
  if (bytes.size() > loc->byte_size || loc->bitfield_bits)
    Die(absl::StrCat("bytes do not fit ", path));
  WriteVirt(object + loc->ByteOffset(), bytes);
}

void GuestImageBuilder::WriteMemberString(Kva object, absl::string_view path, absl::string_view s) {
  std::vector<uint8_t> bytes(s.begin(), s.end());
  bytes.push_back(0);
  WriteMemberBytes(object, path, bytes);
}

}  // namespace kfreeze::testing
