// Golden files: every sample report in both dialects is emitted byte-for-byte as checked in, and
// parsing a golden then re-emitting it reproduces it exactly. KFREEZE_UPDATE_GOLDEN=1 rewrites
// them.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/report/report_io.h"
#include "core/report/report_json.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

using google::protobuf::util::MessageDifferencer;
using kfreeze::v1::DumpEnvelope;

// Exact equality, except that NaN equals NaN (a float member in a map value may be NaN).
bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

std::string GoldenPath(const std::string& name) {
  return std::string(KFREEZE_GOLDEN_DIR) + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct GoldenCase {
  std::string name;
  DumpEnvelope envelope;
};

std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases(4);
  cases[0].name = "single";
  *cases[0].envelope.mutable_single() = kfreeze::testing::SampleSingleReport();
  cases[1].name = "dual";
  *cases[1].envelope.mutable_dual() = kfreeze::testing::SampleDualReport();
  cases[2].name = "degraded";
  *cases[2].envelope.mutable_degraded() = kfreeze::testing::SampleDegradedReport();
  cases[3].name = "placeholder";
  *cases[3].envelope.mutable_single() = kfreeze::testing::SamplePlaceholderReport();
  return cases;
}

class GoldenTest : public ::testing::TestWithParam<JsonDialect> {};

TEST_P(GoldenTest, EmitMatchesGoldenAndReparsesIdentically) {
  const JsonDialect dialect = GetParam();
  const std::string suffix = dialect == JsonDialect::kKtstr ? ".ktstr.json" : ".proto3.json";
  for (const GoldenCase& c : Cases()) {
    SCOPED_TRACE(c.name + suffix);
    const std::string emitted = ToJson(*ReportOf(c.envelope), dialect).value();
    const std::string path = GoldenPath(c.name + suffix);
    if (std::getenv("KFREEZE_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(path, std::ios::binary) << emitted;
    }
    const std::string golden = ReadFile(path);
    ASSERT_FALSE(golden.empty()) << "missing golden " << path;
    EXPECT_EQ(emitted, golden);

    auto parsed = ParseAnyReport(golden);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->dialect, dialect);
    EXPECT_EQ(parsed->report.report_case(), c.envelope.report_case());
    EXPECT_TRUE(Same(*ReportOf(parsed->report), *ReportOf(c.envelope)));
    EXPECT_EQ(ToJson(*ReportOf(parsed->report), dialect).value(), golden);
  }
}

INSTANTIATE_TEST_SUITE_P(Dialects, GoldenTest,
                         ::testing::Values(JsonDialect::kKtstr, JsonDialect::kProto3));

// LoadDump tells the formats apart by content (what `kfreeze report` and the archive rely on):
// each sample, written in every format kfreeze writes, comes back as that format and unchanged.
TEST(GoldenTest, LoadDumpDetectsEveryFormatKfreezeWrites) {
  for (const GoldenCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    DumpEnvelope envelope = c.envelope;
    envelope.set_dump_id("d-1");
    envelope.set_target("vm0");
    struct Written {
      std::string bytes;
      DumpFormat format;
    };
    std::string envelope_json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(envelope, &envelope_json).ok());
    const Written written[] = {
        {envelope.SerializeAsString(), DumpFormat::kBinaryEnvelope},
        {envelope_json, DumpFormat::kEnvelopeJson},
        {ToJson(*ReportOf(envelope), JsonDialect::kKtstr).value(), DumpFormat::kKtstrJson},
        {ToJson(*ReportOf(envelope), JsonDialect::kProto3).value(), DumpFormat::kProto3Json},
    };
    for (const Written& w : written) {
      absl::StatusOr<LoadedDump> loaded = LoadDump(w.bytes);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ(loaded->format, w.format);
      EXPECT_TRUE(Same(*ReportOf(loaded->envelope), *ReportOf(envelope)));
      // Only an envelope carries the metadata around the report.
      const bool is_envelope =
          w.format == DumpFormat::kBinaryEnvelope || w.format == DumpFormat::kEnvelopeJson;
      EXPECT_EQ(loaded->envelope.dump_id(), is_envelope ? "d-1" : "");
    }
  }
}

// ktstr's own documented output (docs/monitor.md example, values filled in) must parse.
TEST(GoldenTest, ReadsKtstrDocsExample) {
  auto parsed = ParseAnyReport(ReadFile(GoldenPath("ktstr-docs-example.json")));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->dialect, JsonDialect::kKtstr);
  const auto& r = parsed->report.single();
  ASSERT_EQ(r.maps_size(), 2);
  EXPECT_EQ(r.maps(0).arena().user_vm_start(), 17592186044416ull);
  EXPECT_EQ(r.maps(0).arena().pages(0).bytes(), std::string("\xbe\xba\xfe\xca", 4));
  EXPECT_EQ(r.maps(1).map_kva(), 18400526959283003096ull);
  const auto& bss = r.maps(1).value().struct_();
  EXPECT_EQ(bss.type_name(), ".bss");
  EXPECT_EQ(bss.members(1).value().uint().value(), 849u);
  EXPECT_EQ(r.scx_sched_state().exit_kind(), 1026u);
  EXPECT_FALSE(r.vcpu_regs(0).regs().has_user_page_table_root());
}

}  // namespace
}  // namespace kfreeze::report
