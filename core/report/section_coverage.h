// The report contract: every section of a FailureDumpReport is either filled or explained by a
// `*_unavailable` reason. Checked by walking the descriptor, so a section added to the proto
// without a reason to pair with is caught the day it is added.
#pragma once

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

// A section left empty with no reason, or one the contract cannot explain at all.
struct UnaccountedSection {
  std::string path;  // "dsq_states", "late.vcpu_perf_at_freeze", "partial.maps", ...
  std::string why;   // "empty, scx_walker_unavailable not set" / "no reason field pairs with it"
};

// True for FailureDumpReport fields that describe the dump rather than hold guest state
// (schema, truncation bookkeeping, is_placeholder): their absence means "nothing to say".
bool IsReportMetadata(const google::protobuf::FieldDescriptor& field);

// The `*_unavailable` field of the same message that explains `section` when it is empty, or
// nullptr when the contract has none. Pairing: `X` with `X_unavailable`, else the table of
// sections sharing one reason.
const google::protobuf::FieldDescriptor* ReasonFieldFor(
    const google::protobuf::FieldDescriptor& section);

// The functions below take the report's descriptor/message generically so a test can check them on
// a FailureDumpReport with a field added; callers pass a FailureDumpReport.

// Data sections (not reasons, not metadata) that no reason field pairs with. Empty in a sound
// contract; independent of any report.
std::vector<std::string> UnpairedSections(
    const google::protobuf::Descriptor& report = *kfreeze::v1::FailureDumpReport::descriptor());

// Reason fields that explain no section (a typo in the pairing table, a removed section).
std::vector<std::string> OrphanReasonFields(
    const google::protobuf::Descriptor& report = *kfreeze::v1::FailureDumpReport::descriptor());

// Sections of `report` that are empty without their reason, plus every unpaired section. Nested
// sections count too: "kernel_stacks" (task_enrichments[].kernel_stack) is filled when any task
// has a frame and is otherwise explained only by kernel_stacks_unavailable (when there are tasks
// at all: without any, task_enrichments' own entry covers them).
// `prefix` is prepended to each path ("late." for a dual report's late side).
std::vector<UnaccountedSection> UnaccountedSections(const google::protobuf::Message& report,
                                                    const std::string& prefix = "");

// The same over every FailureDumpReport an envelope holds: single, dual early/late, degraded
// partial. A degraded report without a partial has nothing to account for.
std::vector<UnaccountedSection> UnaccountedSectionsInEnvelope(
    const kfreeze::v1::DumpEnvelope& envelope);

}  // namespace kfreeze::report
