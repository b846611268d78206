// The guest's code as the unwinder and the symbolizer need it: ORC tables of vmlinux and every
// module, and the modules' symbols. Kernel text and its tables never change after boot, modules
// rarely: one CodeMapCache per attachment reads them after a resume, and again only when the
// module list's fingerprint changed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/modules.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"
#include "core/unwind/orc_table.h"

namespace kfreeze::walkers::stacks {

struct CodeMap {
  std::shared_ptr<const OrcTables> orc;      // null on kernels unwound without ORC (arm64)
  std::shared_ptr<const ModuleMap> modules;  // null when the module list was unreadable
  std::string modules_unavailable;           // why modules is null
};

class CodeMapCache {
 public:
  // `with_orc`: the kernel's unwinder needs ORC tables (x86-64); arm64 walks frame records.
  CodeMapCache(const SymbolIndex& symbols, const OffsetResolver& btf, bool with_orc)
      : symbols_(symbols), btf_(btf), with_orc_(with_orc) {}

  // The current map, re-read when the module list changed. Fails only when vmlinux's own ORC
  // tables are needed and cannot be had (then no stack can be unwound).
  absl::StatusOr<std::shared_ptr<const CodeMap>> Get(Reader& reader);

 private:
  const SymbolIndex& symbols_;
  const OffsetResolver& btf_;
  const bool with_orc_;
  absl::Mutex mu_;
  std::shared_ptr<const CodeMap> cached_ ABSL_GUARDED_BY(mu_);
  uint64_t fingerprint_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfreeze::walkers::stacks
