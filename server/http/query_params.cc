#include "server/http/query_params.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kfreeze::server::http {
namespace {

// "a,b" and repeated parameters alike; empty items are dropped.
std::vector<std::string> Values(const std::string& value) {
  return absl::StrSplit(value, ',', absl::SkipEmpty());
}

absl::Status Unreadable(const std::string& key, const std::string& value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("query parameter ", key, "=\"", absl::CHexEscape(value), "\": ", expected));
}

absl::Status AddLabel(const std::string& key, const std::string& value,
                      google::protobuf::Map<std::string, std::string>* labels) {
  std::pair<std::string, std::string> kv = absl::StrSplit(value, absl::MaxSplits('=', 1));
  if (kv.first.empty() || value.find('=') == std::string::npos) {
    return Unreadable(key, value, "expected label=key=value");
  }
  (*labels)[kv.first] = kv.second;
  return absl::OkStatus();
}

absl::StatusOr<kfreeze::v1::Trigger> ParseTrigger(const std::string& key, const std::string& text) {
  int number = 0;
  kfreeze::v1::Trigger t;
  if (absl::SimpleAtoi(text, &number) && kfreeze::v1::Trigger_IsValid(number)) {
    return static_cast<kfreeze::v1::Trigger>(number);
  }
  std::string upper = absl::AsciiStrToUpper(text);
  if (kfreeze::v1::Trigger_Parse(upper, &t) || kfreeze::v1::Trigger_Parse("TRIGGER_" + upper, &t)) {
    return t;
  }
  return Unreadable(key, text, "expected rpc, early, late, periodic, cli or a TRIGGER_ name");
}

absl::StatusOr<bool> ParseBool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text.empty()) return true;
  if (text == "false" || text == "0") return false;
  return Unreadable(key, text, "expected true or false");
}

}  // namespace

absl::StatusOr<kfreeze::v1::WatchRequest> WatchRequestFromQuery(const QueryParams& params) {
  kfreeze::v1::WatchRequest r;
  for (const auto& [key, value] : params) {
    if (key == "target") {
      for (std::string& v : Values(value)) r.add_targets(std::move(v));
    } else if (key == "schema") {
      for (std::string& v : Values(value)) r.add_schemas(std::move(v));
    } else if (key == "label") {
      if (absl::Status s = AddLabel(key, value, r.mutable_labels()); !s.ok()) return s;
    } else if (key == "exit_kind") {
      for (std::string& v : Values(value)) r.add_exit_kinds(std::move(v));
    } else if (key == "scheduler") {
      for (std::string& v : Values(value)) r.add_schedulers(std::move(v));
    } else if (key == "trigger") {
      for (const std::string& v : Values(value)) {
        absl::StatusOr<kfreeze::v1::Trigger> t = ParseTrigger(key, v);
        if (!t.ok()) return t.status();
        r.add_triggers(*t);
      }
    } else if (key == "since_dump_id") {
      r.set_since_dump_id(value);
    } else if (key == "summary_only") {
      absl::StatusOr<bool> b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      r.set_summary_only(*b);
    } else if (key == "fields") {
      for (std::string& v : Values(value)) r.mutable_field_mask()->add_paths(std::move(v));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter \"", absl::CHexEscape(key),
                       "\"; known: target, schema, label, exit_kind, scheduler, trigger, "
                       "since_dump_id, summary_only, fields"));
    }
  }
  return r;
}

absl::StatusOr<kfreeze::v1::ListDumpsRequest> ListDumpsRequestFromQuery(const QueryParams& params) {
  kfreeze::v1::ListDumpsRequest r;
  for (const auto& [key, value] : params) {
    if (key == "target") {
      r.set_target(value);
    } else if (key == "schema") {
      r.set_schema(value);
    } else if (key == "label") {
      if (absl::Status s = AddLabel(key, value, r.mutable_labels()); !s.ok()) return s;
    } else if (key == "page_size") {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(value, &n)) return Unreadable(key, value, "expected a number");
      r.set_page_size(n);
    } else if (key == "page_token") {
      r.set_page_token(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter \"", absl::CHexEscape(key),
                       "\"; known: target, schema, label, page_size, page_token"));
    }
  }
  return r;
}

}  // namespace kfreeze::server::http
