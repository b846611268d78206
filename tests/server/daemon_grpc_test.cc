// kfreezed in-process over a private unix socket, driven through its gRPC API: Freeze, GetDump,
// ListDumps, WatchDumps (live, replay, slow subscriber), targets, restart, health, socket mode,
// a QEMU that dies mid-freeze. The fake attachment stands in for a guest kernel; QMP is a real
// socket (fake QEMU). Real-guest coverage lives in tests/e2e/server_*.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "tests/server/fake_attachment.h"
#include "tests/server/fake_qmp_server.h"

namespace kfreeze::server {
namespace {

namespace fs = std::filesystem;
using kfreeze::testing::FakeAttachment;
using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::OneMapPhase;
namespace v1 = kfreeze::v1;

constexpr absl::Duration kEventually = absl::Seconds(20);

class DaemonGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kfd-XXXXXX";  // short: unix socket paths are limited to 107 bytes
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    qemu_ = std::make_unique<FakeQmpServer>(dir_ + "/vm0.qmp");
    Start();
  }
  void TearDown() override {
    daemon_.reset();
    qemu_.reset();
    fs::remove_all(dir_);
  }

  void Start() {
    DaemonOptions o;
    o.config.add_listen("unix:" + dir_ + "/k.sock");
    o.config.mutable_archive()->set_dir(dir_ + "/archive");
    o.config.set_watch_queue_depth(4);
    o.config.mutable_freeze()->set_qmp_timeout_ms(500);
    o.config.mutable_freeze()->set_regs_timeout_ms(500);
    ApplyDefaults(o.config);
    auto* vm0 = o.config.add_targets();
    vm0->set_name("vm0");
    vm0->set_ram_path("/dev/shm/none");
    vm0->set_qmp_socket(qemu_->path());
    auto* bad = o.config.add_targets();
    bad->set_name("bad0");
    bad->set_ram_path("/dev/shm/none");
    o.attacher = [this](const dump::AttachSpec& spec)
        -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      if (spec.name.rfind("bad", 0) == 0) return absl::NotFoundError("no VMCOREINFO note");
      return std::make_shared<FakeAttachment>(
          "7.2.0-test",
          dump::PhaseTable{OneMapPhase("map_of_" + spec.name, [this](dump::PhaseContext& ctx) {
            if (phase_hook_) return phase_hook_(ctx);
            return absl::OkStatus();
          })});
    };
    o.control_factory = QmpControlFactory();
    auto d = Daemon::Start(std::move(o));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    daemon_->coordinator().WaitForAttach("vm0");
    daemon_->coordinator().WaitForAttach("bad0");
    channel_ = grpc::CreateChannel("unix:" + dir_ + "/k.sock", grpc::InsecureChannelCredentials());
    stub_ = v1::FreezeService::NewStub(channel_);
  }

  absl::StatusOr<v1::FreezeResponse> Freeze(const std::string& target, bool keep_paused = false) {
    grpc::ClientContext ctx;
    v1::FreezeRequest req;
    req.set_target(target);
    req.set_keep_paused(keep_paused);
    (*req.mutable_labels())["test"] = "daemon_grpc";
    v1::FreezeResponse resp;
    grpc::Status s = stub_->Freeze(&ctx, req, &resp);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return resp;
  }

  std::string dir_;
  std::unique_ptr<FakeQmpServer> qemu_;
  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FreezeService::Stub> stub_;
  std::function<absl::Status(dump::PhaseContext&)> phase_hook_;
};

TEST_F(DaemonGrpcTest, HealthAndSocketMode) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("kfreeze.v1.FreezeService");
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/k.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(DaemonGrpcTest, FreezeThenGetListAndWatch) {
  grpc::ClientContext watch_ctx;
  v1::WatchRequest watch_req;
  watch_req.add_targets("vm0");
  auto reader = stub_->WatchDumps(&watch_ctx, watch_req);
  reader->WaitForInitialMetadata();  // the stream is live before the freeze

  auto r = Freeze("vm0");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->envelope().has_single());
  EXPECT_EQ(r->envelope().single().maps(0).name(), "map_of_vm0");
  EXPECT_EQ(r->envelope().single().vcpu_regs_size(), 2);
  EXPECT_FALSE(r->envelope().live());
  EXPECT_THAT(qemu_->commands(), ::testing::ElementsAre("stop", "human-monitor-command", "cont"));
  EXPECT_TRUE(qemu_->running());

  v1::DumpEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.summary().dump_id(), r->dump_id());
  EXPECT_EQ(event.envelope().single().maps(0).name(), "map_of_vm0");
  watch_ctx.TryCancel();

  grpc::ClientContext get_ctx;
  v1::GetDumpRequest get_req;
  get_req.set_dump_id(r->dump_id());
  v1::GetDumpResponse got;
  ASSERT_TRUE(stub_->GetDump(&get_ctx, get_req, &got).ok());
  EXPECT_EQ(got.envelope().SerializeAsString(), event.envelope().SerializeAsString());

  grpc::ClientContext list_ctx;
  v1::ListDumpsRequest list_req;
  (*list_req.mutable_labels())["test"] = "daemon_grpc";
  v1::ListDumpsResponse listed;
  ASSERT_TRUE(stub_->ListDumps(&list_ctx, list_req, &listed).ok());
  ASSERT_EQ(listed.dumps_size(), 1);
  EXPECT_EQ(listed.dumps(0).dump_id(), r->dump_id());
  EXPECT_GT(listed.dumps(0).freeze_window_us(), 0u);
}

