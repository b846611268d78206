// vCPU perf counters without a PMU: an injected perf_event_open hands out pipes that hold the words
// a group read returns, or refuses with an errno; RunFreeze puts the counts and the reasons into
// the report, and a failed pause lists every vCPU as unparked.
#include "core/dump/vcpu_perf.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/dump/freeze_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<VcpuThread> kTwoVcpus = {{0, 4242}, {1, 4243}};

// A VMM that pauses and resumes on request and knows its vCPU threads (or fails to tell them).
class ThreadListingControl : public VmmControl {
 public:
  absl::StatusOr<std::vector<VcpuThread>> threads = kTwoVcpus;
  absl::Status stop_status;
  int thread_queries = 0;

  absl::StatusOr<VmmRunState> QueryRunState(std::chrono::milliseconds) override {
    return VmmRunState{true, "running"};
  }
  absl::Status Stop(std::chrono::milliseconds) override { return stop_status; }
  absl::Status Cont(std::chrono::milliseconds) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<VcpuRegisters>> ReadRegisters(std::chrono::milliseconds) override {
    return std::vector<VcpuRegisters>{{0, 1, 2, 3, false, {}, {}}, {1, 4, 5, 6, false, {}, {}}};
  }
  absl::StatusOr<std::vector<VcpuThread>> QueryVcpuThreads(std::chrono::milliseconds) override {
    ++thread_queries;
    return threads;
  }
};

// What the kernel returns for a group read: nr, time_enabled, time_running, then the counters.
std::vector<uint64_t> GroupWords(uint64_t base) {
  return {kVcpuPerfEvents, 1000 + base, 900 + base, 10 + base, 20 + base, 30 + base, 40 + base};
}

// Hands out pipes for group leaders (pre-filled with `words` per opened group, in order) and
// /dev/null for members; records every call and every fd it gave out.
struct PipeOpener {
  std::vector<std::vector<uint64_t>> words;
  int refuse_call = -1;  // this call (0-based) fails with refuse_errno
  int refuse_errno = 0;
  std::vector<int> fds;
  std::vector<std::pair<uint64_t, int64_t>> calls;  // (config, tid)
  size_t leaders = 0;

  PerfEventOpener Bind() {
    return [this](const perf_event_attr& attr, int64_t tid, int group_fd) -> int {
      int call = static_cast<int>(calls.size());
      calls.push_back({attr.config, tid});
      if (call == refuse_call) return -refuse_errno;
      if (group_fd != -1) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        fds.push_back(fd);
        return fd;
      }
      int p[2];
      if (pipe(p) != 0) return -errno;
      if (leaders < words.size()) {
        const std::vector<uint64_t>& w = words[leaders];
        EXPECT_EQ(write(p[1], w.data(), w.size() * sizeof(uint64_t)),
                  static_cast<ssize_t>(w.size() * sizeof(uint64_t)));
      }
      ++leaders;
      close(p[1]);
      fds.push_back(p[0]);
      return p[0];
    };
  }
};

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(VcpuPerf, MissingPmuNamesTheSyscallEventThreadErrnoAndParanoidLevel) {
  PipeOpener opener;
  opener.refuse_call = 0;
  opener.refuse_errno = ENOENT;
  auto counters = VcpuPerfCounters::Open(kTwoVcpus, opener.Bind());
  ASSERT_FALSE(counters.ok());
  EXPECT_EQ(counters.status().code(), absl::StatusCode::kUnimplemented);
  const std::string message(counters.status().message());
  EXPECT_THAT(message,
              HasSubstr("perf_event_open(hardware cpu-cycles, tid=4242, cpu=-1) failed: "));
  EXPECT_THAT(message, HasSubstr(std::strerror(ENOENT)));
  EXPECT_THAT(message, HasSubstr("errno 2: this host has no PMU"));
  EXPECT_THAT(message, HasSubstr("kernel.perf_event_paranoid=" + PerfEventParanoid()));
}

TEST(VcpuPerf, RefusalHalfWayClosesEveryOpenedCounter) {
  PipeOpener opener;
  opener.refuse_call = kVcpuPerfEvents + 1;  // the second vCPU's instructions counter
  opener.refuse_errno = EACCES;
  auto counters = VcpuPerfCounters::Open(kTwoVcpus, opener.Bind());
  ASSERT_FALSE(counters.ok());
  EXPECT_EQ(counters.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(counters.status().message()),
              HasSubstr("perf_event_open(hardware instructions, tid=4243, cpu=-1)"));
  EXPECT_THAT(std::string(counters.status().message()), HasSubstr("CAP_PERFMON"));
  ASSERT_EQ(opener.fds.size(), static_cast<size_t>(kVcpuPerfEvents + 1));
  for (int fd : opener.fds) EXPECT_FALSE(IsOpen(fd)) << fd;
}

