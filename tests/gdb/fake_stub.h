// An in-process stand-in for QEMU's gdbstub on one end of a socketpair, with QEMU 7.2's
// behaviour: any byte while the VM runs stops it (the byte is dropped) and sends a stop reply;
// 0x03 while stopped does nothing; `c` resumes; `s` steps (stop reply T05, or nothing with
// set_step_silent); Z2/z2 answer OK; qAttached answers 1.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "core/gdb/rsp_client.h"

namespace kfreeze::gdb {

class FakeQemuStub {
 public:
  explicit FakeQemuStub(bool running) : running_(running) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
    client_fd_ = sv[0];
    fd_ = sv[1];
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeQemuStub() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  int TakeClientFd() { return client_fd_; }
  bool running() { return running_; }
  void set_running(bool r) { running_ = r; }
  // A watchpoint write on vCPU `cpu`: stops the VM ("debug") and sends the stop reply.
  void Hit(uint64_t addr, int cpu) {
    std::lock_guard<std::mutex> l(mu_);
    running_ = false;
    Send(absl::StrFormat("T05thread:p01.%02x;watch:%x;", cpu + 1, addr));
  }
  // Someone else's QMP stop.
  void ExternalStop() {
    std::lock_guard<std::mutex> l(mu_);
    if (!running_) return;
    running_ = false;
    Send("T02thread:01;");
  }
  std::set<uint64_t> watchpoints() {
    std::lock_guard<std::mutex> l(mu_);
    return watch_;
  }
  int continues() { return continues_; }
  int steps() { return steps_; }
  // The watchpoints that were set when the last `s` came.
  std::set<uint64_t> watchpoints_at_step() {
    std::lock_guard<std::mutex> l(mu_);
    return watch_at_step_;
  }
  void set_step_silent(bool silent) { step_silent_ = silent; }
  std::string last_step() {
    std::lock_guard<std::mutex> l(mu_);
    return last_step_;
  }

 private:
  void Send(const std::string& payload) {
    std::string f = FramePacket(payload);
    (void)::send(fd_, f.data(), f.size(), MSG_NOSIGNAL);
  }
  void Serve() {
    std::string buf;
    char c;
    while (!stop_) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n <= 0) return;
      std::lock_guard<std::mutex> l(mu_);
      if (running_) {  // QEMU: "we cannot do anything except stop it when receiving a char"
        running_ = false;
        Send("T02thread:01;");
        continue;
      }
      if (buf.empty() && c != '$') continue;  // acks, 0x03 while stopped, garbage
      buf.push_back(c);
      size_t hash = buf.find('#');
      if (hash == std::string::npos || buf.size() < hash + 3) continue;
      std::string body = buf.substr(1, hash - 1);
      buf.clear();
      (void)::send(fd_, "+", 1, MSG_NOSIGNAL);
      Handle(body);
    }
  }
  void Handle(const std::string& p) {
    if (p == "qAttached") return Send("1");
    if (p == "?") {
      watch_.clear();
      return Send("T05thread:01;");
    }
    if (p == "c") {
      running_ = true;
      ++continues_;
      return;
    }
    if (p == "s" || p.rfind("vCont;s:", 0) == 0) {
      last_step_ = p;
      ++steps_;
      watch_at_step_ = watch_;
      if (!step_silent_) Send("T05thread:p01.02;");
      return;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p.size() > 3 && p[1] == '2') {
      size_t comma = p.find(',', 3);
      uint64_t addr = 0;
      if (!absl::SimpleHexAtoi(p.substr(3, comma - 3), &addr)) return Send("E22");
      if (p[0] == 'Z')
        watch_.insert(addr);
      else
        watch_.erase(addr);
      return Send("OK");
    }
    Send("");
  }

  std::mutex mu_;
  std::atomic<bool> running_;
  std::atomic<bool> stop_{false};
  std::atomic<int> continues_{0};
  std::atomic<int> steps_{0};
  std::atomic<bool> step_silent_{false};
  std::set<uint64_t> watch_;
  std::set<uint64_t> watch_at_step_;
  std::string last_step_;
  int fd_ = -1;
  int client_fd_ = -1;
  std::thread thread_;
};

}  // namespace kfreeze::gdb