TEST_F(DaemonGrpcTest, DumpsSurviveARestartAndWatchReplaysThem) {
  auto first = Freeze("vm0");
  auto second = Freeze("vm0");
  ASSERT_TRUE(first.ok() && second.ok());
  daemon_.reset();
  Start();
  grpc::ClientContext get_ctx;
  v1::GetDumpRequest get_req;
  get_req.set_dump_id(second->dump_id());
  v1::GetDumpResponse got;
  ASSERT_TRUE(stub_->GetDump(&get_ctx, get_req, &got).ok());
  EXPECT_EQ(got.envelope().single().maps(0).name(), "map_of_vm0");

  grpc::ClientContext watch_ctx;
  v1::WatchRequest watch_req;
  watch_req.set_since_dump_id(first->dump_id());
  watch_req.set_summary_only(true);
  auto reader = stub_->WatchDumps(&watch_ctx, watch_req);
  v1::DumpEvent replayed;
  ASSERT_TRUE(reader->Read(&replayed));
  EXPECT_TRUE(replayed.replayed());
  EXPECT_EQ(replayed.summary().dump_id(), second->dump_id());
  EXPECT_FALSE(replayed.has_envelope());
  auto third = Freeze("vm0");
  ASSERT_TRUE(third.ok());
  v1::DumpEvent live;
  ASSERT_TRUE(reader->Read(&live));
  EXPECT_FALSE(live.replayed());
  EXPECT_EQ(live.summary().dump_id(), third->dump_id());
  watch_ctx.TryCancel();
}

TEST_F(DaemonGrpcTest, ConcurrentFreezesOverGrpcShareOneCapture) {
  absl::Notification second_joined;
  phase_hook_ = [this](dump::PhaseContext&) {
    absl::Time give_up = absl::Now() + kEventually;
    while (daemon_->coordinator().JoinersInFlight("vm0") < 1 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return absl::OkStatus();
  };
  absl::StatusOr<v1::FreezeResponse> a, b;
  std::thread ta([&] { a = Freeze("vm0"); });
  std::thread tb([&] { b = Freeze("vm0"); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->dump_id(), b->dump_id());
  EXPECT_NE(a->coalesced(), b->coalesced());
  EXPECT_EQ(qemu_->count("stop"), 1);
}

TEST_F(DaemonGrpcTest, SlowSubscriberDoesNotBlockFreezes) {
  // Big reports so the never-read stream fills its HTTP/2 window quickly.
  phase_hook_ = [](dump::PhaseContext& ctx) {
    auto* m = ctx.report().add_maps();
    m->set_name("ballast");
    m->add_entries()->set_value_hex(std::string(256 * 1024, 'x'));
    return absl::OkStatus();
  };
  grpc::ClientContext slow_ctx;
  auto slow = stub_->WatchDumps(&slow_ctx, v1::WatchRequest());
  slow->WaitForInitialMetadata();
  constexpr int kFreezes = 24;
  for (int i = 0; i < kFreezes; ++i) ASSERT_TRUE(Freeze("vm0").ok()) << i;
  // Everything the slow reader gets is in order, and whatever it missed is counted.
  uint64_t seen = 0, dropped = 0, last_seq = 0;
  v1::DumpEvent e;
  while (seen + dropped < kFreezes && slow->Read(&e)) {
    EXPECT_GT(e.summary().seq(), last_seq);
    last_seq = e.summary().seq();
    dropped += e.dropped_before();
    ++seen;
  }
  EXPECT_EQ(seen + dropped, static_cast<uint64_t>(kFreezes));
  EXPECT_GT(dropped, 0u);
  slow_ctx.TryCancel();
}

TEST_F(DaemonGrpcTest, TargetsAttachDetachAndFailedAttach) {
  grpc::ClientContext ctx;
  v1::ListTargetsResponse targets;
  ASSERT_TRUE(stub_->ListTargets(&ctx, v1::ListTargetsRequest(), &targets).ok());
  ASSERT_EQ(targets.targets_size(), 2);
  EXPECT_EQ(targets.targets(0).name(), "bad0");
  EXPECT_EQ(targets.targets(0).state(), v1::TARGET_STATE_FAILED);
  EXPECT_THAT(targets.targets(0).last_error(), ::testing::HasSubstr("VMCOREINFO"));
  EXPECT_EQ(targets.targets(1).state(), v1::TARGET_STATE_ATTACHED);
  EXPECT_EQ(targets.targets(1).kernel_release(), "7.2.0-test");
  auto failed = Freeze("bad0");
  EXPECT_TRUE(absl::IsFailedPrecondition(failed.status()));

  grpc::ClientContext attach_ctx;
  v1::AttachTargetRequest attach;
  attach.mutable_target()->set_name("vm9");
  attach.mutable_target()->set_ram_path("/dev/shm/vm9");
  v1::Target attached;
  ASSERT_TRUE(stub_->AttachTarget(&attach_ctx, attach, &attached).ok());
  EXPECT_EQ(attached.state(), v1::TARGET_STATE_ATTACHED);
  EXPECT_EQ(attached.source(), "rpc");
  auto live = Freeze("vm9");
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->envelope().live());
  grpc::ClientContext again_ctx;
  grpc::Status again = stub_->AttachTarget(&again_ctx, attach, &attached);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext detach_ctx;
  v1::DetachTargetRequest detach;
  detach.set_name("vm9");
  v1::DetachTargetResponse detached;
  ASSERT_TRUE(stub_->DetachTarget(&detach_ctx, detach, &detached).ok());
  grpc::ClientContext get_ctx;
  v1::GetTargetRequest get;
  get.set_name("vm9");
  v1::Target t;
  EXPECT_EQ(stub_->GetTarget(&get_ctx, get, &t).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DaemonGrpcTest, QemuKilledMidFreezeDegradesAndTheDaemonKeepsServing) {
  qemu_->SetFault("human-monitor-command", FakeQmpServer::Fault::kDisconnect);
  auto r = Freeze("vm0");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->envelope().has_degraded());
  EXPECT_THAT(r->envelope().degraded().reason(),
              ::testing::StartsWith(std::string(kReasonVmmGone)));
  EXPECT_FALSE(r->dump_id().empty());
  // The daemon still answers, and the same target recovers once QEMU is back.
  qemu_->SetFault("human-monitor-command", FakeQmpServer::Fault::kNone);
  auto again = Freeze("vm0");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->envelope().has_single());
}

