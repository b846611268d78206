// QmpClient against a fake QEMU: handshake, ids, interleaved events, errors, timeouts, hang-ups.
#include "core/qmp/qmp_client.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_qmp_server.h"

namespace kfreeze {
namespace {

using testing::FakeQmpServer;
using Json = nlohmann::json;

TEST(QmpClientTest, HandshakeAndCommands) {
  FakeQmpServer server(testing::QemuLikeHandler("FlatView #0\n"));
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->greeting().contains("QMP"));
  absl::StatusOr<VmRunState> st = (*client)->QueryStatus();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->running);
  EXPECT_EQ(st->status, "running");
  EXPECT_TRUE((*client)->Stop().ok());
  EXPECT_TRUE((*client)->Cont().ok());
  EXPECT_EQ(*(*client)->HumanMonitorCommand("info mtree -f"), "FlatView #0\n");
  EXPECT_EQ(server.commands(),
            (std::vector<std::string>{"query-status", "stop", "cont", "human-monitor-command"}));
}

TEST(QmpClientTest, EventsAndStaleRepliesAreSkipped) {
  FakeQmpServer server([](const Json& req) {
    FakeQmpServer::Response r;
    r.lines.push_back({{"event", "STOP"}, {"timestamp", {{"seconds", 1}, {"microseconds", 2}}}});
    r.lines.push_back({{"return", "stale"}, {"id", 999999}});  // a late reply to someone else
    r.lines.push_back({{"return", Json::object()}, {"id", req["id"]}});
    return r;
  });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Stop().ok());
  std::vector<Json> events = (*client)->TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event"], "STOP");
  EXPECT_TRUE((*client)->TakeEvents().empty());
}

// Requests queued with Send are answered in order by QEMU, but may be awaited in any order: a
// reply read while waiting for another is kept for its own Await; a forgotten one is dropped.
TEST(QmpClientTest, SentRequestsAreAwaitedInAnyOrder) {
  FakeQmpServer server([](const Json& req) { return FakeQmpServer::Return(req, req["execute"]); });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  absl::StatusOr<uint64_t> a = (*client)->Send("a");
  absl::StatusOr<uint64_t> b = (*client)->Send("b");
  absl::StatusOr<uint64_t> c = (*client)->Send("c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  (*client)->Forget(*c);
  absl::StatusOr<Json> got_b = (*client)->Await(*b, "b");
  ASSERT_TRUE(got_b.ok()) << got_b.status();
  EXPECT_EQ(*got_b, "b");
  absl::StatusOr<Json> got_a = (*client)->Await(*a, "a");
  ASSERT_TRUE(got_a.ok()) << got_a.status();
  EXPECT_EQ(*got_a, "a");
  // Each reply is given once; a forgotten request has none to give.
  EXPECT_EQ((*client)->Await(*a, "a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*client)->Await(*c, "c").status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Json> d = (*client)->Execute("d");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "d");
  EXPECT_EQ(server.commands(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(QmpClientTest, ErrorsCarryClassAndDescription) {
  FakeQmpServer server(testing::QemuLikeHandler(""));
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  absl::StatusOr<Json> r = (*client)->Execute("no-such-command");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("CommandNotFound"), absl::string_view::npos);
}

TEST(QmpClientTest, TimesOutWhenQemuDoesNotAnswer) {
  FakeQmpServer server([](const Json&) { return FakeQmpServer::Response{}; });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  const absl::Time start = absl::Now();
  absl::Status s = (*client)->Stop(absl::Milliseconds(100));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(QmpClientTest, HangUpIsUnavailable) {
  FakeQmpServer server([](const Json&) { return FakeQmpServer::Response{{}, true}; });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Cont(absl::Seconds(2)).code(), absl::StatusCode::kUnavailable);
}

TEST(QmpClientTest, RejectsNonQmpPeersAndMissingSockets) {
  FakeQmpServer not_qmp(testing::QemuLikeHandler(""), Json{{"hello", "world"}});
  EXPECT_EQ(QmpClient::Connect(not_qmp.path()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(QmpClient::Connect("/nonexistent/qmp.sock").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(QmpClient::Connect(std::string(200, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(QmpClientTest, EventsQueuedAheadOfTheGreetingAreSkipped) {
  // What QEMU 7.2 sent a client connecting right after another one's `cont`.
  Json resume = {{"event", "RESUME"}, {"timestamp", {{"seconds", 1}, {"microseconds", 0}}}};
  Json banner = {{"QMP", {{"version", Json::object()}, {"capabilities", Json::array()}}}};
  FakeQmpServer server(testing::QemuLikeHandler(""), Json::array({resume, resume, banner}));
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->QueryStatus().ok());
  // Only events are skipped, and only so many.
  Json many = Json::array();
  for (int i = 0; i < 100; ++i) many.push_back(resume);
  many.push_back(banner);
  FakeQmpServer endless(testing::QemuLikeHandler(""), many);
  EXPECT_EQ(QmpClient::Connect(endless.path()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(QmpClientTest, MalformedRepliesAreDataLoss) {
  FakeQmpServer server([](const Json& req) {
    return FakeQmpServer::Response{{Json{{"id", req["id"]}, {"neither", 1}}}, false};
  });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Stop().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*client)->QueryStatus().status().code(), absl::StatusCode::kDataLoss);
}

// query-cpus-fast as QEMU 7.2 prints it for a 2-vCPU x86 guest (props and qom-path included).
Json CpusFastReply() {
  return Json::parse(R"([
    {"thread-id": 4242, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0},
     "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
    {"thread-id": 4243, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 1},
     "qom-path": "/machine/unattached/device[2]", "cpu-index": 1, "target": "x86_64"}])");
}

TEST(QmpClientTest, QueryCpusFastGivesEachVcpusHostThread) {
  FakeQmpServer server([](const Json& req) {
    if (req["execute"] == "query-cpus-fast") return FakeQmpServer::Return(req, CpusFastReply());
    return FakeQmpServer::Error(req, "CommandNotFound", "unexpected");
  });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::vector<VcpuThreadId>> cpus = (*client)->QueryCpusFast();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  ASSERT_EQ(cpus->size(), 2u);
  EXPECT_EQ((*cpus)[0].cpu_index, 0u);
  EXPECT_EQ((*cpus)[0].thread_id, 4242);
  EXPECT_EQ((*cpus)[1].cpu_index, 1u);
  EXPECT_EQ((*cpus)[1].thread_id, 4243);
  EXPECT_EQ(server.commands(), (std::vector<std::string>{"query-cpus-fast"}));
}

TEST(QmpClientTest, QueryCpusFastRejectsEntriesWithoutAThread) {
  for (const Json& reply : {Json::object(), Json::array({{{"cpu-index", 0}}}),
                            Json::array({{{"cpu-index", 0}, {"thread-id", "4242"}}}),
                            Json::array({{{"cpu-index", 0}, {"thread-id", 0}}}),
                            Json::array({{{"cpu-index", -1}, {"thread-id", 4242}}})}) {
    FakeQmpServer server([reply](const Json& req) { return FakeQmpServer::Return(req, reply); });
    auto client = QmpClient::Connect(server.path());
    ASSERT_TRUE(client.ok());
    EXPECT_EQ((*client)->QueryCpusFast().status().code(), absl::StatusCode::kDataLoss)
        << reply.dump();
  }
}

}  // namespace
}  // namespace kfreeze
