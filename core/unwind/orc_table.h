// The guest kernel's ORC tables (vmlinux and modules) read once from guest memory and searched by
// instruction address. Immutable after Load, so one instance serves every unwinding thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"
#include "core/unwind/orc_entry.h"

namespace kfreeze {

// Where one ORC table pair lives in the guest and which text it describes.
struct OrcSectionRef {
  std::string module;          // "" = vmlinux
  uint64_t ip_table_kva = 0;   // s32 place-relative ips, sorted
  uint64_t orc_table_kva = 0;  // `count` 6-byte entries, parallel to the ip table
  uint64_t count = 0;
  uint64_t text_begin = 0;  // [text_begin, text_end): ips this table answers for
  uint64_t text_end = 0;
};

// vmlinux's tables from kallsyms (__start_orc_unwind_ip, __stop_orc_unwind_ip,
// __start_orc_unwind), text from _stext to _etext widened to the init text when present.
// NotFound naming the missing symbol; DataLoss when the ip table bounds are impossible.
absl::StatusOr<OrcSectionRef> VmlinuxOrcSection(const SymbolIndex& symbols);

struct OrcLookup {
  OrcEntry entry;
  const std::string* module = nullptr;  // owned by the OrcTables; "" = vmlinux
};

class OrcTables {
 public:
  // Bounds on what a (hostile) guest can make Load read and hold.
  struct Limits {
    uint64_t max_entries_per_section = 4 * 1024 * 1024;  // vmlinux has ~0.5M
    uint64_t max_entries_total = 8 * 1024 * 1024;        // modules add a few 100K at most
  };

  // Reads every section's tables (bulk, chunked reads); a section that is absurd or unreadable is
  // skipped with its reason in skipped(). The layout is detected once, from vmlinux's table (else
  // the largest loaded one); modules share it. Fails when no section loads or the layout cannot
  // be told, with the reasons.
  static absl::StatusOr<std::shared_ptr<const OrcTables>> Load(
      Reader& reader, const std::vector<OrcSectionRef>& sections, const Limits& limits);
  static absl::StatusOr<std::shared_ptr<const OrcTables>> Load(
      Reader& reader, const std::vector<OrcSectionRef>& sections) {
    return Load(reader, sections, Limits{});
  }

  // The entry covering ip: the last table ip <= ip, in a section whose text contains ip.
  std::optional<OrcLookup> Find(uint64_t ip) const;

  OrcLayout layout() const { return layout_; }
  size_t entries() const { return entries_; }
  size_t sections() const { return sections_.size(); }
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  struct Section {
    std::string module;
    uint64_t text_begin = 0;
    uint64_t text_end = 0;
    std::vector<uint64_t> ips;  // sorted
    std::vector<OrcEntry> entries;
  };
  OrcTables() = default;

  OrcLayout layout_ = OrcLayout::kV6_4;
  size_t entries_ = 0;
  std::vector<Section> sections_;  // sorted by text_begin
  std::vector<uint64_t> max_end_;  // max_end_[i] = max text_end of sections_[0..i]
  std::vector<std::string> skipped_;
};

}  // namespace kfreeze
