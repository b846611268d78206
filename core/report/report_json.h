// The JSON bridge: reports to and from proto3 JSON and ktstr's serde JSON.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

enum class JsonDialect {
  kProto3,  // protobuf's JSON mapping (grpcurl/buf curl); 64-bit ints as strings.
  kKtstr,   // ktstr's serde shape; 64-bit ints as numbers, RenderedValue tagged by "kind".
};

// The three report shapes, as parsed: exactly one of them is set.
using AnyReport = kfreeze::v1::DumpEnvelope;  // uses only the `report` oneof

struct ParsedReport {
  JsonDialect dialect;
  AnyReport report;  // report_case() tells single / dual / degraded
};

// One message (FailureDumpReport, DualFailureDumpReport, DegradedFailureDumpReport, or any other
// kfreeze.v1 message) as JSON in the given dialect. Output is deterministic (field order = proto
// declaration order), pretty-printed with 2-space indents and a trailing newline. Fails
// (InvalidArgument) when protobuf's JSON printer refuses the message, e.g. nesting deeper than
// its recursion limit.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, JsonDialect dialect);

// Parses JSON into `message` in the given dialect. InvalidArgument naming the problem (path and
// expected type) on malformed input.
absl::Status FromJson(std::string_view json, JsonDialect dialect,
                      google::protobuf::Message* message);

// Detects the dialect, dispatches on "schema" and parses. InvalidArgument for: not JSON, not an
// object, no "schema", an unknown schema, a body that does not fit the claimed schema.
absl::StatusOr<ParsedReport> ParseAnyReport(std::string_view json);

// The report inside an envelope-shaped AnyReport, as a Message (nullptr when none is set).
const google::protobuf::Message* ReportOf(const AnyReport& any);

// "single" | "dual" | "degraded" | "" for the set report case.
absl::string_view SchemaOf(const AnyReport& any);

}  // namespace kfreeze::report
