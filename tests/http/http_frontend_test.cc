// kfreezed's HTTP side over an in-process daemon (fake guest kernel, fake QEMU on a real QMP
// socket), reached the way curl or a browser would: a real HTTP client on the unix socket or
// loopback TCP.
#include "server/http/http_frontend.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/report/report_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "tests/server/fake_attachment.h"
#include "tests/server/test_pki.h"
#include "tests/support/fake_qmp_server.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server::http {
namespace {

using kfreeze::testing::FakeAttachment;
using kfreeze::testing::FakeQmpServer;
using kfreeze::testing::OneMapPhase;
using kfreeze::testing::TempDir;
using ::testing::HasSubstr;
namespace v1 = kfreeze::v1;

constexpr absl::Duration kEventually = absl::Seconds(20);

template <typename T>
T Parse(const std::string& json) {
  T message;
  absl::Status s = report::FromJson(json, report::JsonDialect::kProto3, &message);
  EXPECT_TRUE(s.ok()) << s << "\n" << json;
  return message;
}

// One line of the Prometheus text format: "# HELP|TYPE name ...", or
// name{label="value",...} value [timestamp]. (Written out: std::regex trips GCC 12's
// maybe-uninitialized warning under the sanitizer build.)
bool IsExpositionLine(absl::string_view line) {
  auto name_char = [](char c, bool first) {
    return absl::ascii_isalpha(c) || c == '_' || c == ':' || (!first && absl::ascii_isdigit(c));
  };
  auto take_name = [&](absl::string_view& rest) {
    size_t n = 0;
    while (n < rest.size() && name_char(rest[n], n == 0)) ++n;
    rest.remove_prefix(n);
    return n > 0;
  };
  if (absl::ConsumePrefix(&line, "# ")) {
    return (absl::ConsumePrefix(&line, "HELP ") || absl::ConsumePrefix(&line, "TYPE ")) &&
           take_name(line) && absl::ConsumePrefix(&line, " ");
  }
  if (!take_name(line)) return false;
  if (absl::ConsumePrefix(&line, "{")) {
    while (!absl::ConsumePrefix(&line, "}")) {
      if (!take_name(line) || !absl::ConsumePrefix(&line, "=\"")) return false;
      while (!line.empty() && line[0] != '"') line.remove_prefix(line[0] == '\\' ? 2 : 1);
      if (!absl::ConsumePrefix(&line, "\"")) return false;
      absl::ConsumePrefix(&line, ",");
    }
  }
  if (!absl::ConsumePrefix(&line, " ")) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  double value = 0;
  int64_t timestamp = 0;
  return (parts.size() == 1 || (parts.size() == 2 && absl::SimpleAtoi(parts[1], &timestamp))) &&
         (absl::SimpleAtod(parts[0], &value) || parts[0] == "NaN" || parts[0] == "+Inf" ||
          parts[0] == "-Inf");
}

TEST(ExpositionLine, AcceptsTheFormatAndRejectsWhatIsNot) {
  EXPECT_TRUE(IsExpositionLine("# TYPE kfreeze_dumps_total counter"));
  EXPECT_TRUE(IsExpositionLine(R"(a_b{x="1",y="q\"z"} 2.5e-3)"));
  EXPECT_TRUE(IsExpositionLine("up +Inf 1700000000"));
  EXPECT_FALSE(IsExpositionLine("1up 1"));
  EXPECT_FALSE(IsExpositionLine(R"(a{x=1} 1)"));
  EXPECT_FALSE(IsExpositionLine("a one"));
  EXPECT_FALSE(IsExpositionLine("a{x=\"1\" 1"));
}

class HttpFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override { qemu_ = std::make_unique<FakeQmpServer>(dir_.path() + "/vm0.qmp"); }
  void TearDown() override {
    if (http_) http_->Stop();
    if (daemon_) daemon_->Shutdown();
    http_.reset();
    daemon_.reset();
  }

