// A rendered value as deep as the renderer allows must still travel: protobuf refuses messages
// nested past its limits (64 levels in the JSON printer, 100 in every parser), so the render
// depth cap is counted in message levels and leaves room for the envelope around the value.
#include <bpf/btf.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/btf_render/render.h"
#include "core/report/report_json.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::RenderedValue;

// protobuf's JSON printer (ProtoStreamObjectSource) stops below this many nested messages.
constexpr int kJsonPrinterDepthLimit = 64;
// WatchDumps wraps the envelope once more (DumpEvent.envelope).
constexpr int kStreamWrapperLevels = 1;

// Nesting depth of set message fields below `m` (0 for a message without any).
int MessageDepth(const Message& m) {
  const auto* reflection = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  int deepest = 0;
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
        deepest = std::max(deepest, 1 + MessageDepth(reflection->GetRepeatedMessage(m, f, i)));
      }
    } else {
      deepest = std::max(deepest, 1 + MessageDepth(reflection->GetMessage(m, f)));
    }
  }
  return deepest;
}

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};

// A chain of 60 nested two-byte structs rendered over one byte: every level is short, so every
// level adds a truncation wrapper to its struct, the deepest shape the renderer produces.
RenderedValue DeepestValue(const btf_render::RenderOptions& options) {
  std::unique_ptr<struct btf, BtfDeleter> b(btf__new_empty());
  int inner = btf__add_int(b.get(), "unsigned short", 2, 0);
  for (int i = 0; i < 60; ++i) {
    const int s = btf__add_struct(b.get(), "level", 2);
    btf__add_field(b.get(), "next", inner, 0, 0);
    inner = s;
  }
  return btf_render::Render(b.get(), inner, {0x5a}, options, nullptr);
}

// The deepest place a rendered value sits in an envelope: a degraded dump's partial report, a
// per-CPU hash map's per-CPU value.
DumpEnvelope EnvelopeHolding(const RenderedValue& value) {
  DumpEnvelope envelope;
  auto* map = envelope.mutable_degraded()->mutable_partial()->add_maps();
  *map->add_percpu_hash_entries()->add_per_cpu()->mutable_value() = value;
  return envelope;
}

TEST(DeepValues, TheDeepestRenderFitsProtobufsLimitsInsideAStreamedEnvelope) {
  const DumpEnvelope envelope = EnvelopeHolding(DeepestValue({}));
  EXPECT_LT(MessageDepth(envelope) + kStreamWrapperLevels, kJsonPrinterDepthLimit);

  absl::StatusOr<std::string> proto3 = ToJson(envelope, JsonDialect::kProto3);
  ASSERT_TRUE(proto3.ok()) << proto3.status();
  DumpEnvelope back;
  ASSERT_TRUE(FromJson(*proto3, JsonDialect::kProto3, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), envelope.SerializeAsString());

  DumpEnvelope parsed;  // default recursion limit, as every gRPC client parses
  ASSERT_TRUE(parsed.ParseFromString(envelope.SerializeAsString()));
}

TEST(DeepValues, ADeeperMessageIsRefusedWithAReasonNotPrintedHalfway) {
  btf_render::RenderOptions unbounded;
  unbounded.caps.max_depth = 1000;
  const DumpEnvelope envelope = EnvelopeHolding(DeepestValue(unbounded));
  ASSERT_GE(MessageDepth(envelope), kJsonPrinterDepthLimit);

  absl::StatusOr<std::string> proto3 = ToJson(envelope, JsonDialect::kProto3);
  EXPECT_EQ(proto3.status().code(), absl::StatusCode::kInvalidArgument) << proto3.status();
}

}  // namespace
}  // namespace kfreeze::report
