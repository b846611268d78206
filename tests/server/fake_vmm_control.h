// In-process VmmControl for freeze-session tests: records the call order, fails on request,
// keeps a QEMU-like run state (stop pauses, cont runs; a test may pause it "as someone else"),
// and lets a test block a call until the walk reaches a given point.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::testing {

// An x86 vCPU with only the basics, as a terse control reports it.
inline dump::VcpuRegisters BasicVcpu(uint32_t cpu, uint64_t pc, uint64_t sp, uint64_t root) {
  dump::VcpuRegisters r;
  r.cpu_index = cpu;
  r.pc = pc;
  r.sp = sp;
  r.page_table_root = root;
  return r;
}

class FakeVmmControl : public dump::VmmControl {
 public:
  absl::Status query_status;  // non-OK: query-status fails with it
  absl::Status stop_status;
  absl::Status cont_status;
  absl::StatusOr<std::vector<dump::VcpuRegisters>> regs = std::vector<dump::VcpuRegisters>{
      BasicVcpu(0, 0xffffffff81000010, 0xffffc90000003e00, 0x10a000),
      BasicVcpu(1, 0xffffffff81000020, 0xffffc90000013e00, 0x10b000)};
  // Runs inside ReadRegisters before it returns (e.g. to wait for the walk to start).
  std::function<void()> during_regs;

  absl::StatusOr<dump::VmmRunState> QueryRunState(std::chrono::milliseconds) override {
    Record("query-status");
    if (!query_status.ok()) return query_status;
    std::lock_guard<std::mutex> lock(mu_);
    return dump::VmmRunState{status_ == "running", status_};
  }
  absl::Status Stop(std::chrono::milliseconds) override {
    Record("stop");
    if (stop_status.ok()) SetStatus("paused");
    return stop_status;
  }
  absl::Status Cont(std::chrono::milliseconds) override {
    Record("cont");
    if (cont_status.ok()) SetStatus("running");
    return cont_status;
  }

  // QEMU RunState as query-status reports it ("running", "paused", "io-error", ...).
  void SetStatus(const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
  }
  std::string status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  absl::StatusOr<std::vector<dump::VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds) override {
    Record("regs");
    if (during_regs) during_regs();
    return regs;
  }

  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int count(const std::string& call) const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c == call;
    return n;
  }
  // Waits until `call` was recorded; false after `timeout`.
  bool WaitFor(const std::string& call, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& c : calls_) {
        if (c == call) return true;
      }
      return false;
    });
  }

 private:
  void Record(const std::string& call) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(call);
    }
    cv_.notify_all();
  }
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> calls_;
  std::string status_ = "running";
};

// A control channel that forwards to a shared FakeVmmControl, so each freeze can "open" its own
// through a ControlFactory while the test inspects one call log.
class ForwardingControl : public dump::VmmControl {
 public:
  explicit ForwardingControl(FakeVmmControl* to) : to_(to) {}
  absl::StatusOr<dump::VmmRunState> QueryRunState(std::chrono::milliseconds t) override {
    return to_->QueryRunState(t);
  }
  absl::Status Stop(std::chrono::milliseconds t) override { return to_->Stop(t); }
  absl::Status StopAskingRegisters(std::chrono::milliseconds t) override {
    return to_->StopAskingRegisters(t);
  }
  absl::Status Cont(std::chrono::milliseconds t) override { return to_->Cont(t); }
  absl::StatusOr<std::vector<dump::VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds t) override {
    return to_->ReadRegisters(t);
  }
  absl::StatusOr<std::vector<dump::VcpuThread>> QueryVcpuThreads(
      std::chrono::milliseconds t) override {
    return to_->QueryVcpuThreads(t);
  }

 private:
  FakeVmmControl* to_;
};

}  // namespace kfreeze::testing
