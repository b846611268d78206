// absl::Status codes as HTTP statuses, the way gRPC gateways map them, and the error body
// (google.rpc.Status in JSON: {"code": <grpc code>, "message": "..."}).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace kfreeze::server::http {

int HttpStatusOf(absl::StatusCode code);

// {"code": 5, "message": "..."} with a trailing newline; the message JSON-escaped.
std::string ErrorBody(const absl::Status& status);

}  // namespace kfreeze::server::http
