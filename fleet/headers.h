// Header names of fleet messages, and an absl::Status carried in a reply's headers
// (docs/design/fleet.md §2): Nats-Service-Error-Code (the gRPC code number) and
// Nats-Service-Error (the message), as the NATS micro services convention has them, plus
// Kfreeze-Status (the code's name).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nats/nats.h"

namespace kfreeze::fleet {

inline constexpr char kHostHeader[] = "Kfreeze-Host";
inline constexpr char kTargetHeader[] = "Kfreeze-Target";
inline constexpr char kDumpIdHeader[] = "Kfreeze-Dump-Id";
inline constexpr char kObjectHeader[] = "Kfreeze-Object";
// The rest of a dump event's summary, for readers that decode no protobuf (the dashboard).
inline constexpr char kSchemaHeader[] = "Kfreeze-Schema";
inline constexpr char kCapturedAtHeader[] = "Kfreeze-Captured-At";
inline constexpr char kTriggerHeader[] = "Kfreeze-Trigger";
inline constexpr char kExitKindHeader[] = "Kfreeze-Exit-Kind";
inline constexpr char kSchedulerHeader[] = "Kfreeze-Scheduler";
inline constexpr char kSummaryHeader[] = "Kfreeze-Summary";
// On a FreezeResponse sent without its envelope: "object" = fetch it from the bucket.
inline constexpr char kEnvelopeHeader[] = "Kfreeze-Envelope";
inline constexpr char kStatusHeader[] = "Kfreeze-Status";
inline constexpr char kServiceErrorCodeHeader[] = "Nats-Service-Error-Code";
inline constexpr char kServiceErrorHeader[] = "Nats-Service-Error";

// `value` fit for a header: printable ASCII only (a guest's scheduler name or a target name could
// otherwise end the header line, or the header block, early), at most 1 KiB.
std::string HeaderValue(absl::string_view value);

// Writes a failed `status` into msg's headers.
natsStatus SetStatusHeaders(natsMsg* msg, const absl::Status& status);
// OK unless the reply carries Nats-Service-Error-Code; the code outside gRPC's range is Unknown.
absl::Status StatusFromHeaders(natsMsg* msg);
// The header's value, or "" when absent.
const char* HeaderOr(natsMsg* msg, const char* key, const char* fallback = "");

}  // namespace kfreeze::fleet
