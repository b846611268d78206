// Pause markers and what a restarted kfreezed does with them (ReconcilePauseMarkers), and the
// ledger hook on the coordinator's control channels (TrackPauses): a marker exists exactly while
// kfreeze holds a VM paused, and a VM someone else paused never gets one.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/dump/freeze_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/pause_ledger.h"
#include "server/daemon/pause_markers.h"
#include "server/daemon/pause_recovery.h"
#include "tests/server/fake_attachment.h"
#include "tests/server/fake_vmm_control.h"
#include "tests/support/fake_qmp_server.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

namespace fs = std::filesystem;
using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::FakeVmmControl;
using kfreeze::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// No process has this pid (above the kernel's PID_MAX_LIMIT).
constexpr pid_t kDeadPid = 4194304 + 1;
constexpr absl::Duration kBudget = absl::Seconds(5);

class PauseSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    markers_ = std::make_unique<PauseMarkers>(dir_ + "/markers");
    qemu_ = std::make_unique<FakeQmpServer>(dir_ + "/vm.qmp");
  }
  void TearDown() override { qemu_.reset(); }
  // A marker as a kfreezed that has since died wrote it.
  void WriteDeadOwnersMarker(const std::string& socket, const std::string& boot_id) {
    fs::create_directories(markers_->dir());
    std::ofstream(markers_->dir() + "/dead.paused")
        << "qmp_socket=" << socket << "\npid=" << kDeadPid << "\nstart_time=1\nboot_id=" << boot_id
        << "\n";
  }

  const TempDir tmp_{"kfreeze-pause-test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<PauseMarkers> markers_;
  std::unique_ptr<FakeQmpServer> qemu_;
};

TEST_F(PauseSafetyTest, MarkersRoundTripAndNameTheirOwner) {
  ASSERT_TRUE(markers_->Write(qemu_->path()).ok());
  auto all = markers_->List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].qmp_socket, qemu_->path());
  EXPECT_EQ(all[0].owner_pid, getpid());
  EXPECT_EQ(all[0].boot_id, CurrentBootId());
  EXPECT_TRUE(OwnerAlive(all[0]));
  markers_->Remove(qemu_->path());
  EXPECT_THAT(markers_->List(), IsEmpty());
  EXPECT_THAT(std::string(markers_->Write("/a\nb").message()), HasSubstr("newline"));
}

TEST_F(PauseSafetyTest, ReconcileResumesAVmADeadKfreezedPaused) {
  qemu_->SetStatus("paused");
  WriteDeadOwnersMarker(qemu_->path(), CurrentBootId());
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, kBudget), 1);
  EXPECT_THAT(qemu_->commands(), ElementsAre("query-status", "cont", "query-status"));
  EXPECT_EQ(qemu_->status(), "running");
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(PauseSafetyTest, ReconcileNeverResumesWithoutAMarker) {
  qemu_->SetStatus("paused");
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, kBudget), 0);
  EXPECT_THAT(qemu_->commands(), IsEmpty());
  EXPECT_EQ(qemu_->status(), "paused");
}

TEST_F(PauseSafetyTest, ReconcileLeavesALiveKfreezedsPauseAlone) {
  qemu_->SetStatus("paused");
  ASSERT_TRUE(markers_->Write(qemu_->path()).ok());  // owner: this (live) process
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, kBudget), 0);
  EXPECT_THAT(qemu_->commands(), IsEmpty());
  EXPECT_EQ(markers_->List().size(), 1u);
}

