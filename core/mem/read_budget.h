// The per-dump budget every phase's Reader charges: guest bytes read, bytes held by the walk's
// own containers, report nodes produced, and the deadline. Caps bound loop counts; this bounds
// bytes and time, so a hostile guest that stays under every cap still cannot make a dump read,
// hold or run without end. The deadline is checked on the read path, so every loop that reads
// guest memory stops within kDeadlineCheckEveryReads reads of it passing.
//
// Once spent, the budget stays spent: every later read fails with the same status and the phase
// runner stamps the cut (reason + dump_truncated_at_us). Header-only so kfreeze_dump can own one
// without linking the memory library. One budget per dump; not thread-safe (one walk at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/caps.h"
#include "core/base/reasons.h"

namespace kfreeze {

struct BudgetLimits {
  uint64_t read_bytes = caps::kDumpMaxReadBytes;
  uint64_t held_bytes = caps::kDumpMaxHeldBytes;
  uint64_t nodes = caps::kDumpMaxNodes;
};

class ReadBudget {
 public:
  enum class Cut { kNone, kDeadline, kReadBytes, kHeldBytes, kNodes, kCopyStage };
  // `time_up` says whether the dump's deadline has passed (or it was cancelled); may be null.
  explicit ReadBudget(BudgetLimits limits = {}, std::function<bool()> time_up = nullptr)
      : limits_(limits), time_up_(std::move(time_up)) {}

  // Before a read of `bytes`: OK, or the status that ends the read (and every later one).
  absl::Status ChargeRead(uint64_t bytes) {
    if (cut_ != Cut::kNone) return status();
    if (++reads_ % caps::kDeadlineCheckEveryReads == 0 || bytes >= 64 * caps::kKiB) CheckTime();
    if (cut_ == Cut::kNone && bytes > limits_.read_bytes - read_) Spend(Cut::kReadBytes);
    if (cut_ != Cut::kNone) return status();
    read_ += bytes;
    return absl::OkStatus();
  }
  // Memory a walk container is about to hold; false (and the budget spent) once over.
  bool ChargeHeld(uint64_t bytes) {
    if (cut_ != Cut::kNone) return false;
    if (bytes > limits_.held_bytes - held_) {
      Spend(Cut::kHeldBytes);
      return false;
    }
    held_ += bytes;
    if (held_ > peak_held_) peak_held_ = held_;
    return true;
  }
  void ReleaseHeld(uint64_t bytes) { held_ -= bytes < held_ ? bytes : held_; }
  // Report nodes about to be produced; false (and the budget spent) once over.
  bool ChargeNodes(uint64_t n) {
    if (cut_ != Cut::kNone) return false;
    if (n > limits_.nodes - nodes_) {
      Spend(Cut::kNodes);
      return false;
    }
    nodes_ += n;
    return true;
  }
  // True once any budget is spent; checks the clock, so loops that do not read can call it.
  bool Exhausted() {
    if (cut_ == Cut::kNone) CheckTime();
    return cut_ != Cut::kNone;
  }

  Cut cut() const { return cut_; }
  // The report reason of the cut; empty while nothing was cut.
  absl::string_view reason() const {
    switch (cut_) {
      case Cut::kNone:
        return "";
      case Cut::kDeadline:
        return kReasonDeadlineExceeded;
      case Cut::kReadBytes:
        return kReasonReadBudgetExhausted;
      case Cut::kHeldBytes:
        return kReasonMemoryBudgetExhausted;
      case Cut::kNodes:
        return kReasonNodeBudgetExhausted;
      case Cut::kCopyStage:
        return copy_cut_.message();
    }
    return "";
  }
  // What reads fail with once spent: DeadlineExceeded or ResourceExhausted, the reason first.
  absl::Status status() const {
    if (cut_ == Cut::kNone) return absl::OkStatus();
    if (cut_ == Cut::kCopyStage) return copy_cut_;
    std::string msg = absl::StrCat(reason(), " (", read_, " bytes read, ", nodes_, " nodes, ",
                                   peak_held_, " bytes held at peak)");
    return cut_ == Cut::kDeadline ? absl::DeadlineExceededError(msg)
                                  : absl::ResourceExhaustedError(msg);
  }

  // The decode stage reached the point where the copy stage (in the freeze window) was cut by
  // `cut`: the budget is spent for that reason, so the decode walk stops where the copy did.
  void CutByCopyStage(const absl::Status& cut) {
    if (cut_ != Cut::kNone) return;
    cut_ = Cut::kCopyStage;
    copy_cut_ = absl::Status(
        cut.code(), absl::StrCat("cut in the freeze window (copy stage): ", cut.message()));
  }

  uint64_t bytes_read() const { return read_; }
  uint64_t bytes_held() const { return held_; }
  uint64_t peak_bytes_held() const { return peak_held_; }
  uint64_t nodes() const { return nodes_; }
  const BudgetLimits& limits() const { return limits_; }

 private:
  void CheckTime() {
    if (time_up_ && time_up_()) Spend(Cut::kDeadline);
  }
  void Spend(Cut why) {
    if (cut_ == Cut::kNone) cut_ = why;
  }

  BudgetLimits limits_;
  std::function<bool()> time_up_;
  Cut cut_ = Cut::kNone;
  absl::Status copy_cut_;
  uint64_t reads_ = 0, read_ = 0, held_ = 0, peak_held_ = 0, nodes_ = 0;
};

}  // namespace kfreeze
