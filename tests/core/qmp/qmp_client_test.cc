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

TEST(QmpClientTest, MalformedRepliesAreDataLoss) {
  FakeQmpServer server([](const Json& req) {
    return FakeQmpServer::Response{{Json{{"id", req["id"]}, {"neither", 1}}}, false};
  });
  auto client = QmpClient::Connect(server.path());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Stop().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*client)->QueryStatus().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kfreeze
