#include "core/walkers/stacks/code_map.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers::stacks {

absl::StatusOr<std::shared_ptr<const CodeMap>> CodeMapCache::Get(Reader& reader) {
  absl::StatusOr<uint64_t> fingerprint = ModuleListFingerprint(reader, symbols_, btf_);
  absl::MutexLock lock(&mu_);
  if (cached_ != nullptr && fingerprint.ok() && *fingerprint == fingerprint_) return cached_;

  std::vector<OrcSectionRef> sections;
  if (with_orc_) {
    absl::StatusOr<OrcSectionRef> vmlinux = VmlinuxOrcSection(symbols_);
    if (!vmlinux.ok()) {
      return absl::NotFoundError(absl::StrCat("no ORC tables: ", vmlinux.status().message()));
    }
    sections.push_back(*vmlinux);
  }
  auto map = std::make_shared<CodeMap>();
  absl::StatusOr<ModuleMap> modules = ModuleMap::Read(reader, symbols_, btf_);
  if (modules.ok()) {
    map->modules = std::make_shared<const ModuleMap>(*std::move(modules));
    for (const GuestModule& m : map->modules->modules()) {
      if (!with_orc_ || !m.orc) continue;
      sections.push_back({m.name, m.orc->ip_table_kva, m.orc->orc_table_kva, m.orc->count,
                          m.text_begin, m.text_end});
      // One table covers init text too while the module is still initialising.
      if (m.init_text_begin != 0) {
        sections.push_back({m.name, m.orc->ip_table_kva, m.orc->orc_table_kva, m.orc->count,
                            m.init_text_begin, m.init_text_end});
      }
    }
  } else {
    map->modules_unavailable = std::string(modules.status().message());
  }
  if (with_orc_) {
    absl::StatusOr<std::shared_ptr<const OrcTables>> orc = OrcTables::Load(reader, sections);
    if (!orc.ok()) return orc.status();
    map->orc = *std::move(orc);
  }
  cached_ = std::move(map);
  fingerprint_ = fingerprint.ok() ? *fingerprint : 0;
  return cached_;
}

}  // namespace kfreeze::walkers::stacks
