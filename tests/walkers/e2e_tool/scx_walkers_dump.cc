// scx_walkers_dump --ram FILE --qmp SOCK [--repeat N] [--bare N] [--probe] [--out FILE]
//
// Attaches (KernelContext), builds the kernel walker phases, and runs N freezes through the real
// freeze session (QMP stop -> walk || registers -> cont). Prints one JSON line per freeze on
// stderr with the freeze window and per-phase times, and the last envelope as JSON on stdout (or
// --out). --bare N first measures N bare QMP stop+cont round trips (the floor of any freeze).
// --probe prints the trigger probes' view instead of freezing. --with_maps adds the maps phase.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "core/dump/standard/standard_attachment.h"
#include "core/qmp/qmp_client.h"
#include "core/walkers/phases/kernel_walker_phases.h"
#include "core/walkers/phases/maps_phase.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, ram, "", "guest RAM file");
ABSL_FLAG(std::string, qmp, "", "QMP socket (empty: live dump without pausing)");
ABSL_FLAG(int, repeat, 1, "freezes to run");
ABSL_FLAG(int, bare, 0, "bare QMP stop+cont round trips to measure first");
ABSL_FLAG(bool, probe, false, "print the trigger probes' readings and exit");
ABSL_FLAG(std::string, out, "", "write the last envelope's JSON here instead of stdout");
ABSL_FLAG(std::string, sections, "", "comma-separated phases (empty: all)");
ABSL_FLAG(int, deadline_ms, 2000, "soft deadline");
ABSL_FLAG(bool, with_maps, false, "run the maps phase first (the full standard dump)");

namespace {

using Clock = std::chrono::steady_clock;
using kfreeze::dump::QmpControl;

int Fail(const std::string& what) {
  std::fprintf(stderr, "scx_walkers_dump: %s\n", what.c_str());
  return 1;
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int Probe(const std::shared_ptr<const kfreeze::KernelContext>& kernel) {
  auto probes = kfreeze::walkers::MakeScxTriggerProbes(kernel);
  if (!probes) return Fail("no probes (no BTF)");
  std::string line = "{";
  if (auto e = probes->ProbeExit(); e.ok()) {
    absl::StrAppend(&line, "\"attached\":", e->attached ? "true" : "false",
                    ",\"exit_kind\":", e->exit_kind, ",\"sched_kva\":", e->sched_kva);
  } else {
    absl::StrAppend(&line, "\"exit_error\":\"", e.status().message(), "\"");
  }
  if (auto a = probes->ProbeRunnableAge(); a.ok()) {
    absl::StrAppend(&line, ",\"jiffies\":", a->jiffies, ",\"hz\":", a->hz,
                    ",\"watchdog_timeout_jiffies\":", a->watchdog_timeout_jiffies,
                    ",\"max_age_jiffies\":", a->max_age_jiffies,
                    ",\"tasks_scanned\":", a->tasks_scanned);
  } else {
    absl::StrAppend(&line, ",\"age_error\":\"", a.status().message(), "\"");
  }
  if (auto s = probes->SampleEventCounters(); s.ok()) {
    absl::StrAppend(&line, ",\"event_counters\":", Json(*s));
  }
  std::printf("%s}\n", line.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  kfreeze::AttachOptions options;
  options.ram_path = absl::GetFlag(FLAGS_ram);
  const std::string qmp = absl::GetFlag(FLAGS_qmp);
  if (!qmp.empty()) options.memory_tree = [qmp] { return kfreeze::FetchMemoryTree(qmp); };
  if (options.ram_path.empty()) return Fail("--ram is required");
  const Clock::time_point attach_begin = Clock::now();
  auto kernel = kfreeze::KernelContext::Attach(options);
  if (!kernel.ok()) return Fail(absl::StrCat("attach: ", kernel.status().message()));
  kfreeze::dump::PhaseTable phases;
  if (absl::GetFlag(FLAGS_with_maps)) phases = kfreeze::walkers::maps::MapsPhases(*kernel);
  for (auto& p : kfreeze::walkers::KernelWalkerPhases(*kernel)) phases.push_back(std::move(p));
  const double attach_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - attach_begin).count();
  std::fprintf(stderr, "{\"attach_ms\":%.1f}\n", attach_ms);
  if (absl::GetFlag(FLAGS_probe)) return Probe(*kernel);

  std::unique_ptr<QmpControl> control;
  if (!qmp.empty()) {
    auto c = QmpControl::Connect(qmp, std::chrono::milliseconds(2000));
    if (!c.ok()) return Fail(absl::StrCat("qmp: ", c.status().message()));
    control = std::move(*c);
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_bare) && control; ++i) {
    const Clock::time_point t0 = Clock::now();
    absl::Status s = control->Stop(std::chrono::milliseconds(1000));
    absl::Status c = control->Cont(std::chrono::milliseconds(1000));
    if (!s.ok() || !c.ok()) return Fail("bare stop/cont failed");
    std::fprintf(
        stderr, "{\"bare_pause_us\":%lld}\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
  }
  kfreeze::dump::FreezeOptions fo;
  fo.soft_deadline = std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_sections), ',', absl::SkipEmpty())) {
    fo.sections.emplace_back(s);
  }
  const auto& k = *kernel;
  fo.symbolize_ip = [k](uint64_t ip) -> std::optional<std::string> {
    auto at = k->symbols().Lookup(kfreeze::Kva(ip));
    if (!at) return std::nullopt;
    return absl::StrCat(at->symbol.name, "+0x", absl::Hex(at->offset));
  };
  kfreeze::v1::DumpEnvelope last;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_repeat)); ++i) {
    auto outcome = kfreeze::dump::RunFreeze(control.get(), phases, fo);
    if (!outcome.ok()) return Fail(absl::StrCat("freeze: ", outcome.status().message()));
    std::string line = absl::StrCat("{\"freeze_window_us\":", outcome->freeze_window_us);
    for (const auto& t : outcome->envelope.timings()) {
      absl::StrAppend(&line, ",\"", t.phase(), "_us\":", t.duration_us());
    }
    std::fprintf(stderr, "%s}\n", line.c_str());
    last = std::move(outcome->envelope);
  }
  last.set_kernel_release(k->release());
  const std::string json = Json(last);
  if (absl::GetFlag(FLAGS_out).empty()) {
    std::cout << json << "\n";
  } else {
    std::ofstream(absl::GetFlag(FLAGS_out)) << json << "\n";
  }
  return 0;
}
