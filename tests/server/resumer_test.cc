// The resumer process (the real kfreezed binary in its hidden mode) against a fake QEMU: a VM held
// paused when kfreezed's end of the socketpair closes gets `cont`; a released one, or one in a
// state kfreeze did not make, does not; a killed resumer is replaced and learns what is held. And
// the protocol parser never trips on input.
#include "server/daemon/resumer.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/pause_markers.h"
#include "tests/support/fake_qmp_server.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Bound for "eventually": reaching it is a failure, not a timing claim.
constexpr absl::Duration kEventually = absl::Seconds(20);

TEST(HeldPauses, HoldAndReleaseLines) {
  HeldPauses h;
  h.Feed("hold /run/a.qmp\nhold /run/b.qmp\nrelease /run/a.qmp\n");
  EXPECT_THAT(h.held(), ElementsAre("/run/b.qmp"));
}

TEST(HeldPauses, LinesMayArriveInPieces) {
  HeldPauses h;
  h.Feed("ho");
  h.Feed("ld /run/with space.qmp");
  EXPECT_THAT(h.held(), IsEmpty());  // no newline yet
  h.Feed("\n");
  EXPECT_THAT(h.held(), ElementsAre("/run/with space.qmp"));
}

TEST(HeldPauses, GarbageChangesNothing) {
  HeldPauses h;
  h.Feed("hold /ok\n");
  h.Feed("\n\n   \nhold\nhold \nrelease\nexplode /ok\nHOLD /x\n");
  h.Feed(std::string("hold /a\0b\n", 10));  // a NUL would connect somewhere else
  h.Feed(std::string(3 * kMaxResumerLine, 'x') + "\n");
  h.Feed("hold /" + std::string(kMaxResumerLine, 'y') + "\nrelease /ok-not-held\n");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  h.Feed(binary);
  h.Feed("\n");
  EXPECT_THAT(h.held(), ElementsAre("/ok"));
}

TEST(HeldPauses, TheSetIsBounded) {
  HeldPauses h;
  for (size_t i = 0; i < kMaxHeldPauses + 10; ++i) h.Feed("hold /s" + std::to_string(i) + "\n");
  EXPECT_EQ(h.held().size(), kMaxHeldPauses);
}

class ResumerTest : public ::testing::Test {
 protected:
  void SetUp() override { qemu_ = std::make_unique<FakeQmpServer>(dir_ + "/vm.qmp"); }
  void TearDown() override {
    resumer_.reset();
    qemu_.reset();
  }
  void StartResumer() {
    auto r = ResumerProcess::Start({KFREEZED_BIN, kResumerFlag, dir_ + "/markers"});
    ASSERT_TRUE(r.ok()) << r.status();
    resumer_ = std::move(*r);
  }
  // kfreezed's `stop`, as the ledger does it: marker, hold, then the pause.
  void PauseAsKfreezed() {
    ASSERT_TRUE(PauseMarkers(dir_ + "/markers").Write(qemu_->path()).ok());
    ASSERT_TRUE(resumer_->Hold(qemu_->path()));
    qemu_->SetStatus("paused");
  }
  bool MarkerExists() { return !PauseMarkers(dir_ + "/markers").List().empty(); }

  const TempDir tmp_{"kfreeze-resumer-test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<FakeQmpServer> qemu_;
  std::unique_ptr<ResumerProcess> resumer_;
};

TEST_F(ResumerTest, AVmHeldPausedRunsAgainWhenKfreezedsEndCloses) {
  StartResumer();
  PauseAsKfreezed();
  resumer_.reset();  // closes kfreezed's end, exactly what its death does; waits for the resumer
  EXPECT_THAT(qemu_->commands(), ElementsAre("query-status", "cont", "query-status"));
  EXPECT_EQ(qemu_->status(), "running");
  EXPECT_FALSE(MarkerExists());
}

TEST_F(ResumerTest, AReleasedVmIsNotTouched) {
  StartResumer();
  PauseAsKfreezed();
  resumer_->Release(qemu_->path());
  qemu_->SetStatus("paused");  // someone else's pause afterwards
  resumer_.reset();
  EXPECT_THAT(qemu_->commands(), IsEmpty());
  EXPECT_EQ(qemu_->status(), "paused");
}

TEST_F(ResumerTest, AStateKfreezeDidNotMakeIsLeftAlone) {
  StartResumer();
  PauseAsKfreezed();
  qemu_->SetStatus("io-error");  // the disk failed while kfreezed held the pause
  resumer_.reset();
  EXPECT_THAT(qemu_->commands(), ElementsAre("query-status"));
  EXPECT_EQ(qemu_->status(), "io-error");
}

TEST_F(ResumerTest, AKilledResumerIsReplacedAndLearnsWhatIsHeld) {
  StartResumer();
  PauseAsKfreezed();
  pid_t first = resumer_->pid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(kill(first, SIGKILL), 0);
  absl::Time give_up = absl::Now() + kEventually;
  while (resumer_->generation() < 2 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(resumer_->generation(), 2);
  EXPECT_NE(resumer_->pid(), first);
  EXPECT_EQ(qemu_->status(), "paused");  // the killed one did nothing
  resumer_.reset();
  EXPECT_EQ(qemu_->count("cont"), 1);
  EXPECT_EQ(qemu_->status(), "running");
}

// The ignored-signal mask of `pid` (/proc/PID/status SigIgn), 0 when unreadable.
uint64_t IgnoredSignals(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigIgn:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

TEST_F(ResumerTest, TheResumerIgnoresTheSignalsOfAnOrderlyStop) {
  // systemd's stop signals the whole cgroup and a terminal's ^C the process group: the resumer
  // must outlive kfreezed's orderly exit, so it ignores them (a respawn would hide a death).
  StartResumer();
  const uint64_t wanted = (1ull << (SIGTERM - 1)) | (1ull << (SIGINT - 1)) | (1ull << (SIGHUP - 1));
  pid_t pid = resumer_->pid();
  absl::Time give_up = absl::Now() + kEventually;
  while ((IgnoredSignals(pid) & wanted) != wanted && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(IgnoredSignals(pid) & wanted, wanted);
  EXPECT_EQ(resumer_->generation(), 1);
}

}  // namespace
}  // namespace kfreeze::server
