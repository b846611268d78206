// ktstr's serde JSON shape for any kfreeze.v1 message, driven by descriptors and the annotations
// in proto/kfreeze/v1/ktstr_options.proto (omitted-when-empty, null wrappers, "kind" tagging).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace kfreeze::report {

// Insertion-ordered so output follows proto declaration order, like serde's derive.
using OrderedJson = nlohmann::ordered_json;

// Bound on JSON nesting we accept: deeper input is rejected before any recursion.
inline constexpr int kMaxJsonDepth = 512;

OrderedJson KtstrToJson(const google::protobuf::Message& message);

// Strict reader: type mismatches, missing required fields (those serde has no default for) and
// malformed hex are InvalidArgument with a JSON path. Unknown keys are ignored, as serde does.
absl::Status KtstrFromJson(const OrderedJson& json, google::protobuf::Message* message);

// Largest nesting depth of arrays/objects in `text` (strings skipped), without parsing it.
int JsonNestingDepth(std::string_view text);

}  // namespace kfreeze::report
