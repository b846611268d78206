#include "core/walkers/common/kernel_hz.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze::walkers {

absl::StatusOr<uint32_t> ReadKernelHz(Reader& reader, const KernelView& kernel) {
  KF_ASSIGN_OR_RETURN(Kva cs, kernel.symbols.Require("clocksource_jiffies"));
  KF_ASSIGN_OR_RETURN(uint64_t mult_off, kernel.btf.Offset("clocksource.mult"));
  KF_ASSIGN_OR_RETURN(uint64_t shift_off, kernel.btf.Offset("clocksource.shift"));
  KF_ASSIGN_OR_RETURN(uint32_t mult, reader.ReadU32(cs + mult_off));
  KF_ASSIGN_OR_RETURN(uint32_t shift, reader.ReadU32(cs + shift_off));
  if (shift >= 32 || (mult >> shift) == 0) {
    return BadData(absl::StrCat("clocksource_jiffies mult ", mult, " shift ", shift));
  }
  const uint64_t tick_nsec = mult >> shift;
  const uint64_t hz = (1000000000ull + tick_nsec / 2) / tick_nsec;
  if (hz < 24 || hz > 1200) return BadData(absl::StrCat("implausible HZ ", hz));
  return static_cast<uint32_t>(hz);
}

absl::StatusOr<Kva> JiffiesAddress(const SymbolIndex& symbols) {
  if (std::optional<Kva> a = symbols.Address("jiffies_64")) return *a;
  return symbols.Require("jiffies");
}

}  // namespace kfreeze::walkers
