// Request and resource bounds of kfreezed: the defaults in one place, the config's `limits`
// overriding them, and the request checks that use them (INVALID_ARGUMENT naming the bound).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "google/protobuf/repeated_field.h"
#include "kfreeze/v1/config.pb.h"

namespace kfreeze::server {

struct Limits {
  // Refused, not clamped: a caller asking for a 49-day deadline learns it at once.
  uint32_t max_deadline_ms = 30'000;
  uint32_t max_labels = 32;
  uint32_t max_label_key_bytes = 64;
  uint32_t max_label_value_bytes = 256;
  uint32_t max_targets = 64;
  uint32_t max_watchers = 64;
  uint32_t max_concurrent_freezes = 16;
  // Not configurable: names of phases and targets in filters.
  uint32_t max_list_entries = 64;
  uint32_t max_name_bytes = 128;
};

// Per-target auto-trigger and archive bounds (TriggerConfig / ArchiveConfig fields left 0).
inline constexpr uint32_t kDefaultCaptureBurst = 4;
inline constexpr uint32_t kDefaultCapturesPerHour = 12;
inline constexpr uint32_t kDefaultArchiveMaxCountPerTarget = 200;

Limits LimitsFromConfig(const kfreeze::v1::Limits& config);

// `what` names the field in the error ("FreezeRequest.labels").
absl::Status CheckLabels(const google::protobuf::Map<std::string, std::string>& labels,
                         const Limits& limits, absl::string_view what);
absl::Status CheckDeadline(uint32_t deadline_ms, const Limits& limits, absl::string_view what);
// A repeated field of `count` entries (enums, numbers) within max_list_entries.
absl::Status CheckCount(int count, const Limits& limits, absl::string_view what);
absl::Status CheckNames(const google::protobuf::RepeatedPtrField<std::string>& names,
                        const Limits& limits, absl::string_view what);
// Labels and deadline of a target (config file, flags and AttachTarget alike).
absl::Status CheckTargetConfig(const kfreeze::v1::TargetConfig& target, const Limits& limits);

}  // namespace kfreeze::server
