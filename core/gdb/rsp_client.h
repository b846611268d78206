// A small blocking GDB Remote Serial Protocol client for QEMU's gdbstub: `$data#cs` packets with
// acks, `}` escapes and run-length decoding, the 0x03 interrupt, and a non-blocking read for the
// asynchronous stop replies a running target sends.
//
// The stub is hostile input: every read has a deadline, packets are bounded (kMaxPacket, before
// and after run-length expansion), garbage between packets is skipped, and a bad checksum is
// NAKed. Not thread-safe: one owner thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kfreeze::gdb {

// Bigger than QEMU's PacketSize (4096); anything larger is an error, never an allocation.
inline constexpr size_t kMaxPacket = 16 * 1024;

// "$<escaped payload>#<checksum>".
std::string FramePacket(absl::string_view payload);

// A stop reply ("T05thread:p01.02;watch:ffff888004a1c0a0;", "S05", "W00"...).
struct StopReply {
  char kind = 0;       // 'T', 'S', 'W', 'X'
  uint8_t signal = 0;  // for T/S; the exit status for W/X
  // thread-id as the stub numbers it (QEMU: vCPU index + 1); "p<pid>.<tid>" or "<tid>".
  std::optional<uint64_t> thread;
  // The watchpoint address of a watch/rwatch/awatch stop.
  std::optional<uint64_t> watch_addr;
  std::string watch_kind;  // "watch", "rwatch", "awatch"
};

// nullopt when `payload` is not a stop reply.
std::optional<StopReply> ParseStopReply(absl::string_view payload);

class RspClient {
 public:
  // "unix:PATH" or "tcp:HOST:PORT". Unavailable when nobody listens.
  static absl::StatusOr<std::unique_ptr<RspClient>> Connect(const std::string& address,
                                                            absl::Duration timeout);
  // Takes ownership of a connected stream socket (tests use a socketpair).
  static std::unique_ptr<RspClient> FromFd(int fd);
  ~RspClient();
  RspClient(const RspClient&) = delete;
  RspClient& operator=(const RspClient&) = delete;

  // Writes one framed packet (the stub's '+' is consumed by later reads; a '-' retransmits).
  absl::Status SendPacket(absl::string_view payload, absl::Duration timeout);
  // Writes raw bytes (the 0x03 interrupt; several frames at once).
  absl::Status SendRaw(absl::string_view bytes, absl::Duration timeout);
  absl::Status SendInterrupt(absl::Duration timeout) { return SendRaw("\x03", timeout); }
  // The next packet's decoded payload, acked. DeadlineExceeded when none completes in time,
  // Unavailable when the stub closed, DataLoss for an oversized packet.
  absl::StatusOr<std::string> ReadPacket(absl::Duration timeout);
  // A packet already received or readable without blocking; nullopt when none is complete.
  absl::StatusOr<std::optional<std::string>> PollPacket();

  int fd() const { return fd_; }
  uint64_t naks_sent() const { return naks_sent_; }

 private:
  explicit RspClient(int fd);
  // Reads whatever is available within `deadline` into buffer_ (false: timed out).
  absl::StatusOr<bool> Fill(absl::Time deadline);
  // A complete packet from buffer_, if any.
  absl::StatusOr<std::optional<std::string>> TakeFromBuffer();

  const int fd_;
  std::string buffer_;
  std::string last_sent_;  // for a retransmission on '-'
  int retransmits_left_ = 0;
  uint64_t naks_sent_ = 0;
};

}  // namespace kfreeze::gdb
