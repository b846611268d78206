// Error vocabulary: faults carry the address that failed; macros propagate Status/StatusOr.
#pragma once

#include <cstdint>
#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/types.h"

namespace kfreeze {

// Kind of address a fault refers to; stored next to the address in the payload.
enum class AddressSpace : uint8_t { kVirtual = 0, kPhysical = 1 };

struct FaultInfo {
  uint64_t address = 0;
  AddressSpace space = AddressSpace::kVirtual;
};

// An unreadable/unmapped address: OutOfRange with the address as a payload ("fault at 0x..: what").
absl::Status FaultError(Kva address, absl::string_view what);
absl::Status FaultError(Pa address, absl::string_view what);
bool IsFault(const absl::Status& status);
// The fault payload, if `status` is a fault.
std::optional<FaultInfo> GetFault(const absl::Status& status);

// Guest data that is implausible (bad magic, impossible count): DataLoss.
absl::Status BadData(absl::string_view what);

}  // namespace kfreeze

#define KF_STATUS_CONCAT_INNER_(a, b) a##b
#define KF_STATUS_CONCAT_(a, b) KF_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define KF_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status kf_status_ = (expr);      \
    if (!kf_status_.ok()) return kf_status_; \
  } while (0)

// `KF_ASSIGN_OR_RETURN(auto x, Foo());` assigns the value or returns the error.
#define KF_ASSIGN_OR_RETURN(lhs, expr) \
  KF_ASSIGN_OR_RETURN_IMPL_(KF_STATUS_CONCAT_(kf_statusor_, __LINE__), lhs, expr)
#define KF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()
