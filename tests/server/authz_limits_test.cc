// Roles, limits and safe opening of caller-named paths, below the gRPC layer: the Authorizer's
// defaults and grants, the request bounds, the token bucket and auto-trigger flood limit, and
// what happens when a FIFO, /dev/zero, a symlink or a path outside the allowed directories is
// named as RAM, BTF or QMP socket (the over-gRPC checks are in daemon_grpc_test.cc).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "core/base/safe_open.h"
#include "core/btf/btf_set.h"
#include "core/mem/guest_ram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/attach_policy.h"
#include "server/daemon/authz.h"
#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/limits.h"
#include "server/daemon/token_bucket.h"
#include "tests/server/fake_attachment.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

using ::testing::HasSubstr;
using Transport = PeerIdentity::Transport;

constexpr auto kEventually = std::chrono::seconds(20);

PeerIdentity Unix(uint32_t uid, uint32_t gid) {
  PeerIdentity p;
  p.transport = Transport::kUnix;
  p.uid = uid;
  p.gid = gid;
  return p;
}

PeerIdentity Tls(std::vector<std::string> names) {
  PeerIdentity p;
  p.transport = Transport::kTls;
  p.tls_names = std::move(names);
  return p;
}

RoleGrants Grants(std::initializer_list<kfreeze::v1::RoleGrant> list) {
  RoleGrants out;
  for (const auto& g : list) *out.Add() = g;
  return out;
}

kfreeze::v1::RoleGrant Grant(const std::string& role) {
  kfreeze::v1::RoleGrant g;
  g.set_role(role);
  return g;
}

TEST(Authorizer, DefaultsWithoutGrants) {
  Authorizer a{RoleGrants()};
  EXPECT_EQ(a.RoleOf(Unix(1000, 1000)), Role::kFreeze);
  EXPECT_EQ(a.RoleOf(Tls({"dash"})), Role::kRead);
  PeerIdentity plain;
  plain.transport = Transport::kInsecureTcp;
  EXPECT_EQ(a.RoleOf(plain), Role::kRead);
  EXPECT_EQ(a.RoleOf(PeerIdentity()), Role::kNone);  // a connection we did not accept
  absl::Status s = a.Check(Unix(1000, 1000), Role::kAdmin, "AttachTarget");
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("AttachTarget needs the 'admin' role"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid=1000"));
  EXPECT_TRUE(a.Check(Unix(1000, 1000), Role::kFreeze, "Freeze").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(a.Check(Tls({"dash"}), Role::kFreeze, "Freeze")));
}

TEST(Authorizer, GrantsByUidGidCertificateAndTransport) {
  auto admin = Grant("admin");
  admin.add_uids(0);
  auto freeze = Grant("freeze");
  freeze.add_gids(2000);
  freeze.add_tls_identities("runner.example");
  auto read = Grant("read");
  read.add_any_peer_on("tls");
  Authorizer a(Grants({admin, freeze, read}));
  EXPECT_EQ(a.RoleOf(Unix(0, 0)), Role::kAdmin);
  EXPECT_EQ(a.RoleOf(Unix(1000, 2000)), Role::kFreeze);
  EXPECT_EQ(a.RoleOf(Unix(1000, 1000)), Role::kNone);  // grants exist: no default for unix
  EXPECT_EQ(a.RoleOf(Tls({"client", "runner.example"})), Role::kFreeze);
  EXPECT_EQ(a.RoleOf(Tls({"someone"})), Role::kRead);
  // A uid grant never matches a TLS peer, a certificate name never a unix peer.
  auto by_uid = Grant("admin");
  by_uid.add_uids(0);
  Authorizer b(Grants({by_uid}));
  EXPECT_EQ(b.RoleOf(Tls({"0"})), Role::kNone);
  // Roles nest: admin may read.
  EXPECT_TRUE(b.Check(Unix(0, 0), Role::kRead, "ListTargets").ok());
  b.Update(RoleGrants());  // SIGHUP back to the defaults
  EXPECT_EQ(b.RoleOf(Unix(0, 0)), Role::kFreeze);
}

TEST(Authorizer, ValidationNamesTheBadGrant) {
  auto unknown = Grant("root");
  unknown.add_uids(0);
  EXPECT_THAT(std::string(ValidateRoleGrants(Grants({unknown})).message()),
              HasSubstr("unknown role 'root'"));
  EXPECT_THAT(std::string(ValidateRoleGrants(Grants({Grant("read")})).message()),
              HasSubstr("names nobody"));
  auto transport = Grant("read");
  transport.add_any_peer_on("tcp");
  EXPECT_THAT(std::string(ValidateRoleGrants(Grants({transport})).message()),
              HasSubstr("'tcp' is not unix, tls, insecure_tcp, http_unix or nats"));
}

TEST(Limits, TenThousandLabelsAndA49DayDeadlineAreRefused) {
  Limits limits;
  google::protobuf::Map<std::string, std::string> labels;
  for (int i = 0; i < 10000; ++i) labels["k" + std::to_string(i)] = "v";
  absl::Status s = CheckLabels(labels, limits, "FreezeRequest.labels");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("10000 labels; at most 32"));
  google::protobuf::Map<std::string, std::string> big;
  big["k"] = std::string(4096, 'v');
  EXPECT_TRUE(absl::IsInvalidArgument(CheckLabels(big, limits, "x")));
  s = CheckDeadline(4294967295u, limits, "deadline_ms");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds the maximum of 30000 ms"));
  EXPECT_TRUE(CheckDeadline(30000, limits, "deadline_ms").ok());
  kfreeze::v1::Limits configured;
  configured.set_max_deadline_ms(120000);
  EXPECT_TRUE(CheckDeadline(100000, LimitsFromConfig(configured), "deadline_ms").ok());
}

