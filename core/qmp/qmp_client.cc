// QMP client: newline-delimited JSON over a unix stream socket, poll()-based timeouts.
#include "core/qmp/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// Events kept for TakeEvents(); older ones are dropped (callers poll them between freezes).
constexpr size_t kMaxBufferedEvents = 256;
// More vCPUs than any x86 QEMU machine allows: a longer query-cpus-fast reply is not QEMU's.
constexpr size_t kMaxCpusFastEntries = 4096;

int PollTimeoutMs(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

// obj[key] if it is a string; json::value() would throw on a type mismatch.
std::string StringField(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string("?");
}

// Events a new connection may see before the greeting (see Connect).
constexpr int kMaxEventsBeforeGreeting = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("QMP socket path too long: ", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", socket_path, ": ", std::strerror(err)));
  }
  std::unique_ptr<QmpClient> client(new QmpClient(fd));
  absl::MutexLock lock(&client->mu_);
  KF_ASSIGN_OR_RETURN(nlohmann::json greeting, client->ReadMessage(deadline));
  // QEMU can flush events queued for the previous client (a RESUME after its `cont`) to the next
  // one ahead of the greeting: skip a bounded number of them.
  for (int skipped = 0; skipped < kMaxEventsBeforeGreeting && greeting.is_object() &&
                        greeting.contains("event") && !greeting.contains("QMP");
       ++skipped) {
    KF_ASSIGN_OR_RETURN(greeting, client->ReadMessage(deadline));
  }
  if (!greeting.is_object() || !greeting.contains("QMP")) {
    return absl::FailedPreconditionError(
        absl::StrCat(socket_path, " did not greet with QMP: ", greeting.dump()));
  }
  client->greeting_ = std::move(greeting);
  KF_RETURN_IF_ERROR(client->ExecuteLocked("qmp_capabilities", nullptr, deadline).status());
  return client;
}

QmpClient::~QmpClient() { close(fd_); }