TEST_F(DaemonGrpcTest, KeepPausedResumeTargetAndShutdownResumes) {
  auto r = Freeze("vm0", /*keep_paused=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(qemu_->running());
  grpc::ClientContext ctx;
  v1::ResumeTargetRequest req;
  req.set_name("vm0");
  v1::Target t;
  ASSERT_TRUE(stub_->ResumeTarget(&ctx, req, &t).ok());
  EXPECT_TRUE(qemu_->running());
  ASSERT_TRUE(Freeze("vm0", /*keep_paused=*/true).ok());
  EXPECT_FALSE(qemu_->running());
  daemon_->Shutdown();
  EXPECT_TRUE(qemu_->running());
}

TEST_F(DaemonGrpcTest, ShutdownEndsWatchStreams) {
  grpc::ClientContext ctx;
  auto reader = stub_->WatchDumps(&ctx, v1::WatchRequest());
  reader->WaitForInitialMetadata();
  std::thread stopper([this] { daemon_->Shutdown(); });
  v1::DumpEvent e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  stopper.join();
}

TEST(DaemonReload, SighupReloadReplacesConfigTargetsOnly) {
  char tmpl[] = "/tmp/kfd-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string config_path = dir + "/kfreezed.json";
  auto write_config = [&](const std::string& target) {
    std::ofstream(config_path, std::ios::trunc)
        << R"({"targets": [{"name": ")" << target << R"(", "ram_path": "/dev/shm/x"}]})";
  };
  write_config("cfgA");
  DaemonOptions o;
  auto loaded = LoadConfigFile(config_path);
  ASSERT_TRUE(loaded.ok());
  o.config = *loaded;
  o.config.add_listen("unix:" + dir + "/k.sock");
  o.config.mutable_archive()->set_dir(dir + "/archive");
  ApplyDefaults(o.config);
  o.config_path = config_path;
  kfreeze::v1::TargetConfig flag;
  flag.set_name("fromflag");
  flag.set_ram_path("/dev/shm/y");
  o.flag_targets.push_back(flag);
  o.attacher =
      [](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
    return std::make_shared<FakeAttachment>("7.2.0-test", dump::PhaseTable{});
  };
  o.control_factory = QmpControlFactory();
  auto d = Daemon::Start(std::move(o));
  ASSERT_TRUE(d.ok()) << d.status();
  write_config("cfgB");
  ASSERT_TRUE((*d)->Reload().ok());
  std::vector<std::string> names;
  for (const auto& t : (*d)->coordinator().ListTargets()) names.push_back(t.name());
  EXPECT_THAT(names, ::testing::ElementsAre("cfgB", "fromflag"));
  std::ofstream(config_path, std::ios::trunc) << "{ not json";
  EXPECT_FALSE((*d)->Reload().ok());  // a broken file changes nothing
  EXPECT_EQ((*d)->coordinator().ListTargets().size(), 2u);
  d->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kfreeze::server
