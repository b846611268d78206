#include "core/walkers/psi/psi.h"

#include <memory>

#include "core/base/guest_text.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/peak_rss.h"
#include "tests/walkers/support/psi_world.h"

namespace kfreeze::walkers::psi {
namespace {

using namespace kfreeze::testing::psi_layout;
using kfreeze::testing::PsiWorld;

// Captures `w`'s PSI under `options` into a fresh report.
kfreeze::v1::FailureDumpReport Capture(const PsiWorld& w, const PsiOptions& options = {}) {
  return w.Capture(BuildPsiContext,
                   [&](Reader& r, const PsiContext& ctx, kfreeze::v1::FailureDumpReport& report) {
                     CapturePsi(r, ctx, options, report);
                   });
}

TEST(Psi, SystemAndCgroupTreeWithPaths) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "system.slice", 200);
  w.AddChild(a, "ssh.service", 300);
  w.AddChild(w.root, "user.slice", 400);
  kfreeze::v1::FailureDumpReport report = Capture(w);
  // A context that did not build says why here.
  ASSERT_FALSE(report.has_cgroup_psi_unavailable()) << report.cgroup_psi_unavailable();
  ASSERT_EQ(report.cgroup_psi_size(), 4);
  const auto& sys = report.cgroup_psi(0);
  EXPECT_TRUE(sys.is_system());
  EXPECT_EQ(sys.path(), "/");
  ASSERT_EQ(sys.states_size(), 7);
  EXPECT_EQ(sys.states(4).resource(), "cpu");
  EXPECT_EQ(sys.states(4).kind(), "some");
  EXPECT_EQ(sys.states(4).total_ns(), 100004u);
  EXPECT_EQ(sys.states(4).avg10_raw(), 140u);
  EXPECT_EQ(sys.states(4).avg300_raw(), 142u);
  EXPECT_EQ(sys.total_ns(), 100006u);  // ktstr field: PSI_IRQ_FULL
  EXPECT_EQ(report.cgroup_psi(1).path(), "/system.slice");
  EXPECT_EQ(report.cgroup_psi(2).path(), "/system.slice/ssh.service");
  EXPECT_EQ(report.cgroup_psi(2).serial_nr(), 300u);
  EXPECT_EQ(report.cgroup_psi(2).states(0).total_ns(), 300000u);
  EXPECT_EQ(report.cgroup_psi(3).path(), "/user.slice");
}

TEST(Psi, RootPathSelectsSubtree) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "system.slice", 200);
  w.AddChild(a, "ssh.service", 300);
  w.AddChild(w.root, "user.slice", 400);
  kfreeze::v1::FailureDumpReport report = Capture(w, {.root_path = "/system.slice/"});
  ASSERT_EQ(report.cgroup_psi_size(), 3);
  EXPECT_EQ(report.cgroup_psi(1).path(), "/system.slice");
  EXPECT_EQ(report.cgroup_psi(2).path(), "/system.slice/ssh.service");
}

TEST(Psi, UnknownRootPathIsReported) {
  PsiWorld w;
  kfreeze::v1::FailureDumpReport report = Capture(w, {.root_path = "/nope"});
  EXPECT_EQ(report.cgroup_psi_size(), 1);  // psi_system still there
  EXPECT_EQ(report.cgroup_psi_unavailable(), "PSI partial: no cgroup /nope");
}

TEST(Psi, CyclicChildrenDoNotLoop) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "a", 200);
  w.AddChild(w.root, "b", 300);
  // a's sibling link points back at itself: the children walk cycles.
  w.g.PutPtr(a + kCgSelf + kCssSibling, a + kCgSelf + kCssSibling);
  kfreeze::v1::FailureDumpReport report = Capture(w);
  EXPECT_EQ(report.cgroup_psi_size(), 2);
  EXPECT_NE(report.cgroup_psi_unavailable().find("incomplete"), std::string::npos);
}

// Every cgroup's children list (the root's included) leads into one shared ring of cgroups. The
// walk used to push every child before its visited check, with its full path: n^2 pending entries
// whose paths grow with depth (~200 MB for this ring). Now each cgroup is pending at most once.
TEST(Psi, SharedChildRingStaysBounded) {
  PsiWorld w;
  constexpr int kRing = 128;
  w.MakeSharedChildRing(kRing, 200);
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  const uint64_t before = kfreeze::testing::PeakRssBytes();
  CapturePsi(r, ctx, {}, report);
  const uint64_t grown = kfreeze::testing::PeakRssBytes() - before;
  EXPECT_LT(grown, 32ull << 20) << "peak RSS grew by " << grown << " bytes";
  // psi_system and each ring member exactly once, as a child of the first cgroup listing it.
  ASSERT_EQ(report.cgroup_psi_size(), kRing + 1);
  EXPECT_EQ(report.cgroup_psi(1).path().size(), 1 + 200u);
  EXPECT_NE(report.cgroup_psi_unavailable().find("children of 129 cgroups incomplete"),
            std::string::npos)
      << report.cgroup_psi_unavailable();
  EXPECT_LT(report.cgroup_psi_unavailable().size(), 4096u);  // problems are capped, not joined
}

TEST(Psi, InvalidUtf8NameKeepsRawPath) {
  PsiWorld w;
  w.AddChild(w.root, std::string("bad\xff\xfename"), 200);
  kfreeze::v1::FailureDumpReport report = Capture(w);
  ASSERT_EQ(report.cgroup_psi_size(), 2);
  const auto& c = report.cgroup_psi(1);
  EXPECT_TRUE(IsValidUtf8(c.path()));
  EXPECT_EQ(c.path(), GuestText("/bad\xff\xfename"));
  EXPECT_EQ(c.path_raw(), "/bad\xff\xfename");
  EXPECT_FALSE(report.cgroup_psi(0).has_path_raw());  // valid paths carry no raw copy
}

// The dump's deadline passed: the walk stops at its next check and says why.
TEST(Psi, SpentBudgetCutsTheWalk) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "a", 200);
  w.AddChild(a, "b", 300);
  Reader r = w.g.MakeReader();
  bool time_up = false;
  ReadBudget budget({}, [&] { return time_up; });
  r.SetBudget(&budget);
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  time_up = true;
  CapturePsi(r, ctx, {}, report);
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kDeadline);
  EXPECT_LE(report.cgroup_psi_size(), 1);
  EXPECT_TRUE(report.has_cgroup_psi_unavailable());
  EXPECT_NE(report.cgroup_psi_unavailable().find("dump deadline exceeded"), std::string::npos)
      << report.cgroup_psi_unavailable();
}

TEST(Psi, DisabledIsSaidNotZeroed) {
  PsiWorld w;
  w.g.Put<int32_t>(w.disabled, 1);
  kfreeze::v1::FailureDumpReport report = Capture(w);
  EXPECT_EQ(report.cgroup_psi_size(), 0);
  EXPECT_EQ(report.cgroup_psi_unavailable(), "PSI disabled in the guest kernel (psi_disabled)");
}

}  // namespace
}  // namespace kfreeze::walkers::psi
