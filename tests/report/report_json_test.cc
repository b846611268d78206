// The JSON bridge's contract: dialect shapes, absent vs zero, and every invalid-input class.
#include <string>

#include "core/report/report_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

using kfreeze::v1::FailureDumpReport;
using ::testing::HasSubstr;

TEST(KtstrDialectTest, ShapesFollowSerde) {
  const std::string text =
      ToJson(kfreeze::testing::SampleSingleReport(), JsonDialect::kKtstr).value();
  auto j = nlohmann::json::parse(text);
  const auto& bss = j["maps"][0];
  EXPECT_TRUE(bss["map_kva"].is_number_unsigned());  // u64 as a number, not a string
  EXPECT_EQ(bss["map_kva"].get<uint64_t>(), 18400526959283003096ull);
  EXPECT_EQ(bss["value"]["kind"], "struct");
  EXPECT_EQ(bss["value"]["members"][0]["value"]["kind"], "uint");
  EXPECT_TRUE(bss["value"]["members"][9]["value"]["type_name"].is_null());  // anon struct
  EXPECT_EQ(bss.count("entries"), 0u);                                      // empty vectors omitted
  const auto& hash = j["maps"][1];
  EXPECT_EQ(hash["entries"][0]["key_hex"], "11 00 00 00");
  EXPECT_EQ(hash["entries"][1].count("key"), 0u);                       // absent option omitted
  EXPECT_EQ(j["maps"][3]["percpu_entries"][0]["per_cpu"][1], nullptr);  // unmapped CPU
  EXPECT_TRUE(j["maps"][5]["arena"]["pages"][0]["bytes"].is_array());
  EXPECT_EQ(j["vcpu_regs"][1], nullptr);
  EXPECT_EQ(j.count("is_placeholder"), 0u);  // false omitted
  EXPECT_EQ(j["maps_truncated"], 2);
  EXPECT_TRUE(j["rq_scx_states"][1]["runnable_task_kvas"].is_array());  // always present
}

TEST(Proto3DialectTest, SixtyFourBitIntegersAreStrings) {
  const std::string text =
      ToJson(kfreeze::testing::SampleSingleReport(), JsonDialect::kProto3).value();
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["maps"][0]["map_kva"], "18400526959283003096");
  EXPECT_TRUE(j["maps"][0].contains("value_size"));  // snake_case names preserved
}

TEST(AbsentVersusZeroTest, SurvivesBothDialects) {
  FailureDumpReport r;
  r.set_schema("single");
  r.set_dump_truncated_at_us(0);  // present zero
  r.add_per_cpu_time()->set_iowait_sleeptime_ns(0);
  r.add_per_cpu_time();  // absent
  for (auto dialect : {JsonDialect::kKtstr, JsonDialect::kProto3}) {
    FailureDumpReport back;
    ASSERT_TRUE(FromJson(ToJson(r, dialect).value(), dialect, &back).ok());
    EXPECT_TRUE(back.has_dump_truncated_at_us());
    EXPECT_TRUE(back.per_cpu_time(0).has_iowait_sleeptime_ns());
    EXPECT_FALSE(back.per_cpu_time(1).has_iowait_sleeptime_ns());
    EXPECT_FALSE(back.has_scx_sched_state());
  }
}