TEST(TokenBucket, BurstThenOnePerInterval) {
  using Clock = TokenBucket::Clock;
  Clock::time_point t0{};
  TokenBucket b(2, std::chrono::minutes(5), t0);
  EXPECT_TRUE(b.TryTake(t0));
  EXPECT_TRUE(b.TryTake(t0));
  EXPECT_FALSE(b.TryTake(t0 + std::chrono::minutes(4)));
  EXPECT_TRUE(b.TryTake(t0 + std::chrono::minutes(5)));
  EXPECT_FALSE(b.TryTake(t0 + std::chrono::minutes(6)));
  // A long quiet spell refills the burst, not more.
  Clock::time_point later = t0 + std::chrono::hours(10);
  EXPECT_TRUE(b.TryTake(later));
  EXPECT_TRUE(b.TryTake(later));
  EXPECT_FALSE(b.TryTake(later));
}

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fifo_ = dir_ + "/fifo";
    ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
    file_ = dir_ + "/ram";
    std::ofstream(file_) << std::string(8192, 'x');
  }

  // Runs `open` on another thread. A blocking open of the FIFO never returns by itself, so a call
  // still blocked after a generous bound is a failure, not a slow machine (and is released by
  // opening the FIFO's write end so the test can finish).
  template <typename F>
  auto WithinBound(F open) {
    constexpr std::chrono::seconds kHung{20};
    auto result = std::async(std::launch::async, open);
    if (result.wait_for(kHung) != std::future_status::ready) {
      ADD_FAILURE() << "still blocked after " << kHung.count() << " s: it would hang forever";
      int w = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK);
      auto r = result.get();
      if (w >= 0) close(w);
      return r;
    }
    return result.get();
  }

  const testing::TempDir tmp_{"kfreeze-paths"};
  const std::string dir_ = tmp_.path();
  std::string fifo_, file_;
};

TEST_F(PathsTest, AFifoAsRamFailsAtOnceInsteadOfHanging) {
  auto ram = WithinBound([&] { return GuestRam::OpenFile(fifo_).status(); });
  EXPECT_TRUE(absl::IsInvalidArgument(ram)) << ram;
  EXPECT_THAT(std::string(ram.message()), HasSubstr("is a FIFO"));
}

TEST_F(PathsTest, AFifoOrDevZeroAsBtfFailsAtOnce) {
  auto fifo = WithinBound([&] { return BtfSet::FromFile(fifo_).status(); });
  EXPECT_THAT(std::string(fifo.message()), HasSubstr("is a FIFO"));
  // /dev/zero never ends: it is refused up front, not read until memory runs out.
  auto zero = WithinBound([&] { return BtfSet::FromFile("/dev/zero").status(); });
  EXPECT_TRUE(absl::IsInvalidArgument(zero)) << zero;
  EXPECT_THAT(std::string(zero.message()), HasSubstr("character device"));
}

TEST_F(PathsTest, ReadsAreCapped) {
  absl::StatusOr<UniqueFd> fd = OpenRegularFile(file_, "BTF file");
  ASSERT_TRUE(fd.ok()) << fd.status();
  auto capped = ReadWholeFile(fd->get(), 4096, "BTF file");
  EXPECT_TRUE(absl::IsOutOfRange(capped.status())) << capped.status();
  auto whole = ReadWholeFile(fd->get(), 8192, "BTF file");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->size(), 8192u);
}

