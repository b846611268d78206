#include "core/dump/vcpu_perf.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kfreeze::dump {
namespace {

struct EventSpec {
  uint64_t config;
  const char* name;
};
constexpr EventSpec kEvents[kVcpuPerfEvents] = {
    {PERF_COUNT_HW_CPU_CYCLES, "hardware cpu-cycles"},
    {PERF_COUNT_HW_INSTRUCTIONS, "hardware instructions"},
    {PERF_COUNT_HW_CACHE_MISSES, "hardware cache-misses"},
    {PERF_COUNT_HW_BRANCH_MISSES, "hardware branch-misses"},
};
constexpr uint64_t kReadFormat =
    PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
// Beyond this many vCPUs the groups alone would exhaust a daemon's fd limit.
constexpr size_t kMaxThreads = 4096;

perf_event_attr AttrFor(const EventSpec& event) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_HARDWARE;
  attr.config = event.config;
  attr.read_format = kReadFormat;
  // Guest mode is counted too: the vCPU thread spends its guest time inside KVM_RUN.
  attr.exclude_hv = 1;
  return attr;
}

std::string ErrnoText(int error) {
  char buf[128];
  // GNU strerror_r: returns the message, which may or may not live in `buf`.
  return std::string(strerror_r(error, buf, sizeof(buf)));
}

absl::string_view ErrnoHint(int error) {
  switch (error) {
    case ENOENT:
    case EOPNOTSUPP:
      return "this host has no PMU for the event (e.g. it is itself a VM)";
    case EACCES:
    case EPERM:
      return "not permitted: needs CAP_PERFMON or a lower kernel.perf_event_paranoid";
    case ESRCH:
      return "no such thread";
    case ENOSYS:
      return "the host kernel has no perf events";
    case EMFILE:
    case ENFILE:
      return "out of file descriptors";
    default:
      return "";
  }
}

