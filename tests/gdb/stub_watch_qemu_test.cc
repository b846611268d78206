// StubWatch against a real QEMU (no guest: the firmware spins): the stub started over HMP, the
// watchpoint armed and moved, the VM running afterwards, a VM paused by someone else left paused,
// and the stub gone after the watch. Fails when qemu-system-x86_64 is not installed.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "core/gdb/stub_watch.h"
#include "core/qmp/qmp_client.h"
#include "gtest/gtest.h"

namespace kfreeze::gdb {
namespace {

constexpr uint64_t kKva = 0xffffffff81000000;

class QemuStubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0) {
      FAIL() << "qemu-system-x86_64 is not installed (deploy/install-deps.sh installs it)";
    }
    char tmpl[] = "/tmp/kfreeze-gdbtest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    qmp_path_ = dir_ + "/qmp.sock";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      std::string qmp = "unix:" + qmp_path_ + ",server=on,wait=off";
      execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-display", "none", "-m", "64",
            "-smp", "2", "-net", "none", "-qmp", qmp.c_str(), (char*)nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && access(qmp_path_.c_str(), F_OK) != 0; ++i) {
      absl::SleepFor(absl::Milliseconds(25));
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) {
      unlink(qmp_path_.c_str());
      rmdir(dir_.c_str());
    }
  }
  std::string Status() {
    auto qmp = QmpClient::Connect(qmp_path_, absl::Seconds(2));
    if (!qmp.ok()) return "qmp: " + qmp.status().ToString();
    auto s = (*qmp)->QueryStatus();
    return s.ok() ? s->status : s.status().ToString();
  }
  std::string Chardevs() {
    auto qmp = QmpClient::Connect(qmp_path_, absl::Seconds(2));
    if (!qmp.ok()) return "";
    auto r = (*qmp)->Execute("query-chardev");
    return r.ok() ? r->dump() : "";
  }
  StubWatchOptions Options() {
    StubWatchOptions o;
    o.qmp_socket = qmp_path_;
    return o;
  }
  std::string dir_, qmp_path_;
  pid_t pid_ = -1;
};

TEST_F(QemuStubTest, StartsAStubArmsAndLeavesTheVmRunning) {
  ASSERT_EQ(Status(), "running");
  {
    absl::StatusOr<std::unique_ptr<StubWatch>> w = StubWatch::Open(Options());
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_EQ(Status(), "running");
    ASSERT_TRUE((*w)->Arm(kKva).ok());
    EXPECT_EQ(Status(), "running");
    ASSERT_TRUE((*w)->Arm(kKva + 0x40).ok());
    EXPECT_EQ(Status(), "running");
    absl::StatusOr<std::optional<dump::WatchHit>> hit = (*w)->PollHit();
    ASSERT_TRUE(hit.ok()) << hit.status();
    EXPECT_FALSE(*hit);
    // A second watcher must not replace the first one's stub.
    absl::StatusOr<std::unique_ptr<StubWatch>> second = StubWatch::Open(Options());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    // kfreeze's own freeze stops and continues the VM: a T02 the watch ignores.
    {
      auto qmp = QmpClient::Connect(qmp_path_, absl::Seconds(2));
      ASSERT_TRUE(qmp.ok());
      ASSERT_TRUE((*qmp)->Stop().ok());
      ASSERT_TRUE((*qmp)->Cont().ok());
    }
    absl::SleepFor(absl::Milliseconds(20));
    hit = (*w)->PollHit();
    ASSERT_TRUE(hit.ok()) << hit.status();
    EXPECT_FALSE(*hit);
    EXPECT_EQ(Status(), "running");
  }
  EXPECT_EQ(Status(), "running");
  EXPECT_FALSE(absl::StrContains(Chardevs(), "\"label\":\"gdb\"")) << Chardevs();
}

TEST_F(QemuStubTest, ArmingNeverResumesSomeoneElsesPause) {
  absl::StatusOr<std::unique_ptr<StubWatch>> w = StubWatch::Open(Options());
  ASSERT_TRUE(w.ok()) << w.status();
  {
    auto qmp = QmpClient::Connect(qmp_path_, absl::Seconds(2));
    ASSERT_TRUE(qmp.ok());
    ASSERT_TRUE((*qmp)->Stop().ok());
  }
  ASSERT_TRUE((*w)->Arm(kKva).ok());
  EXPECT_EQ(Status(), "paused");
  w->reset();
  EXPECT_EQ(Status(), "paused");
}

TEST_F(QemuStubTest, APausedVmIsNotConnectedTo) {
  {
    auto qmp = QmpClient::Connect(qmp_path_, absl::Seconds(2));
    ASSERT_TRUE(qmp.ok());
    ASSERT_TRUE((*qmp)->Stop().ok());
  }
  absl::StatusOr<std::unique_ptr<StubWatch>> w = StubWatch::Open(Options());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(w.status().message(), "not running")) << w.status();
  EXPECT_EQ(Status(), "paused");
}

}  // namespace
}  // namespace kfreeze::gdb
