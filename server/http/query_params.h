// Query strings of the JSON API as the gRPC requests they stand for. Repeated fields take the
// parameter several times or comma-separated values; an unknown parameter or an unreadable value
// is InvalidArgument naming it (a typo never widens a filter silently).
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::server::http {

using QueryParams = std::multimap<std::string, std::string>;

// /api/v1/events: target, schema, label (k=v), exit_kind, scheduler, trigger (rpc, early, late,
// periodic, cli or TRIGGER_*), since_dump_id, summary_only (true/false/1/0), fields (DumpEvent
// paths for the field mask).
absl::StatusOr<kfreeze::v1::WatchRequest> WatchRequestFromQuery(const QueryParams& params);

// /api/v1/dumps: target, schema, label (k=v), page_size, page_token.
absl::StatusOr<kfreeze::v1::ListDumpsRequest> ListDumpsRequestFromQuery(const QueryParams& params);

}  // namespace kfreeze::server::http
