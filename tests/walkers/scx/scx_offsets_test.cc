#include "core/walkers/scx/scx_offsets.h"

#include "absl/strings/str_cat.h"
#include "core/walkers/scx/event_counter_fields.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::scx {
namespace {

using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;
namespace L = kfreeze::testing::layout;

TEST(ScxOffsets, ResolvesFromBtfNotFromConstants) {
  ScxWorld w;
  ScxOffsets o = ResolveScxOffsets(w.view().btf);
  EXPECT_TRUE(o.report.all_ok()) << o.report.Details();
  ASSERT_TRUE(o.scx_rq && o.rq && o.dsq && o.entity && o.sched && o.task);
  EXPECT_EQ(o.rq->scx, L::kRqScx);
  EXPECT_EQ(o.scx_rq->runnable_list, L::kScxRqRunnableList);
  EXPECT_FALSE(o.scx_rq->ops_qseq.has_value());  // gone from 7.x scx_rq
  EXPECT_EQ(o.scx_rq->kick_sync, L::kScxRqKickSync);
  EXPECT_EQ(o.entity->dsq_list_flags, L::kSeeDsqListFlags);
  EXPECT_EQ(o.sched->ops, 0u);
  ASSERT_TRUE(o.ops);
  EXPECT_EQ(o.ops->name, L::kOpsName);
  EXPECT_EQ(o.ops->name_len, 128u);
  EXPECT_EQ(o.task->comm_len, 16u);
  EXPECT_EQ(o.constants.task_cursor, 0x80000000u);
  ASSERT_TRUE(o.event_stats);
  // Every EventCounterSample counter, each at the slot the fixture gave it (field order, 8 bytes
  // apart; field 2 is the first counter).
  ASSERT_EQ(o.event_stats->counters.size(), EventCounterFields().size());
  for (const EventCounterOffset& c : o.event_stats->counters) {
    EXPECT_EQ(c.offset, (c.field->number() - 2) * 8u) << c.field->name();
  }
}

TEST(EventCounterFields, KernelNamesMapToReportFieldsByName) {
  ASSERT_NE(EventCounterField("SCX_EV_BYPASS_DURATION"), nullptr);
  EXPECT_EQ(EventCounterField("SCX_EV_BYPASS_DURATION")->name(), "bypass_duration");
  // Renamed in the kernel; the report keeps the first name.
  ASSERT_NE(EventCounterField("SCX_EV_REENQ_REPEAT"), nullptr);
  EXPECT_EQ(EventCounterField("SCX_EV_REENQ_REPEAT")->name(), "reenq_local_repeat");
  ASSERT_NE(EventCounterField("SCX_EV_ENQ_SLICE_DFL"), nullptr);
  EXPECT_EQ(EventCounterField("SCX_EV_ENQ_SLICE_DFL")->name(), "refill_slice_dfl");
  EXPECT_EQ(EventCounterField("SCX_EV_NOT_IN_THE_REPORT"), nullptr);
  EXPECT_EQ(EventCounterField("elapsed_ms"), nullptr);
  EXPECT_EQ(EventCounterField("SCX_EV_ELAPSED_MS"), nullptr);  // not an int64 counter field
}

// The counters read are the ones the kernel's BTF has, whichever they are.
bool Bound(const ScxOffsets& o, absl::string_view field) {
  for (const EventCounterOffset& c : o.event_stats->counters) {
    if (c.field->name() == field) return true;
  }
  return false;
}

TEST(ScxOffsets, CountersAreTheOnesTheBtfHas) {
  ScxWorldOptions opt;
  opt.omit = {"scx_event_stats.SCX_EV_SUB_BYPASS_DISPATCH",
              "scx_event_stats.SCX_EV_SELECT_CPU_FALLBACK"};
  ScxOffsets o = ResolveScxOffsets(ScxWorld(opt).view().btf);
  ASSERT_TRUE(o.event_stats) << o.event_stats.status;
  EXPECT_FALSE(Bound(o, "sub_bypass_dispatch"));
  EXPECT_FALSE(Bound(o, "select_cpu_fallback"));
  EXPECT_TRUE(Bound(o, "bypass_duration"));
  EXPECT_EQ(o.event_stats->counters.size(), EventCounterFields().size() - 2);
}

TEST(ScxOffsets, EventStatsWithoutAnyKnownCounterIsMissing) {
  ScxWorldOptions opt;
  for (const char* name :
       {"SELECT_CPU_FALLBACK", "DISPATCH_LOCAL_DSQ_OFFLINE", "DISPATCH_KEEP_LAST",
        "ENQ_SKIP_EXITING", "ENQ_SKIP_MIGRATION_DISABLED", "REENQ_IMMED", "REENQ_REPEAT",
        "REFILL_SLICE_DFL", "BYPASS_DURATION", "BYPASS_DISPATCH", "BYPASS_ACTIVATE",
        "INSERT_NOT_OWNED", "SUB_BYPASS_DISPATCH"}) {
    opt.omit.insert(absl::StrCat("scx_event_stats.SCX_EV_", name));
  }
  ScxWorld w(opt);
  ScxOffsets o = ResolveScxOffsets(w.view().btf);
  EXPECT_FALSE(o.event_stats.ok());
  EXPECT_EQ(o.report.MissingReason(), "missing offset groups [scx_event_stats]");
}

TEST(ScxOffsets, KickSyncFallsBackToPntSeqAndWholeStructsMayBeMissing) {
  ScxWorldOptions opt;
  opt.omit = {"scx_rq.kick_sync", "scx_sched_pcpu", "scx_sched_pnode"};
  ScxWorld w(opt);
  ScxOffsets o = ResolveScxOffsets(w.view().btf);
  ASSERT_TRUE(o.scx_rq);
  EXPECT_FALSE(o.scx_rq->kick_sync.has_value());
  // Version-gated structs are not "missing groups": older kernels simply lack them.
  EXPECT_FALSE(o.sched_pcpu.ok());
  EXPECT_FALSE(o.sched_pnode.ok());
  EXPECT_TRUE(o.report.all_ok()) << o.report.Details();
}

}  // namespace
}  // namespace kfreeze::walkers::scx
