#include "core/walkers/scx/scx_offsets.h"

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
  for (int i = 0; i < kNumEventCounters; ++i) EXPECT_EQ(o.event_stats->counter[i], i * 8u);
}

TEST(ScxOffsets, OptionalCountersMayBeAbsentRequiredMayNot) {
  ScxWorldOptions opt;
  opt.omit = {"scx_event_stats.SCX_EV_SUB_BYPASS_DISPATCH"};
  ScxOffsets o = ResolveScxOffsets(ScxWorld(opt).view().btf);
  ASSERT_TRUE(o.event_stats);
  EXPECT_FALSE(o.event_stats->counter[12].has_value());

  opt.omit = {"scx_event_stats.SCX_EV_SELECT_CPU_FALLBACK"};
  ScxWorld w2(opt);
  ScxOffsets o2 = ResolveScxOffsets(w2.view().btf);
  EXPECT_FALSE(o2.event_stats.ok());
  EXPECT_EQ(o2.report.MissingReason(), "missing offset groups [scx_event_stats]");
  EXPECT_NE(o2.report.Details().find("SCX_EV_SELECT_CPU_FALLBACK"), std::string::npos);
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