absl::Status OpenError(const EventSpec& event, int64_t tid, int error) {
  absl::string_view hint = ErrnoHint(error);
  std::string message = absl::StrCat("perf_event_open(", event.name, ", tid=", tid,
                                     ", cpu=-1) failed: ", ErrnoText(error), " (errno ", error,
                                     hint.empty() ? "" : ": ", hint,
                                     "); kernel.perf_event_paranoid=", PerfEventParanoid());
  switch (error) {
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOENT:
    case EOPNOTSUPP:
    case ENOSYS:
      return absl::UnimplementedError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

}  // namespace

int SysPerfEventOpen(const perf_event_attr& attr, int64_t tid, int group_fd) {
  perf_event_attr copy = attr;
  long fd = syscall(SYS_perf_event_open, &copy, static_cast<pid_t>(tid), -1, group_fd,
                    PERF_FLAG_FD_CLOEXEC);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

std::string PerfEventParanoid() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  std::string level;
  if (!std::getline(in, level)) return "unreadable";
  return std::string(absl::StripAsciiWhitespace(level));
}

absl::StatusOr<std::unique_ptr<VcpuPerfCounters>> VcpuPerfCounters::Open(
    const std::vector<VcpuThread>& threads, const PerfEventOpener& opener) {
  if (threads.empty()) return absl::FailedPreconditionError(kReasonVcpuThreadsNone);
  if (threads.size() > kMaxThreads) {
    return absl::FailedPreconditionError(
        absl::StrCat(threads.size(), " vCPU threads, more than ", kMaxThreads));
  }
  std::unique_ptr<VcpuPerfCounters> counters(new VcpuPerfCounters());
  counters->threads_ = threads;
  counters->groups_.reserve(threads.size());
  for (const VcpuThread& thread : threads) {
    Group& group = counters->groups_.emplace_back();
    group.thread = thread;
    for (int e = 0; e < kVcpuPerfEvents; ++e) {
      int fd = opener(AttrFor(kEvents[e]), thread.thread_id, e == 0 ? -1 : group.fds[0]);
      if (fd < 0) return OpenError(kEvents[e], thread.thread_id, -fd);  // dtor closes the rest
      group.fds[e] = fd;
    }
  }
  return counters;
}

VcpuPerfCounters::~VcpuPerfCounters() {
  for (Group& group : groups_) {
    for (int fd : group.fds) {
      if (fd >= 0) close(fd);
    }
  }
}

std::vector<VcpuPerfRaw> VcpuPerfCounters::NewReadBuffer() const {
  std::vector<VcpuPerfRaw> raw(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) {
    raw[i].cpu_index = groups_[i].thread.cpu_index;
    raw[i].thread_id = groups_[i].thread.thread_id;
  }
  return raw;
}

void VcpuPerfCounters::ReadAll(std::vector<VcpuPerfRaw>& raw) const {
  const size_t n = std::min(raw.size(), groups_.size());
  for (size_t i = 0; i < n; ++i) {
    ssize_t got = read(groups_[i].fds[0], raw[i].words, sizeof(raw[i].words));
    raw[i].bytes = got;
    raw[i].error = got < 0 ? errno : 0;
  }
}

std::string FillVcpuPerf(const std::vector<VcpuPerfRaw>& raw,
                         google::protobuf::RepeatedPtrField<kfreeze::v1::VcpuPerfSlot>* slots) {
  std::map<uint32_t, const VcpuPerfRaw*> by_index;
  std::vector<std::string> failures;
  for (const VcpuPerfRaw& r : raw) {
    if (r.bytes != static_cast<long>(sizeof(r.words)) || r.words[0] != kVcpuPerfEvents) {
      failures.push_back(absl::StrCat(
          "vCPU ", r.cpu_index, " (tid ", r.thread_id, "): ",
          r.bytes < 0
              ? absl::StrCat("read failed: ", ErrnoText(r.error))
              : absl::StrCat("read returned ", r.bytes, " bytes, ", r.words[0], " counters")));
      continue;
    }
    if (r.cpu_index < kMaxThreads) by_index[r.cpu_index] = &r;
  }
  if (!by_index.empty()) {
    const uint32_t count = by_index.rbegin()->first + 1;
    for (uint32_t i = 0; i < count; ++i) {
      kfreeze::v1::VcpuPerfSlot* slot = slots->Add();
      auto it = by_index.find(i);
      if (it == by_index.end()) continue;
      const uint64_t* w = it->second->words;
      kfreeze::v1::VcpuPerfSample* s = slot->mutable_sample();
      s->set_time_enabled_ns(w[1]);
      s->set_time_running_ns(w[2]);
      s->set_cycles(w[3]);
      s->set_instructions(w[4]);
      s->set_cache_misses(w[5]);
      s->set_branch_misses(w[6]);
    }
  }
  if (failures.empty()) return "";
  return absl::StrCat(kReasonVcpuPerfReadFailedPrefix, absl::StrJoin(failures, "; "));
}

void VcpuPerfSource::EnsureOpen(VmmControl& control, std::chrono::milliseconds timeout) {
  absl::StatusOr<std::vector<VcpuThread>> threads = control.QueryVcpuThreads(timeout);
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads.ok()) {
    if (counters_ == nullptr) {
      unavailable_ = absl::StrCat(kReasonVcpuThreadsUnknown, ": ", threads.status().message());
    }
    return;
  }
  if (threads->empty()) {
    threads_.clear();
    counters_.reset();
    unavailable_ = std::string(kReasonVcpuThreadsNone);
    return;
  }
  std::sort(threads->begin(), threads->end(),
            [](const VcpuThread& a, const VcpuThread& b) { return a.cpu_index < b.cpu_index; });
  const bool same = threads->size() == threads_.size() &&
                    std::equal(threads->begin(), threads->end(), threads_.begin(),
                               [](const VcpuThread& a, const VcpuThread& b) {
                                 return a.cpu_index == b.cpu_index && a.thread_id == b.thread_id;
                               });
  if (same) return;  // opened already, or refused for these very threads
  threads_ = std::move(*threads);
  counters_.reset();
  absl::StatusOr<std::unique_ptr<VcpuPerfCounters>> counters =
      VcpuPerfCounters::Open(threads_, opener_);
  if (!counters.ok()) {
    unavailable_ = std::string(counters.status().message());
    return;
  }
  counters_ = std::move(*counters);
  unavailable_.clear();
}

std::shared_ptr<const VcpuPerfCounters> VcpuPerfSource::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::string VcpuPerfSource::unavailable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unavailable_;
}

std::vector<VcpuThread> VcpuPerfSource::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_;
}

}  // namespace kfreeze::dump
