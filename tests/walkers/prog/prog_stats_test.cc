#include "core/walkers/prog/prog_stats.h"

#include <memory>
#include <string>

#include "core/base/reasons.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/prog_world.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::walkers::prog {
namespace {

using kfreeze::testing::FakeGuest;
using kfreeze::testing::TestBtf;

using namespace kfreeze::testing::prog_fixture;

kfreeze::v1::FailureDumpReport Capture(ProgWorld& w) {
  Reader r = w.g.MakeReader();
  ProgContext ctx = BuildProgContext(w.view());
  EXPECT_TRUE(ctx.status.ok()) << ctx.status;
  kfreeze::v1::FailureDumpReport report;
  CaptureProgStats(r, ctx, report);
  return report;
}

TEST(ProgStats, StructOpsOnlySummedOverCpusAndActiveObject) {
  ProgWorld w;
  Kva bss = w.Map("scx_runn.bss"), data = w.Map("scx_runn.data"), ops = w.Map("lab_running", 26);
  w.Prog(0, kTracing, "probe", {w.Map("other.bss")}, 5);
  w.Prog(3, kStructOps, "lab_enqueue", {bss, data}, 10);
  w.Prog(9, kStructOps, "lab_dispatch", {bss}, 7);
  w.Prog(10, kStructOps, "lab_init", {ops}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_prog_runtime_stats_unavailable()) << r.prog_runtime_stats_unavailable();
  ASSERT_EQ(r.prog_runtime_stats_size(), 3);
  EXPECT_EQ(r.prog_runtime_stats(0).name(), "lab_enqueue");
  EXPECT_EQ(r.prog_runtime_stats(0).cnt(), 20u);
  EXPECT_EQ(r.prog_runtime_stats(0).nsecs(), 2000u);
  EXPECT_EQ(r.prog_runtime_stats(0).misses(), 2u);
  EXPECT_EQ(r.prog_runtime_stats(0).prog_id(), 4u);
  EXPECT_EQ(r.prog_runtime_stats(0).verified_insns(), 42u);
  EXPECT_EQ(r.active_obj_name(), "scx_runn");
  EXPECT_EQ(std::vector<uint64_t>(r.active_map_kvas().begin(), r.active_map_kvas().end()),
            (std::vector<uint64_t>{bss.value, data.value}));
}

TEST(ProgStats, FallsBackToStructOpsMapName) {
  ProgWorld w;
  Kva ops = w.Map("minimal", 26);
  w.Prog(1, kStructOps, "ops_enqueue", {ops}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.active_obj_name(), "minimal");
  ASSERT_EQ(r.active_map_kvas_size(), 1);
  EXPECT_EQ(r.active_map_kvas(0), ops.value);
}

TEST(ProgStats, NoStructOpsLoaded) {
  ProgWorld w;
  w.Prog(0, kTracing, "probe", {}, 5);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.prog_runtime_stats_unavailable(), kReasonNoStructOpsLoaded);
  EXPECT_FALSE(r.has_active_obj_name());
}

TEST(ProgStats, UnreadableAuxIsReportedOthersKept) {
  ProgWorld w;
  Kva bad = w.Prog(2, kStructOps, "broken", {}, 1);
  w.g.PutPtr(bad + kProgAux, FakeGuest::Unmapped());
  w.Prog(5, kStructOps, "fine", {}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  ASSERT_EQ(r.prog_runtime_stats_size(), 1);
  EXPECT_EQ(r.prog_runtime_stats(0).name(), "fine");
  EXPECT_NE(r.prog_runtime_stats_unavailable().find("prog stats partial"), std::string::npos);
}

}  // namespace
}  // namespace kfreeze::walkers::prog
