// KernelContext::Attach: the ordered attach steps, their timings and the re-attach check.
#include "core/kernel/kernel_context.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/guest_text.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// __PAGE_OFFSET_BASE_L4/_L5: the direct map base without CONFIG_RANDOMIZE_MEMORY.
constexpr uint64_t kPageOffsetBaseL4 = 0xffff888000000000ull;
constexpr uint64_t kPageOffsetBaseL5 = 0xff11000000000000ull;
// struct new_utsname { char sysname[65], nodename[65], release[65]; ... }
// (include/uapi/linux/utsname.h)
constexpr uint64_t kUtsReleaseOffset = 2 * 65;
constexpr uint64_t kUtsFieldBytes = 65;
constexpr uint64_t k2MiB = 2 * caps::kMiB;
// How far past _stext the arm64 boot translator trusts kimage_voffset (kallsyms is in rodata).
constexpr uint64_t kArm64ImageWindow = 512 * caps::kMiB;
constexpr char kDefaultLayout[] = "q35 default";

absl::StatusOr<int> PageShift(uint64_t page_size) {
  if (page_size == 4096) return 12;
  if (page_size == 16384) return 14;
  if (page_size == 65536) return 16;
  return BadData(absl::StrCat("arm64 PAGESIZE ", page_size, " is none of 4K, 16K, 64K"));
}

