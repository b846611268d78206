#include "core/report/section_coverage.h"

#include <array>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kfreeze::report {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using kfreeze::v1::FailureDumpReport;

constexpr absl::string_view kReasonSuffix = "_unavailable";

// Fields about the dump itself; an absent one is a statement ("not truncated"), not a gap.
constexpr std::array<absl::string_view, 6> kMetadata = {
    "schema",           "maps_truncated", "dump_truncated_at_us",
    "truncated_phases", "is_placeholder", "stage_cuts"};

// Sections whose reason field is not named after them: one walker fills several sections and
// gives one reason, or ktstr named the reason differently.
constexpr std::array<std::pair<absl::string_view, absl::string_view>, 9> kSharedReasons = {{
    {"rq_scx_states", "scx_walker_unavailable"},
    {"dsq_states", "scx_walker_unavailable"},
    {"scx_sched_state", "scx_walker_unavailable"},
    {"scx_features", "scx_walker_unavailable"},
    {"sdt_allocations", "sdt_alloc_unavailable"},
    {"scx_static_ranges", "scx_static_unavailable"},
    {"vcpu_perf_at_freeze", "vcpu_perf_unavailable"},
    // The program walker names the scheduler from the maps its struct_ops programs use.
    {"active_obj_name", "prog_runtime_stats_unavailable"},
    {"active_map_kvas", "prog_runtime_stats_unavailable"},
}};

// Sections that live inside another section's records, with the report-level reason that
// explains them: filled when any record has the member, explained by the reason otherwise. With
// no records at all the container's own entry (filled or explained) covers them.
struct NestedSection {
  absl::string_view name;       // the path the contract reports it under
  absl::string_view container;  // repeated message field of the report
  absl::string_view member;     // repeated field of each record
  absl::string_view reason;     // reason field of the report
};
constexpr std::array<NestedSection, 1> kNestedSections = {{
    // The unwinder fills task_enrichments[].kernel_stack; one reason says why no task has one.
    {"kernel_stacks", "task_enrichments", "kernel_stack", "kernel_stacks_unavailable"},
}};

bool IsReasonField(const FieldDescriptor& f) {
  return f.type() == FieldDescriptor::TYPE_STRING && !f.is_repeated() &&
         absl::EndsWith(f.name(), kReasonSuffix);
}

bool IsSection(const FieldDescriptor& f) { return !IsReasonField(f) && !IsReportMetadata(f); }

bool Filled(const google::protobuf::Message& report, const FieldDescriptor& f) {
  const auto* reflection = report.GetReflection();
  return f.is_repeated() ? reflection->FieldSize(report, &f) > 0 : reflection->HasField(report, &f);
}

template <typename Fn>
void ForEachField(const Descriptor& d, Fn fn) {
  for (int i = 0; i < d.field_count(); ++i) fn(*d.field(i));
}

const FieldDescriptor* NestedReason(const Descriptor& report, const NestedSection& n) {
  const FieldDescriptor* reason = report.FindFieldByName(std::string(n.reason));
  return reason != nullptr && IsReasonField(*reason) ? reason : nullptr;
}

// The record member a nested section lives in, or nullptr when the report has no such field.
const FieldDescriptor* NestedMember(const Descriptor& report, const NestedSection& n) {
  const FieldDescriptor* container = report.FindFieldByName(std::string(n.container));
  if (container == nullptr || !container->is_repeated() ||
      container->type() != FieldDescriptor::TYPE_MESSAGE) {
    return nullptr;
  }
  const FieldDescriptor* member = container->message_type()->FindFieldByName(std::string(n.member));
  return member != nullptr && member->is_repeated() ? member : nullptr;
}

bool NestedFilled(const google::protobuf::Message& report, const NestedSection& n) {
  const FieldDescriptor* container =
      report.GetDescriptor()->FindFieldByName(std::string(n.container));
  const FieldDescriptor* member = NestedMember(*report.GetDescriptor(), n);
  if (container == nullptr || member == nullptr) return false;
  const auto* reflection = report.GetReflection();
  const int records = reflection->FieldSize(report, container);
  for (int i = 0; i < records; ++i) {
    const auto& record = reflection->GetRepeatedMessage(report, container, i);
    if (record.GetReflection()->FieldSize(record, member) > 0) return true;
  }
  return false;
}

}  // namespace

