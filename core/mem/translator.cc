// Translator: the linear ranges, then the architecture's page walk.
#include "core/mem/translator.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze {

Translator::Translator(const GuestRam& ram, PagingConfig config)
    : ram_(&ram), config_(std::move(config)) {}

Translator Translator::WithRoot(Pa root) const {
  PagingConfig c = config_;
  c.root = root;
  return Translator(*ram_, c);
}

LeafShifts Translator::leaf_shifts() const {
  return config_.format ? config_.format->leaf_shifts() : LeafShifts{};
}

absl::StatusOr<Translation> Translator::Translate(Kva va, uint64_t* last_table) const {
  if (last_table != nullptr) *last_table = 0;
  if (std::optional<Translation> t = TranslateLinear(va)) return *t;
  return Walk(va, last_table);
}

absl::StatusOr<Translation> Translator::Walk(Kva va, uint64_t* last_table) const {
  if (last_table != nullptr) *last_table = 0;
  if (!config_.root) return FaultError(va, "no page-table root for a page walk");
  if (!config_.format) return FaultError(va, "no page-table format for a page walk");
  return config_.format->Walk(*ram_, *config_.root, va, last_table);
}

absl::StatusOr<Translation> Translator::WalkLastTable(Kva va, uint64_t last_table) const {
  if (!config_.format) return FaultError(va, "no page-table format for a page walk");
  return config_.format->WalkLastTable(*ram_, va, last_table);
}

}  // namespace kfreeze
