// GuestImageBuilder::Build: places BTF and kallsyms in the image's rodata, writes VMCOREINFO and
// materialises everything into a memfd.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/mem/translator.h"
#include "tests/support/die.h"
#include "tests/support/guest_image.h"
#include "tests/support/image_layout.h"
#include "tests/support/kallsyms_writer.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(std::string_view what) { DieInTest("GuestImageBuilder::Build", what); }

}  // namespace

// Where Build() put the rodata pieces (image offsets) plus the data they hold.
struct GuestImageBuilder::Placed {
  std::vector<uint8_t> btf;
  uint64_t btf_off = 0;
  KallsymsNameTables names;
  uint64_t token_table_off = 0, token_index_off = 0, names_off = 0, addresses_off = 0,
           relative_base_off = 0, num_syms_off = 0, end_off = 0;
  std::vector<KallsymsInput> symbols;  // address order
  KallsymsAddressTables addresses;
};

void GuestImageBuilder::PlaceRodata(Placed& p) {
  const KallsymsEncoding enc = options_.encoding;
  const bool absolute = enc == KallsymsEncoding::kAbsolute;
  const bool base_relative = enc == KallsymsEncoding::kBaseRelative ||
                             enc == KallsymsEncoding::kBaseRelativeAbsolutePercpu;
  p.btf = btf_.Finish();
  p.btf_off = kRodataOffset;
  for (size_t i = 0; i < options_.filler_symbols; ++i) {
    AddSymbol(absl::StrFormat("kf_filler_%s_fn_%zu", i % 3 ? "sched" : "bpf_map", i),
              ImageKva(0x100000 + (i * 16) % (kTextBytes - 0x100000)), i % 5 ? 't' : 'T');
  }
  // Every symbol the image will have, with placeholder addresses for the tables themselves:
  // the compressed names do not depend on addresses, so their size is known up front.
  const char* table_names[] = {"kallsyms_token_table",
                               "kallsyms_token_index",
                               "kallsyms_names",
                               absolute ? "kallsyms_addresses" : "kallsyms_offsets",
                               "kallsyms_num_syms",
                               "__start_BTF",
                               "__stop_BTF",
                               "_etext",
                               "_end"};
  for (const char* n : table_names) AddSymbol(n, Kva(0), 'R');
  if (base_relative) AddSymbol("kallsyms_relative_base", Kva(0), 'R');
  std::vector<KallsymsInput> all;
  for (const auto& [name, sym] : symbols_) all.push_back({name, sym.second, sym.first.value});
  p.names = EncodeKallsymsNames(all);

  uint64_t cur = AlignUp(p.btf_off + p.btf.size(), 8);
  p.token_table_off = cur;
  cur = AlignUp(cur + p.names.token_table.size(), 8);
  p.token_index_off = cur;
  cur = AlignUp(cur + p.names.token_index.size(), 8);
  p.names_off = cur;
  cur = AlignUp(cur + p.names.names.size(), 8);
  p.addresses_off = cur;
  cur = AlignUp(cur + KallsymsAddressTableBytes(enc, all.size()), 8);
  p.relative_base_off = cur;
  cur += base_relative ? 8 : 0;
  p.num_syms_off = cur;
  p.end_off = AlignUp(cur + 4, k4K);
  if (p.end_off > options_.image_reserve) Die("image_reserve too small for BTF + kallsyms");

  AddSymbol("__start_BTF", ImageKva(p.btf_off), 'R');
  AddSymbol("__stop_BTF", ImageKva(p.btf_off + p.btf.size()), 'R');
  AddSymbol("kallsyms_token_table", ImageKva(p.token_table_off), 'R');
  AddSymbol("kallsyms_token_index", ImageKva(p.token_index_off), 'R');
  AddSymbol("kallsyms_names", ImageKva(p.names_off), 'R');
  AddSymbol(absolute ? "kallsyms_addresses" : "kallsyms_offsets", ImageKva(p.addresses_off), 'R');
  if (base_relative) AddSymbol("kallsyms_relative_base", ImageKva(p.relative_base_off), 'R');
  AddSymbol("kallsyms_num_syms", ImageKva(p.num_syms_off), 'R');
  AddSymbol("_etext", ImageKva(kTextBytes), 'T');
  AddSymbol("_end", ImageKva(p.end_off), 'B');

  // kallsyms order is address order (ties by name, as sort in scripts/kallsyms.c is stable).
  for (const auto& [name, sym] : symbols_) p.symbols.push_back({name, sym.second, sym.first.value});
  std::stable_sort(
      p.symbols.begin(), p.symbols.end(),
      [](const KallsymsInput& a, const KallsymsInput& b) { return a.address < b.address; });
  p.names = EncodeKallsymsNames(p.symbols);
  p.addresses = EncodeKallsymsAddresses(p.symbols, enc, ImageKva(p.addresses_off));
}