absl::StatusOr<uint64_t> RamFileBytes(const AttachOptions& options) {
  struct stat st;
  int rc = options.ram_fd >= 0 ? fstat(options.ram_fd, &st) : stat(options.ram_path.c_str(), &st);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat(
        "guest RAM ", options.ram_fd >= 0 ? "fd" : options.ram_path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

absl::StatusOr<std::string> ReadUtsRelease(Reader& reader, const SymbolIndex& symbols,
                                           const VmcoreInfo& info, const OffsetResolver* resolver) {
  // Prefer the kernel's own OFFSET(uts_namespace.name) from VMCOREINFO; BTF otherwise.
  Kva uts;
  if (std::optional<Kva> s = info.Symbol("init_uts_ns")) {
    uts = *s;
  } else {
    KF_ASSIGN_OR_RETURN(uts, symbols.Require("init_uts_ns"));
  }
  uint64_t release_offset;
  if (auto it = info.offsets.find("uts_namespace.name");
      it != info.offsets.end() && it->second >= 0) {
    release_offset = static_cast<uint64_t>(it->second) + kUtsReleaseOffset;
  } else if (resolver != nullptr) {
    KF_ASSIGN_OR_RETURN(release_offset, resolver->Offset("uts_namespace.name.release"));
  } else {
    return absl::NotFoundError(
        "neither VMCOREINFO OFFSET(uts_namespace.name) nor BTF to locate "
        "init_uts_ns.name.release");
  }
  KF_ASSIGN_OR_RETURN(std::string release,
                      reader.ReadCharArray(uts + release_offset, kUtsFieldBytes));
  return GuestText(release);
}

absl::Status KernelContext::AttachRam(const AttachOptions& options) {
  KF_ASSIGN_OR_RETURN(uint64_t file_bytes, RamFileBytes(options));
  std::optional<RamLayout> layout;
  if (!options.ram_layout.empty()) {
    KF_ASSIGN_OR_RETURN(layout, RamLayout::Parse(options.ram_layout, file_bytes));
    layout_source_ = absl::StrCat("--ram-layout ", options.ram_layout);
  } else if (options.memory_tree) {
    KF_ASSIGN_OR_RETURN(std::string mtree, options.memory_tree());
    KF_ASSIGN_OR_RETURN(layout, RamLayout::FromMtree(mtree));
    layout_source_ = "qmp info mtree -f";
  } else {
    layout = RamLayout::Q35(file_bytes);
    layout_source_ = kDefaultLayout;
  }
  return AttachRam(options, std::move(*layout), layout_source_);
}

absl::Status KernelContext::AttachRam(const AttachOptions& options, RamLayout layout,
                                      absl::string_view source) {
  layout_source_ = std::string(source);
  ram_.reset();
  if (options.ram_fd >= 0) {
    KF_ASSIGN_OR_RETURN(ram_, GuestRam::OpenFd(options.ram_fd, std::move(layout)));
  } else {
    KF_ASSIGN_OR_RETURN(ram_, GuestRam::OpenFile(options.ram_path, std::move(layout)));
  }
  return absl::OkStatus();
}

absl::Status KernelContext::AttachPaging(Reader& boot_reader) {
  KF_RETURN_IF_ERROR(vmcoreinfo_.arch == GuestArch::kArm64 ? AttachPagingArm64()
                                                           : AttachPagingX86(boot_reader));
  // Cross-check every input at once: the page tables must map the linear alias of the note's
  // page and the image's _text where the linear formulas say.
  const PagingConfig& config = translator_->config();
  const Pa note = vmcoreinfo_.note_pa;
  const Kva note_alias(note.value - config.direct_map.pa_delta);
  absl::StatusOr<Translation> walked = translator_->Walk(note_alias);
  if (!walked.ok() || walked->pa != note) {
    return BadData(absl::StrCat(
        "page tables (root ", Hex(*config.root), ", ",
        config.format ? config.format->Describe() : std::string("no format"),
        ") do not map the linear-map alias ", Hex(note_alias), " of the note to ", Hex(note), ": ",
        walked.ok() ? Hex(walked->pa) : std::string(walked.status().message())));
  }
  // _stext, not _text: arm64 6.16 leaves the 64 KiB between _text and _stext unmapped.
  if (std::optional<Symbol> text = symbols_.Find("_stext")) {
    absl::StatusOr<Translation> linear = translator_->Translate(text->address);
    absl::StatusOr<Translation> walk = translator_->Walk(text->address);
    if (!linear.ok() || !walk.ok() || linear->pa != walk->pa) {
      return BadData(
          absl::StrCat("kernel image mapping disagrees with ",
                       vmcoreinfo_.arch == GuestArch::kArm64
                           ? absl::StrCat("kimage_voffset ", Hex(vmcoreinfo_.arm64.kimage_voffset))
                           : absl::StrCat("phys_base ", Hex(vmcoreinfo_.phys_base)),
                       " at _stext ", Hex(text->address), ": ",
                       walk.ok() ? Hex(walk->pa) : std::string(walk.status().message())));
    }
  }
  return absl::OkStatus();
}

absl::Status KernelContext::AttachPagingX86(Reader& boot_reader) {
  KF_ASSIGN_OR_RETURN(Kva root_kva, vmcoreinfo_.PageTableRoot());
  KF_ASSIGN_OR_RETURN(Pa root, boot_reader.Translate(root_kva));
  const int levels = vmcoreinfo_.pgtable_l5 ? 5 : 4;
  uint64_t page_offset_base = levels == 5 ? kPageOffsetBaseL5 : kPageOffsetBaseL4;
  if (std::optional<Symbol> s = symbols_.Find("page_offset_base")) {
    KF_ASSIGN_OR_RETURN(page_offset_base, boot_reader.ReadU64(s->address));
  }
  if (!(page_offset_base >> 63)) {
    return BadData(
        absl::StrCat("page_offset_base ", Hex(page_offset_base), " is not a kernel address"));
  }
  PagingConfig config =
      X86_64Paging(vmcoreinfo_.phys_base, page_offset_base, ram_->layout().EndPa(), root, levels);
  // The kernel image is linear between _text and _end (2 MiB pages); the rest of the 1 GiB
  // image window goes through the page tables.
  std::optional<Symbol> text = symbols_.Find("_text"), end = symbols_.Find("_end");
  if (text && end && text->address < end->address) {
    config.image.va_start = text->address.value & ~(k2MiB - 1);
    config.image.va_end = (end->address.value + k2MiB - 1) & ~(k2MiB - 1);
  }
  translator_ = std::make_unique<Translator>(*ram_, config);
  return absl::OkStatus();
}

absl::Status KernelContext::AttachPagingArm64() {
  const Arm64VmcoreInfo& a = vmcoreinfo_.arm64;
  KF_ASSIGN_OR_RETURN(PagingConfig config, Arm64BootPaging());
  KF_ASSIGN_OR_RETURN(int page_shift, PageShift(vmcoreinfo_.page_size));
  const int va_bits = static_cast<int>(a.WalkVaBits());
  // 52-bit output addresses: LPA2 descriptors with 4K/16K whenever the walk is 52-bit, FEAT_LPA
  // with 64K when the kernel was built for 52-bit physical addresses.
  const bool pa52 = page_shift == 16 ? a.max_physmem_bits.value_or(48) == 52 : va_bits == 52;
  KF_ASSIGN_OR_RETURN(config.format, Arm64PageTables({page_shift, va_bits, pa52}));
  // A 64K kernel built for 52-bit VAs on a CPU without LVA points TTBR1 into swapper_pg_dir, at
  // the entries a 48-bit walk indexes (TTBR1_BADDR_4852_OFFSET, offset_ttbr1 in asm/assembler.h).
  if (page_shift == 16 && a.va_bits == 52 && va_bits == 48) {
    *config.root = *config.root + ((1ull << (52 - 42)) - (1ull << (48 - 42))) * 8;
  }
  // The linear map: __phys_to_virt(pa) = (pa - PHYS_OFFSET) | PAGE_OFFSET, over all of RAM.
  const uint64_t delta = a.phys_offset - a.PageOffset();
  const uint64_t ram_start =
      ram_->layout().regions().empty() ? 0 : ram_->layout().regions().front().gpa.value;
  config.direct_map = LinearMap{ram_start - delta, ram_->layout().EndPa() - delta, delta};
  if (!(config.direct_map.va_start >> 63) ||
      config.direct_map.va_end < config.direct_map.va_start) {
    return BadData(absl::StrCat("PHYS_OFFSET ", Hex(a.phys_offset), " and VA_BITS ", a.va_bits,
                                " put the linear map of RAM at ", Hex(config.direct_map.va_start),
                                ", outside the kernel half"));
  }
  // The image is linear between _text and _end; outside it, vmalloc space through the walk.
  std::optional<Symbol> text = symbols_.Find("_text"), end = symbols_.Find("_end");
  if (text && end && text->address < end->address) {
    const uint64_t page = vmcoreinfo_.page_size;
    config.image.va_start = text->address.value & ~(page - 1);
    config.image.va_end = (end->address.value + page - 1) & ~(page - 1);
  }
  translator_ = std::make_unique<Translator>(*ram_, config);
  return absl::OkStatus();
}

absl::StatusOr<PagingConfig> KernelContext::Arm64BootPaging() const {
  const Arm64VmcoreInfo& a = vmcoreinfo_.arm64;
  std::optional<Kva> stext = vmcoreinfo_.Symbol("_stext");
  if (!stext) return BadData("arm64 VMCOREINFO without SYMBOL(_stext)");
  // __kimg_to_phys(va) = va - kimage_voffset over the image; kallsyms sits in its rodata, well
  // inside the window (Debian's 7.x Image is ~40 MiB).
  PagingConfig config;
  config.image =
      LinearMap{stext->value - k2MiB, stext->value + kArm64ImageWindow, 0 - a.kimage_voffset};
  if (config.image.va_end < config.image.va_start) {
    return BadData(absl::StrCat("SYMBOL(_stext)=", Hex(*stext), " leaves no room for the image"));
  }
  KF_ASSIGN_OR_RETURN(Kva root_kva, vmcoreinfo_.PageTableRoot());
  if (!config.image.Contains(root_kva.value)) {
    return BadData(absl::StrCat("swapper_pg_dir ", Hex(root_kva), " is outside the kernel image"));
  }
  config.root = Pa(root_kva.value - a.kimage_voffset);
  return config;
}

void KernelContext::AttachBtf(const AttachOptions& options, Reader& reader, StepTimer& timer) {
  absl::StatusOr<std::unique_ptr<BtfSet>> set;
  if (!options.btf_path.empty()) {
    set = BtfSet::FromFile(options.btf_path);
  } else {
    absl::StatusOr<Kva> start = symbols_.Require("__start_BTF");
    absl::StatusOr<Kva> stop = symbols_.Require("__stop_BTF");
    if (!start.ok() || !stop.ok()) {
      set = absl::NotFoundError(
          "no __start_BTF/__stop_BTF symbols (kernel without CONFIG_DEBUG_INFO_BTF?)");
    } else if (*stop <= *start || *stop - *start > caps::kMaxVmlinuxBtfBytes) {
      set = BadData(absl::StrCat("[__start_BTF, __stop_BTF) spans ", *stop - *start, " bytes"));
    } else {
      absl::StatusOr<std::vector<uint8_t>> bytes = reader.ReadBytes(*start, *stop - *start);
      set = bytes.ok() ? BtfSet::FromVmlinuxBytes(std::move(*bytes), "guest memory")
                       : absl::StatusOr<std::unique_ptr<BtfSet>>(bytes.status());
    }
  }
  timer.Lap("btf");
  if (!set.ok()) {
    btf_status_ = set.status();
    return;
  }
  btf_ = std::move(*set);
  resolver_ = std::make_unique<OffsetResolver>(btf_->vmlinux());
  timer.Lap("btf_index");
}

absl::Status KernelContext::CheckHostSymbols(const AttachOptions& options) {
  std::vector<std::pair<std::string, absl::StatusOr<std::vector<HostSymbol>>>> sources;
  if (!options.system_map_path.empty())
    sources.emplace_back(options.system_map_path, LoadSystemMap(options.system_map_path));
  if (!options.vmlinux_path.empty())
    sources.emplace_back(options.vmlinux_path, LoadElfSymbols(options.vmlinux_path));
  for (auto& [path, host] : sources) {
    if (!host.ok()) return host.status();
    KF_ASSIGN_OR_RETURN(
        HostSymbolCheck check,
        CrossCheckSymbols(symbols_, *host, kaslr_offset(), path,
                          // every arm64 kernel symbol is in the image
                          arch() == GuestArch::kArm64 ? 1ull << 63 : kStartKernelMap));
    host_check_ = std::move(check);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KernelContext>> KernelContext::Attach(
    const AttachOptions& options) {
  std::shared_ptr<KernelContext> ctx(new KernelContext());
  StepTimer timer;
  KF_RETURN_IF_ERROR(ctx->AttachRam(options));
  timer.Lap("ram");

  KF_ASSIGN_OR_RETURN(ctx->vmcoreinfo_, FindVmcoreInfo(*ctx->ram_));
  if (ctx->vmcoreinfo_.arch == GuestArch::kArm64 && ctx->layout_source_ == kDefaultLayout) {
    // Without a layout from the VMM, an arm64 guest is on QEMU's virt machine: RAM at 1 GiB. The
    // note stays where the scan found it in the file; only its guest-physical address moves.
    std::optional<uint64_t> note_offset;
    for (const RamRegion& r : ctx->ram_->layout().regions()) {
      const uint64_t pa = ctx->vmcoreinfo_.note_pa.value;
      if (pa >= r.gpa.value && pa - r.gpa.value < r.size)
        note_offset = r.file_offset + (pa - r.gpa.value);
    }
    if (!note_offset) return absl::InternalError("the VMCOREINFO note is outside the RAM layout");
    KF_RETURN_IF_ERROR(ctx->AttachRam(options,
                                      RamLayout::Virt(ctx->ram_->layout().FileBytesNeeded()),
                                      "virt default (arm64 guest)"));
    KF_ASSIGN_OR_RETURN(ctx->vmcoreinfo_,
                        ReadVmcoreInfoAt(*ctx->ram_, Pa(RamLayout::kVirtRamBase + *note_offset)));
  }
  timer.Lap("vmcoreinfo");

  // Until the page tables are known, only the kernel image (linear through phys_base or
  // kimage_voffset) is readable; that is where the kallsyms tables and page_offset_base live.
  PagingConfig boot = X86_64Paging(ctx->vmcoreinfo_.phys_base);
  if (ctx->vmcoreinfo_.arch == GuestArch::kArm64) {
    KF_ASSIGN_OR_RETURN(boot, ctx->Arm64BootPaging());
  }
  Translator boot_translator(*ctx->ram_, boot);
  Reader boot_reader(boot_translator);
  KF_ASSIGN_OR_RETURN(KallsymsLocations loc, ctx->vmcoreinfo_.Kallsyms());
  KF_ASSIGN_OR_RETURN(KallsymsResult kallsyms,
                      DecodeKallsyms(boot_reader, loc, AnchorsFromVmcoreInfo(ctx->vmcoreinfo_)));
  ctx->symbols_ = std::move(kallsyms.symbols);
  ctx->kallsyms_encoding_ = kallsyms.encoding;
  timer.Lap("kallsyms");

  KF_RETURN_IF_ERROR(ctx->AttachPaging(boot_reader));
  timer.Lap("paging");

  Reader reader = ctx->NewReader();
  ctx->AttachBtf(options, reader, timer);

  KF_ASSIGN_OR_RETURN(PerCpuLayout percpu, PerCpuLayout::Read(reader, ctx->symbols_));
  ctx->percpu_ = std::move(percpu);
  timer.Lap("percpu");

  KF_ASSIGN_OR_RETURN(std::string release, ReadUtsRelease(reader, ctx->symbols_, ctx->vmcoreinfo_,
                                                          ctx->resolver_.get()));
  if (release != ctx->vmcoreinfo_.osrelease) {
    return absl::FailedPreconditionError(absl::StrCat("init_uts_ns release '", release,
                                                      "' != VMCOREINFO OSRELEASE '",
                                                      ctx->vmcoreinfo_.osrelease, "'"));
  }
  timer.Lap("uts_check");

  if (!options.system_map_path.empty() || !options.vmlinux_path.empty()) {
    KF_RETURN_IF_ERROR(ctx->CheckHostSymbols(options));
    timer.Lap("host_symbols");
  }
  ctx->timings_ = timer.steps();
  return std::shared_ptr<const KernelContext>(std::move(ctx));
}

absl::Duration KernelContext::attach_total() const {
  absl::Duration total;
  for (const StepTiming& s : timings_) total += s.elapsed;
  return total;
}

absl::Status KernelContext::Revalidate() const {
  if (ram_->lost())
    return absl::UnavailableError(absl::StrCat("guest RAM ", ram_->source(), " is gone"));
  auto changed = [](absl::string_view what) {
    return absl::FailedPreconditionError(absl::StrCat("guest kernel changed: ", what));
  };
  absl::StatusOr<VmcoreInfo> now = ReadVmcoreInfoAt(*ram_, vmcoreinfo_.note_pa);
  if (!now.ok())
    return changed(absl::StrCat("VMCOREINFO note gone (", now.status().message(), ")"));
  if (now->osrelease != vmcoreinfo_.osrelease) {
    return changed(absl::StrCat("OSRELEASE ", vmcoreinfo_.osrelease, " -> ", now->osrelease));
  }
  if (now->kernel_offset != vmcoreinfo_.kernel_offset) {
    return changed(absl::StrCat("KERNELOFFSET ", Hex(vmcoreinfo_.kernel_offset), " -> ",
                                Hex(now->kernel_offset)));
  }
  // A reboot can leave the old note in place; the values below come from the live kernel image.
  Reader reader = NewReader();
  auto same = [&](absl::string_view symbol, uint64_t expected) {
    std::optional<Symbol> s = symbols_.Find(symbol);
    if (!s) return true;
    absl::StatusOr<uint64_t> now = reader.ReadU64(s->address);
    return now.ok() && *now == expected;
  };
  if (arch() == GuestArch::kArm64) {
    if (!same("kimage_voffset", vmcoreinfo_.arm64.kimage_voffset)) return changed("kimage_voffset");
    if (!same("memstart_addr", vmcoreinfo_.arm64.phys_offset)) return changed("memstart_addr");
  } else if (!same("page_offset_base", page_offset_base())) {
    return changed("page_offset_base");
  }
  absl::StatusOr<PerCpuLayout> percpu = PerCpuLayout::Read(reader, symbols_);
  if (!percpu.ok() || percpu->offsets() != percpu_->offsets()) return changed("per-CPU offsets");
  absl::StatusOr<std::string> release =
      ReadUtsRelease(reader, symbols_, vmcoreinfo_, resolver_.get());
  if (!release.ok() || *release != vmcoreinfo_.osrelease) return changed("init_uts_ns release");
  return absl::OkStatus();
}

}  // namespace kfreeze
