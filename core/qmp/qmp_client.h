// A QEMU Machine Protocol client over a unix socket: handshake, commands with ids and timeouts,
// HMP passthrough, and the VM calls the freeze path needs (stop, cont, query-status,
// query-cpus-fast).
// Thread-safe: calls are serialised; asynchronous events seen meanwhile are kept (bounded).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/caps.h"

namespace kfreeze {

struct VmRunState {
  bool running = false;
  std::string status;  // QEMU RunState: "running", "paused", "shutdown", ...
};

// One entry of `query-cpus-fast`: the host thread that runs a vCPU.
struct VcpuThreadId {
  uint32_t cpu_index = 0;  // QEMU's CPU#N
  int64_t thread_id = 0;   // host TID (all vCPUs share one under single-threaded TCG)
};

// QEMU's `info mtree -f` over a fresh connection to `socket_path`: the text
// RamLayout::FromMtree reads (AttachOptions::memory_tree).
absl::StatusOr<std::string> FetchMemoryTree(const std::string& socket_path,
                                            absl::Duration timeout = caps::kQmpDefaultTimeout);

class QmpClient {
 public:
  // Connects, reads the greeting and negotiates capabilities, all within `timeout`.
  static absl::StatusOr<std::unique_ptr<QmpClient>> Connect(
      const std::string& socket_path, absl::Duration timeout = caps::kQmpDefaultTimeout);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs `command`; returns the "return" value. QMP errors -> FailedPrecondition with class and
  // description; no reply in time -> DeadlineExceeded; closed socket -> Unavailable.
  absl::StatusOr<nlohmann::json> Execute(absl::string_view command,
                                         const nlohmann::json& arguments = nullptr,
                                         absl::Duration timeout = caps::kQmpDefaultTimeout);
  // Sends `command` without waiting for its reply; returns the request's id. Its reply is kept,
  // whenever it comes, until Await(id) or Forget(id). Lets a caller queue a command behind another
  // one so that QEMU runs it without a client round trip in between.
  absl::StatusOr<uint64_t> Send(absl::string_view command,
                                const nlohmann::json& arguments = nullptr,
                                absl::Duration timeout = caps::kQmpDefaultTimeout);
  // The "return" of a Send()'s request, as Execute gives it (replies to other sent requests read
  // meanwhile are kept for their own Await).
  absl::StatusOr<nlohmann::json> Await(uint64_t id, absl::string_view command,
                                       absl::Duration timeout = caps::kQmpDefaultTimeout);
  // Nobody will Await `id`: its reply is dropped, now or when it comes.
  void Forget(uint64_t id);
  // HMP command through human-monitor-command; returns its text output.
  absl::StatusOr<std::string> HumanMonitorCommand(
      absl::string_view command_line, absl::Duration timeout = caps::kQmpDefaultTimeout);
  absl::Status Stop(absl::Duration timeout = caps::kQmpDefaultTimeout);
  absl::Status Cont(absl::Duration timeout = caps::kQmpDefaultTimeout);
  absl::StatusOr<VmRunState> QueryStatus(absl::Duration timeout = caps::kQmpDefaultTimeout);
  // `query-cpus-fast`, in QEMU's order. DataLoss when an entry lacks cpu-index or thread-id.
  absl::StatusOr<std::vector<VcpuThreadId>> QueryCpusFast(
      absl::Duration timeout = caps::kQmpDefaultTimeout);

  const nlohmann::json& greeting() const { return greeting_; }
  // Events received while waiting for replies, oldest first; clears the buffer.
  std::vector<nlohmann::json> TakeEvents();

 private:
  explicit QmpClient(int fd) : fd_(fd) {}
  absl::StatusOr<nlohmann::json> ReadMessage(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteAll(const std::string& data, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> ExecuteLocked(absl::string_view command,
                                               const nlohmann::json& arguments, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> SendLocked(absl::string_view command, const nlohmann::json& arguments,
                                      absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> AwaitLocked(uint64_t id, absl::string_view command,
                                             absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int fd_;
  nlohmann::json greeting_;
  absl::Mutex mu_;
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<nlohmann::json> events_ ABSL_GUARDED_BY(mu_);
  // Sent requests someone will Await, and the replies that came for them before the Await.
  absl::flat_hash_set<uint64_t> awaited_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, nlohmann::json> parked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze
