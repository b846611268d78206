// fleet_publish_bench: how fast kfreezed's fleet publish path (docs/design/fleet.md §3) runs on a
// NATS JetStream cluster. Each dump is published exactly as server/fleet/fleet_publisher.cc does:
// ObjectStore::Put of the body (an Info lookup, then one acked publish per 128 KiB chunk and one
// for the meta), then PublishDumpEvent of a summary-only DumpEvent (acked), one dump at a time.
//
//   fleet_publish_bench --nats nats://127.0.0.1:4222,... [--replicas 3] [--publishers 8]
//                       [--sizes 40754,1048576,10485760] [--body envelope|random]
//
// For each body size: one publisher alone (per-dump latency, throughput), then --publishers at
// once, each a thread with its own connection (K hosts sharing the cluster). Each phase stops at
// --phase_seconds, --max_dumps or --max_phase_mb. Prints a table and one `BENCH {json}` line per
// phase. The stream and bucket are the bench's own (never the production names) and are deleted at
// the end. bench/fleet/run_fleet_bench.py starts a loopback cluster and runs this against it.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/report/render_text.h"
#include "core/report/scx_exit_kind.h"
#include "fleet/dump_feed.h"
#include "fleet/nats_connection.h"
#include "fleet/object_store.h"
#include "fleet/subjects.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "tests/report/sample_reports.h"

ABSL_FLAG(std::string, nats, "", "comma separated NATS URLs; without it the bench is skipped");
ABSL_FLAG(int, replicas, 1, "replicas of the bench stream and bucket");
ABSL_FLAG(std::string, sizes, "40754,1048576,10485760", "dump body sizes in bytes");
ABSL_FLAG(std::string, body, "envelope",
          "envelope: a serialized DumpEnvelope of about that size; random: random bytes");
ABSL_FLAG(int, publishers, 8, "concurrent publishers (hosts) in the second phase of each size");
ABSL_FLAG(double, phase_seconds, 6, "each phase stops after this long (at least one dump each)");
ABSL_FLAG(int, max_dumps, 20000, "each phase stops after this many dumps in all");
// tests/support/nats_cluster.py gives each node a 1 GB file store; a phase is purged after it.
ABSL_FLAG(int, max_phase_mb, 400, "each phase stops after this many MB of bodies in all");
ABSL_FLAG(int, timeout_ms, 10000, "ack wait of each publish (FleetOptions.publish_timeout)");
ABSL_FLAG(std::string, stream, "KFREEZE_BENCH_DUMPS", "the bench's dump stream");
ABSL_FLAG(std::string, bucket, "kfreeze-bench-dumps", "the bench's object store bucket");
ABSL_FLAG(std::string, label, "", "names the cluster in the output");
ABSL_FLAG(std::string, server_pids, "",
          "comma separated pids of the nats-servers (on this machine): each phase reports their "
          "CPU time");
ABSL_FLAG(bool, purge, true,
          "empty the stream and bucket after each phase (false: they keep every dump, e.g. to "
          "see the servers' memory per stored object; mind the test cluster's 1 GB per node)");
ABSL_FLAG(bool, keep, false, "keep the bench stream and bucket at the end");
// bench/run.sh passes this to every *_bench binary (which skips this one: no --nats).
ABSL_FLAG(std::string, benchmark_min_time, "", "ignored");

