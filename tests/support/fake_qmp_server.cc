// FakeQmpServer: one connection at a time, line-delimited JSON, handler-driven replies.
#include "tests/support/fake_qmp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

namespace kfreeze::testing {
namespace {

std::mutex g_commands_mu;

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

FakeQmpServer::FakeQmpServer(Handler handler, nlohmann::json greeting)
    : handler_(std::move(handler)), greeting_(std::move(greeting)) {
  if (greeting_.is_null()) {
    greeting_ = {{"QMP",
                  {{"version", {{"qemu", {{"major", 7}, {"minor", 2}, {"micro", 0}}}}},
                   {"capabilities", nlohmann::json::array({"oob"})}}}};
  }
  char tmpl[] = "/tmp/kfreeze-fake-qmp-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  dir_ = tmpl;
  path_ = dir_ + "/qmp.sock";
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
  rmdir(dir_.c_str());
}

std::vector<std::string> FakeQmpServer::commands() const {
  std::lock_guard<std::mutex> lock(g_commands_mu);
  return commands_;
}

void FakeQmpServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    SendLine(fd, greeting_);
    std::string buf;
    bool open = true;
    while (open && !stop_) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 20) <= 0) continue;
      char chunk[4096];
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while (open && (nl = buf.find('\n')) != std::string::npos) {
        nlohmann::json req = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        if (req.is_discarded() || !req.is_object()) continue;
        const std::string cmd = req.value("execute", std::string());
        if (cmd == "qmp_capabilities") {
          SendLine(fd, Return(req, nlohmann::json::object()).lines[0]);
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(g_commands_mu);
          commands_.push_back(cmd);
        }
        Response r = handler_(req);
        for (const nlohmann::json& line : r.lines) SendLine(fd, line);
        if (r.hang_up) open = false;
      }
    }
    close(fd);
  }
}

FakeQmpServer::Handler QemuLikeHandler(std::string mtree_text) {
  // QEMU's run state: `stop` pauses, `cont` runs, query-status tells.
  auto running = std::make_shared<std::atomic<bool>>(true);
  return [mtree = std::move(mtree_text), running](const nlohmann::json& req) {
    const std::string cmd = req.value("execute", std::string());
    if (cmd == "human-monitor-command") {
      const std::string line = req["arguments"].value("command-line", std::string());
      if (line == "info mtree -f") return FakeQmpServer::Return(req, mtree);
      return FakeQmpServer::Return(req, "unknown command\r\n");
    }
    if (cmd == "query-status") {
      bool now = running->load();
      return FakeQmpServer::Return(req, {{"running", now}, {"status", now ? "running" : "paused"}});
    }
    if (cmd == "stop" || cmd == "cont") {
      running->store(cmd == "cont");
      return FakeQmpServer::Return(req, nlohmann::json::object());
    }
    return FakeQmpServer::Error(req, "CommandNotFound",
                                "The command " + cmd + " has not been found");
  };
}

}  // namespace kfreeze::testing
