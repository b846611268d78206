// The attach/retry loop the auto-triggers and the event sampler share: it says why nothing is
// armed, runs rounds against the armed kernel, and re-arms when the target re-attaches.
#include "server/daemon/probe_loop.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_attachment.h"

namespace kfreeze::server {
namespace {

using kfreeze::testing::FakeAttachment;

// Bound for "eventually": reaching it is a failure, not a timing claim.
constexpr absl::Duration kEventually = absl::Seconds(20);

class NoProbes : public dump::TriggerProbes {
 public:
  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override { return dump::ScxExitProbe{}; }
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    return absl::FailedPreconditionError("unused");
  }
};

// The target's attachment as the coordinator would hand it out; tests swap it to re-attach.
class Target {
 public:
  TargetAttachments Attachments() {
    return TargetAttachments{[this]() -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
                               absl::MutexLock lock(&mu_);
                               if (!current_) return absl::FailedPreconditionError("not attached");
                               return current_;
                             },
                             [this] {
                               absl::MutexLock lock(&mu_);
                               return current_;
                             }};
  }
  void Set(std::shared_ptr<dump::KernelAttachment> kernel) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(kernel);
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<dump::KernelAttachment> current_ ABSL_GUARDED_BY(mu_);
};

bool Eventually(const std::function<bool()>& done) {
  const absl::Time give_up = absl::Now() + kEventually;
  while (!done() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  return done();
}

TEST(ProbeLoop, RoundsRunAgainstTheArmedKernelAndAReattachRearms) {
  NoProbes probes;
  auto first = std::make_shared<FakeAttachment>("first", dump::PhaseTable{}, &probes);
  auto second = std::make_shared<FakeAttachment>("second", dump::PhaseTable{}, &probes);
  Target target;
  target.Set(first);
  absl::Mutex mu;
  std::vector<std::string> armed;
  std::atomic<int> rounds_on_second{0};
  ProbeLoop loop(
      target.Attachments(),
      [&](const std::shared_ptr<dump::KernelAttachment>& kernel) -> ProbeLoop::Round {
        {
          absl::MutexLock lock(&mu);
          armed.push_back(kernel->kernel_release());
        }
        return [&, kernel] {
          if (kernel->kernel_release() == "second") ++rounds_on_second;
          return std::chrono::milliseconds(1);
        };
      },
      [](const absl::Status& why) { ADD_FAILURE() << "unarmed: " << why; });
  target.Set(second);  // the guest rebooted and was attached again
  ASSERT_TRUE(Eventually([&] { return rounds_on_second.load() >= 2; }));
  loop.Stop();
  absl::MutexLock lock(&mu);
  // Armed on the first kernel (unless the swap won the race to the first attach), then the second.
  ASSERT_FALSE(armed.empty());
  EXPECT_EQ(armed.back(), "second");
  EXPECT_LE(armed.size(), 2u);
}

TEST(ProbeLoop, SaysWhyNothingIsArmedAndStopsWhileWaitingToRetry) {
  auto unprobeable = std::make_shared<FakeAttachment>("no-probes", dump::PhaseTable{});
  Target target;
  target.Set(unprobeable);
  absl::Mutex mu;
  std::vector<absl::Status> why;
  ProbeLoop loop(
      target.Attachments(),
      [](const std::shared_ptr<dump::KernelAttachment>&) -> ProbeLoop::Round {
        ADD_FAILURE() << "armed a kernel without probes";
        return [] { return std::chrono::milliseconds(1); };
      },
      [&](const absl::Status& s) {
        absl::MutexLock lock(&mu);
        why.push_back(s);
      });
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return !why.empty();
  }));
  loop.Stop();  // interrupts the retry wait; hanging here fails the test by its timeout
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(absl::IsFailedPrecondition(why[0])) << why[0];
  EXPECT_EQ(why[0].message(), "this kernel cannot be probed");
}

}  // namespace
}  // namespace kfreeze::server
