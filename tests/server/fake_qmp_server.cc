#include "tests/server/fake_qmp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace kfreeze::testing {

const char kTwoVcpuRegisters[] =
    "CPU#0\r\n"
    "RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000001 RDX=0000000000000000\r\n"
    "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=ffffffff82003e98\r\n"
    "RIP=ffffffff81e5d6bf RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\r\n"
    "CR0=80050033 CR2=0000000000000000 CR3=000000000280a000 CR4=00350ef0\r\n"
    "CPU#1\r\n"
    "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000001 RSP=ffffc90000093ea0\r\n"
    "RIP=ffffffff81e5d6bf RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\r\n"
    "CR0=80050033 CR2=0000000000000000 CR3=0000000004d6a000 CR4=00350ef0\r\n";

FakeQmpServer::FakeQmpServer(std::string socket_path)
    : path_(std::move(socket_path)), registers_(kTwoVcpuRegisters) {
  unlink(path_.c_str());
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
    listen(listen_fd_, 4);
  thread_ = std::thread([this] { Serve(); });
}

FakeQmpServer::~FakeQmpServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
  unlink(path_.c_str());
}

void FakeQmpServer::SetFault(const std::string& command, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[command] = fault;
}

void FakeQmpServer::SetRegistersText(std::string text) {
  std::lock_guard<std::mutex> lock(mu_);
  registers_ = std::move(text);
}

void FakeQmpServer::SetStatus(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
  running_ = status == "running";
}

std::string FakeQmpServer::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

std::vector<std::string> FakeQmpServer::commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commands_;
}

int FakeQmpServer::count(const std::string& command) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& c : commands_) n += c == command;
  return n;
}

void FakeQmpServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Handle(fd);
    close(fd);
  }
}

void FakeQmpServer::Handle(int fd) {
  auto send_json = [fd](const nlohmann::json& j) {
    std::string line = j.dump() + "\r\n";
    (void)send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  };
  send_json({{"QMP",
              {{"version", {{"qemu", {{"major", 7}, {"minor", 2}, {"micro", 0}}}}},
               {"capabilities", nlohmann::json::array()}}}});
  std::string buffer;
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      nlohmann::json req = nlohmann::json::parse(buffer.substr(0, nl), nullptr, false);
      buffer.erase(0, nl + 1);
      if (req.is_discarded()) continue;
      std::string cmd = req.value("execute", "");
      nlohmann::json id = req.contains("id") ? req["id"] : nlohmann::json();
      if (cmd == "qmp_capabilities") {
        send_json({{"return", nlohmann::json::object()}, {"id", id}});
        continue;
      }
      Fault fault;
      std::string regs;
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands_.push_back(cmd);
        fault = faults_.count(cmd) ? faults_[cmd] : Fault::kNone;
        regs = registers_;
      }
      if (fault == Fault::kDisconnect) return;  // QEMU died
      if (fault == Fault::kHang) continue;      // never answers
      if (cmd == "stop") {
        SetStatus("paused");
        send_json({{"event", "STOP"}, {"timestamp", {{"seconds", 1}, {"microseconds", 0}}}});
        send_json({{"return", nlohmann::json::object()}, {"id", id}});
      } else if (cmd == "cont") {
        SetStatus("running");
        send_json({{"event", "RESUME"}, {"timestamp", {{"seconds", 1}, {"microseconds", 0}}}});
        send_json({{"return", nlohmann::json::object()}, {"id", id}});
      } else if (cmd == "query-status") {
        std::string now = status();
        send_json({{"return", {{"running", now == "running"}, {"status", now}}}, {"id", id}});
      } else if (cmd == "human-monitor-command") {
        std::string line = req["arguments"].value("command-line", "");
        if (line == "info registers -a") {
          send_json({{"return", regs}, {"id", id}});
        } else {
          send_json({{"return", "unknown command: '" + line + "'\r\n"}, {"id", id}});
        }
      } else {
        send_json({{"error",
                    {{"class", "CommandNotFound"},
                     {"desc", "The command " + cmd + " has not been found"}}},
                   {"id", id}});
      }
    }
  }
}

}  // namespace kfreeze::testing
