// Header names of fleet messages, and an absl::Status carried in a reply's headers
// (docs/design/fleet.md §2): Nats-Service-Error-Code (the gRPC code number) and
// Nats-Service-Error (the message), as the NATS micro services convention has them, plus
// Kfreeze-Status (the code's name).
#pragma once

#include "absl/status/status.h"
#include "nats/nats.h"

namespace kfreeze::fleet {

inline constexpr char kHostHeader[] = "Kfreeze-Host";
inline constexpr char kTargetHeader[] = "Kfreeze-Target";
inline constexpr char kDumpIdHeader[] = "Kfreeze-Dump-Id";
inline constexpr char kObjectHeader[] = "Kfreeze-Object";
// On a FreezeResponse sent without its envelope: "object" = fetch it from the bucket.
inline constexpr char kEnvelopeHeader[] = "Kfreeze-Envelope";
inline constexpr char kStatusHeader[] = "Kfreeze-Status";
inline constexpr char kServiceErrorCodeHeader[] = "Nats-Service-Error-Code";
inline constexpr char kServiceErrorHeader[] = "Nats-Service-Error";

// Writes a failed `status` into msg's headers.
natsStatus SetStatusHeaders(natsMsg* msg, const absl::Status& status);
// OK unless the reply carries Nats-Service-Error-Code; the code outside gRPC's range is Unknown.
absl::Status StatusFromHeaders(natsMsg* msg);
// The header's value, or "" when absent.
const char* HeaderOr(natsMsg* msg, const char* key, const char* fallback = "");

}  // namespace kfreeze::fleet