  // `roles_json`: the config's "roles" array, "" for the defaults.
  void Start(const std::string& roles_json = "") {
    DaemonOptions o;
    o.config.add_listen("unix:" + dir_.path() + "/k.sock");
    o.config.mutable_archive()->set_dir(dir_.path() + "/archive");
    o.config.mutable_freeze()->set_qmp_timeout_ms(500);
    o.config.mutable_freeze()->set_regs_timeout_ms(500);
    if (!roles_json.empty()) {
      absl::StatusOr<v1::Config> extra =
          ParseConfigJson(absl::StrCat(R"({"roles": )", roles_json, "}"));
      ASSERT_TRUE(extra.ok()) << extra.status();
      o.config.MergeFrom(*extra);
    }
    ApplyDefaults(o.config);
    auto* vm0 = o.config.add_targets();
    vm0->set_name("vm0");
    vm0->set_ram_path("/dev/shm/none");
    vm0->set_qmp_socket(qemu_->path());
    o.attacher = [](const dump::AttachSpec& spec)
        -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      return std::make_shared<FakeAttachment>("7.2.0-test",
                                              dump::PhaseTable{OneMapPhase("map_of_" + spec.name)});
    };
    o.control_factory = QmpControlFactory();
    auto d = Daemon::Start(std::move(o));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    daemon_->coordinator().WaitForAttach("vm0");
    HttpDeps deps{&daemon_->api(), &daemon_->metrics(), &daemon_->archive(), &daemon_->bus()};
    auto h = HttpFrontend::Start("unix:" + http_path(), 0660, deps);
    ASSERT_TRUE(h.ok()) << h.status();
    http_ = std::move(*h);
  }

  std::string http_path() const { return dir_.path() + "/http.sock"; }

  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>(http_path());
    c->set_address_family(AF_UNIX);
    c->set_read_timeout(30, 0);
    return c;
  }

  TempDir dir_{"kfreeze-http"};
  std::unique_ptr<FakeQmpServer> qemu_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<HttpFrontend> http_;
};

const char kHttpUnixFreezes[] = R"([{"role": "freeze", "any_peer_on": ["http_unix"]}])";

TEST_F(HttpFrontendTest, FreezeThenReadItBackAsGetDumpWouldAndInKtstrsDialect) {
  Start(kHttpUnixFreezes);
  auto c = Client();
  httplib::Result frozen =
      c->Post("/api/v1/targets/vm0:freeze", R"({"labels": {"test": "http"}})", "application/json");
  ASSERT_TRUE(frozen) << httplib::to_string(frozen.error());
  ASSERT_EQ(frozen->status, 200) << frozen->body;
  v1::FreezeResponse response = Parse<v1::FreezeResponse>(frozen->body);
  ASSERT_FALSE(response.dump_id().empty());
  EXPECT_EQ(response.envelope().single().maps(0).name(), "map_of_vm0");
  EXPECT_EQ(response.envelope().labels().at("test"), "http");

  httplib::Result got = c->Get("/api/v1/dumps/" + response.dump_id());
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200) << got->body;
  v1::GetDumpRequest get;
  get.set_dump_id(response.dump_id());
  PeerIdentity local;
  local.transport = PeerIdentity::Transport::kHttpUnix;
  absl::StatusOr<v1::GetDumpResponse> direct = daemon_->api().GetDump(local, get);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(Parse<v1::GetDumpResponse>(got->body).SerializeAsString(), direct->SerializeAsString());

  httplib::Result ktstr = c->Get("/api/v1/dumps/" + response.dump_id() + "?dialect=ktstr");
  ASSERT_TRUE(ktstr);
  EXPECT_EQ(ktstr->status, 200);
  EXPECT_THAT(ktstr->body, HasSubstr(R"("schema": "single")"));

  httplib::Result listed = c->Get("/api/v1/dumps?target=vm0&label=test%3Dhttp");
  ASSERT_TRUE(listed);
  v1::ListDumpsResponse rows = Parse<v1::ListDumpsResponse>(listed->body);
  ASSERT_EQ(rows.dumps_size(), 1);
  EXPECT_EQ(rows.dumps(0).dump_id(), response.dump_id());

  httplib::Result targets = c->Get("/api/v1/targets");
  ASSERT_TRUE(targets);
  EXPECT_EQ(Parse<v1::ListTargetsResponse>(targets->body).targets(0).dumps_taken(), 1u);
  httplib::Result info = c->Get("/api/v1/info");
  ASSERT_TRUE(info);
  EXPECT_FALSE(Parse<v1::DaemonInfo>(info->body).version().empty());
}

