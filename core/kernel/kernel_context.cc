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
    layout_source_ = "q35 default";
  }
  if (options.ram_fd >= 0) {
    KF_ASSIGN_OR_RETURN(ram_, GuestRam::OpenFd(options.ram_fd, std::move(layout)));
  } else {
    KF_ASSIGN_OR_RETURN(ram_, GuestRam::OpenFile(options.ram_path, std::move(layout)));
  }
  return absl::OkStatus();
}

absl::Status KernelContext::AttachPaging(Reader& boot_reader) {
  PagingConfig config = boot_reader.translator().config();
  KF_ASSIGN_OR_RETURN(Kva root_kva, vmcoreinfo_.PageTableRoot());
  KF_ASSIGN_OR_RETURN(Pa root, boot_reader.Translate(root_kva));
  config.root = root;
  config.levels = vmcoreinfo_.pgtable_l5 ? 5 : 4;
  if (std::optional<Symbol> s = symbols_.Find("page_offset_base")) {
    KF_ASSIGN_OR_RETURN(uint64_t base, boot_reader.ReadU64(s->address));
    config.page_offset_base = base;
  } else {
    config.page_offset_base = config.levels == 5 ? kPageOffsetBaseL5 : kPageOffsetBaseL4;
  }
  if (!(*config.page_offset_base >> 63)) {
    return BadData(absl::StrCat("page_offset_base ", Hex(*config.page_offset_base),
                                " is not a kernel address"));
  }
  config.direct_map_bytes = ram_->layout().EndPa();
  // The kernel image is linear between _text and _end (2 MiB pages); the rest of the 1 GiB
  // image window goes through the page tables.
  std::optional<Symbol> text = symbols_.Find("_text"), end = symbols_.Find("_end");
  if (text && end && text->address < end->address) {
    config.image_start = text->address.value & ~(k2MiB - 1);
    config.image_end = (end->address.value + k2MiB - 1) & ~(k2MiB - 1);
  }
  translator_ = std::make_unique<Translator>(*ram_, config);
  // Cross-check every input at once: the page tables must map the direct-map alias of the note's
  // page and the image's _text where the linear formulas say.
  const Pa note = vmcoreinfo_.note_pa;
  absl::StatusOr<Translation> walked =
      translator_->Walk(Kva(*config.page_offset_base + note.value));
  if (!walked.ok() || walked->pa != note) {
    return BadData(
        absl::StrCat("page tables (root ", Hex(root), ", ", config.levels,
                     " levels) do not map page_offset_base ", Hex(*config.page_offset_base), " + ",
                     Hex(note), " to ", Hex(note), ": ",
                     walked.ok() ? Hex(walked->pa) : std::string(walked.status().message())));
  }
  if (text) {
    absl::StatusOr<Translation> linear = translator_->Translate(text->address);
    absl::StatusOr<Translation> walk = translator_->Walk(text->address);
    if (!linear.ok() || !walk.ok() || linear->pa != walk->pa) {
      return BadData(absl::StrCat("kernel image mapping disagrees with phys_base ",
                                  Hex(vmcoreinfo_.phys_base), " at _text ", Hex(text->address)));
    }
  }
  return absl::OkStatus();
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
    KF_ASSIGN_OR_RETURN(HostSymbolCheck check,
                        CrossCheckSymbols(symbols_, *host, kaslr_offset(), path));
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
  timer.Lap("vmcoreinfo");

  // Until the page tables are known, only the kernel image (linear through phys_base) is readable;
  // that is where the kallsyms tables and page_offset_base live.
  PagingConfig boot;
  boot.phys_base = ctx->vmcoreinfo_.phys_base;
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
  if (std::optional<Symbol> s = symbols_.Find("page_offset_base")) {
    absl::StatusOr<uint64_t> base = reader.ReadU64(s->address);
    if (!base.ok() || *base != page_offset_base()) return changed("page_offset_base");
  }
  absl::StatusOr<PerCpuLayout> percpu = PerCpuLayout::Read(reader, symbols_);
  if (!percpu.ok() || percpu->offsets() != percpu_->offsets()) return changed("per-CPU offsets");
  absl::StatusOr<std::string> release =
      ReadUtsRelease(reader, symbols_, vmcoreinfo_, resolver_.get());
  if (!release.ok() || *release != vmcoreinfo_.osrelease) return changed("init_uts_ns release");
  return absl::OkStatus();
}

}  // namespace kfreeze