// arm64 vCPU registers (x0..x30 as a list) in both dialects: numbers in ktstr's, and back.
TEST(Arm64RegistersTest, SurviveBothDialects) {
  FailureDumpReport r;
  r.set_schema("single");
  auto* v = r.add_vcpu_regs()->mutable_regs();
  v->set_instruction_pointer(0xffffac8636ddabc8ull);
  v->set_stack_pointer(0xffff800080103df0ull);
  auto* a = v->mutable_arm64();
  for (uint64_t i = 0; i < 31; ++i) a->add_x(0xffff000000000000ull + i);
  a->set_sp(v->stack_pointer());
  a->set_pc(v->instruction_pointer());
  a->set_pstate(0x614000c5);
  a->set_el(1);
  auto j = nlohmann::json::parse(ToJson(r, JsonDialect::kKtstr).value());
  const auto& arm64 = j["vcpu_regs"][0]["arm64"];
  ASSERT_TRUE(arm64["x"].is_array());
  EXPECT_EQ(arm64["x"].size(), 31u);
  EXPECT_EQ(arm64["x"][30].get<uint64_t>(), 0xffff00000000001eull);
  EXPECT_EQ(arm64["pstate"], 0x614000c5);
  EXPECT_EQ(arm64["el"], 1);
  EXPECT_EQ(j["vcpu_regs"][0].count("x86"), 0u);
  for (auto dialect : {JsonDialect::kKtstr, JsonDialect::kProto3}) {
    FailureDumpReport back;
    ASSERT_TRUE(FromJson(ToJson(r, dialect).value(), dialect, &back).ok());
    EXPECT_EQ(back.SerializeAsString(), r.SerializeAsString());
  }
}

struct InvalidCase {
  std::string name;
  std::string json;
  std::string expect;
};

class InvalidInputTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidInputTest, IsInvalidArgumentNamingTheProblem) {
  auto parsed = ParseAnyReport(GetParam().json);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidInputTest,
    ::testing::Values(
        InvalidCase{"NotJson", "schema=single", "not JSON"},
        InvalidCase{"Truncated", "{\"schema\":\"single\",\"maps\":[", "not JSON"},
        InvalidCase{"Empty", "", "not JSON"},
        InvalidCase{"NotObject", "[1,2]", "not a JSON object"},
        InvalidCase{"NoSchema", "{\"maps\":[]}", "no \"schema\""},
        InvalidCase{"SchemaNotString", "{\"schema\":3}", "not a string"},
        InvalidCase{"UnknownSchema", "{\"schema\":\"triple\"}", "unknown schema \"triple\""},
        InvalidCase{"DualWithoutLate", "{\"schema\":\"dual\"}", "late"},
        InvalidCase{"DegradedWithoutReason", "{\"schema\":\"degraded\",\"maps\":[]}", "reason"},
        InvalidCase{"SingleBodyClaimingDegraded",
                    "{\"schema\":\"degraded\",\"maps\":[{\"name\":\"m\",\"map_type\":1,"
                    "\"value_size\":4,\"max_entries\":1}]}",
                    "does not fit schema \"degraded\""},
        InvalidCase{"MapsNotArray", "{\"schema\":\"single\",\"maps\":5}", "$.maps: expected array"},
        InvalidCase{"BadKind",
                    "{\"schema\":\"single\",\"maps\":[{\"name\":\"m\",\"map_type\":2,"
                    "\"value_size\":4,\"max_entries\":1,\"value\":{\"kind\":\"quaternion\"}}]}",
                    "unknown kind \"quaternion\""},
        InvalidCase{"BadHex",
                    "{\"schema\":\"single\",\"maps\":[{\"name\":\"m\",\"map_type\":1,"
                    "\"value_size\":4,\"max_entries\":1,\"entries\":[{\"key_hex\":\"zz\","
                    "\"value_hex\":\"\"}]}]}",
                    "malformed hex"},
        InvalidCase{"NegativeUnsigned",
                    "{\"schema\":\"single\",\"maps\":[{\"name\":\"m\",\"map_type\":-1,"
                    "\"value_size\":4,\"max_entries\":1}]}",
                    "map_type"},
        InvalidCase{"TooDeep", std::string(100000, '[') + std::string(100000, ']'),
                    "nested deeper"}),
    [](const auto& info) { return info.param.name; });

TEST(ParseAnyReportTest, DetectsBothDialects) {
  const auto single = kfreeze::testing::SampleSingleReport();
  auto k = ParseAnyReport(ToJson(single, JsonDialect::kKtstr).value());
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->dialect, JsonDialect::kKtstr);
  auto p = ParseAnyReport(ToJson(single, JsonDialect::kProto3).value());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->dialect, JsonDialect::kProto3);
  EXPECT_EQ(SchemaOf(p->report), "single");
}

}  // namespace
}  // namespace kfreeze::report
