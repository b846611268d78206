// Config JSON, flag forms, listener rules.
#include "server/daemon/config.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/listeners.h"

namespace kfreeze::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Config, ParsesJsonInBothKeySpellings) {
  auto c = ParseConfigJson(R"({
    "listen": ["unix:/run/k.sock"],
    "archive": {"dir": "/var/lib/k", "max_count": 10, "maxBytes": "1000"},
    "freeze": {"deadlineMs": 500},
    "targets": [{"name": "vm0", "ram_path": "/dev/shm/vm0", "qmpSocket": "/run/vm0.qmp",
                 "labels": {"team": "sched"}, "triggers": {"lateEnabled": true}}]
  })");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->archive().max_bytes(), 1000u);
  EXPECT_EQ(c->freeze().deadline_ms(), 500u);
  ASSERT_EQ(c->targets_size(), 1);
  EXPECT_EQ(c->targets(0).qmp_socket(), "/run/vm0.qmp");
  EXPECT_TRUE(c->targets(0).triggers().late_enabled());
  ApplyDefaults(*c);
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);
}

TEST(Config, TheShippedExampleIsValid) {
  auto c = LoadConfigFile(std::string(KFREEZE_SOURCE_DIR) + "/deploy/kfreezed.example.json");
  ASSERT_TRUE(c.ok()) << c.status();
  ApplyDefaults(*c);
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);
  EXPECT_EQ(c->targets_size(), 2);
  EXPECT_EQ(c->targets(1).vmm_pid(), 4242u);
}

TEST(Config, UnknownKeyIsAnErrorNamingIt) {
  auto c = ParseConfigJson(R"({"listen": [], "archiv": {}})");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("archiv"));
}

TEST(Config, DefaultsFillTheGaps) {
  kfreeze::v1::Config c;
  ApplyDefaults(c);
  EXPECT_THAT(c.listen(), ElementsAre(kDefaultListen));
  EXPECT_EQ(c.unix_socket_mode(), "0660");
  EXPECT_EQ(c.archive().dir(), kDefaultArchiveDir);
  EXPECT_EQ(c.archive().max_count(), kDefaultArchiveMaxCount);
  EXPECT_EQ(c.watch_queue_depth(), kDefaultWatchQueueDepth);
}

TEST(Config, TargetFlag) {
  auto t = ParseTargetFlag("name=vm0,ram=/dev/shm/vm0,qmp=/run/q.sock,deadline_ms=300,late=1");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name(), "vm0");
  EXPECT_EQ(t->ram_path(), "/dev/shm/vm0");
  EXPECT_EQ(t->qmp_socket(), "/run/q.sock");
  EXPECT_EQ(t->deadline_ms(), 300u);
  EXPECT_TRUE(t->triggers().late_enabled());
  // The layout spec has its own commas.
  auto l = ParseTargetFlag("name=vm1,pid=42,layout=0:2G@0,0x100000000:1G@2G");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->vmm_pid(), 42u);
  EXPECT_EQ(l->ram_layout(), "0:2G@0,0x100000000:1G@2G");
  EXPECT_THAT(std::string(ParseTargetFlag("ram=/x").status().message()),
              HasSubstr("needs name=NAME"));
  EXPECT_THAT(std::string(ParseTargetFlag("name=vm0").status().message()),
              HasSubstr("needs ram= or pid="));
  EXPECT_THAT(std::string(ParseTargetFlag("name=a,ram=/x,colour=red").status().message()),
              HasSubstr("colour=red"));
}

TEST(Config, TcpNeedsTlsOrLoopbackWithInsecureTcp) {
  kfreeze::v1::Config c;
  ApplyDefaults(c);
  c.clear_listen();
  c.add_listen("0.0.0.0:7443");
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("needs tls"));
  c.set_insecure_tcp(true);
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("only binds loopback"));
  c.clear_listen();
  c.add_listen("127.0.0.1:0");
  c.add_listen("[::1]:7444");
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.set_insecure_tcp(false);
  c.mutable_tls()->set_cert_file("/nonexistent/cert.pem");
  c.mutable_tls()->set_key_file("/nonexistent/key.pem");
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("cannot read tls"));
}

TEST(Config, DuplicateAndUnsafeTargetsAreRejected) {
  kfreeze::v1::Config c;
  ApplyDefaults(c);
  auto* a = c.add_targets();
  a->set_name("vm0");
  a->set_ram_path("/x");
  *c.add_targets() = *a;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("listed twice"));
  c.mutable_targets(1)->set_name("../vm");
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("'../vm'"));
}

