// The freeze session over a real QMP socket (fake QEMU): command order, register parsing,
// and the degraded paths when QEMU stalls or dies mid-freeze. The VM is always left running.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_attachment.h"
#include "tests/support/fake_qmp_server.h"

namespace kfreeze::dump {
namespace {

using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::OneMapPhase;
using ::testing::ElementsAre;
using ::testing::StartsWith;

std::string SocketPath() { return absl::StrCat("/tmp/kfreeze-fakeqmp-", getpid(), ".sock"); }

FreezeOptions ShortTimeouts() {
  FreezeOptions o;
  o.control_timeout = std::chrono::milliseconds(300);
  o.regs_timeout = std::chrono::milliseconds(300);
  return o;
}

TEST(QmpSession, StopRegistersWalkCont) {
  FakeQmpServer qemu(SocketPath());
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok()) << control.status();
  auto out = RunFreeze(control->get(), {OneMapPhase("m")}, ShortTimeouts());
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(qemu.commands(),
              ElementsAre("query-status", "stop", "human-monitor-command", "cont"));
  EXPECT_TRUE(qemu.running());
  ASSERT_TRUE(out->envelope.has_single());
  const auto& r = out->envelope.single();
  ASSERT_EQ(r.vcpu_regs_size(), 2);
  EXPECT_EQ(r.vcpu_regs(0).regs().instruction_pointer(), 0xffffffff81e5d6bfu);
  EXPECT_EQ(r.vcpu_regs(0).regs().page_table_root(), 0x280a000u);
  EXPECT_EQ(r.vcpu_regs(1).regs().stack_pointer(), 0xffffc90000093ea0u);
  EXPECT_FALSE(out->envelope.live());
}

// The register read rides behind the stop: QEMU gets both before it answers the stop, and the
// registers' reply is the one the freeze reads.
TEST(QmpSession, RegistersAreAskedForBehindTheStop) {
  FakeQmpServer qemu(SocketPath());
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok()) << control.status();
  ASSERT_TRUE((*control)->StopAskingRegisters(std::chrono::seconds(5)).ok());
  auto regs = (*control)->ReadRegisters(std::chrono::seconds(5));
  ASSERT_TRUE(regs.ok()) << regs.status();
  EXPECT_EQ(regs->size(), 2u);
  // The queued request was the one answered, not a second one.
  EXPECT_THAT(qemu.commands(), ElementsAre("stop", "human-monitor-command"));
  // A later read without a queued request asks again.
  ASSERT_TRUE((*control)->ReadRegisters(std::chrono::seconds(5)).ok());
  EXPECT_EQ(qemu.count("human-monitor-command"), 2);
  EXPECT_TRUE((*control)->Cont(std::chrono::seconds(5)).ok());
}

// A stop that fails leaves no queued register reply behind to be read as a paused VM's.
TEST(QmpSession, AFailedStopForgetsTheRegistersAskedBehindIt) {
  FakeQmpServer qemu(SocketPath());
  qemu.SetFault("stop", FakeQmpServer::Fault::kHang);
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok()) << control.status();
  EXPECT_FALSE((*control)->StopAskingRegisters(std::chrono::milliseconds(200)).ok());
  EXPECT_TRUE((*control)->Cont(std::chrono::seconds(5)).ok());
  ASSERT_TRUE((*control)->ReadRegisters(std::chrono::seconds(5)).ok());
  EXPECT_THAT(qemu.commands(),
              ElementsAre("stop", "human-monitor-command", "cont", "human-monitor-command"));
}

TEST(QmpSession, StopThatNeverAnswersDegradesAndStillResumes) {
  FakeQmpServer qemu(SocketPath());
  qemu.SetFault("stop", FakeQmpServer::Fault::kHang);
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok());
  auto out = RunFreeze(control->get(), {OneMapPhase("m")}, ShortTimeouts());
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(), StartsWith(std::string(kReasonPauseFailed)));
  EXPECT_TRUE(out->envelope.live());
  EXPECT_EQ(qemu.count("cont"), 1);
  EXPECT_EQ(out->envelope.degraded().partial().maps_size(), 1);
}

TEST(QmpSession, RegisterReadTimeoutDegradesAndResumes) {
  FakeQmpServer qemu(SocketPath());
  qemu.SetFault("human-monitor-command", FakeQmpServer::Fault::kHang);
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok());
  auto out = RunFreeze(control->get(), {OneMapPhase("m")}, ShortTimeouts());
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(),
              StartsWith(std::string(kReasonRegisterReadFailed)));
  EXPECT_TRUE(qemu.running());
  EXPECT_TRUE(out->resume_status.ok());
}

TEST(QmpSession, QemuKilledMidFreezeGivesVmmGone) {
  FakeQmpServer qemu(SocketPath());
  qemu.SetFault("human-monitor-command", FakeQmpServer::Fault::kDisconnect);
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok());
  auto out = RunFreeze(control->get(), {OneMapPhase("m")}, ShortTimeouts());
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(), StartsWith(std::string(kReasonVmmGone)));
  // The connection is gone, so the `cont` could not be sent: said, not silently dropped.
  EXPECT_TRUE(absl::IsUnavailable(out->resume_status)) << out->resume_status;
  EXPECT_EQ(qemu.count("cont"), 0);
  EXPECT_EQ(out->envelope.degraded().partial().maps(0).name(), "m");
}

TEST(QmpSession, UnparsableRegisterTextDegrades) {
  FakeQmpServer qemu(SocketPath());
  qemu.SetRegistersText("CPU#0\r\nRIP=ffffffff81000000\r\n");
  auto control = QmpControl::Connect(qemu.path(), std::chrono::seconds(5));
  ASSERT_TRUE(control.ok());
  auto out = RunFreeze(control->get(), {OneMapPhase("m")}, ShortTimeouts());
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(), ::testing::HasSubstr("lacks RSP"));
  EXPECT_TRUE(qemu.running());
}

TEST(QmpSession, ConnectToNothingIsUnavailable) {
  auto control = QmpControl::Connect("/tmp/kfreeze-no-such-qmp.sock", std::chrono::seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(control.status())) << control.status();
}

}  // namespace
}  // namespace kfreeze::dump