std::string GuestImageBuilder::VmcoreInfoText(const Placed& p) const {
  const GuestImageOptions& o = options_;
  auto sym = [&](const char* name) {
    return absl::StrFormat("SYMBOL(%s)=%x\n", name, symbols_.at(name).first.value);
  };
  std::string t = absl::StrCat(
      "OSRELEASE=", o.release, "\n", "BUILD-ID=00112233445566778899aabbccddeeff00112233\n",
      "PAGESIZE=", page_bytes_, "\n", sym("init_uts_ns"), "OFFSET(uts_namespace.name)=0\n",
      sym("_stext"), sym(o.arch == GuestArch::kArm64 ? "swapper_pg_dir" : "init_top_pgt"),
      sym("kallsyms_names"), sym("kallsyms_num_syms"), sym("kallsyms_token_table"),
      sym("kallsyms_token_index"));
  if (o.encoding == KallsymsEncoding::kAbsolute) {
    absl::StrAppend(&t, sym("kallsyms_addresses"));
  } else {
    absl::StrAppend(&t, sym("kallsyms_offsets"));
    if (o.encoding != KallsymsEncoding::kPlaceRelative)
      absl::StrAppend(&t, sym("kallsyms_relative_base"));
  }
  absl::StrAppend(&t, "SIZE(list_head)=16\n", ArchVmcoreInfo(),
                  absl::StrFormat("KERNELOFFSET=%x\n", o.kaslr_offset));
  for (const std::string& line : extra_vmcoreinfo_) absl::StrAppend(&t, line, "\n");
  std::string filtered;
  for (absl::string_view line : absl::StrSplit(t, '\n', absl::SkipEmpty())) {
    bool omit = false;
    for (const std::string& key : omit_vmcoreinfo_)
      omit |= absl::StartsWith(line, absl::StrCat(key, "="));
    if (!omit) absl::StrAppend(&filtered, line, "\n");
  }
  (void)p;
  return filtered;
}

// The lines arch/<arch>/kernel/{machine_kexec_64,vmcore_info}.c add, in their formats.
std::string GuestImageBuilder::ArchVmcoreInfo() const {
  const GuestImageOptions& o = options_;
  if (o.arch == GuestArch::kX86_64) {
    const uint64_t phys_base = o.image_pa - kTextLinkOffset - o.kaslr_offset;  // may wrap
    return absl::StrCat(absl::StrFormat("NUMBER(phys_base)=%d\n", static_cast<int64_t>(phys_base)),
                        "NUMBER(pgtable_l5_enabled)=", o.levels == 5 ? 1 : 0, "\n",
                        "NUMBER(KERNEL_IMAGE_SIZE)=1073741824\n");
  }
  const Arm64ImageOptions& a = o.arm64;
  std::string t = absl::StrFormat(
      "NUMBER(VA_BITS)=%d\nNUMBER(kimage_voffset)=0x%x\nNUMBER(PHYS_OFFSET)=0x%x\n"
      "NUMBER(KERNELPACMASK)=0x%x\nNUMBER(MAX_PHYSMEM_BITS)=%d\n",
      a.va_bits, ImageKva(0).value - ImagePa(0).value, phys_offset_, a.pac_mask,
      a.page_shift == 16 ? (a.lpa_64k ? 52 : 48) : (a.va_bits == 52 ? 52 : 48));
  if (a.print_t1sz) absl::StrAppendFormat(&t, "NUMBER(TCR_EL1_T1SZ)=0x%x\n", 64 - a.WalkVaBits());
  return t;
}

