#include "core/gdb/rsp_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace kfreeze::gdb {
namespace {

constexpr int kMaxRetransmits = 3;

int MillisLeft(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
}

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Waits for `events` on `fd` until `deadline`; false on timeout.
absl::StatusOr<bool> WaitFd(int fd, short events, absl::Time deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("poll");
    return n > 0;
  }
}

absl::StatusOr<int> ConnectNonBlocking(int family, const sockaddr* addr, socklen_t len,
                                       absl::Time deadline) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  if (::connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      absl::Status s = Errno("connect");
      ::close(fd);
      return s;
    }
    absl::StatusOr<bool> ready = WaitFd(fd, POLLOUT, deadline);
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (!ready.ok() || !*ready || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 ||
        err != 0) {
      ::close(fd);
      if (ready.ok() && !*ready) return absl::DeadlineExceededError("connect timed out");
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
    }
  }
  return fd;
}

uint8_t Checksum(absl::string_view data) {
  uint8_t sum = 0;
  for (char c : data) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  return sum;
}

// `}` escapes and `c*n` run-length encoding; bounded by kMaxPacket.
absl::StatusOr<std::string> Decode(absl::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '}') {
      if (++i >= raw.size()) return absl::DataLossError("packet ends inside an escape");
      out.push_back(static_cast<char>(raw[i] ^ 0x20));
    } else if (c == '*') {
      if (out.empty() || ++i >= raw.size()) return absl::DataLossError("bad run-length encoding");
      int repeat = static_cast<uint8_t>(raw[i]) - 29;
      if (repeat < 0) return absl::DataLossError("bad run-length count");
      if (out.size() + repeat > kMaxPacket) {
        return absl::DataLossError(absl::StrCat("packet expands past ", kMaxPacket, " bytes"));
      }
      out.append(static_cast<size_t>(repeat), out.back());
    } else {
      out.push_back(c);
    }
    if (out.size() > kMaxPacket) break;
  }
  if (out.size() > kMaxPacket) {
    return absl::DataLossError(absl::StrCat("packet expands past ", kMaxPacket, " bytes"));
  }
  return out;
}

std::optional<uint64_t> Hex(absl::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 16 || !absl::SimpleHexAtoi(s, &v)) return std::nullopt;
  return v;
}

}  // namespace

std::string FramePacket(absl::string_view payload) {
  std::string body;
  for (char c : payload) {
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      body.push_back('}');
      body.push_back(static_cast<char>(c ^ 0x20));
    } else {
      body.push_back(c);
    }
  }
  return absl::StrFormat("$%s#%02x", body, Checksum(body));
}

std::optional<StopReply> ParseStopReply(absl::string_view p) {
  if (p.size() < 3) return std::nullopt;
  StopReply r;
  r.kind = p[0];
  if (r.kind != 'T' && r.kind != 'S' && r.kind != 'W' && r.kind != 'X') return std::nullopt;
  std::optional<uint64_t> sig = Hex(p.substr(1, 2));
  if (!sig) return std::nullopt;
  r.signal = static_cast<uint8_t>(*sig);
  if (r.kind != 'T') return r;
  for (absl::string_view field : absl::StrSplit(p.substr(3), ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits(':', 1));
    if (kv.first == "thread") {
      absl::string_view tid = kv.second;
      if (absl::StartsWith(tid, "p")) {  // multiprocess form p<pid>.<tid>
        size_t dot = tid.find('.');
        tid = dot == absl::string_view::npos ? absl::string_view() : tid.substr(dot + 1);
      }
      r.thread = Hex(tid);
    } else if (kv.first == "watch" || kv.first == "rwatch" || kv.first == "awatch") {
      r.watch_addr = Hex(kv.second);
      if (r.watch_addr) r.watch_kind = std::string(kv.first);
    }
  }
  return r;
}

absl::StatusOr<std::unique_ptr<RspClient>> RspClient::Connect(const std::string& address,
                                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (absl::StartsWith(address, "unix:")) {
    std::string path = address.substr(5);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("bad unix socket path: ", path));
    }
    std::memcpy(sa.sun_path, path.data(), path.size());
    absl::StatusOr<int> fd =
        ConnectNonBlocking(AF_UNIX, reinterpret_cast<sockaddr*>(&sa), sizeof(sa), deadline);
    if (!fd.ok()) return fd.status();
    return FromFd(*fd);
  }
  if (absl::StartsWith(address, "tcp:")) {
    absl::string_view hp = absl::string_view(address).substr(4);
    size_t colon = hp.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("tcp address without port: ", address));
    }
    std::string host(hp.substr(0, colon));
    std::string port(hp.substr(colon + 1));
    if (host.empty()) host = "127.0.0.1";
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return absl::UnavailableError(absl::StrCat("resolve ", hp, ": ", ::gai_strerror(rc)));
    }
    absl::Status last = absl::UnavailableError("no address");
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      absl::StatusOr<int> fd =
          ConnectNonBlocking(a->ai_family, a->ai_addr, a->ai_addrlen, deadline);
      if (fd.ok()) {
        ::freeaddrinfo(res);
        return FromFd(*fd);
      }
      last = fd.status();
    }
    ::freeaddrinfo(res);
    return last;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("gdbstub address must be unix:PATH or tcp:HOST:PORT, not ", address));
}

