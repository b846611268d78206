// kfreezed benchmarks.
//
//   BM_FreezeWindow        the full standard dump of a lab guest (scx-running, TCG) through QMP:
//                          reported time = freeze window (stop .. cont acknowledged); counters
//                          bare_us (QMP stop+cont alone, measured in the same iterations),
//                          memcpy_us (of the envelope's window_bytes), window_us, ratio =
//                          window / (bare + memcpy), and the mean of every phase. regs:1 is the
//                          default dump; regs:0 leaves the "regs" section (HMP registers) out.
//   BM_FreezeRpc/lab       Freeze RPC end to end (client -> kfreezed on a unix socket -> freeze
//                          of the lab guest -> archive -> reply).
//   BM_FreezeRpc/fake      the same against an in-process target (no guest): the daemon's own
//                          cost (gRPC, coalescing, archive fsync, stream publish);
//                          fake_tmpfs_archive with the archive on /dev/shm (no disk fsync).
//   BM_WatchFanout/50      one Freeze delivered to 50 WatchDumps subscribers: time until the
//                          last one has it.
//
// The lab guest: KFREEZE_BENCH_RAM and KFREEZE_BENCH_QMP name a running one; otherwise the bench
// boots `tests/vm/lab up kfd-bench --scenario scx-running` (cache: <build>/vm-cache) and takes it
// down at exit. Without a guest the lab benchmarks report why and are skipped (SkipWithError).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "core/dump/standard/standard_attachment.h"
#include "core/qmp/qmp_client.h"
#include "grpcpp/create_channel.h"
#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "spdlog/spdlog.h"
#include "tests/server/fake_attachment.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::bench {
namespace {

namespace v1 = kfreeze::v1;

struct LabGuest {
  std::string ram, qmp, error;
  bool booted_here = false;
  std::shared_ptr<dump::KernelAttachment> kernel;
};

std::string LabPath() { return std::string(KFREEZE_SOURCE_DIR) + "/tests/vm/lab"; }

std::string Run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

std::string Field(const std::string& text, const std::string& key) {
  size_t pos = text.find(key + "=");
  if (pos == std::string::npos) return "";
  size_t end = text.find('\n', pos);
  return text.substr(pos + key.size() + 1, end - pos - key.size() - 1);
}

LabGuest& Guest() {
  static LabGuest* guest = [] {
    auto* g = new LabGuest();
    if (const char* ram = std::getenv("KFREEZE_BENCH_RAM")) {
      g->ram = ram;
      g->qmp = std::getenv("KFREEZE_BENCH_QMP") ? std::getenv("KFREEZE_BENCH_QMP") : "";
    } else {
      setenv("KFREEZE_VM_CACHE", KFREEZE_BENCH_VM_CACHE, /*overwrite=*/0);
      int rc = 0;
      Run(LabPath() + " fetch >/dev/null 2>&1", &rc);
      std::string out = Run(LabPath() + " up kfd-bench --scenario scx-running 2>&1", &rc);
      if (rc != 0) {
        g->error = "lab up failed: " + out.substr(out.size() > 400 ? out.size() - 400 : 0);
        return g;
      }
      g->booted_here = true;
      g->ram = Field(out, "RAM");
      g->qmp = Field(out, "QMP");
    }
    if (g->ram.empty() || g->qmp.empty()) {
      g->error = "no lab guest (RAM=/QMP= missing)";
      return g;
    }
    dump::AttachSpec spec;
    spec.name = "bench";
    spec.ram_path = g->ram;
    spec.qmp_socket = g->qmp;
    auto k = dump::AttachStandard(spec, dump::DefaultProviders());
    if (!k.ok()) {
      g->error = absl::StrCat("attach: ", k.status().message());
      return g;
    }
    g->kernel = *k;
    return g;
  }();
  return *guest;
}

void TearDownGuest() {
  LabGuest& g = Guest();
  if (g.booted_here) {
    int rc = 0;
    Run(LabPath() + " down kfd-bench >/dev/null 2>&1", &rc);
  }
}

double Micros(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void BM_FreezeWindow(benchmark::State& state) {
  LabGuest& g = Guest();
  if (!g.kernel) {
    state.SkipWithError(g.error.c_str());
    return;
  }
  auto control = dump::QmpControl::Connect(g.qmp, std::chrono::seconds(5));
  if (!control.ok()) {
    state.SkipWithError(std::string(control.status().message()).c_str());
    return;
  }
  dump::FreezeOptions options;
  options.soft_deadline = std::chrono::seconds(5);
  if (state.range(0) == 0) {
    // Every phase, no register read: what the window costs beside QEMU's HMP register text.
    for (const auto& phase : g.kernel->phases()) options.sections.emplace_back(phase->name());
  }
  double bare_total = 0, window_total = 0, memcpy_total = 0;
  std::vector<char> from, to;
  std::map<std::string, double> phase_total;
  for (auto _ : state) {
    // The bare pause/resume round trip, on the same connection, in the same iteration.
    auto b0 = std::chrono::steady_clock::now();
    absl::Status s = (*control)->Stop(std::chrono::seconds(2));
    absl::Status c = (*control)->Cont(std::chrono::seconds(2));
    bare_total += Micros(std::chrono::steady_clock::now() - b0);
    if (!s.ok() || !c.ok()) {
      state.SkipWithError("bare stop/cont failed");
      return;
    }
    auto out = dump::RunFreeze(control->get(), g.kernel->phases(), options);
    if (!out.ok() || !out->envelope.has_single()) {
      state.SkipWithError("freeze failed or degraded");
      return;
    }
    window_total += static_cast<double>(out->freeze_window_us);
    // The floor's other half: a memcpy of the bytes the window copied, warm buffers.
    from.resize(out->window_bytes, 1);
    to.resize(out->window_bytes);
    auto m0 = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), from.size());
    benchmark::DoNotOptimize(to.data());
    memcpy_total += Micros(std::chrono::steady_clock::now() - m0);
    for (const auto& t : out->envelope.timings()) {
      phase_total[t.phase()] += static_cast<double>(t.duration_us());
    }
    state.SetIterationTime(static_cast<double>(out->freeze_window_us) / 1e6);
  }
  double n = static_cast<double>(state.iterations());
  state.counters["bare_us"] = bare_total / n;
  state.counters["window_us"] = window_total / n;
  state.counters["memcpy_us"] = memcpy_total / n;
  state.counters["ratio"] = window_total / (bare_total + memcpy_total);
  for (const auto& [phase, total] : phase_total) {
    if (phase == "freeze_window" || phase == "total") continue;
    state.counters[phase + "_us"] = total / n;
  }
}
BENCHMARK(BM_FreezeWindow)
    ->ArgName("regs")
    ->Arg(1)
    ->Arg(0)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3);