bool IsReportMetadata(const FieldDescriptor& field) {
  for (absl::string_view name : kMetadata) {
    if (field.name() == name) return true;
  }
  return false;
}

const FieldDescriptor* ReasonFieldFor(const FieldDescriptor& section) {
  const Descriptor* d = section.containing_type();
  const FieldDescriptor* own = d->FindFieldByName(absl::StrCat(section.name(), kReasonSuffix));
  if (own != nullptr && IsReasonField(*own)) return own;
  for (const auto& [name, reason] : kSharedReasons) {
    if (section.name() != name) continue;
    const FieldDescriptor* shared = d->FindFieldByName(std::string(reason));
    return shared != nullptr && IsReasonField(*shared) ? shared : nullptr;
  }
  return nullptr;
}

std::vector<std::string> UnpairedSections(const Descriptor& report) {
  std::vector<std::string> out;
  ForEachField(report, [&](const FieldDescriptor& f) {
    if (IsSection(f) && ReasonFieldFor(f) == nullptr) out.push_back(std::string(f.name()));
  });
  return out;
}

std::vector<std::string> OrphanReasonFields(const Descriptor& report) {
  std::set<const FieldDescriptor*> used;
  ForEachField(report, [&](const FieldDescriptor& f) {
    if (!IsSection(f)) return;
    if (const FieldDescriptor* r = ReasonFieldFor(f)) used.insert(r);
  });
  for (const NestedSection& n : kNestedSections) {
    if (NestedMember(report, n) == nullptr) continue;
    if (const FieldDescriptor* r = NestedReason(report, n)) used.insert(r);
  }
  std::vector<std::string> out;
  ForEachField(report, [&](const FieldDescriptor& f) {
    if (IsReasonField(f) && !used.contains(&f)) out.push_back(std::string(f.name()));
  });
  return out;
}

std::vector<UnaccountedSection> UnaccountedSections(const google::protobuf::Message& report,
                                                    const std::string& prefix) {
  std::vector<UnaccountedSection> out;
  ForEachField(*report.GetDescriptor(), [&](const FieldDescriptor& f) {
    if (!IsSection(f)) return;
    const FieldDescriptor* reason = ReasonFieldFor(f);
    std::string path = absl::StrCat(prefix, f.name());
    if (reason == nullptr) {
      out.push_back({std::move(path), "no *_unavailable field pairs with it"});
    } else if (!Filled(report, f) && !Filled(report, *reason)) {
      out.push_back({std::move(path), absl::StrCat("empty, ", reason->name(), " not set")});
    }
  });
  for (const NestedSection& n : kNestedSections) {
    const FieldDescriptor* reason = NestedReason(*report.GetDescriptor(), n);
    if (reason == nullptr || NestedMember(*report.GetDescriptor(), n) == nullptr) continue;
    // No records: nothing to unwind, and the container's own entry accounts for that.
    const FieldDescriptor* container =
        report.GetDescriptor()->FindFieldByName(std::string(n.container));
    if (!Filled(report, *container)) continue;
    if (NestedFilled(report, n) || Filled(report, *reason)) continue;
    out.push_back({absl::StrCat(prefix, n.name), absl::StrCat("no ", n.container, "[].", n.member,
                                                              ", ", reason->name(), " not set")});
  }
  return out;
}

std::vector<UnaccountedSection> UnaccountedSectionsInEnvelope(
    const kfreeze::v1::DumpEnvelope& envelope) {
  std::vector<UnaccountedSection> out;
  auto add = [&out](const FailureDumpReport& r, const std::string& prefix) {
    for (UnaccountedSection& s : UnaccountedSections(r, prefix)) out.push_back(std::move(s));
  };
  switch (envelope.report_case()) {
    case kfreeze::v1::DumpEnvelope::kSingle:
      add(envelope.single(), "");
      break;
    case kfreeze::v1::DumpEnvelope::kDual:
      if (envelope.dual().has_early()) add(envelope.dual().early(), "early.");
      add(envelope.dual().late(), "late.");
      break;
    case kfreeze::v1::DumpEnvelope::kDegraded:
      if (envelope.degraded().has_partial()) add(envelope.degraded().partial(), "partial.");
      break;
    case kfreeze::v1::DumpEnvelope::REPORT_NOT_SET:
      out.push_back({"report", "the envelope holds no report"});
      break;
  }
  return out;
}

}  // namespace kfreeze::report
