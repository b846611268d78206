// FakeQmpServer: one connection at a time, line-delimited JSON.
#include "tests/support/fake_qmp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

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

// The QEMU the fake plays unless scripted.
class QemuLikeVm {
 public:
  FakeQmpServer::Response Handle(const nlohmann::json& req) {
    const std::string cmd = req.value("execute", std::string());
    if (cmd == "stop" || cmd == "cont") {
      SetStatus(cmd == "stop" ? "paused" : "running");
      FakeQmpServer::Response r = FakeQmpServer::Return(req, nlohmann::json::object());
      r.lines.insert(r.lines.begin(), {{"event", cmd == "stop" ? "STOP" : "RESUME"},
                                       {"timestamp", {{"seconds", 1}, {"microseconds", 0}}}});
      return r;
    }
    if (cmd == "query-status") {
      const std::string now = status();
      return FakeQmpServer::Return(req, {{"running", now == "running"}, {"status", now}});
    }
    if (cmd == "human-monitor-command") {
      const std::string line = req["arguments"].value("command-line", std::string());
      std::lock_guard<std::mutex> lock(mu_);
      if (line == "info registers -a") return FakeQmpServer::Return(req, registers_);
      if (line == "info mtree -f") return FakeQmpServer::Return(req, mtree_);
      return FakeQmpServer::Return(req, "unknown command: '" + line + "'\r\n");
    }
    return FakeQmpServer::Error(req, "CommandNotFound",
                                "The command " + cmd + " has not been found");
  }
  void SetStatus(const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
  }
  std::string status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  void SetRegistersText(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    registers_ = std::move(text);
  }
  void SetMtreeText(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    mtree_ = std::move(text);
  }

 private:
  mutable std::mutex mu_;
  std::string status_ = "running";
  std::string registers_ = kTwoVcpuRegisters;
  std::string mtree_;
};

namespace {

bool SendLine(int fd, const nlohmann::json& j) {
  std::string s = j.dump() + "\r\n";
  return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

}  // namespace

FakeQmpServer::Response FakeQmpServer::Return(const nlohmann::json& request, nlohmann::json value) {
  nlohmann::json reply = {{"return", std::move(value)}};
  if (request.contains("id")) reply["id"] = request["id"];
  return Response{{reply}, false};
}

FakeQmpServer::Response FakeQmpServer::Error(const nlohmann::json& request, const std::string& cls,
                                             const std::string& desc) {
  nlohmann::json reply = {{"error", {{"class", cls}, {"desc", desc}}}};
  if (request.contains("id")) reply["id"] = request["id"];
  return Response{{reply}, false};
}

FakeQmpServer::FakeQmpServer(std::string socket_path)
    : FakeQmpServer(std::make_shared<QemuLikeVm>(), nullptr, nullptr, std::move(socket_path)) {}

FakeQmpServer::FakeQmpServer(Handler handler, nlohmann::json greeting)
    : FakeQmpServer(nullptr, std::move(handler), std::move(greeting), "") {}

FakeQmpServer::FakeQmpServer(std::shared_ptr<QemuLikeVm> vm, Handler handler,
                             nlohmann::json greeting, std::string socket_path)
    : vm_(std::move(vm)), handler_(std::move(handler)), greeting_(std::move(greeting)) {
  if (greeting_.is_null()) {
    greeting_ = {{"QMP",
                  {{"version", {{"qemu", {{"major", 7}, {"minor", 2}, {"micro", 0}}}}},
                   {"capabilities", nlohmann::json::array({"oob"})}}}};
  }
  if (socket_path.empty()) {
    dir_.emplace("kfreeze-fake-qmp");
    socket_path = dir_->path() + "/qmp.sock";
  }
  path_ = std::move(socket_path);
  unlink(path_.c_str());
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 4) != 0) {
    std::perror("FakeQmpServer");
    std::abort();
  }
  thread_ = std::thread([this] { Serve(); });
}

FakeQmpServer::~FakeQmpServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
  unlink(path_.c_str());
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

void FakeQmpServer::SetFault(const std::string& command, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[command] = fault;
}

void FakeQmpServer::SetStatus(const std::string& status) {
  if (vm_) vm_->SetStatus(status);
}

std::string FakeQmpServer::status() const { return vm_ ? vm_->status() : ""; }

void FakeQmpServer::SetRegistersText(std::string text) {
  if (vm_) vm_->SetRegistersText(std::move(text));
}

void FakeQmpServer::SetMtreeText(std::string text) {
  if (vm_) vm_->SetMtreeText(std::move(text));
}

void FakeQmpServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ServeConnection(fd);
    close(fd);
  }
}

void FakeQmpServer::ServeConnection(int fd) {
  // An array greeting is sent line by line (e.g. stale events ahead of the banner).
  if (greeting_.is_array()) {
    for (const nlohmann::json& line : greeting_) SendLine(fd, line);
  } else {
    SendLine(fd, greeting_);
  }
  std::string buf;
  while (!stop_) {
    pollfd c{fd, POLLIN, 0};
    if (poll(&c, 1, 20) <= 0) continue;
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      nlohmann::json req = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
      buf.erase(0, nl + 1);
      if (req.is_discarded() || !req.is_object()) continue;
      const std::string cmd = req.value("execute", std::string());
      if (cmd == "qmp_capabilities") {
        SendLine(fd, Return(req, nlohmann::json::object()).lines[0]);
        continue;
      }
      Fault fault = Fault::kNone;
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands_.push_back(cmd);
        if (auto it = faults_.find(cmd); it != faults_.end()) fault = it->second;
      }
      if (fault == Fault::kDisconnect) return;  // QEMU died
      if (fault == Fault::kHang) continue;      // never answers
      Response r = vm_ ? vm_->Handle(req) : handler_(req);
      for (const nlohmann::json& line : r.lines) SendLine(fd, line);
      if (r.hang_up) return;
    }
  }
}

FakeQmpServer::Handler QemuLikeHandler(std::string mtree_text) {
  auto vm = std::make_shared<QemuLikeVm>();
  vm->SetMtreeText(std::move(mtree_text));
  return [vm](const nlohmann::json& req) { return vm->Handle(req); };
}

}  // namespace kfreeze::testing
