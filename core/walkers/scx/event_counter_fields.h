// The one binding of the kernel's SCX_EV_* counters to the report: a struct scx_event_stats
// member SCX_EV_FOO fills the EventCounterSample field `foo`, found by name in the proto
// descriptor. Which counters a kernel has comes from its BTF (ResolveScxOffsets), so a counter a
// new kernel adds is read as soon as the proto has a field of its name.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace kfreeze::walkers::scx {

// The field for a scx_event_stats member name; null when the report has none for it (or the
// member is not a SCX_EV_* counter). Kernel renames of a counter whose field keeps its first name
// (SCX_EV_ENQ_SLICE_DFL, SCX_EV_REENQ_REPEAT) map to that field.
const google::protobuf::FieldDescriptor* EventCounterField(absl::string_view member);

// Every counter field of EventCounterSample (its int64 fields), in field order.
std::vector<const google::protobuf::FieldDescriptor*> EventCounterFields();

}  // namespace kfreeze::walkers::scx
