// The watchpoint's pause ownership against a fake QEMU 7.2 stub: it continues only a VM it
// stopped, moves the watchpoint, reports hits with their vCPU and ignores other stops.
#include "core/gdb/stub_watch.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/gdb/fake_stub.h"

namespace kfreeze::gdb {
namespace {

constexpr uint64_t kKva = 0xffff888004a1c0a0;

std::unique_ptr<StubWatch> Watch(FakeQemuStub& stub) {
  return StubWatch::ForTesting(RspClient::FromFd(stub.TakeClientFd()), "");
}

// Polls until the stub's reply lands (bounded).
std::optional<dump::WatchHit> WaitHit(StubWatch& w) {
  for (int i = 0; i < 500; ++i) {
    absl::StatusOr<std::optional<dump::WatchHit>> h = w.PollHit();
    if (!h.ok()) return std::nullopt;
    if (*h) return *h;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return std::nullopt;
}

void WaitRunning(FakeQemuStub& stub, bool want) {
  for (int i = 0; i < 500 && stub.running() != want; ++i) absl::SleepFor(absl::Milliseconds(2));
}

TEST(StubWatch, ArmsOnARunningVmAndContinuesIt) {
  FakeQemuStub stub(/*running=*/true);
  auto w = Watch(stub);
  ASSERT_TRUE(w->Arm(kKva).ok());
  WaitRunning(stub, true);
  EXPECT_TRUE(stub.running());
  EXPECT_EQ(stub.continues(), 1);
  EXPECT_EQ(stub.watchpoints(), std::set<uint64_t>{kKva});
}

TEST(StubWatch, ContinuesTheStopItsConnectMadeEvenIfAlreadyReceived) {
  FakeQemuStub stub(/*running=*/true);
  stub.ExternalStop();  // QEMU stops the VM on connect and says so before any command
  int fd = stub.TakeClientFd();
  absl::SleepFor(absl::Milliseconds(20));  // the stop reply is already buffered
  absl::StatusOr<std::unique_ptr<StubWatch>> w =
      StubWatch::JustConnectedForTesting(RspClient::FromFd(fd));
  ASSERT_TRUE(w.ok()) << w.status();
  WaitRunning(stub, true);
  EXPECT_TRUE(stub.running());
  EXPECT_EQ(stub.continues(), 1);
}

TEST(StubWatch, ConnectToAPausedVmLeavesItPaused) {
  FakeQemuStub stub(/*running=*/false);
  absl::StatusOr<std::unique_ptr<StubWatch>> w =
      StubWatch::JustConnectedForTesting(RspClient::FromFd(stub.TakeClientFd()));
  ASSERT_TRUE(w.ok()) << w.status();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(stub.running());
  EXPECT_EQ(stub.continues(), 0);
}

TEST(StubWatch, NeverContinuesSomeoneElsesPause) {
  FakeQemuStub stub(/*running=*/false);
  auto w = Watch(stub);
  ASSERT_TRUE(w->Arm(kKva).ok());
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(stub.running());
  EXPECT_EQ(stub.continues(), 0);
  EXPECT_EQ(stub.watchpoints(), std::set<uint64_t>{kKva});
}

TEST(StubWatch, MovesTheWatchpoint) {
  FakeQemuStub stub(true);
  auto w = Watch(stub);
  ASSERT_TRUE(w->Arm(kKva).ok());
  ASSERT_TRUE(w->Arm(kKva + 0x1000).ok());
  EXPECT_EQ(stub.watchpoints(), std::set<uint64_t>{kKva + 0x1000});
  ASSERT_TRUE(w->Arm(0).ok());
  EXPECT_TRUE(stub.watchpoints().empty());
  WaitRunning(stub, true);
  EXPECT_TRUE(stub.running());
}

TEST(StubWatch, ReportsAHitWithItsVcpuAndIgnoresOtherStops) {
  FakeQemuStub stub(true);
  auto w = Watch(stub);
  ASSERT_TRUE(w->Arm(kKva).ok());
  WaitRunning(stub, true);
  stub.ExternalStop();  // kfreeze's own QMP stop: a T02 to consume and ignore
  absl::SleepFor(absl::Milliseconds(10));
  absl::StatusOr<std::optional<dump::WatchHit>> none = w->PollHit();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  stub.set_running(true);
  stub.Hit(kKva, /*cpu=*/1);
  std::optional<dump::WatchHit> hit = WaitHit(*w);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->addr, kKva);
  EXPECT_EQ(hit->vcpu, 1u);
  // Held at the hit: moving the watchpoint neither stops nor continues anything.
  ASSERT_TRUE(w->Arm(0).ok());
  EXPECT_FALSE(stub.running());
  ASSERT_TRUE(w->ResumeAfterHit().ok());
  WaitRunning(stub, true);
  EXPECT_TRUE(stub.running());
}

// QEMU's arm targets stop before the watched store: the hit is handed out only once the writing
// vCPU has stepped past it, with the watchpoint lifted for the step and set again after.
TEST(StubWatch, AStopBeforeTheStoreIsSteppedPastItBeforeTheHitIsHandedOut) {
  FakeQemuStub stub(true);
  auto w = StubWatch::ForTesting(RspClient::FromFd(stub.TakeClientFd()), "",
                                 /*step_past_write=*/true);
  ASSERT_TRUE(w->Arm(kKva).ok());
  WaitRunning(stub, true);
  stub.Hit(kKva, /*cpu=*/1);
  std::optional<dump::WatchHit> hit = WaitHit(*w);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->vcpu, 1u);
  EXPECT_EQ(stub.steps(), 1);
  EXPECT_EQ(stub.last_step(), "vCont;s:2");  // only the writing vCPU (thread = index + 1)
  EXPECT_TRUE(stub.watchpoints_at_step().empty());
  EXPECT_EQ(stub.watchpoints(), std::set<uint64_t>{kKva});
  EXPECT_FALSE(stub.running());  // still held at the hit, now past the store
  ASSERT_TRUE(w->ResumeAfterHit().ok());
  WaitRunning(stub, true);
  EXPECT_TRUE(stub.running());
}

TEST(StubWatch, AStepThatNeverEndsLiftsTheWatchpointAndLetsTheVmGo) {
  FakeQemuStub stub(true);
  auto w = StubWatch::ForTesting(RspClient::FromFd(stub.TakeClientFd()), "",
                                 /*step_past_write=*/true);
  ASSERT_TRUE(w->Arm(kKva).ok());
  WaitRunning(stub, true);
  stub.set_step_silent(true);
  stub.Hit(kKva, /*cpu=*/0);
  absl::Status failed;
  for (int i = 0; i < 500 && failed.ok(); ++i) {
    absl::StatusOr<std::optional<dump::WatchHit>> h = w->PollHit();
    ASSERT_FALSE(h.ok() && *h) << "a hit handed out without its step";
    if (!h.ok()) failed = h.status();
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(stub.watchpoints().empty());
}

TEST(StubWatch, GarbageAndSilenceBecomeErrors) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  auto w = StubWatch::ForTesting(RspClient::FromFd(sv[0]), "");
  std::string junk(100000, '$');
  (void)write(sv[1], junk.data(), 10000);
  absl::Time start = absl::Now();
  EXPECT_FALSE(w->Arm(kKva).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  close(sv[1]);
  EXPECT_FALSE(w->PollHit().ok());
}

}  // namespace
}  // namespace kfreeze::gdb