TEST(Listeners, ParsesUnixAndTcp) {
  auto u = ParseListenAddress("unix:/run/kfreeze/k.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->is_unix);
  EXPECT_EQ(u->path, "/run/kfreeze/k.sock");
  EXPECT_EQ(u->grpc_uri, "unix:/run/kfreeze/k.sock");
  EXPECT_THAT(std::string(ParseListenAddress("unix:relative.sock").status().message()),
              HasSubstr("needs an absolute path"));
  auto t = ParseListenAddress("[::1]:7443");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "::1");
  EXPECT_TRUE(t->loopback);
  EXPECT_EQ(t->grpc_uri, "[::1]:7443");
  auto any = ParseListenAddress(":7443");
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(any->loopback);
  EXPECT_THAT(std::string(ParseListenAddress("localhost:99999").status().message()),
              HasSubstr("bad port"));
  EXPECT_THAT(std::string(ParseListenAddress("nonsense").status().message()),
              HasSubstr("neither unix:/path nor host:port"));
  EXPECT_EQ(*ParseSocketMode("0660"), 0660u);
  EXPECT_THAT(std::string(ParseSocketMode("0998").status().message()), HasSubstr("not octal"));
}

TEST(Flags, RepeatedFlagsAccumulateAndDashesNormalise) {
  std::vector<std::string> args = {"kfreezed",         "--listen",
                                   "unix:/a",          "--target=name=x,ram=/r",
                                   "--archive-dir=/d", "--listen=127.0.0.1:1",
                                   "--insecure-tcp",   "--",
                                   "--listen",         "tail"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  auto listens = ExtractRepeatedFlag(&argc, argv.data(), "listen");
  auto targets = ExtractRepeatedFlag(&argc, argv.data(), "target");
  EXPECT_THAT(listens, ElementsAre("unix:/a", "127.0.0.1:1"));
  EXPECT_THAT(targets, ElementsAre("name=x,ram=/r"));
  NormalizeFlagDashes(argc, argv.data());
  std::vector<std::string> rest(argv.begin(), argv.begin() + argc);
  EXPECT_THAT(rest, ElementsAre("kfreezed", "--archive_dir=/d", "--insecure_tcp", "--", "--listen",
                                "tail"));
}

TEST(Config, RolesLimitsAndRpcAttachParseAndValidate) {
  auto c = ParseConfigJson(R"({
    "roles": [{"role": "admin", "uids": [0]},
              {"role": "freeze", "gids": [2000], "tls_identities": ["runner.example"]},
              {"role": "read", "any_peer_on": ["tls"]}],
    "rpc_attach": {"enabled": true, "allowed_dirs": ["/dev/shm", "/run/qemu"]},
    "limits": {"max_deadline_ms": 60000, "max_labels": 8, "max_watchers": 4},
    "archive": {"max_count_per_target": 50},
    "targets": [{"name": "vm0", "ram_path": "/dev/shm/vm0",
                 "triggers": {"late_enabled": true, "capture_burst": 2, "captures_per_hour": 6}}]
  })");
  ASSERT_TRUE(c.ok()) << c.status();
  ApplyDefaults(*c);
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);
  EXPECT_EQ(c->roles_size(), 3);
  EXPECT_EQ(c->targets(0).triggers().capture_burst(), 2u);
}

TEST(Config, BadRolesPathsAndOverLimitTargetsAreRejected) {
  auto invalid = [](const std::string& json) {
    auto c = ParseConfigJson(json);
    EXPECT_TRUE(c.ok()) << c.status();
    ApplyDefaults(*c);
    return std::string(ValidateConfig(*c).message());
  };
  EXPECT_THAT(invalid(R"({"roles": [{"role": "root", "uids": [0]}]})"),
              HasSubstr("unknown role 'root'"));
  EXPECT_THAT(invalid(R"({"roles": [{"role": "read"}]})"), HasSubstr("names nobody"));
  EXPECT_THAT(invalid(R"({"rpc_attach": {"allowed_dirs": ["shm"]}})"),
              HasSubstr("not an absolute directory"));
  EXPECT_THAT(
      invalid(R"({"targets": [{"name": "vm0", "ram_path": "/x", "deadline_ms": 4294967295}]})"),
      HasSubstr("exceeds the maximum"));
  EXPECT_THAT(invalid(R"({"limits": {"max_labels": 1},
                          "targets": [{"name": "vm0", "ram_path": "/x",
                                       "labels": {"a": "1", "b": "2"}}]})"),
              HasSubstr("2 labels; at most 1"));
  EXPECT_THAT(invalid(R"({"limits": {"max_targets": 1},
                          "targets": [{"name": "a", "ram_path": "/x"},
                                      {"name": "b", "ram_path": "/x"}]})"),
              HasSubstr("max_targets"));
}

TEST(Config, SameTargetConfigComparesMapsByContentNotByteOrder) {
  kfreeze::v1::TargetConfig a, b;
  a.set_name("vm0");
  b.set_name("vm0");
  for (int i = 0; i < 64; ++i) (*a.mutable_labels())[absl::StrCat("k", i)] = "v";
  for (int i = 63; i >= 0; --i) (*b.mutable_labels())[absl::StrCat("k", i)] = "v";
  EXPECT_TRUE(SameTargetConfig(a, b));
  (*b.mutable_labels())["k0"] = "changed";
  EXPECT_FALSE(SameTargetConfig(a, b));
}

}  // namespace
}  // namespace kfreeze::server
