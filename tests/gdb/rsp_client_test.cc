// The RSP client's framing against a scripted (and hostile) peer on a socketpair.
#include "core/gdb/rsp_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace kfreeze::gdb {
namespace {

class RspClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    client_ = RspClient::FromFd(sv[0]);
    peer_ = sv[1];
  }
  void TearDown() override {
    if (peer_ >= 0) close(peer_);
  }
  void PeerWrite(const std::string& s) {
    ASSERT_EQ(write(peer_, s.data(), s.size()), (ssize_t)s.size());
  }
  std::string PeerRead() {
    char buf[4096];
    ssize_t n = recv(peer_, buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 ? std::string(buf, n) : "";
  }
  std::unique_ptr<RspClient> client_;
  int peer_ = -1;
};

TEST(RspFraming, EscapesAndChecksums) {
  EXPECT_EQ(FramePacket("OK"), "$OK#9a");
  EXPECT_EQ(FramePacket("a#b"),
            "$a}\x03"
            "b#43");  // '#' ^ 0x20 == 0x03
}

TEST(RspFraming, ParsesQemuStopReplies) {
  std::optional<StopReply> r = ParseStopReply("T05thread:p01.02;watch:ffff888004a1c0a0;");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signal, 5);
  EXPECT_EQ(r->thread, 2u);
  EXPECT_EQ(r->watch_addr, 0xffff888004a1c0a0u);
  EXPECT_EQ(r->watch_kind, "watch");
  r = ParseStopReply("T02thread:01;");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->thread, 1u);
  EXPECT_FALSE(r->watch_addr);
  EXPECT_TRUE(ParseStopReply("S05"));
  EXPECT_FALSE(ParseStopReply("OK"));
  EXPECT_FALSE(ParseStopReply("Tzz"));
  EXPECT_FALSE(ParseStopReply(""));
  r = ParseStopReply("T05thread:p01.zz;watch:notahexnumberatallreally;");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->thread);
  EXPECT_FALSE(r->watch_addr);
}

TEST_F(RspClientTest, ReadsAndAcksAPacketAfterGarbage) {
  PeerWrite(
      "+garbage\x01\xff"
      "$OK#9a");
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(1));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "OK");
  EXPECT_EQ(PeerRead(), "+");
}

TEST_F(RspClientTest, DecodesRunLengthAndEscapes) {
  // "0* " = '0' then 32-29 = 3 more; "}\x03" = '#'.
  std::string body = "0* x}\x03";
  uint8_t sum = 0;
  for (char c : body) sum += static_cast<uint8_t>(c);
  char cs[3];
  snprintf(cs, sizeof(cs), "%02x", sum);
  PeerWrite("$" + body + "#" + cs);
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(1));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "0000x#");
}

TEST_F(RspClientTest, NaksABadChecksumAndTakesTheRetransmission) {
  PeerWrite("$OK#00$OK#9a");
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(1));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "OK");
  EXPECT_EQ(client_->naks_sent(), 1u);
  EXPECT_EQ(PeerRead(), "-+");
}

TEST_F(RspClientTest, OversizedPacketIsAnErrorNotAnAllocation) {
  PeerWrite("$" + std::string(kMaxPacket + 100, 'a'));
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(2));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kDataLoss) << p.status();
}

TEST_F(RspClientTest, RunLengthBombIsBounded) {
  std::string body = "a";
  for (int i = 0; i < 2000; ++i) body += "a*~";  // each expands by 97
  uint8_t sum = 0;
  for (char c : body) sum += static_cast<uint8_t>(c);
  char cs[3];
  snprintf(cs, sizeof(cs), "%02x", sum);
  PeerWrite("$" + body + "#" + cs);
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(2));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kDataLoss) << p.status();
}

TEST_F(RspClientTest, SilentStubTimesOut) {
  PeerWrite("$OK");  // never completes
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Milliseconds(100));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(RspClientTest, ClosedStubIsUnavailable) {
  close(peer_);
  peer_ = -1;
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(1));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RspClientTest, PollPacketNeverBlocks) {
  absl::StatusOr<std::optional<std::string>> p = client_->PollPacket();
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(*p);
  PeerWrite("$T02thread:01;#04");
  for (int i = 0; i < 100 && p.ok() && !*p; ++i) {
    p = client_->PollPacket();
    if (!*p) absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_EQ(**p, "T02thread:01;");
}

TEST_F(RspClientTest, RetransmitsOnNak) {
  ASSERT_TRUE(client_->SendPacket("qAttached", absl::Seconds(1)).ok());
  EXPECT_EQ(PeerRead(), FramePacket("qAttached"));
  PeerWrite("-$1#31");
  absl::StatusOr<std::string> p = client_->ReadPacket(absl::Seconds(1));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "1");
  EXPECT_EQ(PeerRead(), FramePacket("qAttached") + "+");
}

TEST(RspConnect, RejectsBadAddressesAndAbsentSockets) {
  EXPECT_EQ(RspClient::Connect("serial:/dev/x", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(RspClient::Connect("unix:/nonexistent/kfreeze-gdb.sock", absl::Seconds(1)).ok());
  EXPECT_EQ(RspClient::Connect("tcp:127.0.0.1", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kfreeze::gdb