// An in-process kfreezed on a private socket; target "lab" (the guest) and "fake" (no guest).
struct BenchDaemon {
  // Unix socket and archive live together; /dev/shm takes the disk's fsync cost out. Declared
  // first so it is removed only after the daemon writing into it has stopped.
  testing::TempDir dir;
  std::unique_ptr<server::Daemon> daemon;
  std::unique_ptr<v1::FreezeService::Stub> stub;
  std::shared_ptr<grpc::Channel> channel;

  explicit BenchDaemon(bool with_lab, bool tmpfs_archive = false)
      : dir("kfd-bench", tmpfs_archive ? "/dev/shm" : "/tmp") {
    server::DaemonOptions o;
    o.config.add_listen("unix:" + dir.path() + "/k.sock");
    o.config.mutable_archive()->set_dir(dir.path() + "/archive");
    o.config.mutable_archive()->set_max_count(200);
    o.config.set_watch_queue_depth(64);
    server::ApplyDefaults(o.config);
    auto* fake = o.config.add_targets();
    fake->set_name("fake");
    fake->set_ram_path("/dev/null");
    if (with_lab && Guest().kernel) {
      auto* lab = o.config.add_targets();
      lab->set_name("lab");
      lab->set_ram_path(Guest().ram);
      lab->set_qmp_socket(Guest().qmp);
    }
    o.attacher = [](const dump::AttachSpec& spec)
        -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      if (spec.name == "lab") return Guest().kernel;
      return std::make_shared<testing::FakeAttachment>("bench",
                                                       dump::PhaseTable{testing::OneMapPhase("m")});
    };
    o.control_factory = server::QmpControlFactory();
    auto d = server::Daemon::Start(std::move(o));
    if (!d.ok()) return;
    daemon = std::move(*d);
    daemon->coordinator().WaitForAttach("fake");
    if (with_lab) daemon->coordinator().WaitForAttach("lab");
    channel =
        grpc::CreateChannel("unix:" + dir.path() + "/k.sock", grpc::InsecureChannelCredentials());
    stub = v1::FreezeService::NewStub(channel);
  }
};