TEST_F(PauseSafetyTest, ReconcileDropsMarkersOfAnEarlierBoot) {
  qemu_->SetStatus("paused");
  WriteDeadOwnersMarker(qemu_->path(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, kBudget), 0);
  EXPECT_THAT(qemu_->commands(), IsEmpty());
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(PauseSafetyTest, ReconcileLeavesOtherStatesAndDropsTheMarker) {
  qemu_->SetStatus("postmigrate");  // the VM migrated away meanwhile: `cont` would be wrong
  WriteDeadOwnersMarker(qemu_->path(), CurrentBootId());
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, kBudget), 0);
  EXPECT_THAT(qemu_->commands(), ElementsAre("query-status"));
  EXPECT_EQ(qemu_->status(), "postmigrate");
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(PauseSafetyTest, ReconcileDropsTheMarkerOfAVmThatIsGone) {
  WriteDeadOwnersMarker(dir_ + "/no-such.qmp", CurrentBootId());
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, absl::Milliseconds(200)), 0);
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(PauseSafetyTest, ReconcileKeepsTheMarkerWhenQmpDoesNotAnswer) {
  qemu_->SetStatus("paused");
  qemu_->SetFault("query-status", FakeQmpServer::Fault::kHang);
  WriteDeadOwnersMarker(qemu_->path(), CurrentBootId());
  EXPECT_EQ(ReconcilePauseMarkers(*markers_, absl::Milliseconds(200)), 0);
  EXPECT_EQ(markers_->List().size(), 1u);  // the next start tries again
  EXPECT_EQ(qemu_->count("cont"), 0);
}

// TrackPauses around a fake control: the marker exists during the walk of a VM kfreeze paused,
// is gone after its `cont`, stays for keep_paused, and never appears for someone else's pause.
class LedgerTest : public PauseSafetyTest {
 protected:
  std::unique_ptr<dump::VmmControl> Open() {
    auto ledger =
        std::make_shared<PauseLedger>(std::make_unique<PauseMarkers>(markers_->dir()), nullptr);
    ControlFactory factory = TrackPauses(
        [this](const std::string&,
               std::chrono::milliseconds) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
          return std::unique_ptr<dump::VmmControl>(new kfreeze::testing::ForwardingControl(&vmm_));
        },
        ledger);
    return *factory("/vm.qmp", std::chrono::seconds(1));
  }
  dump::PhaseTable Walk() {
    return {kfreeze::testing::OneMapPhase("m", [this](dump::PhaseContext& ctx) {
      if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
      markers_during_walk_ = markers_->List().size();
      return absl::OkStatus();
    })};
  }

  FakeVmmControl vmm_;
  size_t markers_during_walk_ = 99;
};

TEST_F(LedgerTest, AMarkerExistsExactlyWhileKfreezeHoldsThePause) {
  auto control = Open();
  auto out = dump::RunFreeze(control.get(), Walk(), {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(markers_during_walk_, 1u);
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(LedgerTest, KeepPausedKeepsTheMarkerUntilTheResume) {
  auto control = Open();
  dump::FreezeOptions options;
  options.keep_paused = true;
  auto out = dump::RunFreeze(control.get(), Walk(), options);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->left_paused);
  ASSERT_EQ(markers_->List().size(), 1u);
  EXPECT_EQ(markers_->List()[0].qmp_socket, "/vm.qmp");
  ASSERT_TRUE(control->Cont(std::chrono::seconds(1)).ok());
  EXPECT_THAT(markers_->List(), IsEmpty());
}

TEST_F(LedgerTest, AFailedContKeepsTheMarker) {
  auto control = Open();
  vmm_.cont_status = absl::DeadlineExceededError("no reply to cont");
  auto out = dump::RunFreeze(control.get(), Walk(), {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(markers_->List().size(), 1u);  // the VM may still be paused
}

TEST_F(LedgerTest, SomeoneElsesPauseIsNeverRecorded) {
  auto control = Open();
  vmm_.SetStatus("paused");
  dump::FreezeOptions options;
  options.keep_paused = true;
  auto out = dump::RunFreeze(control.get(), Walk(), options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(markers_during_walk_, 0u);
  EXPECT_THAT(markers_->List(), IsEmpty());
}

}  // namespace
}  // namespace kfreeze::server