TEST(VcpuPerf, OpensOneGroupPerThreadLedByCycles) {
  PipeOpener opener;
  auto counters = VcpuPerfCounters::Open(kTwoVcpus, opener.Bind());
  ASSERT_TRUE(counters.ok()) << counters.status();
  ASSERT_EQ(opener.calls.size(), 2u * kVcpuPerfEvents);
  EXPECT_EQ(opener.calls[0], std::make_pair(uint64_t{PERF_COUNT_HW_CPU_CYCLES}, int64_t{4242}));
  EXPECT_EQ(opener.calls[3], std::make_pair(uint64_t{PERF_COUNT_HW_BRANCH_MISSES}, int64_t{4242}));
  EXPECT_EQ(opener.calls[4], std::make_pair(uint64_t{PERF_COUNT_HW_CPU_CYCLES}, int64_t{4243}));
  std::vector<int> fds = opener.fds;
  counters->reset();
  for (int fd : fds) EXPECT_FALSE(IsOpen(fd)) << fd;
}

TEST(VcpuPerf, ReadsDecodeIntoOneSlotPerVcpuAndNameShortReads) {
  PipeOpener opener;
  opener.words = {GroupWords(0), {kVcpuPerfEvents, 1}};  // vCPU 1's read comes up short
  auto counters = VcpuPerfCounters::Open(kTwoVcpus, opener.Bind());
  ASSERT_TRUE(counters.ok()) << counters.status();
  std::vector<VcpuPerfRaw> raw = (*counters)->NewReadBuffer();
  (*counters)->ReadAll(raw);
  kfreeze::v1::FailureDumpReport report;
  std::string failed = FillVcpuPerf(raw, report.mutable_vcpu_perf_at_freeze());
  ASSERT_EQ(report.vcpu_perf_at_freeze_size(), 1);
  const kfreeze::v1::VcpuPerfSample& s = report.vcpu_perf_at_freeze(0).sample();
  EXPECT_EQ(s.time_enabled_ns(), 1000u);
  EXPECT_EQ(s.time_running_ns(), 900u);
  EXPECT_EQ(s.cycles(), 10u);
  EXPECT_EQ(s.instructions(), 20u);
  EXPECT_EQ(s.cache_misses(), 30u);
  EXPECT_EQ(s.branch_misses(), 40u);
  EXPECT_THAT(failed, HasSubstr("vCPU 1 (tid 4243): read returned 16 bytes"));
}

TEST(VcpuPerf, SourceRetriesAFailedThreadQueryButNotARefusedOpen) {
  ThreadListingControl control;
  control.threads = absl::UnavailableError("QMP socket closed");
  PipeOpener opener;
  opener.refuse_call = 0;
  opener.refuse_errno = ENOENT;
  VcpuPerfSource source(opener.Bind());
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  EXPECT_EQ(source.counters(), nullptr);
  EXPECT_THAT(source.unavailable(), HasSubstr("query-cpus-fast"));
  EXPECT_THAT(source.unavailable(), HasSubstr("QMP socket closed"));

  control.threads = kTwoVcpus;
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  EXPECT_EQ(control.thread_queries, 3);
  EXPECT_EQ(opener.calls.size(), 1u);  // the same threads are not tried again
  EXPECT_EQ(source.counters(), nullptr);
  EXPECT_THAT(source.unavailable(), HasSubstr("perf_event_open(hardware cpu-cycles, tid=4242"));
  EXPECT_EQ(source.threads().size(), 2u);
}

TEST(VcpuPerf, NewVcpuThreadsGetNewCounters) {
  ThreadListingControl control;
  PipeOpener opener;
  VcpuPerfSource source(opener.Bind());
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  std::shared_ptr<const VcpuPerfCounters> first = source.counters();
  ASSERT_NE(first, nullptr);

  // A failed query keeps what is open: the threads cannot be told to have changed.
  control.threads = absl::DeadlineExceededError("no reply");
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  EXPECT_EQ(source.counters(), first);
  EXPECT_EQ(source.unavailable(), "");

  // A restarted VMM: other threads, so the old groups count nothing any more.
  control.threads = std::vector<VcpuThread>{{0, 5000}, {1, 5001}};
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  ASSERT_NE(source.counters(), nullptr);
  EXPECT_NE(source.counters(), first);
  ASSERT_EQ(opener.calls.size(), 4u * kVcpuPerfEvents);
  EXPECT_EQ(opener.calls[2 * kVcpuPerfEvents].second, 5000);

  control.threads = std::vector<VcpuThread>{};
  source.EnsureOpen(control, std::chrono::milliseconds(100));
  EXPECT_EQ(source.counters(), nullptr);
  EXPECT_THAT(source.unavailable(), HasSubstr("no vCPU threads"));
}

