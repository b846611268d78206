#include "server/daemon/limits.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze::server {

Limits LimitsFromConfig(const kfreeze::v1::Limits& c) {
  Limits l;
  auto take = [](uint32_t configured, uint32_t& field) {
    if (configured != 0) field = configured;
  };
  take(c.max_deadline_ms(), l.max_deadline_ms);
  take(c.max_labels(), l.max_labels);
  take(c.max_label_key_bytes(), l.max_label_key_bytes);
  take(c.max_label_value_bytes(), l.max_label_value_bytes);
  take(c.max_targets(), l.max_targets);
  take(c.max_watchers(), l.max_watchers);
  take(c.max_concurrent_freezes(), l.max_concurrent_freezes);
  return l;
}

absl::Status CheckLabels(const google::protobuf::Map<std::string, std::string>& labels,
                         const Limits& limits, absl::string_view what) {
  if (labels.size() > limits.max_labels) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", labels.size(), " labels; at most ", limits.max_labels));
  }
  for (const auto& [key, value] : labels) {
    if (key.size() > limits.max_label_key_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": a label key of ", key.size(), " bytes; at most ", limits.max_label_key_bytes));
    }
    if (value.size() > limits.max_label_value_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": label ", key.substr(0, 64), " has ",
                                                     value.size(), " bytes; at most ",
                                                     limits.max_label_value_bytes));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDeadline(uint32_t deadline_ms, const Limits& limits, absl::string_view what) {
  if (deadline_ms > limits.max_deadline_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", deadline_ms, " exceeds the maximum of ", limits.max_deadline_ms, " ms"));
  }
  return absl::OkStatus();
}

absl::Status CheckCount(int count, const Limits& limits, absl::string_view what) {
  if (static_cast<uint32_t>(count) > limits.max_list_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", count, " entries; at most ", limits.max_list_entries));
  }
  return absl::OkStatus();
}

absl::Status CheckNames(const google::protobuf::RepeatedPtrField<std::string>& names,
                        const Limits& limits, absl::string_view what) {
  KF_RETURN_IF_ERROR(CheckCount(names.size(), limits, what));
  for (const std::string& n : names) {
    if (n.size() > limits.max_name_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": an entry of ", n.size(),
                                                     " bytes; at most ", limits.max_name_bytes));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTargetConfig(const kfreeze::v1::TargetConfig& t, const Limits& limits) {
  if (absl::Status s = CheckLabels(t.labels(), limits, absl::StrCat("target ", t.name()));
      !s.ok()) {
    return s;
  }
  return CheckDeadline(t.deadline_ms(), limits, absl::StrCat("target ", t.name(), " deadline_ms"));
}

}  // namespace kfreeze::server
