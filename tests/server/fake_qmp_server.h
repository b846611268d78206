// A QMP server on a unix socket for tests: greeting, qmp_capabilities, stop/cont/query-status over
// a QEMU-like run state, `human-monitor-command` "info registers -a"; scripted misbehaviour (never
// answer a command, or drop the connection on it as a killed QEMU would).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kfreeze::testing {

class FakeQmpServer {
 public:
  enum class Fault { kNone, kHang, kDisconnect };

  explicit FakeQmpServer(std::string socket_path);
  ~FakeQmpServer();

  // Behaviour for a command ("stop", "cont", "human-monitor-command").
  void SetFault(const std::string& command, Fault fault);
  void SetRegistersText(std::string text);
  // The QEMU RunState query-status reports ("paused" as if an operator sent `stop`, "io-error",
  // ...); `stop` makes it "paused", `cont` "running".
  void SetStatus(const std::string& status);
  std::string status() const;

  std::vector<std::string> commands() const;  // executed commands in order (not capabilities)
  int count(const std::string& command) const;
  bool running() const { return running_.load(); }
  const std::string& path() const { return path_; }

 private:
  void Serve();
  void Handle(int fd);

  const std::string path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{true};
  mutable std::mutex mu_;
  std::map<std::string, Fault> faults_;
  std::string registers_;
  std::string status_ = "running";
  std::vector<std::string> commands_;
  std::thread thread_;
};

// Two vCPUs of QEMU 7.2 `info registers -a` output (trimmed to the lines the parser reads).
extern const char kTwoVcpuRegisters[];

}  // namespace kfreeze::testing
