// Fault statuses with a machine-readable address payload.
#include "core/base/status.h"

#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace kfreeze {
namespace {

// Payload type URL; the value is 9 bytes: the address (little-endian u64) then the space byte.
constexpr absl::string_view kFaultPayloadUrl = "type.kfreeze.dev/fault";

absl::Status MakeFault(uint64_t address, AddressSpace space, absl::string_view what) {
  const char* prefix = space == AddressSpace::kVirtual ? "virtual" : "physical";
  absl::Status status =
      absl::OutOfRangeError(absl::StrCat("fault at ", prefix, " ", Hex(address), ": ", what));
  char buf[9];
  std::memcpy(buf, &address, 8);
  buf[8] = static_cast<char>(space);
  status.SetPayload(kFaultPayloadUrl, absl::Cord(absl::string_view(buf, sizeof(buf))));
  return status;
}

}  // namespace

absl::Status FaultError(Kva address, absl::string_view what) {
  return MakeFault(address.value, AddressSpace::kVirtual, what);
}

absl::Status FaultError(Pa address, absl::string_view what) {
  return MakeFault(address.value, AddressSpace::kPhysical, what);
}

std::optional<FaultInfo> GetFault(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kFaultPayloadUrl);
  if (!payload || payload->size() != 9) return std::nullopt;
  std::string flat(*payload);
  FaultInfo info;
  std::memcpy(&info.address, flat.data(), 8);
  info.space = static_cast<AddressSpace>(flat[8]);
  return info;
}

bool IsFault(const absl::Status& status) { return GetFault(status).has_value(); }

absl::Status BadData(absl::string_view what) { return absl::DataLossError(what); }

}  // namespace kfreeze
