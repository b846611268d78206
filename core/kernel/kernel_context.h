// The attach step: from nothing but a guest RAM file, find and check everything needed to read
// the guest kernel (layout, VMCOREINFO, KASLR, kallsyms, page tables, BTF, per-CPU areas) and
// freeze it into an immutable KernelContext, shared across threads without locks. All of this
// happens once per guest boot; Revalidate() tells when the guest now runs a different kernel.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/base/caps.h"
#include "core/base/stopwatch.h"
#include "core/btf/btf_set.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/host_symbols.h"
#include "core/kernel/kallsyms.h"
#include "core/kernel/percpu.h"
#include "core/kernel/symbols.h"
#include "core/kernel/vmcoreinfo.h"
#include "core/mem/guest_ram.h"
#include "core/mem/reader.h"
#include "core/mem/translator.h"

namespace kfreeze {

struct AttachOptions {
  std::string ram_path;
  int ram_fd = -1;         // used instead of ram_path when >= 0 (duplicated, not adopted)
  std::string ram_layout;  // --ram-layout spec; empty: memory_tree, else q35 default
  // The VMM's memory map as QEMU's `info mtree -f` text (FetchMemoryTree over QMP); unset: the
  // q35 default. A function so the kernel layer needs no VMM transport.
  std::function<absl::StatusOr<std::string>()> memory_tree;
  std::string btf_path;         // host BTF overriding the one in guest memory
  std::string system_map_path;  // optional cross-check
  std::string vmlinux_path;     // optional cross-check (.symtab)
};

class KernelContext {
 public:
  static absl::StatusOr<std::shared_ptr<const KernelContext>> Attach(const AttachOptions& options);

  const GuestRam& ram() const { return *ram_; }
  const std::string& layout_source() const { return layout_source_; }
  const VmcoreInfo& vmcoreinfo() const { return vmcoreinfo_; }
  const std::string& release() const { return vmcoreinfo_.osrelease; }
  uint64_t kaslr_offset() const { return vmcoreinfo_.kernel_offset; }
  GuestArch arch() const { return vmcoreinfo_.arch; }
  // x86-64 only (0 on arm64): phys_base and the direct map's base.
  uint64_t phys_base() const { return vmcoreinfo_.phys_base; }
  uint64_t page_offset_base() const {
    return arch() == GuestArch::kX86_64 ? translator_->config().direct_map.va_start : 0;
  }
  int pgtable_levels() const { return translator_->config().format->levels(); }

  const Translator& translator() const { return *translator_; }
  // A Reader with its own translation cache; make one per thread.
  Reader NewReader() const { return Reader(*translator_); }

  const SymbolIndex& symbols() const { return symbols_; }
  KallsymsEncoding kallsyms_encoding() const { return kallsyms_encoding_; }
  const PerCpuLayout& percpu() const { return *percpu_; }

  // vmlinux BTF and its resolver; null when unavailable, with btf_status() saying why.
  const BtfSet* btf() const { return btf_.get(); }
  const OffsetResolver* offsets() const { return resolver_.get(); }
  const absl::Status& btf_status() const { return btf_status_; }

  const std::optional<HostSymbolCheck>& host_symbol_check() const { return host_check_; }
  const std::vector<StepTiming>& attach_timings() const { return timings_; }
  absl::Duration attach_total() const;

  // OK while the guest still runs the kernel this context describes (same VMCOREINFO at the same
  // place, same page_offset_base, per-CPU offsets and uts release); FailedPrecondition naming the
  // change otherwise (reboot into another kernel or another KASLR slide): attach again then.
  absl::Status Revalidate() const;

 private:
  KernelContext() = default;
  absl::Status AttachRam(const AttachOptions& options);
  absl::Status AttachRam(const AttachOptions& options, RamLayout layout, absl::string_view source);
  absl::Status AttachPaging(Reader& boot_reader);
  absl::Status AttachPagingX86(Reader& boot_reader);
  absl::Status AttachPagingArm64();
  // arm64 before kallsyms: the image window around _stext through kimage_voffset, and the root
  // swapper_pg_dir - kimage_voffset (no walk needed to find it).
  absl::StatusOr<PagingConfig> Arm64BootPaging() const;
  void AttachBtf(const AttachOptions& options, Reader& reader, StepTimer& timer);
  absl::Status CheckHostSymbols(const AttachOptions& options);

  std::unique_ptr<GuestRam> ram_;
  std::string layout_source_;
  VmcoreInfo vmcoreinfo_;
  std::unique_ptr<Translator> translator_;
  SymbolIndex symbols_;
  KallsymsEncoding kallsyms_encoding_ = KallsymsEncoding::kPlaceRelative;
  std::optional<PerCpuLayout> percpu_;
  std::unique_ptr<BtfSet> btf_;
  std::unique_ptr<OffsetResolver> resolver_;
  absl::Status btf_status_;
  std::optional<HostSymbolCheck> host_check_;
  std::vector<StepTiming> timings_;
};

// The kernel's release string read from init_uts_ns (uts_namespace.name.release).
absl::StatusOr<std::string> ReadUtsRelease(Reader& reader, const SymbolIndex& symbols,
                                           const VmcoreInfo& info, const OffsetResolver* resolver);

}  // namespace kfreeze