TEST_F(PathsTest, RpcAttachPolicy) {
  kfreeze::v1::RpcAttachConfig policy;
  kfreeze::v1::TargetConfig t;
  t.set_name("vm");
  t.set_ram_path(file_);
  // Off by default.
  EXPECT_THAT(std::string(CheckRpcAttach(t, policy).message()), HasSubstr("is off"));
  policy.set_enabled(true);
  policy.add_allowed_dirs(dir_);
  EXPECT_TRUE(CheckRpcAttach(t, policy).ok()) << CheckRpcAttach(t, policy);
  // Outside the allowed directories, also through a symlink or "..".
  t.set_ram_path("/etc/passwd");
  absl::Status s = CheckRpcAttach(t, policy);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("outside the allowed directories"));
  t.set_ram_path(dir_ + "/../../etc/passwd");
  EXPECT_TRUE(absl::IsPermissionDenied(CheckRpcAttach(t, policy)));
  ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/link").c_str()), 0);
  t.set_ram_path(dir_ + "/link");
  EXPECT_TRUE(absl::IsPermissionDenied(CheckRpcAttach(t, policy)));
  // A symlink inside the directory to a file inside it is still refused (O_NOFOLLOW).
  ASSERT_EQ(symlink(file_.c_str(), (dir_ + "/inner").c_str()), 0);
  t.set_ram_path(dir_ + "/inner");
  EXPECT_THAT(std::string(CheckRpcAttach(t, policy).message()), HasSubstr("is a symlink"));
  // A FIFO fails fast; a QMP "socket" that is a regular file is refused.
  t.set_ram_path(fifo_);
  s = WithinBound([&] { return CheckRpcAttach(t, policy); });
  EXPECT_THAT(std::string(s.message()), HasSubstr("is a FIFO"));
  t.set_ram_path(file_);
  t.set_qmp_socket(file_);
  EXPECT_THAT(std::string(CheckRpcAttach(t, policy).message()), HasSubstr("not a unix socket"));
  t.clear_qmp_socket();
  t.set_btf_path("/dev/zero");
  EXPECT_TRUE(absl::IsPermissionDenied(CheckRpcAttach(t, policy)));
  t.clear_btf_path();
  t.set_vmm_pid(1);
  EXPECT_THAT(std::string(CheckRpcAttach(t, policy).message()), HasSubstr("vmm_pid"));
}

// A guest that loads a failing scheduler again and again: each instance fires the late trigger.
class FloodingProbes : public dump::TriggerProbes {
 public:
  // Every other poll sees the failed scheduler gone (which re-arms the trigger), then a new one.
  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override {
    uint64_t n = ++polls;
    if (n % 2 == 0) return dump::ScxExitProbe{false, 0, 0};
    ++instances;
    return dump::ScxExitProbe{true, 0xffff888001000000 + 0x1000 * n, 1026};
  }
  std::atomic<uint64_t> polls{0};
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    return absl::FailedPreconditionError("no runnable_at offsets");
  }
  std::atomic<uint64_t> instances{0};
};

TEST(AutoTriggerRate, AFloodingGuestIsLimitedToItsBurst) {
  const testing::TempDir tmp("kfreeze-flood");
  const std::string& dir = tmp.path();
  auto archive = DumpArchive::Open(dir, {});
  ASSERT_TRUE(archive.ok());
  DumpBus bus(16);
  FloodingProbes probes;
  dump::Attacher attacher =
      [&](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
    return std::make_shared<testing::FakeAttachment>(
        "7.2.0-test", dump::PhaseTable{testing::OneMapPhase("m")}, &probes);
  };
  ControlFactory no_qmp =
      [](const std::string&,
         std::chrono::milliseconds) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
    return absl::UnavailableError("no QMP in this test");
  };
  {
    FreezeCoordinator coordinator(attacher, no_qmp, archive->get(), &bus, FreezeDefaults{});
    kfreeze::v1::TargetConfig t;
    t.set_name("vm0");
    t.set_ram_path("/dev/shm/none");
    t.set_event_sampling_off(true);
    t.mutable_triggers()->set_late_enabled(true);
    t.mutable_triggers()->set_late_poll_ms(2);
    t.mutable_triggers()->set_capture_burst(2);
    t.mutable_triggers()->set_captures_per_hour(1);
    ASSERT_TRUE(coordinator.AddTarget(t, "config", false).ok());
    // Many scheduler instances fail; only the burst is captured.
    auto give_up = std::chrono::steady_clock::now() + kEventually;
    while (probes.instances.load() < 100 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(probes.instances.load(), 100u);
    coordinator.Shutdown();
  }
  EXPECT_EQ((*archive)->count(), 2u);
}

}  // namespace
}  // namespace kfreeze::server