void BM_FreezeRpc(benchmark::State& state, const char* target, bool tmpfs_archive) {
  bool lab = std::string(target) == "lab";
  if (lab && !Guest().kernel) {
    state.SkipWithError(Guest().error.c_str());
    return;
  }
  BenchDaemon d(lab, tmpfs_archive);
  if (!d.stub) {
    state.SkipWithError("daemon did not start");
    return;
  }
  double window_total = 0;
  for (auto _ : state) {
    grpc::ClientContext ctx;
    v1::FreezeRequest req;
    req.set_target(target);
    v1::FreezeResponse resp;
    grpc::Status s = d.stub->Freeze(&ctx, req, &resp);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      return;
    }
    for (const auto& t : resp.timings()) {
      if (t.phase() == "freeze_window") window_total += static_cast<double>(t.duration_us());
    }
  }
  state.counters["window_us"] = window_total / static_cast<double>(state.iterations());
}
BENCHMARK_CAPTURE(BM_FreezeRpc, fake, "fake", false)->Unit(benchmark::kMillisecond)->MinTime(1);
BENCHMARK_CAPTURE(BM_FreezeRpc, fake_tmpfs_archive, "fake", true)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1);
BENCHMARK_CAPTURE(BM_FreezeRpc, lab, "lab", false)->Unit(benchmark::kMillisecond)->MinTime(3);

void BM_WatchFanout(benchmark::State& state) {
  const int subscribers = static_cast<int>(state.range(0));
  BenchDaemon d(false, /*tmpfs_archive=*/true);
  if (!d.stub) {
    state.SkipWithError("daemon did not start");
    return;
  }
  std::atomic<uint64_t> delivered{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> readers;
  std::atomic<int> ready{0};
  for (int i = 0; i < subscribers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.emplace_back([&, ctx = contexts.back().get()] {
      auto stub = v1::FreezeService::NewStub(d.channel);
      auto reader = stub->WatchDumps(ctx, v1::WatchRequest());
      reader->WaitForInitialMetadata();
      ready.fetch_add(1);
      v1::DumpEvent e;
      while (reader->Read(&e)) delivered.fetch_add(1);
      (void)reader->Finish();
    });
  }
  while (ready.load() < subscribers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t want = 0;
  for (auto _ : state) {
    grpc::ClientContext ctx;
    v1::FreezeRequest req;
    req.set_target("fake");
    v1::FreezeResponse resp;
    if (!d.stub->Freeze(&ctx, req, &resp).ok()) {
      state.SkipWithError("freeze failed");
      break;
    }
    want += static_cast<uint64_t>(subscribers);
    while (delivered.load() < want) std::this_thread::yield();
  }
  state.counters["deliveries_per_s"] =
      benchmark::Counter(static_cast<double>(want), benchmark::Counter::kIsRate);
  for (auto& c : contexts) c->TryCancel();
  for (auto& t : readers) t.join();
  stop = true;
}
BENCHMARK(BM_WatchFanout)
    ->Arg(1)
    ->Arg(50)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1);

}  // namespace
}  // namespace kfreeze::bench

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kfreeze::bench::TearDownGuest();
  return 0;
}
