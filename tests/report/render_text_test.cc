// Text rendering: ktstr's sparkline rules and the words a person needs to see.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/report/render_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

using ::testing::HasSubstr;

TEST(SparklineTest, SeedRules) {
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{}), "");
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 0, 0}), "▁▁▁");  // constant zero
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{7, 7}), "▅▅");      // constant non-zero
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 7}), "▁█");      // min-max scaling
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7}), "▁▂▃▄▅▆▇█");
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{10, 11, 12}), "▁▄█");    // (v-min)*7/span
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, UINT64_MAX}), "▁█");  // no overflow
  EXPECT_EQ(RenderSparklineI64(std::vector<int64_t>{-5, 0, 7}), "▁▁█");    // negatives clamp
  EXPECT_EQ(RenderSparklineI64(std::vector<int64_t>{-1, -2}), "▁▁");       // all clamp to zero
}

TEST(RenderTextTest, SingleShowsEverySection) {
  const std::string text = RenderSingleText(kfreeze::testing::SampleSingleReport());
  EXPECT_THAT(text, HasSubstr("map bpf_bpf.bss (type=array, value_size=448, max_entries=1)"));
  EXPECT_THAT(text, HasSubstr("nr_dispatched=849"));
  EXPECT_THAT(text, HasSubstr("name=\"abc\""));
  EXPECT_THAT(text, HasSubstr("[error: hash map truncated at 4096 entries]"));
  EXPECT_THAT(text, HasSubstr("de ad be ef (raw)"));
  EXPECT_THAT(text, HasSubstr("key 1: <unreadable>"));
  EXPECT_THAT(text, HasSubstr("cpu 1: <unmapped>"));
  EXPECT_THAT(text, HasSubstr("ringbuf: capacity=4096B, pending=512B"));
  EXPECT_THAT(text, HasSubstr("vcpu 1: <unavailable>"));
  EXPECT_THAT(text, HasSubstr("per_node_numa: <unavailable: NUMA partial: node 1: unreadable>"));
  EXPECT_THAT(text, HasSubstr("poc_enqueue: cnt=1000 nsecs=250000 misses=2 ns/call=250.000"));
  EXPECT_THAT(text, HasSubstr("scx_sched: poc_stall exit_kind=1026"));
  EXPECT_THAT(text, HasSubstr("dsq 0x8000000000000002 (local cpu 0): nr=1"));
  EXPECT_THAT(text, HasSubstr("bpftool"));
  EXPECT_THAT(text, HasSubstr("dispatch_keep_last  ▁▃▅█"));
  EXPECT_THAT(text, HasSubstr("dump truncated: deadline crossed at 1500us (2 map(s) skipped"));
}

// A field the kernel does not have (scx_features.absent_fields) is left out, never printed as 0.
TEST(RenderTextTest, FieldsTheKernelLacksAreNotShownAsZero) {
  kfreeze::v1::FailureDumpReport r = kfreeze::testing::SampleSingleReport();
  EXPECT_THAT(RenderSingleText(r), HasSubstr(" ops_qseq=76"));
  EXPECT_THAT(RenderSingleText(r), HasSubstr(" aborting="));
  r.mutable_scx_features()->set_layout("scx_root");
  r.mutable_scx_features()->add_absent_fields("rq_scx_state.ops_qseq");
  r.mutable_scx_features()->add_absent_fields("scx_sched_state.aborting");
  const std::string text = RenderSingleText(r);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("ops_qseq=")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("aborting=")));
  EXPECT_THAT(text, HasSubstr("bypass_depth="));
  EXPECT_THAT(text, HasSubstr("scx_layout: scx_root"));
}

TEST(RenderTextTest, DualAndDegraded) {
  const std::string dual = RenderDualText(kfreeze::testing::SampleDualReport());
  EXPECT_THAT(dual, HasSubstr("early=present (max_age=260j, threshold=250j)"));
  EXPECT_THAT(dual, HasSubstr("early snapshot"));
  EXPECT_THAT(dual, HasSubstr("late snapshot"));
  const std::string degraded = RenderDegradedText(kfreeze::testing::SampleDegradedReport());
  EXPECT_THAT(degraded, HasSubstr(std::string(kReasonPauseFailed)));
  EXPECT_THAT(degraded, HasSubstr("vcpus_parked: 1/2"));
  EXPECT_THAT(degraded, HasSubstr("vcpu 1: not_parked"));
}

// kfreeze arms no watchpoint: a false watchpoint_hit must not read as "armed and not hit".
TEST(RenderTextTest, DegradedMentionsWatchpointOnlyWhenHit) {
  kfreeze::v1::DegradedFailureDumpReport d = kfreeze::testing::SampleDegradedReport();
  ASSERT_FALSE(d.watchpoint_hit());
  EXPECT_THAT(RenderDegradedText(d), ::testing::Not(HasSubstr("watchpoint")));
  d.set_watchpoint_hit(true);
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("watchpoint_hit: true"));
}

// Every *_unavailable field of the report reaches the text, found by descriptor so a reason field
// added to the proto without a renderer fails here. Each reason is shown with its section filled
// too: a partial section keeps its reason next to what was captured.
TEST(RenderTextTest, EveryReasonFieldIsShown) {
  for (bool with_data : {false, true}) {
    kfreeze::v1::FailureDumpReport r =
        with_data ? kfreeze::testing::SampleSingleReport() : kfreeze::v1::FailureDumpReport();
    const auto* d = r.GetDescriptor();
    std::vector<std::string> markers;
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated() ||
          !absl::EndsWith(f->name(), "_unavailable")) {
        continue;
      }
      markers.push_back(absl::StrCat("reason-of-", f->name()));
      r.GetReflection()->SetString(&r, f, markers.back());
    }
    ASSERT_GE(markers.size(), 13u);
    const std::string text = RenderSingleText(r);
    for (const std::string& m : markers) {
      EXPECT_THAT(text, HasSubstr(absl::StrCat("<unavailable: ", m, ">")))
          << (with_data ? "with data" : "empty");
    }
  }
}

TEST(RenderTextTest, EmptyAndPlaceholder) {
  kfreeze::v1::FailureDumpReport empty;
  EXPECT_EQ(RenderSingleText(empty), "(empty failure dump)\n");
  EXPECT_THAT(RenderSingleText(kfreeze::testing::SamplePlaceholderReport()),
              HasSubstr("placeholder"));
}

// PSI averages are percent x FIXED_1 (2048), printed like /proc/pressure's avg10=12.50.
TEST(RenderTextTest, PsiAveragesArePercentTimesFixed1) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  auto* sys = r.add_cgroup_psi();
  sys->set_is_system(true);
  auto* cpu = sys->add_states();
  cpu->set_resource("cpu");
  cpu->set_kind("some");
  cpu->set_avg10_raw(12 * 2048 + 1024);
  EXPECT_THAT(RenderSingleText(r), HasSubstr("cpu_some=0ns(avg10=12.50%)"));
}

}  // namespace
}  // namespace kfreeze::report