absl::Status QmpClient::WriteAll(const std::string& data, absl::Time deadline) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int r = poll(&p, 1, PollTimeoutMs(deadline));
      if (r == 0) return absl::DeadlineExceededError("QMP write timed out");
      continue;
    }
    return absl::UnavailableError(absl::StrCat("QMP write: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> QmpClient::ReadMessage(absl::Time deadline) {
  while (true) {
    size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      nlohmann::json msg = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (msg.is_discarded())
        return absl::DataLossError(absl::StrCat("QMP sent invalid JSON: ", line));
      return msg;
    }
    if (buffer_.size() > caps::kMaxQmpReplyBytes) {
      return absl::DataLossError(
          absl::StrCat("QMP message exceeds ", caps::kMaxQmpReplyBytes, " bytes"));
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, PollTimeoutMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return absl::DeadlineExceededError("QMP reply timed out");
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n == 0) return absl::UnavailableError("QMP socket closed by QEMU");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("QMP read: ", std::strerror(errno)));
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<uint64_t> QmpClient::SendLocked(absl::string_view command,
                                               const nlohmann::json& arguments,
                                               absl::Time deadline) {
  const uint64_t id = next_id_++;
  nlohmann::json request = {{"execute", std::string(command)}, {"id", id}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  KF_RETURN_IF_ERROR(WriteAll(request.dump() + "\n", deadline));
  return id;
}

absl::StatusOr<nlohmann::json> QmpClient::AwaitLocked(uint64_t id, absl::string_view command,
                                                      absl::Time deadline) {
  nlohmann::json reply;
  if (auto parked = parked_.find(id); parked != parked_.end()) {
    reply = std::move(parked->second);
    parked_.erase(parked);
  } else {
    for (int skipped = 0;; ++skipped) {
      if (skipped > caps::kMaxQmpEventsPerReply) {
        return absl::DataLossError(absl::StrCat("QMP ", command, ": more than ",
                                                caps::kMaxQmpEventsPerReply,
                                                " events before the reply"));
      }
      KF_ASSIGN_OR_RETURN(nlohmann::json msg, ReadMessage(deadline));
      if (!msg.is_object()) continue;
      if (msg.contains("event")) {
        if (events_.size() >= kMaxBufferedEvents) events_.pop_front();
        events_.push_back(std::move(msg));
        continue;
      }
      auto id_it = msg.find("id");
      if (id_it == msg.end() || !id_it->is_number_unsigned()) continue;
      const uint64_t got = id_it->get<uint64_t>();
      if (got == id) {
        reply = std::move(msg);
        break;
      }
      // Another sent request's reply is kept for its Await; replies to requests that timed out
      // or were forgotten are dropped.
      if (awaited_.contains(got)) parked_[got] = std::move(msg);
    }
  }
  awaited_.erase(id);
  if (auto ret = reply.find("return"); ret != reply.end()) return *ret;
  if (auto err = reply.find("error"); err != reply.end() && err->is_object()) {
    std::string cls = StringField(*err, "class");
    std::string desc = StringField(*err, "desc");
    return absl::FailedPreconditionError(absl::StrCat("QMP ", command, ": ", cls, ": ", desc));
  }
  return absl::DataLossError(absl::StrCat("QMP reply without return/error: ", reply.dump()));
}

absl::StatusOr<nlohmann::json> QmpClient::ExecuteLocked(absl::string_view command,
                                                        const nlohmann::json& arguments,
                                                        absl::Time deadline) {
  KF_ASSIGN_OR_RETURN(uint64_t id, SendLocked(command, arguments, deadline));
  return AwaitLocked(id, command, deadline);
}

absl::StatusOr<uint64_t> QmpClient::Send(absl::string_view command, const nlohmann::json& arguments,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  KF_ASSIGN_OR_RETURN(uint64_t id, SendLocked(command, arguments, deadline));
  awaited_.insert(id);
  return id;
}

absl::StatusOr<nlohmann::json> QmpClient::Await(uint64_t id, absl::string_view command,
                                                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  if (!awaited_.contains(id) && !parked_.contains(id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("QMP ", command, ": no request ", id, " is awaited"));
  }
  absl::StatusOr<nlohmann::json> reply = AwaitLocked(id, command, deadline);
  // A timed-out Await gives up on the reply: it is dropped when it comes.
  if (!reply.ok()) awaited_.erase(id);
  return reply;
}

void QmpClient::Forget(uint64_t id) {
  absl::MutexLock lock(&mu_);
  awaited_.erase(id);
  parked_.erase(id);
}

absl::StatusOr<nlohmann::json> QmpClient::Execute(absl::string_view command,
                                                  const nlohmann::json& arguments,
                                                  absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  return ExecuteLocked(command, arguments, deadline);
}

absl::StatusOr<std::string> QmpClient::HumanMonitorCommand(absl::string_view command_line,
                                                           absl::Duration timeout) {
  KF_ASSIGN_OR_RETURN(
      nlohmann::json ret,
      Execute("human-monitor-command", {{"command-line", std::string(command_line)}}, timeout));
  if (!ret.is_string()) return absl::DataLossError("human-monitor-command returned a non-string");
  return ret.get<std::string>();
}

absl::Status QmpClient::Stop(absl::Duration timeout) {
  return Execute("stop", nullptr, timeout).status();
}

absl::Status QmpClient::Cont(absl::Duration timeout) {
  return Execute("cont", nullptr, timeout).status();
}

absl::StatusOr<VmRunState> QmpClient::QueryStatus(absl::Duration timeout) {
  KF_ASSIGN_OR_RETURN(nlohmann::json ret, Execute("query-status", nullptr, timeout));
  if (!ret.is_object() || !ret.contains("running") || !ret["running"].is_boolean()) {
    return absl::DataLossError(absl::StrCat("query-status: unexpected reply ", ret.dump()));
  }
  VmRunState state;
  state.running = ret["running"].get<bool>();
  state.status = StringField(ret, "status");
  return state;
}

absl::StatusOr<std::vector<VcpuThreadId>> QmpClient::QueryCpusFast(absl::Duration timeout) {
  KF_ASSIGN_OR_RETURN(nlohmann::json ret, Execute("query-cpus-fast", nullptr, timeout));
  if (!ret.is_array()) {
    return absl::DataLossError(absl::StrCat("query-cpus-fast: not an array: ", ret.dump()));
  }
  if (ret.size() > kMaxCpusFastEntries) {
    return absl::DataLossError(
        absl::StrCat("query-cpus-fast: ", ret.size(), " vCPUs, more than ", kMaxCpusFastEntries));
  }
  std::vector<VcpuThreadId> out;
  out.reserve(ret.size());
  for (const nlohmann::json& cpu : ret) {
    auto index = cpu.is_object() ? cpu.find("cpu-index") : cpu.end();
    auto tid = cpu.is_object() ? cpu.find("thread-id") : cpu.end();
    if (index == cpu.end() || !index->is_number_unsigned() || tid == cpu.end() ||
        !tid->is_number_integer() || tid->get<int64_t>() <= 0 ||
        index->get<uint64_t>() >= kMaxCpusFastEntries) {
      return absl::DataLossError(
          absl::StrCat("query-cpus-fast: entry without a valid cpu-index/thread-id: ", cpu.dump()));
    }
    out.push_back({index->get<uint32_t>(), tid->get<int64_t>()});
  }
  return out;
}

std::vector<nlohmann::json> QmpClient::TakeEvents() {
  absl::MutexLock lock(&mu_);
  std::vector<nlohmann::json> out(std::make_move_iterator(events_.begin()),
                                  std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

absl::StatusOr<std::string> FetchMemoryTree(const std::string& socket_path,
                                            absl::Duration timeout) {
  KF_ASSIGN_OR_RETURN(std::unique_ptr<QmpClient> qmp, QmpClient::Connect(socket_path, timeout));
  return qmp->HumanMonitorCommand("info mtree -f", timeout);
}

}  // namespace kfreeze
