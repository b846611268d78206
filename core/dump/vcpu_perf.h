// Hardware counters on each vCPU's host thread, read at the freeze (FailureDumpReport.
// vcpu_perf_at_freeze).
//
// One perf group per vCPU thread (cycles leads; instructions, cache misses and branch misses
// follow), opened once per target and kept open: the counts are cumulative since the open, and
// time_enabled/time_running say over how long and how much of it the PMU was really counting.
// A freeze reads every group right after the pause (one read() per vCPU, a few µs, into a buffer
// sized before the pause) and decodes the words into slots after the resume.
//
// perf_event_open is often refused: no PMU (a host that is itself a VM), kernel.perf_event_paranoid
// without CAP_PERFMON, a seccomp filter. Then vcpu_perf_unavailable names the syscall, the event,
// the thread, errno and the paranoid level.
#pragma once

#include <linux/perf_event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/reasons.h"
#include "core/dump/vmm_control.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// cycles, instructions, cache misses, branch misses: the order of VcpuPerfSample's fields.
inline constexpr int kVcpuPerfEvents = 4;

// perf_event_open(attr, tid, cpu=-1, group_fd, 0): an fd, or -errno. Tests substitute their own.
using PerfEventOpener = std::function<int(const perf_event_attr& attr, int64_t tid, int group_fd)>;
int SysPerfEventOpen(const perf_event_attr& attr, int64_t tid, int group_fd);

// kernel.perf_event_paranoid as text ("2"), or "unreadable" when /proc does not say.
std::string PerfEventParanoid();

// One group read, undecoded: PERF_FORMAT_GROUP with both times (nr, enabled, running, values).
struct VcpuPerfRaw {
  uint32_t cpu_index = 0;
  int64_t thread_id = 0;
  long bytes = 0;  // what read() returned; -1 with `error` set
  int error = 0;
  uint64_t words[3 + kVcpuPerfEvents] = {};
};

class VcpuPerfCounters {
 public:
  // Opens one group per thread, in the threads' order. On the first refused perf_event_open,
  // closes what it opened and fails with the precise reason (PermissionDenied for EACCES/EPERM,
  // Unimplemented for ENOENT/EOPNOTSUPP/ENOSYS, FailedPrecondition otherwise).
  static absl::StatusOr<std::unique_ptr<VcpuPerfCounters>> Open(
      const std::vector<VcpuThread>& threads, const PerfEventOpener& opener = SysPerfEventOpen);
  ~VcpuPerfCounters();
  VcpuPerfCounters(const VcpuPerfCounters&) = delete;
  VcpuPerfCounters& operator=(const VcpuPerfCounters&) = delete;

  // A buffer for ReadAll, one entry per vCPU; made before the pause.
  std::vector<VcpuPerfRaw> NewReadBuffer() const;
  // Inside the freeze window: one read() per group into `raw` (from NewReadBuffer), nothing else.
  void ReadAll(std::vector<VcpuPerfRaw>& raw) const;
  const std::vector<VcpuThread>& threads() const { return threads_; }

 private:
  struct Group {
    VcpuThread thread;
    int fds[kVcpuPerfEvents] = {-1, -1, -1, -1};  // [0] leads
  };
  VcpuPerfCounters() = default;
  std::vector<VcpuThread> threads_;
  std::vector<Group> groups_;
};

// Decodes ReadAll's buffer into one slot per vCPU index (a hole stays an empty slot). Returns ""
// when every group read fully, else which reads failed and why.
std::string FillVcpuPerf(const std::vector<VcpuPerfRaw>& raw,
                         google::protobuf::RepeatedPtrField<kfreeze::v1::VcpuPerfSlot>* slots);

// A target's counters, kept across its freezes. Every freeze asks the VMM for its vCPU threads
// before the pause (one QMP round trip, outside the freeze window); the counters are opened the
// first time and again only when the threads changed (a restarted VMM), so a refused
// perf_event_open is not retried for the same threads. Thread-safe.
class VcpuPerfSource {
 public:
  explicit VcpuPerfSource(PerfEventOpener opener = SysPerfEventOpen) : opener_(std::move(opener)) {}

  // Before a pause. When the thread query fails, the counters opened earlier (if any) stay.
  void EnsureOpen(VmmControl& control, std::chrono::milliseconds timeout);
  // The counters, or null with unavailable() saying why. A freeze holds its own reference, so a
  // concurrent reopen cannot close them under its reads.
  std::shared_ptr<const VcpuPerfCounters> counters() const;
  std::string unavailable() const;
  // The vCPU threads last learned (empty before the first successful query).
  std::vector<VcpuThread> threads() const;

 private:
  PerfEventOpener opener_;
  mutable std::mutex mu_;
  std::shared_ptr<const VcpuPerfCounters> counters_;
  std::vector<VcpuThread> threads_;
  std::string unavailable_{kReasonVcpuPerfNotKept};
};

}  // namespace kfreeze::dump
