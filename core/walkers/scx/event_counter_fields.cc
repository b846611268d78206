#include "core/walkers/scx/event_counter_fields.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {
namespace {

using google::protobuf::FieldDescriptor;

constexpr absl::string_view kCounterPrefix = "SCX_EV_";

// Later kernel names of counters whose report field (ktstr's wire name) keeps the first one.
constexpr std::pair<absl::string_view, absl::string_view> kRenamed[] = {
    {"SCX_EV_ENQ_SLICE_DFL", "refill_slice_dfl"},   // 6.15; SCX_EV_REFILL_SLICE_DFL since 6.16
    {"SCX_EV_REENQ_REPEAT", "reenq_local_repeat"},  // 7.3; SCX_EV_REENQ_LOCAL_REPEAT before
};

bool IsCounter(const FieldDescriptor* f) {
  return f != nullptr && f->cpp_type() == FieldDescriptor::CPPTYPE_INT64 && !f->is_repeated();
}

}  // namespace

const FieldDescriptor* EventCounterField(absl::string_view member) {
  if (!absl::StartsWith(member, kCounterPrefix)) return nullptr;
  std::string name = absl::AsciiStrToLower(member.substr(kCounterPrefix.size()));
  for (const auto& [kernel_name, field] : kRenamed) {
    if (member == kernel_name) name = std::string(field);
  }
  const FieldDescriptor* f = kfreeze::v1::EventCounterSample::descriptor()->FindFieldByName(name);
  return IsCounter(f) ? f : nullptr;
}

std::vector<const FieldDescriptor*> EventCounterFields() {
  std::vector<const FieldDescriptor*> out;
  const google::protobuf::Descriptor* d = kfreeze::v1::EventCounterSample::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    if (IsCounter(d->field(i))) out.push_back(d->field(i));
  }
  return out;
}

}  // namespace kfreeze::walkers::scx