FreezeOptions OptionsWith(VcpuPerfSource* source) {
  FreezeOptions options;
  options.vcpu_perf = source;
  return options;
}

TEST(VcpuPerf, EachFreezeReadsTheCountersOpenedOnce) {
  ThreadListingControl control;
  PipeOpener opener;
  opener.words = {GroupWords(0), GroupWords(100)};
  VcpuPerfSource source(opener.Bind());
  absl::StatusOr<FreezeOutcome> out = RunFreeze(&control, {}, OptionsWith(&source));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->envelope.has_single());
  const kfreeze::v1::FailureDumpReport& report = out->envelope.single();
  EXPECT_FALSE(report.has_vcpu_perf_unavailable()) << report.vcpu_perf_unavailable();
  ASSERT_EQ(report.vcpu_perf_at_freeze_size(), 2);
  EXPECT_EQ(report.vcpu_perf_at_freeze(0).sample().cycles(), 10u);
  EXPECT_EQ(report.vcpu_perf_at_freeze(1).sample().cycles(), 110u);
  EXPECT_EQ(report.vcpu_perf_at_freeze(1).sample().time_enabled_ns(), 1100u);

  // The second freeze reuses the groups: the threads are the same, so no new perf_event_open.
  // The pipes are drained, so its reads come back empty and the report says so.
  out = RunFreeze(&control, {}, OptionsWith(&source));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(control.thread_queries, 2);
  EXPECT_EQ(opener.calls.size(), 2u * kVcpuPerfEvents);
  EXPECT_THAT(out->envelope.single().vcpu_perf_unavailable(),
              HasSubstr("vCPU 0 (tid 4242): read returned 0 bytes"));
}

TEST(VcpuPerf, RefusedCountersLeaveTheReasonInTheReport) {
  ThreadListingControl control;
  PipeOpener opener;
  opener.refuse_call = 0;
  opener.refuse_errno = EACCES;
  VcpuPerfSource source(opener.Bind());
  absl::StatusOr<FreezeOutcome> out = RunFreeze(&control, {}, OptionsWith(&source));
  ASSERT_TRUE(out.ok()) << out.status();
  const kfreeze::v1::FailureDumpReport& report = out->envelope.single();
  EXPECT_EQ(report.vcpu_perf_at_freeze_size(), 0);
  EXPECT_THAT(report.vcpu_perf_unavailable(),
              HasSubstr("perf_event_open(hardware cpu-cycles, tid=4242, cpu=-1) failed"));
  EXPECT_THAT(report.vcpu_perf_unavailable(), HasSubstr("kernel.perf_event_paranoid="));
}

TEST(VcpuPerf, WithoutASourceOrAPauseTheReportSaysWhy) {
  ThreadListingControl control;
  absl::StatusOr<FreezeOutcome> out = RunFreeze(&control, {}, FreezeOptions{});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->envelope.single().vcpu_perf_unavailable(), kReasonVcpuPerfNotKept);

  out = RunFreeze(nullptr, {}, FreezeOptions{});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->envelope.single().vcpu_perf_unavailable(), kReasonVcpuPerfLive);
}

TEST(VcpuPerf, AFailedPauseListsEveryVcpuAsUnparked) {
  ThreadListingControl control;
  control.stop_status = absl::FailedPreconditionError("QMP stop: GenericError: migrating");
  absl::StatusOr<FreezeOutcome> out = RunFreeze(&control, {}, FreezeOptions{});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().unparked_vcpus(), ElementsAre(0u, 1u));
  EXPECT_EQ(out->envelope.degraded().partial().vcpu_perf_unavailable(), kReasonVcpuPerfLive);

  // A dead channel is not asked again; the target's known threads still name the vCPUs.
  ThreadListingControl dead;
  dead.stop_status = absl::DeadlineExceededError("QMP stop: no reply");
  out = RunFreeze(&dead, {}, FreezeOptions{});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(dead.thread_queries, 0);
  EXPECT_TRUE(out->envelope.degraded().unparked_vcpus().empty());

  PipeOpener opener;
  VcpuPerfSource source(opener.Bind());
  out = RunFreeze(&dead, {}, OptionsWith(&source));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(dead.thread_queries, 1);  // the source's own query, before the pause
  EXPECT_THAT(out->envelope.degraded().unparked_vcpus(), ElementsAre(0u, 1u));
}

}  // namespace
}  // namespace kfreeze::dump
