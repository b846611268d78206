// kfreezed in-process over a private unix socket, driven through its gRPC API: Freeze, GetDump,
// ListDumps, WatchDumps (live, replay, slow subscriber), targets, restart, health, socket mode,
// a QEMU that dies mid-freeze. The fake attachment stands in for a guest kernel; QMP is a real
// socket (fake QEMU). Real-guest coverage lives in tests/e2e/server_*.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/create_channel_posix.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "tests/server/fake_attachment.h"
#include "tests/server/test_pki.h"
#include "tests/support/fake_qmp_server.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

namespace fs = std::filesystem;
using kfreeze::testing::FakeAttachment;
using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::OneMapPhase;
using kfreeze::testing::TempDir;
namespace v1 = kfreeze::v1;

constexpr absl::Duration kEventually = absl::Seconds(20);

class DaemonGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = std::make_unique<FakeQmpServer>(dir_ + "/vm0.qmp");
    Start();
  }
  void TearDown() override {
    // Drain first: phase hooks may still read members, and the pointer write of reset() must
    // come after the daemon's threads are joined.
    if (daemon_) daemon_->Shutdown();
    daemon_.reset();
    qemu_.reset();
  }

  void Start() {
    DaemonOptions o;
    o.config.add_listen("unix:" + dir_ + "/k.sock");
    o.config.mutable_archive()->set_dir(dir_ + "/archive");
    o.config.set_watch_queue_depth(4);
    o.config.mutable_freeze()->set_qmp_timeout_ms(500);
    o.config.mutable_freeze()->set_regs_timeout_ms(500);
    o.config.MergeFrom(extra_config_);
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
      if (spec.name == "vmx") ++vmx_attaches_;
      if (spec.name.rfind("bad", 0) == 0) return absl::NotFoundError("no VMCOREINFO note");
      return std::make_shared<FakeAttachment>(
          "7.2.0-test",
          dump::PhaseTable{OneMapPhase("map_of_" + spec.name, [this](dump::PhaseContext& ctx) {
            PhaseHook hook = CurrentPhaseHook();
            return hook ? hook(ctx) : absl::OkStatus();
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

  // Restarts with `extra` merged into the config (roles, rpc_attach, limits).
  void Restart(const std::string& extra_json) {
    auto extra = ParseConfigJson(extra_json);
    ASSERT_TRUE(extra.ok()) << extra.status();
    extra_config_ = *extra;
    daemon_.reset();
    Start();
  }

  // Grants this test process admin and lets RPC attach name files in dir_.
  void RestartAsAdminWithRpcAttach(const std::string& more_dirs = "") {
    Restart(absl::StrCat(R"({"roles": [{"role": "admin", "uids": [)", geteuid(),
                         R"(]}], "rpc_attach": {"enabled": true, "allowed_dirs": [")", dir_, R"(")",
                         more_dirs, "]}}"));
  }

  grpc::Status Attach(const v1::TargetConfig& target, v1::Target* out = nullptr) {
    grpc::ClientContext ctx;
    v1::AttachTargetRequest req;
    *req.mutable_target() = target;
    v1::Target ignored;
    return stub_->AttachTarget(&ctx, req, out ? out : &ignored);
  }

  const TempDir tmp_{"kfd"};  // short: unix socket paths are limited to 107 bytes
  const std::string dir_ = tmp_.path();
  kfreeze::v1::Config extra_config_;
  std::unique_ptr<FakeQmpServer> qemu_;
  std::unique_ptr<Daemon> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::FreezeService::Stub> stub_;
  using PhaseHook = std::function<absl::Status(dump::PhaseContext&)>;
  // Set by the test thread, called by the daemon's walk: the gRPC socket between them is no
  // happens-before edge TSan can see, so the hook is exchanged under a lock.
  void SetPhaseHook(PhaseHook hook) {
    absl::MutexLock lock(&phase_hook_mu_);
    phase_hook_ = std::move(hook);
  }
  PhaseHook CurrentPhaseHook() {
    absl::MutexLock lock(&phase_hook_mu_);
    return phase_hook_;
  }
  absl::Mutex phase_hook_mu_;
  PhaseHook phase_hook_ ABSL_GUARDED_BY(phase_hook_mu_);
  // Attaches of "vmx", the name every refusal case uses (bad0's attach retries run meanwhile).
  std::atomic<int> vmx_attaches_{0};
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
  // The vCPU thread ids (for the perf counters) are asked for before the pause, never during it.
  EXPECT_THAT(qemu_->commands(), ::testing::ElementsAre("query-status", "query-cpus-fast", "stop",
                                                        "human-monitor-command", "cont"));
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

// A filtered, masked stream: an RPC freeze passes a trigger filter for RPC, and the event carries
// only the fields the mask names; a subscriber filtering for another trigger gets nothing.
TEST_F(DaemonGrpcTest, WatchFiltersByTriggerAndTrimsByFieldMask) {
  grpc::ClientContext rpc_ctx, late_ctx;
  v1::WatchRequest rpc_only;
  rpc_only.add_triggers(v1::TRIGGER_RPC);
  rpc_only.mutable_field_mask()->add_paths("summary.dump_id");
  rpc_only.mutable_field_mask()->add_paths("envelope.single.maps");
  v1::WatchRequest late_only;
  late_only.add_triggers(v1::TRIGGER_LATE);
  auto rpc_reader = stub_->WatchDumps(&rpc_ctx, rpc_only);
  auto late_reader = stub_->WatchDumps(&late_ctx, late_only);
  rpc_reader->WaitForInitialMetadata();
  late_reader->WaitForInitialMetadata();

  auto r = Freeze("vm0");
  ASSERT_TRUE(r.ok()) << r.status();
  v1::DumpEvent event;
  ASSERT_TRUE(rpc_reader->Read(&event));
  EXPECT_EQ(event.summary().dump_id(), r->dump_id());
  EXPECT_EQ(event.summary().target(), "");  // not in the mask
  ASSERT_EQ(event.envelope().single().maps_size(), 1);
  EXPECT_EQ(event.envelope().single().maps(0).name(), "map_of_vm0");
  EXPECT_EQ(event.envelope().single().vcpu_regs_size(), 0);
  EXPECT_EQ(event.envelope().dump_id(), "");

  grpc::ClientContext bad_ctx;
  v1::WatchRequest bad;
  bad.mutable_field_mask()->add_paths("envelope.nope");
  auto bad_reader = stub_->WatchDumps(&bad_ctx, bad);
  EXPECT_FALSE(bad_reader->Read(&event));
  EXPECT_EQ(bad_reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The late-only subscriber saw nothing: closing the daemon ends its stream without an event.
  rpc_ctx.TryCancel();
  daemon_->Shutdown();
  EXPECT_FALSE(late_reader->Read(&event));
}

TEST_F(DaemonGrpcTest, GetInfoSaysWhatTheDaemonAndItsTargetsAre) {
  grpc::ClientContext ctx;
  v1::DaemonInfo info;
  ASSERT_TRUE(stub_->GetInfo(&ctx, v1::GetInfoRequest(), &info).ok());
  EXPECT_THAT(info.version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  EXPECT_THAT(info.build(), ::testing::StartsWith("source "));
  EXPECT_GT(info.started_at().seconds(), 0);
  EXPECT_EQ(info.limits().max_watchers(), Limits().max_watchers);
  EXPECT_EQ(info.limits().default_max_map_entries(), 4096u);
  EXPECT_GT(info.limits().max_receive_message_bytes(), 0u);
  ASSERT_EQ(info.targets_size(), 2);
  const v1::Target& vm0 = info.targets(1);
  EXPECT_EQ(vm0.name(), "vm0");
  EXPECT_EQ(vm0.kernel_release(), "7.2.0-test");
  EXPECT_THAT(vm0.sections(), ::testing::ElementsAre("maps", "regs"));
  EXPECT_EQ(info.targets(0).sections_size(), 0);  // bad0 never attached
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
  FreezeCoordinator* coordinator = &daemon_->coordinator();
  SetPhaseHook([coordinator](dump::PhaseContext& ctx) {
    if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
    absl::Time give_up = absl::Now() + kEventually;
    while (coordinator->JoinersInFlight("vm0") < 1 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return absl::OkStatus();
  });
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
  SetPhaseHook([](dump::PhaseContext& ctx) {
    auto* m = ctx.report().add_maps();
    m->set_name("ballast");
    m->add_entries()->set_value_hex(std::string(256 * 1024, 'x'));
    return absl::OkStatus();
  });
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
  RestartAsAdminWithRpcAttach();
  std::ofstream(dir_ + "/vm9.ram") << std::string(4096, '\0');
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
  attach.mutable_target()->set_ram_path(dir_ + "/vm9.ram");
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

// Who may call what, and how much.

TEST_F(DaemonGrpcTest, UnixCallerWithoutAdminGetsPermissionDeniedForAttach) {
  v1::TargetConfig t;
  t.set_name("vm9");
  t.set_ram_path("/dev/shm/vm9");
  grpc::Status s = Attach(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("AttachTarget needs the 'admin' role"));
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr(absl::StrCat("uid=", geteuid())));
  grpc::ClientContext ctx;
  v1::DetachTargetRequest detach;
  detach.set_name("vm0");
  v1::DetachTargetResponse detached;
  EXPECT_EQ(stub_->DetachTarget(&ctx, detach, &detached).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The default unix role still freezes.
  EXPECT_TRUE(Freeze("vm0").ok());
}

TEST_F(DaemonGrpcTest, RpcAttachIsOffByDefaultEvenForAdmin) {
  Restart(absl::StrCat(R"({"roles": [{"role": "admin", "uids": [)", geteuid(), "]}]}"));
  v1::TargetConfig t;
  t.set_name("vm9");
  t.set_ram_path(dir_ + "/vm9.ram");
  grpc::Status s = Attach(t);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("AttachTarget over RPC is off"));
}

TEST_F(DaemonGrpcTest, AttachOfAFifoDevZeroOrAnOutsidePathFailsFast) {
  RestartAsAdminWithRpcAttach(R"(, "/dev")");
  std::string fifo = dir_ + "/vm.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::ofstream(dir_ + "/vm.ram") << std::string(4096, '\0');
  struct Case {
    std::string what;
    v1::TargetConfig target;
    grpc::StatusCode code;
    std::string says;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, std::string ram, std::string btf, std::string qmp,
                 grpc::StatusCode code, std::string says) {
    Case c{std::move(what), {}, code, std::move(says)};
    c.target.set_name("vmx");
    c.target.set_ram_path(std::move(ram));
    c.target.set_btf_path(std::move(btf));
    c.target.set_qmp_socket(std::move(qmp));
    cases.push_back(std::move(c));
  };
  add("FIFO as RAM", fifo, "", "", grpc::StatusCode::INVALID_ARGUMENT, "is a FIFO");
  add("/dev/zero as RAM", "/dev/zero", "", "", grpc::StatusCode::INVALID_ARGUMENT,
      "character device");
  add("/dev/zero as BTF", dir_ + "/vm.ram", "/dev/zero", "", grpc::StatusCode::INVALID_ARGUMENT,
      "character device");
  add("FIFO as QMP", dir_ + "/vm.ram", "", fifo, grpc::StatusCode::INVALID_ARGUMENT,
      "not a unix socket");
  add("outside", "/etc/hostname", "", "", grpc::StatusCode::PERMISSION_DENIED,
      "outside the allowed directories");
  add("outside QMP", dir_ + "/vm.ram", "", "/run/other-tenant.qmp", grpc::StatusCode::NOT_FOUND,
      "QMP socket");
  // "Fast" without a clock: a blocking open of the FIFO would hang the call (and the test), and
  // no refused target reaches the attacher.
  for (const Case& c : cases) {
    grpc::Status s = Attach(c.target);
    EXPECT_EQ(s.error_code(), c.code) << c.what << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr(c.says)) << c.what;
  }
  EXPECT_EQ(vmx_attaches_.load(), 0);
  grpc::ClientContext ctx;
  v1::ListTargetsResponse targets;
  ASSERT_TRUE(stub_->ListTargets(&ctx, v1::ListTargetsRequest(), &targets).ok());
  EXPECT_EQ(targets.targets_size(), 2);  // nothing was registered
}

TEST_F(DaemonGrpcTest, TenThousandLabelsAndAHugeDeadlineAreRefusedBeforeAnyWork) {
  v1::FreezeRequest req;
  req.set_target("vm0");
  for (int i = 0; i < 10000; ++i) (*req.mutable_labels())[absl::StrCat("k", i)] = "v";
  grpc::ClientContext ctx;
  v1::FreezeResponse resp;
  grpc::Status s = stub_->Freeze(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("10000 labels"));

  v1::FreezeRequest slow;
  slow.set_target("vm0");
  slow.set_deadline_ms(4294967295u);
  grpc::ClientContext ctx2;
  s = stub_->Freeze(&ctx2, slow, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("exceeds the maximum"));
  // Refused before any work: the VM was never paused.
  EXPECT_EQ(qemu_->count("stop"), 0);
}

TEST_F(DaemonGrpcTest, ConcurrentFreezesWatchersAndTargetsAreBounded) {
  Restart(absl::StrCat(R"({"roles": [{"role": "admin", "uids": [)", geteuid(),
                       R"(]}], "rpc_attach": {"enabled": true, "allowed_dirs": [")", dir_,
                       R"("]}, "limits": {"max_concurrent_freezes": 1, "max_watchers": 1,
                       "max_targets": 3}})"));
  absl::Notification walking, release;
  SetPhaseHook([&](dump::PhaseContext& ctx) {
    if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
    walking.Notify();
    release.WaitForNotificationWithTimeout(kEventually);
    return absl::OkStatus();
  });
  absl::StatusOr<v1::FreezeResponse> first;
  std::thread t([&] { first = Freeze("vm0"); });
  ASSERT_TRUE(walking.WaitForNotificationWithTimeout(kEventually));
  auto second = Freeze("vm0");
  EXPECT_TRUE(absl::IsResourceExhausted(second.status())) << second.status();
  release.Notify();
  t.join();
  EXPECT_TRUE(first.ok()) << first.status();
  SetPhaseHook(nullptr);

  grpc::ClientContext w1;
  auto one = stub_->WatchDumps(&w1, v1::WatchRequest());
  one->WaitForInitialMetadata();
  grpc::ClientContext w2;
  auto two = stub_->WatchDumps(&w2, v1::WatchRequest());
  v1::DumpEvent e;
  EXPECT_FALSE(two->Read(&e));
  EXPECT_EQ(two->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  w1.TryCancel();

  std::ofstream(dir_ + "/a.ram") << std::string(4096, '\0');
  v1::TargetConfig extra;
  extra.set_name("vm9");
  extra.set_ram_path(dir_ + "/a.ram");
  ASSERT_TRUE(Attach(extra).ok());
  extra.set_name("vm10");
  EXPECT_EQ(Attach(extra).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(DaemonGrpcTest, TlsPeersAreNamedByTheirClientCertificate) {
  TestPki pki(dir_);
  pki.Issue("dash", "dashboard", "DNS:dashboard.example");
  pki.Issue("runner", "ci-runner", "URI:spiffe://lab/runner");
  ASSERT_TRUE(pki.ok());
  auto stub_for = [&](const std::string& client, const std::string& address) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = pki.Read("ca.pem");
    o.pem_private_key = pki.Read(client + ".key");
    o.pem_cert_chain = pki.Read(client + ".pem");
    std::string port = address.substr(address.rfind(':') + 1);
    return v1::FreezeService::NewStub(
        grpc::CreateChannel("localhost:" + port, grpc::SslCredentials(o)));
  };
  auto freeze_code = [](v1::FreezeService::Stub& stub) {
    grpc::ClientContext ctx;
    v1::FreezeRequest req;
    req.set_target("vm0");
    v1::FreezeResponse resp;
    return stub.Freeze(&ctx, req, &resp);
  };
  auto list_ok = [](v1::FreezeService::Stub& stub) {
    grpc::ClientContext ctx;
    v1::ListTargetsResponse targets;
    return stub.ListTargets(&ctx, v1::ListTargetsRequest(), &targets).ok();
  };
  std::string tls = absl::StrCat(R"("listen": ["127.0.0.1:0"], "tls": {"cert_file": ")", dir_,
                                 R"(/server.pem", "key_file": ")", dir_,
                                 R"(/server.key", "client_ca_file": ")", dir_, R"(/ca.pem"})");
  // Without roles a certificate reads and nothing more.
  Restart("{" + tls + "}");
  ASSERT_EQ(daemon_->addresses().size(), 2u);
  auto dash = stub_for("dash", daemon_->addresses()[1]);
  EXPECT_TRUE(list_ok(*dash));
  grpc::Status s = freeze_code(*dash);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("dashboard"));
  // Grants by subject alternative name (the runner) and for any certificate (reads).
  Restart("{" + tls + R"(, "roles": [{"role": "freeze", "tls_identities": ["spiffe://lab/runner"]},
                                      {"role": "read", "any_peer_on": ["tls"]}]})");
  auto runner = stub_for("runner", daemon_->addresses()[1]);
  s = freeze_code(*runner);
  EXPECT_TRUE(s.ok()) << s.error_message();
  dash = stub_for("dash", daemon_->addresses()[1]);
  EXPECT_TRUE(list_ok(*dash));
  EXPECT_EQ(freeze_code(*dash).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The unix socket is no grant's peer now.
  EXPECT_EQ(Freeze("vm0").status().code(), absl::StatusCode::kPermissionDenied);
}

// One connection made with another effective uid: SO_PEERCRED reports the euid of connect().
// setresuid on the raw syscall changes this thread only (glibc's wrapper changes every thread).
int ConnectAs(uid_t euid, const std::string& path) {
  int fd = -1;
  std::thread([&] {
    if (syscall(SYS_setresuid, -1, euid, -1) != 0) return;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      fd = -1;
    }
    (void)syscall(SYS_setresuid, -1, 0, -1);
  }).join();
  return fd;
}

TEST_F(DaemonGrpcTest, UnixPeerCredentialsFollowTheConnectionAcrossFdReuse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  constexpr uid_t kNobody = 65534;
  // nobody must reach the socket: a traversable directory and a world-writable socket.
  ASSERT_EQ(chmod(dir_.c_str(), 0711), 0);
  Restart(absl::StrCat(R"({"unix_socket_mode": "0666", "roles": [{"role": "freeze", "uids": [0]},
                                     {"role": "read", "uids": [)",
                       kNobody, "]}]}"));
  constexpr int kRounds = 8;
  for (int i = 0; i < kRounds; ++i) {
    // Alternate who connects first so a reused fd number would hand over either way.
    for (uid_t uid : i % 2 ? std::vector<uid_t>{0, kNobody} : std::vector<uid_t>{kNobody, 0}) {
      int fd = ConnectAs(uid, dir_ + "/k.sock");
      ASSERT_GE(fd, 0) << "connect as uid " << uid;
      auto channel = grpc::CreateInsecureChannelFromFd("peer-test", fd);
      auto stub = v1::FreezeService::NewStub(channel);
      grpc::ClientContext list_ctx;
      v1::ListTargetsResponse targets;
      ASSERT_TRUE(stub->ListTargets(&list_ctx, v1::ListTargetsRequest(), &targets).ok());
      grpc::ClientContext ctx;
      v1::FreezeRequest req;
      req.set_target("vm0");
      v1::FreezeResponse resp;
      grpc::Status s = stub->Freeze(&ctx, req, &resp);
      if (uid == 0) {
        EXPECT_TRUE(s.ok()) << "round " << i << ": " << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << "round " << i;
        EXPECT_THAT(s.error_message(), ::testing::HasSubstr("uid=65534"));
      }
      stub.reset();
      channel.reset();  // closes the connection; the daemon then closes its fd
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  // The daemon saw fewer fd numbers than connections: numbers were reused, and every reuse
  // above still got its own connection's role.
  EXPECT_LT(daemon_->unix_peers().size(), static_cast<size_t>(2 * kRounds));
}

// A daemon started from a config file (as kfreezed is), so Reload() re-reads that file.
class DaemonReloadTest : public ::testing::Test {
 protected:
  void TearDown() override { daemon_.reset(); }

  void WriteConfig(const std::string& json) {
    std::ofstream(config_path_, std::ios::trunc) << json;
  }

  // Starts from the file WriteConfig wrote, listening on dir_/k.sock; every attach succeeds.
  void StartFromFile(std::vector<kfreeze::v1::TargetConfig> flag_targets = {}) {
    DaemonOptions o;
    auto loaded = LoadConfigFile(config_path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    o.config = *loaded;
    o.config.add_listen("unix:" + dir_ + "/k.sock");
    o.config.mutable_archive()->set_dir(dir_ + "/archive");
    ApplyDefaults(o.config);
    o.config_path = config_path_;
    o.flag_targets = std::move(flag_targets);
    o.attacher =
        [this](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      ++attaches_;
      return std::make_shared<FakeAttachment>("7.2.0-test", dump::PhaseTable{});
    };
    o.control_factory = QmpControlFactory();
    auto d = Daemon::Start(std::move(o));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }

  std::vector<std::string> TargetNames() {
    std::vector<std::string> names;
    for (const auto& t : daemon_->coordinator().ListTargets()) names.push_back(t.name());
    return names;
  }

  const TempDir tmp_{"kfd"};  // short: unix socket paths are limited to 107 bytes
  const std::string dir_ = tmp_.path();
  const std::string config_path_ = dir_ + "/kfreezed.json";
  std::atomic<int> attaches_{0};
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonReloadTest, SighupReloadReplacesConfigTargetsOnly) {
  auto config_with = [](const std::string& target) {
    return absl::StrCat(R"({"targets": [{"name": ")", target, R"(", "ram_path": "/dev/shm/x"}]})");
  };
  WriteConfig(config_with("cfgA"));
  kfreeze::v1::TargetConfig flag;
  flag.set_name("fromflag");
  flag.set_ram_path("/dev/shm/y");
  ASSERT_NO_FATAL_FAILURE(StartFromFile({flag}));
  EXPECT_THAT(TargetNames(), ::testing::ElementsAre("cfgA", "fromflag"));
  WriteConfig(config_with("cfgB"));
  ASSERT_TRUE(daemon_->Reload().ok());
  EXPECT_THAT(TargetNames(), ::testing::ElementsAre("cfgB", "fromflag"));
  WriteConfig("{ not json");
  absl::Status broken = daemon_->Reload();
  EXPECT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.message()), ::testing::HasSubstr(config_path_));
  EXPECT_THAT(TargetNames(), ::testing::ElementsAre("cfgB", "fromflag"));  // nothing changed
}

TEST_F(DaemonReloadTest, AnUnchangedTargetWithLabelsStaysAttached) {
  // Serialized bytes of equal maps differ (protobuf map order), so comparing them on reload
  // re-attached every labelled target on every SIGHUP.
  std::string labels;
  for (int i = 0; i < 16; ++i) absl::StrAppend(&labels, i ? "," : "", "\"k", i, "\": \"v\"");
  WriteConfig(absl::StrCat(R"({"targets": [{"name": "cfg", "ram_path": "/dev/shm/x", "labels": {)",
                           labels, "}}]}"));
  ASSERT_NO_FATAL_FAILURE(StartFromFile());
  daemon_->coordinator().WaitForAttach("cfg");
  ASSERT_TRUE(daemon_->Reload().ok());
  ASSERT_TRUE(daemon_->Reload().ok());
  daemon_->coordinator().WaitForAttach("cfg");
  EXPECT_EQ(attaches_.load(), 1);
}

TEST_F(DaemonReloadTest, NewRolesApplyToTheNextCall) {
  const std::string target = R"("targets": [{"name": "vm0", "ram_path": "/dev/shm/x"}])";
  WriteConfig("{" + target + "}");
  ASSERT_NO_FATAL_FAILURE(StartFromFile());
  daemon_->coordinator().WaitForAttach("vm0");
  auto stub = v1::FreezeService::NewStub(
      grpc::CreateChannel("unix:" + dir_ + "/k.sock", grpc::InsecureChannelCredentials()));
  auto freeze = [&] {
    grpc::ClientContext ctx;
    v1::FreezeRequest req;
    req.set_target("vm0");
    v1::FreezeResponse resp;
    return stub->Freeze(&ctx, req, &resp).error_code();
  };
  EXPECT_EQ(freeze(), grpc::StatusCode::OK);
  WriteConfig("{" + target + R"(, "roles": [{"role": "read", "any_peer_on": ["unix"]}]})");
  ASSERT_TRUE(daemon_->Reload().ok());
  EXPECT_EQ(freeze(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace kfreeze::server
