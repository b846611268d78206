#include "core/report/placeholder.h"

#include "absl/strings/match.h"
#include "core/base/reasons.h"
#include "core/report/static_reasons.h"

namespace kfreeze::report {

kfreeze::v1::FailureDumpReport MakePlaceholderReport(const std::string& reason) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema(std::string(kSchemaSingle));
  // ktstr sets its five reasons; kfreeze sets every reason field it has, found by name so a new
  // one cannot be forgotten here.
  const auto* descriptor = kfreeze::v1::FailureDumpReport::descriptor();
  const auto* reflection = kfreeze::v1::FailureDumpReport::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING && !field->is_repeated() &&
        absl::EndsWith(field->name(), "_unavailable")) {
      reflection->SetString(&r, field, reason);
    }
  }
  StampStaticReasons(r);
  r.set_is_placeholder(true);
  return r;
}

}  // namespace kfreeze::report
