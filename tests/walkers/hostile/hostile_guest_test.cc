// The hostile guest, as phases through RunPhases on synthetic guests: every cgroup's
// child list points into one ring (1024 cgroups, 255-byte names), map_idr's BTF claims 2^31
// xa_node slots, and the cgroup BTF puts `psi` past the end of struct cgroup. The dump must end
// within its deadline with a reason for every section it could not fill, and the process's peak
// RSS (getrusage ru_maxrss, before/after delta) must grow by less than 256 MiB.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/dump/run_phases.h"
#include "core/walkers/maps/map_walker.h"
#include "core/walkers/psi/psi.h"
#include "gtest/gtest.h"
#include "tests/walkers/maps/fake_bpf.h"
#include "tests/walkers/support/peak_rss.h"
#include "tests/walkers/support/psi_world.h"

namespace kfreeze {
namespace {

using namespace std::chrono_literals;
using kfreeze::v1::FailureDumpReport;
using testing::FakeBpfKernel;
using testing::PsiWorld;

constexpr uint64_t kRssBound = 256ull << 20;

// A PSI phase over `w`. `walked` gets what the walk itself said (cgroup_psi_unavailable right
// after it, before a later phase overwrites that field), `reason` what RunPhases marked.
std::shared_ptr<dump::DumpPhase> PsiPhase(const std::string& name, PsiWorld& w, std::string* reason,
                                          std::string* walked = nullptr, int* cgroups = nullptr) {
  return dump::MakePhase(
      name,
      [&w, walked, cgroups](dump::PhaseContext& ctx) {
        Reader r = w.g.MakeReader();
        r.SetBudget(&ctx.budget());
        const int before = ctx.report().cgroup_psi_size();
        walkers::psi::CapturePsi(r, walkers::psi::BuildPsiContext(w.view()), {}, ctx.report());
        if (walked != nullptr) *walked = ctx.report().cgroup_psi_unavailable();
        if (cgroups != nullptr) *cgroups = ctx.report().cgroup_psi_size() - before;
        return absl::OkStatus();
      },
      [reason](FailureDumpReport&, absl::string_view why) { *reason = std::string(why); });
}

struct HostileGuest {
  HostileGuest() : bad_btf(/*btf_psi_offset=*/4096), idr(/*chunk_size=*/1u << 31) {
    ring.MakeSharedChildRing(static_cast<int>(walkers::psi::kMaxCgroups), 255);
  }
  dump::PhaseTable Phases() {
    dump::PhaseTable t;
    t.push_back(dump::MakePhase(
        "maps",
        [this](dump::PhaseContext& ctx) {
          walkers::maps::MapWalker walker({.resolver = &idr.resolver(),
                                           .vmlinux = idr.vmlinux(),
                                           .percpu = &idr.percpu(),
                                           .map_idr = idr.map_idr(),
                                           .caps = {}});
          Reader r = idr.guest().MakeReader();
          r.SetBudget(&ctx.budget());
          return walker.Dump(r, ctx.report());
        },
        [this](FailureDumpReport&, absl::string_view why) { maps_reason = std::string(why); }));
    t.push_back(PsiPhase("psi_ring", ring, &ring_reason, &ring_walked, &ring_cgroups));
    t.push_back(PsiPhase("psi_bad_btf", bad_btf, &bad_btf_reason, &bad_btf_walked));
    return t;
  }