GuestImage GuestImageBuilder::Build() {
  Placed p;
  PlaceRodata(p);
  auto write_image = [&](uint64_t off, const std::vector<uint8_t>& bytes) {
    if (!bytes.empty()) mem_.Write(ImagePa(off), bytes);
  };
  write_image(p.btf_off, p.btf);
  write_image(p.token_table_off, p.names.token_table);
  write_image(p.token_index_off, p.names.token_index);
  write_image(p.names_off, p.names.names);
  write_image(p.addresses_off, p.addresses.values);
  if (p.relative_base_off != p.num_syms_off)
    mem_.Put<uint64_t>(ImagePa(p.relative_base_off), p.addresses.relative_base);
  mem_.Put<uint32_t>(ImagePa(p.num_syms_off), static_cast<uint32_t>(p.symbols.size()));

  // VMCOREINFO note: Elf64_Nhdr, "VMCOREINFO\0" padded to 12, then the text.
  const std::string text = VmcoreInfoText(p);
  const Pa note = options_.vmcoreinfo_pa ? Pa(*options_.vmcoreinfo_pa) : phys_->Alloc(k4K);
  const uint32_t header[3] = {11, static_cast<uint32_t>(text.size()), 0};
  mem_.Write(note, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header), 12));
  mem_.Write(note + 12,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("VMCOREINFO\0\0"), 12));
  mem_.Write(note + 24,
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));

  GuestImageTruth truth;
  truth.arch = options_.arch;
  truth.kaslr_offset = options_.kaslr_offset;
  if (options_.arch == GuestArch::kX86_64) {
    truth.phys_base = options_.image_pa - kTextLinkOffset - options_.kaslr_offset;
  } else {
    truth.kimage_voffset = ImageKva(0).value - ImagePa(0).value;
    truth.phys_offset = phys_offset_;
  }
  truth.page_offset_base = page_offset_base_;
  truth.ram_base = ram_base_;
  truth.linear_map_start = page_offset_base_ + ram_base_;
  truth.levels = levels_;
  truth.root = tables_->root();
  truth.vmcoreinfo_pa = note;
  truth.release = options_.release;
  truth.vmcoreinfo_text = text;
  truth.encoding = options_.encoding;
  for (const auto& [name, sym] : symbols_) truth.symbols[name] = sym.first;
  const uint32_t nr_cpu_ids = options_.nr_cpu_ids ? options_.nr_cpu_ids : options_.nr_cpus;
  for (uint32_t cpu = 0; cpu < nr_cpu_ids; ++cpu) {
    truth.per_cpu_offsets.push_back(
        cpu < percpu_areas_.size() ? percpu_areas_[cpu] - ImageKva(kPerCpuOffset) : 0);
  }
  truth.btf = p.btf;
  truth.ram_bytes = options_.ram_bytes;

  const int fd = memfd_create("kfreeze-guest-image", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(options_.ram_bytes)) != 0) Die("memfd");
  for (const auto& [pfn, page] : mem_.pages()) {
    const uint64_t off = pfn * k4K - ram_base_;
    if (pfn * k4K < ram_base_ || off >= options_.ram_bytes) Die("page outside RAM");
    if (pwrite(fd, page->data(), k4K, static_cast<off_t>(off)) != static_cast<ssize_t>(k4K))
      Die("pwrite");
  }
  return GuestImage(fd, options_.ram_bytes, std::move(truth), vmap_);
}

}  // namespace kfreeze::testing