std::unique_ptr<RspClient> RspClient::FromFd(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return std::unique_ptr<RspClient>(new RspClient(fd));
}

RspClient::RspClient(int fd) : fd_(fd) {}

RspClient::~RspClient() { ::close(fd_); }

absl::Status RspClient::SendRaw(absl::string_view bytes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      absl::StatusOr<bool> ready = WaitFd(fd_, POLLOUT, deadline);
      if (!ready.ok()) return ready.status();
      if (!*ready) return absl::DeadlineExceededError("gdbstub write timed out");
      continue;
    }
    return Errno("gdbstub write");
  }
  return absl::OkStatus();
}

absl::Status RspClient::SendPacket(absl::string_view payload, absl::Duration timeout) {
  if (payload.size() > kMaxPacket) return absl::InvalidArgumentError("packet too large");
  last_sent_ = FramePacket(payload);
  retransmits_left_ = kMaxRetransmits;
  return SendRaw(last_sent_, timeout);
}

absl::StatusOr<bool> RspClient::Fill(absl::Time deadline) {
  for (;;) {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) return absl::UnavailableError("gdbstub closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Errno("gdbstub read");
    if (deadline <= absl::Now()) return false;
    absl::StatusOr<bool> ready = WaitFd(fd_, POLLIN, deadline);
    if (!ready.ok()) return ready.status();
    if (!*ready) return false;
  }
}

absl::StatusOr<std::optional<std::string>> RspClient::TakeFromBuffer() {
  for (;;) {
    // Acks and garbage before a packet start.
    size_t start = 0;
    while (start < buffer_.size() && buffer_[start] != '$') {
      if (buffer_[start] == '-' && retransmits_left_ > 0 && !last_sent_.empty()) {
        --retransmits_left_;
        if (absl::Status s = SendRaw(last_sent_, absl::Seconds(1)); !s.ok()) return s;
      }
      ++start;
    }
    buffer_.erase(0, start);
    if (buffer_.empty()) return std::nullopt;
    size_t hash = buffer_.find('#', 1);
    if (hash == std::string::npos) {
      if (buffer_.size() > kMaxPacket + 4) {
        buffer_.clear();
        return absl::DataLossError(absl::StrCat("gdbstub packet longer than ", kMaxPacket));
      }
      return std::nullopt;
    }
    if (hash > kMaxPacket + 1) {
      buffer_.clear();
      return absl::DataLossError(absl::StrCat("gdbstub packet longer than ", kMaxPacket));
    }
    if (buffer_.size() < hash + 3) return std::nullopt;
    absl::string_view body = absl::string_view(buffer_).substr(1, hash - 1);
    std::optional<uint64_t> sum = Hex(absl::string_view(buffer_).substr(hash + 1, 2));
    if (!sum || *sum != Checksum(body)) {
      buffer_.erase(0, hash + 3);
      ++naks_sent_;
      if (absl::Status s = SendRaw("-", absl::Seconds(1)); !s.ok()) return s;
      continue;
    }
    absl::StatusOr<std::string> decoded = Decode(body);
    buffer_.erase(0, hash + 3);
    if (absl::Status s = SendRaw("+", absl::Seconds(1)); !s.ok()) return s;
    if (!decoded.ok()) return decoded.status();
    return *std::move(decoded);
  }
}

absl::StatusOr<std::string> RspClient::ReadPacket(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> p = TakeFromBuffer();
    if (!p.ok()) return p.status();
    if (*p) return std::move(**p);
    absl::StatusOr<bool> got = Fill(deadline);
    if (!got.ok()) return got.status();
    if (!*got) return absl::DeadlineExceededError("no reply from the gdbstub in time");
  }
}

absl::StatusOr<std::optional<std::string>> RspClient::PollPacket() {
  for (int i = 0; i < 16; ++i) {  // bounded: a flooding stub cannot keep us here
    absl::StatusOr<std::optional<std::string>> p = TakeFromBuffer();
    if (!p.ok() || *p) return p;
    absl::StatusOr<bool> got = Fill(absl::InfinitePast());
    if (!got.ok()) return got.status();
    if (!*got) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace kfreeze::gdb
