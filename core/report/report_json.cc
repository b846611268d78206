// JSON bridge: proto3 JSON through protobuf's own mapping, ktstr JSON through ktstr_json.cc.
#include "core/report/report_json.h"

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/report/ktstr_json.h"
#include "google/protobuf/util/json_util.h"

namespace kfreeze::report {
namespace {

using google::protobuf::Message;
using kfreeze::v1::DumpEnvelope;

absl::StatusOr<OrderedJson> ParseJsonText(std::string_view json) {
  if (JsonNestingDepth(json) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  OrderedJson doc = OrderedJson::parse(json.begin(), json.end(), nullptr,
                                       /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not JSON");
  return doc;
}

absl::Status Proto3FromJson(std::string_view json, Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  message->Clear();
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return absl::OkStatus();
}

// Parses `doc` as the report type `schema` names, in one dialect.
absl::Status ParseAs(const std::string& schema, JsonDialect dialect, std::string_view text,
                     const OrderedJson& doc, DumpEnvelope* out) {
  Message* target = nullptr;
  if (schema == kSchemaSingle)
    target = out->mutable_single();
  else if (schema == kSchemaDual)
    target = out->mutable_dual();
  else
    target = out->mutable_degraded();
  absl::Status s =
      dialect == JsonDialect::kKtstr ? KtstrFromJson(doc, target) : Proto3FromJson(text, target);
  if (!s.ok()) return s;
  if (schema == kSchemaDual && !out->dual().has_late()) {
    return absl::InvalidArgumentError("dual report without \"late\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ToJson(const Message& message, JsonDialect dialect) {
  if (dialect == JsonDialect::kKtstr) {
    // Strings are valid UTF-8 by the time they reach a report (core/base/guest_text.h); `replace`
    // keeps the writer total anyway instead of throwing across this module's boundary.
    return KtstrToJson(message).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto printed = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!printed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("proto3 JSON: ", printed.ToString()));
  }
  return out;
}

absl::Status FromJson(std::string_view json, JsonDialect dialect, Message* message) {
  if (dialect == JsonDialect::kProto3) {
    if (JsonNestingDepth(json) > kMaxJsonDepth) {
      return absl::InvalidArgumentError("JSON nested too deeply");
    }
    return Proto3FromJson(json, message);
  }
  auto doc = ParseJsonText(json);
  if (!doc.ok()) return doc.status();
  return KtstrFromJson(*doc, message);
}

absl::StatusOr<ParsedReport> ParseAnyReport(std::string_view json) {
  auto doc = ParseJsonText(json);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return absl::InvalidArgumentError("report is not a JSON object");
  auto it = doc->find("schema");
  if (it == doc->end()) return absl::InvalidArgumentError("no \"schema\" field");
  if (!it->is_string()) return absl::InvalidArgumentError("\"schema\" is not a string");
  const std::string schema = it->get<std::string>();
  if (schema != kSchemaSingle && schema != kSchemaDual && schema != kSchemaDegraded) {
    return absl::InvalidArgumentError(absl::StrCat("unknown schema \"", schema, "\""));
  }
  // ktstr's shape is tried first: it is stricter about integers (numbers, never strings), so a
  // proto3 document with 64-bit fields fails it and falls through to protobuf's parser.
  ParsedReport parsed{JsonDialect::kKtstr, {}};
  absl::Status ktstr = ParseAs(schema, JsonDialect::kKtstr, json, *doc, &parsed.report);
  if (ktstr.ok()) return parsed;
  parsed = ParsedReport{JsonDialect::kProto3, {}};
  absl::Status proto3 = ParseAs(schema, JsonDialect::kProto3, json, *doc, &parsed.report);
  if (proto3.ok()) return parsed;
  return absl::InvalidArgumentError(absl::StrCat("body does not fit schema \"", schema,
                                                 "\": as ktstr JSON: ", ktstr.message(),
                                                 "; as proto3 JSON: ", proto3.message()));
}

const Message* ReportOf(const AnyReport& any) {
  switch (any.report_case()) {
    case DumpEnvelope::kSingle:
      return &any.single();
    case DumpEnvelope::kDual:
      return &any.dual();
    case DumpEnvelope::kDegraded:
      return &any.degraded();
    case DumpEnvelope::REPORT_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

absl::string_view SchemaOf(const AnyReport& any) {
  switch (any.report_case()) {
    case DumpEnvelope::kSingle:
      return kSchemaSingle;
    case DumpEnvelope::kDual:
      return kSchemaDual;
    case DumpEnvelope::kDegraded:
      return kSchemaDegraded;
    case DumpEnvelope::REPORT_NOT_SET:
      return "";
  }
  return "";
}

}  // namespace kfreeze::report
