// The report contract: every section is filled or explained by its *_unavailable reason. These
// tests walk FailureDumpReport's descriptor, so they fail when the proto gains a section that no
// reason pairs with, or when a report leaves a section empty without saying why.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/report/placeholder.h"
#include "core/report/section_coverage.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "gtest/gtest.h"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpReport;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Paths(const std::vector<UnaccountedSection>& sections) {
  std::vector<std::string> out;
  for (const UnaccountedSection& s : sections) out.push_back(s.path);
  return out;
}

std::string ReasonNameFor(const std::string& section) {
  const auto* f = FailureDumpReport::descriptor()->FindFieldByName(section);
  if (f == nullptr) return "<no such field>";
  const auto* reason = ReasonFieldFor(*f);
  return reason == nullptr ? "<none>" : std::string(reason->name());
}

TEST(SectionCoverageTest, EverySectionOfTheProtoHasAReasonField) {
  EXPECT_THAT(UnpairedSections(), IsEmpty());
  EXPECT_THAT(OrphanReasonFields(), IsEmpty());
}

TEST(SectionCoverageTest, PairsByNameAndBySharedReason) {
  EXPECT_EQ(ReasonNameFor("maps"), "maps_unavailable");
  EXPECT_EQ(ReasonNameFor("probe_counters"), "probe_counters_unavailable");
  EXPECT_EQ(ReasonNameFor("dsq_states"), "scx_walker_unavailable");
  EXPECT_EQ(ReasonNameFor("scx_features"), "scx_walker_unavailable");
  EXPECT_EQ(ReasonNameFor("sdt_allocations"), "sdt_alloc_unavailable");
  EXPECT_EQ(ReasonNameFor("scx_static_ranges"), "scx_static_unavailable");
  EXPECT_EQ(ReasonNameFor("vcpu_perf_at_freeze"), "vcpu_perf_unavailable");
  EXPECT_EQ(ReasonNameFor("active_obj_name"), "prog_runtime_stats_unavailable");
  // Metadata and reasons are not sections.
  EXPECT_EQ(ReasonNameFor("truncated_phases"), "<none>");
  EXPECT_TRUE(IsReportMetadata(*FailureDumpReport::descriptor()->FindFieldByName("schema")));
}

// A field added to FailureDumpReport with no *_unavailable to pair with is reported by every
// check, even when a report fills it.
TEST(SectionCoverageTest, ANewSectionWithoutReasonIsCaught) {
  google::protobuf::FileDescriptorProto file;
  FailureDumpReport::descriptor()->file()->CopyTo(&file);
  file.set_name("kfreeze_test/extended_report.proto");
  file.set_package("kfreeze_test");
  // Only the report message is needed; its field types resolve to kfreeze.v1 in the underlay.
  google::protobuf::DescriptorProto report;
  for (const auto& m : file.message_type()) {
    if (m.name() == "FailureDumpReport") report = m;
  }
  for (auto& f : *report.mutable_field()) {
    if (f.has_type_name() && f.type_name()[0] != '.')
      f.set_type_name(".kfreeze.v1." + f.type_name());
    f.clear_options();  // the ktstr annotations need their own file, and are not under test
  }
  auto* added = report.add_field();
  added->set_name("stack_samples");
  added->set_number(999);
  added->set_label(google::protobuf::FieldDescriptorProto::LABEL_REPEATED);
  added->set_type(google::protobuf::FieldDescriptorProto::TYPE_UINT64);
  file.clear_message_type();
  file.clear_enum_type();
  file.clear_service();
  file.clear_extension();
  file.clear_dependency();
  file.add_dependency(FailureDumpReport::descriptor()->file()->name());
  *file.add_message_type() = report;
  file.clear_options();

  google::protobuf::DescriptorPool pool(google::protobuf::DescriptorPool::generated_pool());
  const google::protobuf::FileDescriptor* built = pool.BuildFile(file);
  ASSERT_NE(built, nullptr);
  const google::protobuf::Descriptor* extended = built->FindMessageTypeByName("FailureDumpReport");
  ASSERT_NE(extended, nullptr);
  EXPECT_THAT(UnpairedSections(*extended), ElementsAre("stack_samples"));

  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> msg(factory.GetPrototype(extended)->New());
  ASSERT_TRUE(msg->ParseFromString(kfreeze::testing::SampleSingleReport().SerializeAsString()));
  msg->GetReflection()->AddUInt64(msg.get(), extended->FindFieldByName("stack_samples"), 1);
  std::vector<UnaccountedSection> found = UnaccountedSections(*msg);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, "stack_samples");
  EXPECT_EQ(found[0].why, "no *_unavailable field pairs with it");
}

TEST(SectionCoverageTest, FilledSampleIsFullyAccounted) {
  EXPECT_THAT(Paths(UnaccountedSections(kfreeze::testing::SampleSingleReport())), IsEmpty());
  EXPECT_THAT(Paths(UnaccountedSections(MakePlaceholderReport("no capture"))), IsEmpty());
}