namespace {

namespace fleet = kfreeze::fleet;
namespace v1 = kfreeze::v1;
using Clock = std::chrono::steady_clock;

constexpr int kVmsPerHost = 10;  // the paper fleet: 10 VMs per host

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A dump as the lab's guests produce it: the tests' sample report (every section) with a
// struct-valued hash map of as many entries as it takes to reach about `bytes`.
v1::DumpEnvelope EnvelopeOfSize(size_t bytes) {
  v1::DumpEnvelope e;
  e.set_target("vm-00");
  e.set_dump_id("vm-00-000001");
  *e.mutable_captured_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  e.set_trigger(v1::TRIGGER_LATE);
  (*e.mutable_labels())["pool"] = "ci-x86";
  (*e.mutable_labels())["suite"] = "scx-stress";
  e.set_kernel_release("7.3.4+deb13-cloud-amd64");
  for (const char* phase : {"pause", "copy", "resume", "freeze_window", "decode", "total"}) {
    v1::PhaseTiming* t = e.add_timings();
    t->set_phase(phase);
    t->set_duration_us(1234);
  }
  e.set_deadline_ms(5000);
  *e.mutable_single() = kfreeze::testing::SampleSingleReport();
  const size_t base = e.ByteSizeLong();
  if (bytes <= base) return e;
  // Entries grow with their index (varints): scale from a first guess, then trim to fit, so the
  // body never crosses into one more 128 KiB chunk than `bytes` would.
  auto with_entries = [&](int entries) {
    v1::DumpEnvelope sized = e;
    *sized.mutable_single()->add_maps() = kfreeze::testing::LargeReport(entries, 0, 0).maps(0);
    return sized;
  };
  int entries = static_cast<int>((bytes - base) / 40);
  for (int round = 0; round < 3; ++round) {
    const double grown = static_cast<double>(with_entries(entries).ByteSizeLong() - base);
    entries = static_cast<int>(entries * static_cast<double>(bytes - base) / grown);
  }
  while (entries > 0 && with_entries(entries).ByteSizeLong() > bytes) entries -= 1 + entries / 1000;
  return with_entries(entries);
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(n);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The summary kfreezed's archive keeps for `e` (server/daemon/dump_summary.cc MakeSummary), with
// the host set as FleetPublisher sets it.
v1::DumpSummary SummaryOf(const v1::DumpEnvelope& e, size_t size_bytes) {
  v1::DumpSummary s;
  s.set_dump_id(e.dump_id());
  s.set_target(e.target());
  *s.mutable_captured_at() = e.captured_at();
  s.set_trigger(e.trigger());
  s.set_schema("single");
  *s.mutable_labels() = e.labels();
  s.set_live(e.live());
  s.set_size_bytes(size_bytes);
  s.set_kernel_release(e.kernel_release());
  s.set_freeze_window_us(1234);
  s.set_summary(kfreeze::report::SummaryLine(e));
  s.set_seq(123456);
  s.set_exit_kind(kfreeze::report::DumpExitKind(e));
  s.set_exit_kind_name(kfreeze::report::ScxExitKindName(s.exit_kind()));
  s.set_scheduler(kfreeze::report::DumpScheduler(e));
  s.set_host("h0000-000.lab.example");
  return s;
}

struct DumpBody {
  size_t nominal = 0;  // the size asked for
  std::string bytes;
  v1::DumpSummary summary;  // per dump: dump_id, target, seq, captured_at, host rewritten
};

DumpBody MakeBody(size_t nominal, bool envelope) {
  DumpBody b;
  b.nominal = nominal;
  v1::DumpEnvelope e = EnvelopeOfSize(nominal);
  b.bytes = envelope ? e.SerializeAsString() : RandomBytes(nominal);
  b.summary = SummaryOf(e, b.bytes.size());
  return b;
}

// One simulated host: its own connection, name and dump sequence.
struct Publisher {
  std::unique_ptr<fleet::NatsConnection> conn;
  std::string host;
  uint64_t seq = 0;
};

struct DumpTiming {
  double put_ms = 0;
  double event_ms = 0;
  double total_ms() const { return put_ms + event_ms; }
};

// FleetPublisher::PublishOne without the archive read.
absl::Status PublishDump(Publisher& p, const DumpBody& body, const std::string& stream,
                         const std::string& bucket, absl::Duration timeout, DumpTiming* t) {
  const uint64_t seq = ++p.seq;
  const std::string target = absl::StrFormat("vm-%02d", seq % kVmsPerHost);
  v1::DumpEvent event;
  v1::DumpSummary* s = event.mutable_summary();
  *s = body.summary;
  s->set_target(target);
  s->set_dump_id(absl::StrFormat("%s-%06d", target, seq));
  s->set_seq(seq);
  *s->mutable_captured_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  s->set_host(p.host);

  const Clock::time_point t0 = Clock::now();
  fleet::ObjectStore store(p.conn.get(), bucket);
  absl::StatusOr<fleet::ObjectInfo> put =
      store.Put(fleet::DumpObjectName(p.host, s->dump_id()), body.bytes, timeout);
  if (!put.ok()) return put.status();
  const Clock::time_point t1 = Clock::now();
  bool duplicate = false;
  absl::Status published =
      fleet::PublishDumpEvent(p.conn.get(), stream, event, timeout, &duplicate);
  if (!published.ok()) return published;
  // Names are unique per run: a duplicate means the bench measured the dedup path, not a store.
  if (duplicate) return absl::AlreadyExistsError("event stored before: " + s->dump_id());
  t->put_ms = Ms(t1 - t0);
  t->event_ms = Ms(Clock::now() - t1);
  return absl::OkStatus();
}

// CPU seconds (user + system) the nats-servers (`pids`) have used so far; a pid that cannot be
// read counts 0.
double ServerCpuSeconds(const std::vector<int>& pids) {
  double cpu = 0;
  for (int pid : pids) {
    std::ifstream in(absl::StrFormat("/proc/%d/stat", pid));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const size_t close = stat.rfind(')');
    std::vector<std::string> f;
    if (close != std::string::npos) f = absl::StrSplit(stat.substr(close + 2), ' ');
    double utime = 0, stime = 0;
    if (f.size() > 12 && absl::SimpleAtod(f[11], &utime) && absl::SimpleAtod(f[12], &stime)) {
      cpu += (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return cpu;
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct PhaseResult {
  std::vector<DumpTiming> dumps;
  double seconds = 0;
  double server_cpu_s = 0;           // the --server_pids together
  double bench_cpu_s = 0;            // this process: the publishers (SHA-256, copies, libnats)
  uint64_t stored_bucket_bytes = 0;  // the bucket stream's bytes after the phase
  uint64_t stored_bucket_msgs = 0;
  uint64_t stored_event_bytes = 0;
  uint64_t stored_event_msgs = 0;
};

// `publishers` run at once, each alone on its connection, until the deadline or its share of
// `max_dumps` (at least one dump each).
absl::StatusOr<PhaseResult> RunPhase(std::vector<Publisher*> publishers, const DumpBody& body,
                                     double seconds, int max_dumps,
                                     const std::vector<int>& server_pids) {
  const std::string stream = absl::GetFlag(FLAGS_stream);
  const std::string bucket = absl::GetFlag(FLAGS_bucket);
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  const int quota = std::max(1, max_dumps / static_cast<int>(publishers.size()));
  std::vector<std::vector<DumpTiming>> timings(publishers.size());
  std::vector<absl::Status> errors(publishers.size());
  std::vector<Clock::time_point> ends(publishers.size());
  absl::Notification go;
  std::atomic<bool> failed{false};
  Clock::time_point start;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < publishers.size(); ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
      do {
        DumpTiming t;
        errors[i] = PublishDump(*publishers[i], body, stream, bucket, timeout, &t);
        if (!errors[i].ok()) {
          failed = true;
          break;
        }
        timings[i].push_back(t);
      } while (!failed && static_cast<int>(timings[i].size()) < quota && Clock::now() < deadline);
      ends[i] = Clock::now();
    });
  }
  const double server_cpu0 = ServerCpuSeconds(server_pids);
  const double bench_cpu0 = SelfCpuSeconds();
  start = Clock::now();
  go.Notify();
  for (std::thread& t : threads) t.join();
  for (const absl::Status& e : errors) {
    if (!e.ok()) return e;
  }
  PhaseResult r;
  r.seconds = Ms(*std::max_element(ends.begin(), ends.end()) - start) / 1000;
  r.server_cpu_s = ServerCpuSeconds(server_pids) - server_cpu0;
  r.bench_cpu_s = SelfCpuSeconds() - bench_cpu0;
  for (auto& v : timings) r.dumps.insert(r.dumps.end(), v.begin(), v.end());
  return r;
}

struct StreamUsage {
  uint64_t msgs = 0;
  uint64_t bytes = 0;
};

absl::StatusOr<StreamUsage> Usage(fleet::NatsConnection* conn, const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_GetStreamInfo(&si, conn->js(), stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return fleet::NatsError(s, "stream info " + stream, jerr);
  StreamUsage u{si->State.Msgs, si->State.Bytes};
  jsStreamInfo_Destroy(si);
  return u;
}

// Empties both streams so every phase starts alike and the cluster's disk stays small.
absl::Status Purge(fleet::NatsConnection* conn, const std::vector<std::string>& streams) {
  for (const std::string& name : streams) {
    jsErrCode jerr = jsErrCode(0);
    natsStatus s = js_PurgeStream(conn->js(), name.c_str(), nullptr, &jerr);
    if (s != NATS_OK) return fleet::NatsError(s, "purging " + name, jerr);
  }
  return absl::OkStatus();
}

// Nearest rank.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

nlohmann::json Report(const DumpBody& body, size_t publishers, const PhaseResult& r) {
  std::vector<double> total, put, event;
  for (const DumpTiming& t : r.dumps) {
    total.push_back(t.total_ms());
    put.push_back(t.put_ms);
    event.push_back(t.event_ms);
  }
  const double n = static_cast<double>(r.dumps.size());
  const uint64_t chunks =
      (body.bytes.size() + fleet::ObjectStore::kChunkBytes - 1) / fleet::ObjectStore::kChunkBytes;
  const double dumps_per_s = n / r.seconds;
  auto round3 = [](double x) { return std::round(x * 1000) / 1000; };
  return {
      {"label", absl::GetFlag(FLAGS_label)},
      {"replicas", absl::GetFlag(FLAGS_replicas)},
      {"body", absl::GetFlag(FLAGS_body)},
      {"size", body.nominal},
      {"body_bytes", body.bytes.size()},
      {"chunks", chunks},
      {"publishers", publishers},
      {"dumps", r.dumps.size()},
      {"seconds", round3(r.seconds)},
      {"p50_ms", round3(Percentile(total, 0.5))},
      {"p90_ms", round3(Percentile(total, 0.9))},
      {"p99_ms", round3(Percentile(total, 0.99))},
      {"max_ms", round3(Percentile(total, 1))},
      {"put_p50_ms", round3(Percentile(put, 0.5))},
      {"event_p50_ms", round3(Percentile(event, 0.5))},
      {"event_p99_ms", round3(Percentile(event, 0.99))},
      {"dumps_per_s", round3(dumps_per_s)},
      {"mb_per_s", round3(dumps_per_s * static_cast<double>(body.bytes.size()) / 1e6)},
      // Stored messages: the chunks, the meta, the event (the Info lookup is a read).
      {"stored_msgs_per_s", round3(dumps_per_s * static_cast<double>(chunks + 2))},
      {"server_cpu_s", round3(r.server_cpu_s)},
      {"bench_cpu_s", round3(r.bench_cpu_s)},
      // Server CPU per MB of bodies stored: the figure that carries over to other clusters.
      {"server_cpu_ms_per_mb",
       round3(r.server_cpu_s * 1000 / (n * static_cast<double>(body.bytes.size()) / 1e6))},
      // Per dump the streams hold (= this phase's dumps, unless --purge=false).
      {"stored_bucket_bytes_per_dump",
       r.stored_bucket_bytes / std::max<uint64_t>(1, r.stored_event_msgs)},
      {"stored_bucket_msgs", r.stored_bucket_msgs},
      {"stored_event_bytes_per_event",
       r.stored_event_bytes / std::max<uint64_t>(1, r.stored_event_msgs)},
  };
}

void PrintTable(const std::vector<nlohmann::json>& rows) {
  std::printf(
      "\n%s replicas=%d body=%s (MB = 10^6 bytes; latency = Put + event, per dump; srv cpu = "
      "the nats-servers' CPU in %% of one core, ms/MB = their CPU ms per MB of bodies)\n",
      absl::GetFlag(FLAGS_label).c_str(), absl::GetFlag(FLAGS_replicas),
      absl::GetFlag(FLAGS_body).c_str());
  std::printf("%10s %4s %6s %8s %8s %8s %8s %8s %8s %8s %8s %9s %8s %6s\n", "body", "pubs", "dumps",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "put p50", "evt p50", "dumps/s", "MB/s",
              "msgs/s", "srv cpu", "ms/MB");
  for (const nlohmann::json& r : rows) {
    std::printf(
        "%10zu %4zu %6zu %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.1f %8.1f %9.0f %7.0f%% %6.2f\n",
        r["body_bytes"].get<size_t>(), r["publishers"].get<size_t>(), r["dumps"].get<size_t>(),
        r["p50_ms"].get<double>(), r["p90_ms"].get<double>(), r["p99_ms"].get<double>(),
        r["max_ms"].get<double>(), r["put_p50_ms"].get<double>(), r["event_p50_ms"].get<double>(),
        r["dumps_per_s"].get<double>(), r["mb_per_s"].get<double>(),
        r["stored_msgs_per_s"].get<double>(),
        100 * r["server_cpu_s"].get<double>() / r["seconds"].get<double>(),
        r["server_cpu_ms_per_mb"].get<double>());
  }
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fleet_publish_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string servers = absl::GetFlag(FLAGS_nats);
  if (servers.empty()) {
    std::printf(
        "fleet_publish_bench: no --nats; skipped (bench/fleet/run_fleet_bench.py runs it "
        "on a loopback cluster)\n");
    return 0;
  }
  std::vector<size_t> sizes;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',', absl::SkipEmpty())) {
    size_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n == 0) return Fail(absl::InvalidArgumentError("--sizes"));
    sizes.push_back(n);
  }
  const std::string body_kind = absl::GetFlag(FLAGS_body);
  if (body_kind != "envelope" && body_kind != "random") {
    return Fail(absl::InvalidArgumentError("--body is envelope or random"));
  }
  const int k = std::max(1, absl::GetFlag(FLAGS_publishers));
  const int replicas = absl::GetFlag(FLAGS_replicas);
  const std::string stream = absl::GetFlag(FLAGS_stream);
  const std::string bucket = absl::GetFlag(FLAGS_bucket);

  // One run id in every host name: object names and Nats-Msg-Ids never repeat across runs.
  const uint32_t run_id = std::random_device{}() % 10000;
  std::vector<Publisher> pubs(k);
  fleet::NatsSettings settings;
  settings.servers = absl::StrSplit(servers, ',', absl::SkipEmpty());
  for (int i = 0; i < k; ++i) {
    pubs[i].host = absl::StrFormat("h%04d-%03d.lab.example", run_id, i);
    settings.client_name = "fleet_publish_bench " + pubs[i].host;
    absl::StatusOr<std::unique_ptr<fleet::NatsConnection>> c =
        fleet::NatsConnection::Connect(settings);
    if (!c.ok()) return Fail(c.status());
    pubs[i].conn = *std::move(c);
  }
  fleet::NatsConnection* admin = pubs[0].conn.get();
  constexpr absl::Duration kMaxAge = absl::Hours(24 * 7);  // fleet.md §4's default retention
  if (absl::Status s = fleet::EnsureDumpStream(admin, {stream, replicas, kMaxAge, 0}); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = fleet::ObjectStore::Ensure(admin, {bucket, replicas, kMaxAge, 0}); !s.ok()) {
    return Fail(s);
  }
  const std::vector<std::string> streams = {stream, "OBJ_" + bucket};
  std::vector<int> server_pids;
  for (absl::string_view p :
       absl::StrSplit(absl::GetFlag(FLAGS_server_pids), ',', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(p, &pid)) return Fail(absl::InvalidArgumentError("--server_pids"));
    server_pids.push_back(pid);
  }

  std::vector<DumpBody> bodies;
  for (size_t n : sizes) bodies.push_back(MakeBody(n, body_kind == "envelope"));
  const std::string event_bytes = [&] {
    v1::DumpEvent e;
    *e.mutable_summary() = bodies.front().summary;
    return e.SerializeAsString();
  }();
  nlohmann::json event_line = {{"what", "event"},
                               {"event_bytes", event_bytes.size()},
                               {"summary_line", bodies.front().summary.summary()}};
  std::printf("BENCH %s\n", event_line.dump().c_str());

  // Warm-up (not measured): every connection's first publishes, the stream leaders' first writes.
  std::vector<Publisher*> all;
  for (Publisher& p : pubs) all.push_back(&p);
  if (absl::StatusOr<PhaseResult> w = RunPhase(all, bodies.front(), 0, 2 * k, {}); !w.ok()) {
    return Fail(w.status());
  }
  if (absl::Status s = Purge(admin, streams); !s.ok()) return Fail(s);

  std::vector<nlohmann::json> rows;
  const double seconds = absl::GetFlag(FLAGS_phase_seconds);
  for (const DumpBody& body : bodies) {
    const int max_dumps = static_cast<int>(
        std::min<double>(absl::GetFlag(FLAGS_max_dumps),
                         absl::GetFlag(FLAGS_max_phase_mb) * 1e6 / body.bytes.size()));
    for (std::vector<Publisher*> group : {std::vector<Publisher*>{all.front()}, all}) {
      absl::StatusOr<PhaseResult> r = RunPhase(group, body, seconds, max_dumps, server_pids);
      if (!r.ok()) return Fail(r.status());
      absl::StatusOr<StreamUsage> obj = Usage(admin, streams[1]);
      absl::StatusOr<StreamUsage> events = Usage(admin, streams[0]);
      if (!obj.ok()) return Fail(obj.status());
      if (!events.ok()) return Fail(events.status());
      r->stored_bucket_bytes = obj->bytes;
      r->stored_bucket_msgs = obj->msgs;
      r->stored_event_bytes = events->bytes;
      r->stored_event_msgs = events->msgs;
      rows.push_back(Report(body, group.size(), *r));
      std::printf("BENCH %s\n", rows.back().dump().c_str());
      std::fflush(stdout);
      if (!absl::GetFlag(FLAGS_purge)) continue;
      if (absl::Status s = Purge(admin, streams); !s.ok()) return Fail(s);
    }
  }
  PrintTable(rows);
  if (!absl::GetFlag(FLAGS_keep)) {
    for (const std::string& name : streams) {
      jsErrCode jerr = jsErrCode(0);
      (void)js_DeleteStream(admin->js(), name.c_str(), nullptr, &jerr);
    }
  }
  return 0;
}