  PsiWorld ring;
  PsiWorld bad_btf;
  FakeBpfKernel idr;
  std::string maps_reason, ring_reason, bad_btf_reason, ring_walked, bad_btf_walked;
  int ring_cgroups = 0;
};

TEST(HostileGuest, DumpEndsInTimeWithReasonsAndBoundedMemory) {
  HostileGuest g;
  FailureDumpReport report;
  const dump::Deadline deadline = dump::Deadline::FromNow(20s);
  dump::PhaseContext ctx(deadline, report, /*live=*/false);
  std::vector<kfreeze::v1::PhaseTiming> timings;
  const uint64_t rss_before = testing::PeakRssBytes();
  dump::RunPhases(g.Phases(), {}, ctx, &timings);
  const uint64_t rss_grown = testing::PeakRssBytes() - rss_before;

  EXPECT_FALSE(deadline.Expired()) << "the dump ran past its deadline";
  EXPECT_LT(rss_grown, kRssBound) << "peak RSS grew by " << rss_grown << " bytes";
  ASSERT_EQ(timings.size(), 3u);

  // 2^31 slots: the idr group is refused, the maps section says why.
  EXPECT_NE(g.maps_reason.find("offset group 'idr': BTF member 'slots' of xa_node"),
            std::string::npos)
      << g.maps_reason;
  // The ring: psi_system plus at most every ring member once, and the cut is explained.
  EXPECT_EQ(g.ring_cgroups, static_cast<int>(walkers::psi::kMaxCgroups));  // psi_system + 1023
  EXPECT_NE(g.ring_walked.find("PSI partial"), std::string::npos) << g.ring_walked;
  EXPECT_NE(g.ring_walked.find("children of 1024 cgroups incomplete"), std::string::npos)
      << g.ring_walked;
  EXPECT_NE(g.ring_walked.find("cgroup walk cut at 1024 cgroups"), std::string::npos)
      << g.ring_walked;
  // struct cgroup's psi past its end: the cgroup group is refused, psi_system still reported.
  EXPECT_NE(g.bad_btf_walked.find("cgroups not walked"), std::string::npos) << g.bad_btf_walked;
  EXPECT_NE(g.bad_btf_walked.find("past the end of cgroup"), std::string::npos) << g.bad_btf_walked;
}

// The same ring with a deadline far too short to walk it: the walk is cut inside its loop, the
// cut is stamped (dump_truncated_at_us), and the phases after it are skipped with the reason.
TEST(HostileGuest, DeadlineCutsInsideTheCgroupWalk) {
  PsiWorld ring;
  ring.MakeSharedChildRing(static_cast<int>(walkers::psi::kMaxCgroups), 255);
  std::string ring_reason, later_reason;
  dump::PhaseTable t;
  t.push_back(PsiPhase("psi_ring", ring, &ring_reason));
  t.push_back(dump::MakePhase(
      "later", [](dump::PhaseContext&) { return absl::OkStatus(); },
      [&](FailureDumpReport&, absl::string_view why) { later_reason = std::string(why); }));
  FailureDumpReport report;
  const dump::Deadline deadline;  // infinite: the budget's clock hook below plays the deadline
  dump::PhaseContext ctx(deadline, report, /*live=*/false);
  // Spend the budget's deadline from inside the walk: the clock hook turns true after a few
  // hundred reads, as a real deadline would part way through.
  ReadBudget& budget = ctx.budget();
  budget = ReadBudget({}, [&, calls = 0]() mutable { return ++calls > 4; });
  std::vector<kfreeze::v1::PhaseTiming> timings;
  dump::RunPhases(t, {}, ctx, &timings);
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kDeadline);
  EXPECT_TRUE(report.has_dump_truncated_at_us());
  EXPECT_NE(report.cgroup_psi_unavailable().find("cgroup walk cut: dump deadline exceeded"),
            std::string::npos)
      << report.cgroup_psi_unavailable();
  EXPECT_EQ(later_reason, kReasonDeadlineExceeded);
  ASSERT_EQ(report.truncated_phases_size(), 1);
  EXPECT_EQ(report.truncated_phases(0), "later");
}

// A byte budget spent mid-phase: the phase keeps what it read and says it is partial; the rest of
// the dump is skipped with the budget's own reason.
TEST(HostileGuest, ReadBudgetCutIsStampedWithItsReason) {
  PsiWorld ring;
  ring.MakeSharedChildRing(64, 16);
  std::string ring_reason, later_reason;
  dump::PhaseTable t;
  t.push_back(PsiPhase("psi_ring", ring, &ring_reason));
  t.push_back(dump::MakePhase(
      "later", [](dump::PhaseContext&) { return absl::OkStatus(); },
      [&](FailureDumpReport&, absl::string_view why) { later_reason = std::string(why); }));
  FailureDumpReport report;
  const dump::Deadline deadline;
  dump::PhaseContext ctx(deadline, report, /*live=*/false, BudgetLimits{.read_bytes = 8192});
  std::vector<kfreeze::v1::PhaseTiming> timings;
  dump::RunPhases(t, {}, ctx, &timings);
  EXPECT_EQ(ctx.budget().cut(), ReadBudget::Cut::kReadBytes);
  EXPECT_TRUE(report.has_dump_truncated_at_us());
  EXPECT_EQ(ring_reason.rfind(std::string(kReasonReadBudgetExhausted), 0), 0u) << ring_reason;
  EXPECT_NE(ring_reason.find("partial"), std::string::npos) << ring_reason;
  EXPECT_GE(report.cgroup_psi_size(), 1);  // what was read before the cut stays
  EXPECT_EQ(later_reason, kReasonReadBudgetExhausted);
}

}  // namespace
}  // namespace kfreeze