// Without a grant, a client of the HTTP unix socket reads (HTTP gives no peer credentials, so
// the gRPC side's unix default of `freeze` does not carry over).
TEST_F(HttpFrontendTest, ErrorsAreTheGatewayStatusesWithAJsonBody) {
  Start();
  auto c = Client();
  httplib::Result denied = c->Post("/api/v1/targets/vm0:freeze", "", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_THAT(denied->body, HasSubstr(R"("code":7)"));

  httplib::Result missing = c->Get("/api/v1/dumps/no-such-dump");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  httplib::Result typo = c->Get("/api/v1/events?tragets=vm0");
  ASSERT_TRUE(typo);
  EXPECT_EQ(typo->status, 400);
  EXPECT_THAT(typo->body, HasSubstr("tragets"));
  httplib::Result bad_mask = c->Get("/api/v1/events?fields=envelope.nope");
  ASSERT_TRUE(bad_mask);
  EXPECT_EQ(bad_mask->status, 400);
  httplib::Result no_target = c->Get("/api/v1/targets/nope");
  ASSERT_TRUE(no_target);
  EXPECT_EQ(no_target->status, 404);
}

TEST_F(HttpFrontendTest, TheEventStreamHonoursItsFiltersAndFieldMask) {
  Start(kHttpUnixFreezes);
  struct Stream {
    absl::Mutex mu;
    std::string text;
    std::thread reader;
    bool Has(absl::string_view what) {
      absl::MutexLock lock(&mu);
      return absl::StrContains(text, what);
    }
    bool WaitFor(absl::string_view what) {
      absl::Time until = absl::Now() + kEventually;
      while (!Has(what) && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
      return Has(what);
    }
  };
  auto open = [this](Stream& s, const std::string& query) {
    s.reader = std::thread([this, &s, query] {
      auto c = Client();
      c->Get("/api/v1/events?" + query, [&s](const char* data, size_t n) {
        absl::MutexLock lock(&s.mu);
        s.text.append(data, n);
        return true;
      });
    });
  };
  Stream rpc, late;
  open(rpc, "trigger=rpc&fields=summary.dump_id,summary.trigger");
  open(late, "trigger=late");
  ASSERT_TRUE(rpc.WaitFor(": live"));
  ASSERT_TRUE(late.WaitFor(": live"));

  httplib::Result frozen = Client()->Post("/api/v1/targets/vm0:freeze", "", "application/json");
  ASSERT_TRUE(frozen);
  ASSERT_EQ(frozen->status, 200) << frozen->body;
  const std::string id = Parse<v1::FreezeResponse>(frozen->body).dump_id();
  ASSERT_TRUE(rpc.WaitFor(absl::StrCat("id: ", id)));
  {
    absl::MutexLock lock(&rpc.mu);
    EXPECT_THAT(rpc.text, HasSubstr("event: dump"));
    EXPECT_THAT(rpc.text, HasSubstr(absl::StrCat("\"dump_id\": \"", id, "\"")));
    EXPECT_THAT(rpc.text, HasSubstr("TRIGGER_RPC"));
    EXPECT_THAT(rpc.text, ::testing::Not(HasSubstr("\"target\"")));  // masked out
    EXPECT_THAT(rpc.text, ::testing::Not(HasSubstr("map_of_vm0")));
  }
  http_->Stop();  // ends both streams
  rpc.reader.join();
  late.reader.join();
  EXPECT_FALSE(late.Has("event: dump"));
}

// Prometheus text format, line by line; the dump and Freeze counters move after a freeze.
TEST_F(HttpFrontendTest, MetricsAreAValidExpositionAndMoveAfterAFreeze) {
  Start(kHttpUnixFreezes);
  auto c = Client();
  httplib::Result before = c->Get("/metrics");
  ASSERT_TRUE(before);
  EXPECT_THAT(before->body, HasSubstr("kfreeze_build_info{"));
  EXPECT_THAT(before->body, ::testing::Not(HasSubstr("kfreeze_dumps_total{")));
  ASSERT_EQ(c->Post("/api/v1/targets/vm0:freeze", "", "application/json")->status, 200);
  httplib::Result after = c->Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_THAT(after->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  for (absl::string_view line : absl::StrSplit(after->body, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(IsExpositionLine(line)) << line;
  }
  EXPECT_THAT(after->body,
              HasSubstr(R"(kfreeze_dumps_total{schema="single",target="vm0",trigger="rpc"} 1)"));
  EXPECT_THAT(after->body,
              HasSubstr(R"(kfreeze_freeze_call_seconds_count{code="OK",target="vm0"} 1)"));
  EXPECT_THAT(after->body, HasSubstr(R"(kfreeze_freeze_window_seconds_count{target="vm0"} 1)"));
  EXPECT_THAT(after->body, HasSubstr("kfreeze_archive_dumps 1"));
  EXPECT_THAT(after->body, HasSubstr(R"(kfreeze_attach_seconds_count{target="vm0"} 1)"));
}

// The dashboard is in the binary: the page, its script and style, each with its type, and a
// policy that keeps the page from loading anything from elsewhere.
TEST_F(HttpFrontendTest, TheDashboardIsServedFromTheBinary) {
  Start(kHttpUnixFreezes);
  auto c = Client();
  httplib::Result page = c->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_THAT(page->body, HasSubstr(R"(<script src="/assets/app.js">)"));
  httplib::Result script = c->Get("/assets/app.js");
  ASSERT_TRUE(script);
  EXPECT_THAT(script->get_header_value("Content-Type"), HasSubstr("text/javascript"));
  EXPECT_THAT(script->body, HasSubstr("EventSource('/api/v1/events"));
  EXPECT_EQ(c->Get("/assets/app.css")->status, 200);
  EXPECT_EQ(c->Get("/assets/nope.js")->status, 404);

  // The dump page's kernel-layout view: the text of `kfreeze report show --style kernel`.
  httplib::Result frozen = c->Post("/api/v1/targets/vm0:freeze", "", "application/json");
  ASSERT_EQ(frozen->status, 200);
  const std::string id = Parse<v1::FreezeResponse>(frozen->body).dump_id();
  httplib::Result text = c->Get("/api/v1/dumps/" + id + "?format=text&style=kernel");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_THAT(text->get_header_value("Content-Type"), HasSubstr("text/plain"));
  EXPECT_THAT(text->body, HasSubstr(id));
  EXPECT_EQ(c->Get("/api/v1/dumps/" + id + "?format=yaml")->status, 400);

  // The dump page loads the report without map entries and pages through them.
  httplib::Result page_view = c->Get("/api/v1/dumps/" + id + "?view=page");
  ASSERT_TRUE(page_view);
  EXPECT_EQ(Parse<v1::GetDumpResponse>(page_view->body).envelope().single().maps(0).name(),
            "map_of_vm0");
  httplib::Result entries =
      c->Get("/api/v1/dumps/" + id + "/maps/map_of_vm0/entries?offset=0&limit=10&q=x");
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->status, 200) << entries->body;
  EXPECT_THAT(entries->body, HasSubstr(R"("total":0)"));
  EXPECT_EQ(c->Get("/api/v1/dumps/" + id + "/maps/nope/entries")->status, 404);
  EXPECT_EQ(c->Get("/api/v1/dumps/" + id + "/maps/map_of_vm0/entries?limit=ten")->status, 400);
}

// HTTPS with client certificates: each client is named by its certificate and gets the roles the
// config grants those names, as on the gRPC side; no certificate, no connection.
TEST_F(HttpFrontendTest, HttpsNamesClientsByTheirCertificates) {
  Start(R"([{"role": "freeze", "tls_identities": ["ci-runner"]},
            {"role": "read", "any_peer_on": ["tls"]}])");
  TestPki pki(dir_.path());
  pki.Issue("runner", "ci-runner", "URI:spiffe://lab/runner");
  pki.Issue("dash", "dashboard", "DNS:dashboard.example");
  ASSERT_TRUE(pki.ok());
  v1::TlsConfig tls;
  tls.set_cert_file(dir_.path() + "/server.pem");
  tls.set_key_file(dir_.path() + "/server.key");
  tls.set_client_ca_file(dir_.path() + "/ca.pem");
  HttpDeps deps{&daemon_->api(), &daemon_->metrics(), &daemon_->archive(), &daemon_->bus()};
  auto https = HttpFrontend::Start("127.0.0.1:0", 0660, deps, tls);
  ASSERT_TRUE(https.ok()) << https.status();
  const int port = std::stoi((*https)->address().substr((*https)->address().rfind(':') + 1));
  auto client = [&](const std::string& name) {
    auto c = std::make_unique<httplib::SSLClient>(
        "localhost", port, name.empty() ? std::string() : dir_.path() + "/" + name + ".pem",
        name.empty() ? std::string() : dir_.path() + "/" + name + ".key");
    c->set_ca_cert_path((dir_.path() + "/ca.pem").c_str());
    c->enable_server_certificate_verification(true);
    return c;
  };
  httplib::Result frozen =
      client("runner")->Post("/api/v1/targets/vm0:freeze", "", "application/json");
  ASSERT_TRUE(frozen) << httplib::to_string(frozen.error());
  EXPECT_EQ(frozen->status, 200) << frozen->body;
  httplib::Result read = client("dash")->Get("/api/v1/targets");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  httplib::Result denied =
      client("dash")->Post("/api/v1/targets/vm0:freeze", "", "application/json");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_THAT(denied->body, HasSubstr("dashboard"));  // the peer, named by its certificate
  EXPECT_FALSE(client("")->Get("/api/v1/targets"));   // no client certificate: no connection
  (*https)->Stop();

  v1::TlsConfig incomplete = tls;
  incomplete.clear_client_ca_file();
  EXPECT_TRUE(
      absl::IsInvalidArgument(HttpFrontend::Start("127.0.0.1:0", 0660, deps, incomplete).status()));
}

TEST_F(HttpFrontendTest, LoopbackTcpServesAndOtherAddressesAreRefused) {
  Start();
  HttpDeps deps{&daemon_->api(), &daemon_->metrics(), &daemon_->archive(), &daemon_->bus()};
  auto off_loopback = HttpFrontend::Start("0.0.0.0:0", 0660, deps);
  EXPECT_TRUE(absl::IsInvalidArgument(off_loopback.status())) << off_loopback.status();
  auto tcp = HttpFrontend::Start("127.0.0.1:0", 0660, deps);
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  std::vector<std::string> hostport = absl::StrSplit((*tcp)->address(), ':');
  ASSERT_EQ(hostport.size(), 2u);
  httplib::Client c(hostport[0], std::stoi(hostport[1]));
  httplib::Result info = c.Get("/api/v1/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 200);
  // A loopback TCP client reads; freezing needs a grant.
  EXPECT_EQ(c.Post("/api/v1/targets/vm0:freeze", "", "application/json")->status, 403);
  (*tcp)->Stop();
}

}  // namespace
}  // namespace kfreeze::server::http