TEST(SectionCoverageTest, EmptySectionWithoutReasonIsReported) {
  FailureDumpReport r = kfreeze::testing::SampleSingleReport();
  r.clear_dsq_states();
  r.clear_probe_counters();
  std::vector<UnaccountedSection> found = UnaccountedSections(r);
  EXPECT_THAT(Paths(found), UnorderedElementsAre("dsq_states", "probe_counters"));
  for (const UnaccountedSection& s : found) {
    if (s.path == "dsq_states") {
      EXPECT_EQ(s.why, "empty, scx_walker_unavailable not set");
    }
  }
  // One shared reason explains every scx section at once.
  r.set_scx_walker_unavailable("scx_root is NULL");
  EXPECT_THAT(Paths(UnaccountedSections(r)), ElementsAre("probe_counters"));
}

// An empty report accounts for nothing: every section is listed (none is silently exempt).
TEST(SectionCoverageTest, EmptyReportListsEverySection) {
  FailureDumpReport empty;
  empty.set_schema("single");
  std::vector<std::string> paths = Paths(UnaccountedSections(empty));
  EXPECT_THAT(paths, ::testing::Contains("maps"));
  EXPECT_THAT(paths, ::testing::Contains("vcpu_perf_at_freeze"));
  EXPECT_THAT(paths, ::testing::Contains("active_map_kvas"));
  EXPECT_THAT(paths, ::testing::Not(::testing::Contains("schema")));
  EXPECT_THAT(paths, ::testing::Not(::testing::Contains("truncated_phases")));
  int sections = 0;
  const auto* d = FailureDumpReport::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (!IsReportMetadata(*f) && ReasonFieldFor(*f) != nullptr) ++sections;
  }
  EXPECT_EQ(static_cast<int>(paths.size()), sections);
}

// kernel_stacks_unavailable explains a section nested in the task records: filled as soon as one
// task has a frame, explained by the report-level reason otherwise. Per-task reasons do not
// explain it, and a report without tasks leaves it to task_enrichments' own entry.
TEST(SectionCoverageTest, KernelStacksAreANestedSection) {
  FailureDumpReport r = kfreeze::testing::SampleSingleReport();
  ASSERT_GT(r.task_enrichments(0).kernel_stack_size(), 0);
  EXPECT_THAT(Paths(UnaccountedSections(r)), IsEmpty());

  for (auto& t : *r.mutable_task_enrichments()) {
    t.clear_kernel_stack();
    t.set_kernel_stack_unavailable("stack page unreadable");
  }
  std::vector<UnaccountedSection> found = UnaccountedSections(r, "late.");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, "late.kernel_stacks");
  EXPECT_EQ(found[0].why, "no task_enrichments[].kernel_stack, kernel_stacks_unavailable not set");

  r.set_kernel_stacks_unavailable("section not requested");
  EXPECT_THAT(Paths(UnaccountedSections(r)), IsEmpty());

  r.clear_kernel_stacks_unavailable();
  r.clear_task_enrichments();
  r.set_task_enrichments_unavailable("no task walker available");
  EXPECT_THAT(Paths(UnaccountedSections(r)), IsEmpty());
  r.clear_task_enrichments_unavailable();
  EXPECT_THAT(Paths(UnaccountedSections(r)), ElementsAre("task_enrichments"));
}

TEST(SectionCoverageTest, EnvelopeWalksEveryReportItHolds) {
  DumpEnvelope dual;
  *dual.mutable_dual() = kfreeze::testing::SampleDualReport();
  dual.mutable_dual()->mutable_late()->clear_maps();
  // The early side of the sample has only a map and the scx reason.
  std::vector<std::string> paths = Paths(UnaccountedSectionsInEnvelope(dual));
  EXPECT_THAT(paths, ::testing::Contains("late.maps"));
  EXPECT_THAT(paths, ::testing::Contains("early.per_cpu_time"));
  EXPECT_THAT(paths, ::testing::Not(::testing::Contains("early.dsq_states")));

  DumpEnvelope degraded;
  *degraded.mutable_degraded() = kfreeze::testing::SampleDegradedReport();
  EXPECT_THAT(Paths(UnaccountedSectionsInEnvelope(degraded)), IsEmpty());
  FailureDumpReport partial = kfreeze::testing::SampleSingleReport();
  partial.clear_task_enrichments();
  *degraded.mutable_degraded()->mutable_partial() = partial;
  EXPECT_THAT(Paths(UnaccountedSectionsInEnvelope(degraded)),
              ElementsAre("partial.task_enrichments"));

  EXPECT_THAT(Paths(UnaccountedSectionsInEnvelope(DumpEnvelope())), ElementsAre("report"));
}

}  // namespace
}  // namespace kfreeze::report
