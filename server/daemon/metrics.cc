#include "server/daemon/metrics.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/base/reasons.h"
#include "core/report/envelope_captures.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "prometheus/text_serializer.h"
#include "server/daemon/archive.h"
#include "server/daemon/build_info.h"
#include "server/daemon/dump_bus.h"

namespace kfreeze::server {
namespace {

// Seconds, from a fast freeze window (0.5 ms) to a slow attach (30 s).
prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30};
}

std::string TriggerName(kfreeze::v1::Trigger t) {
  std::string name = kfreeze::v1::Trigger_Name(t);
  return absl::StartsWith(name, "TRIGGER_") ? absl::AsciiStrToLower(name.substr(8)) : name;
}

uint64_t ReportFaults(const kfreeze::v1::FailureDumpReport& r) {
  uint64_t faults = 0;
  const google::protobuf::Descriptor* d = r.GetDescriptor();
  const google::protobuf::Reflection* refl = r.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated() ||
        !absl::EndsWith(f->name(), "_unavailable") || !refl->HasField(r, f)) {
      continue;
    }
    if (refl->GetString(r, f) != kReasonSectionNotRequested) ++faults;
  }
  for (const kfreeze::v1::FailureDumpMap& m : r.maps()) {
    if (m.has_error()) ++faults;
    faults += m.stack_trace().buckets_unreadable() + m.fd_array().unreadable();
  }
  return faults;
}

}  // namespace

uint64_t CountWalkFaults(const kfreeze::v1::DumpEnvelope& e) {
  uint64_t faults = 0;
  for (const report::Capture& c : report::Captures(e)) faults += ReportFaults(*c.report);
  return faults;
}

DaemonMetrics::DaemonMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      dumps_(prometheus::BuildCounter()
                 .Name("kfreeze_dumps_total")
                 .Help("Dumps archived, by target, schema (single, dual, degraded) and trigger")
                 .Register(*registry_)),
      freeze_window_(prometheus::BuildHistogram()
                         .Name("kfreeze_freeze_window_seconds")
                         .Help("How long each dump held its VM paused (stop to cont)")
                         .Register(*registry_)),
      window_bytes_(prometheus::BuildCounter()
                        .Name("kfreeze_window_bytes_total")
                        .Help("Guest bytes copied while VMs were paused")
                        .Register(*registry_)),
      freeze_calls_(prometheus::BuildHistogram()
                        .Name("kfreeze_freeze_call_seconds")
                        .Help("Freeze calls (gRPC and HTTP), end to end, by target and status code")
                        .Register(*registry_)),
      attach_seconds_(prometheus::BuildHistogram()
                          .Name("kfreeze_attach_seconds")
                          .Help("Attaches to a guest kernel, successful or not")
                          .Register(*registry_)),
      attach_failures_(prometheus::BuildCounter()
                           .Name("kfreeze_attach_failures_total")
                           .Help("Attaches that failed, by target")
                           .Register(*registry_)),
      walk_faults_(prometheus::BuildCounter()
                       .Name("kfreeze_walk_faults_total")
                       .Help("What walks could not read: sections with an unavailable reason, "
                             "maps with an error, unreadable map entries")
                       .Register(*registry_)),
      subscribers_(prometheus::BuildGauge()
                       .Name("kfreeze_stream_subscribers")
                       .Help("Open dump streams (WatchDumps and /api/v1/events)")
                       .Register(*registry_)
                       .Add({})),
      dropped_events_(prometheus::BuildCounter()
                          .Name("kfreeze_stream_dropped_events_total")
                          .Help("Events stream subscribers lost to a full queue")
                          .Register(*registry_)
                          .Add({})),
      archive_bytes_(prometheus::BuildGauge()
                         .Name("kfreeze_archive_bytes")
                         .Help("Bytes of dumps in the archive")
                         .Register(*registry_)
                         .Add({})),
      archive_dumps_(prometheus::BuildGauge()
                         .Name("kfreeze_archive_dumps")
                         .Help("Dumps in the archive")
                         .Register(*registry_)
                         .Add({})),
      archive_evictions_(prometheus::BuildCounter()
                             .Name("kfreeze_archive_evictions_total")
                             .Help("Dumps retention removed from the archive")
                             .Register(*registry_)
                             .Add({})) {
  prometheus::BuildGauge()
      .Name("kfreeze_build_info")
      .Help("kfreezed's version and build; always 1")
      .Register(*registry_)
      .Add({{"version", KfreezeVersion()}, {"build", KfreezeBuild()}})
      .Set(1);
}

void DaemonMetrics::OnDump(const kfreeze::v1::DumpSummary& summary,
                           const kfreeze::v1::DumpEnvelope& envelope) {
  dumps_
      .Add({{"target", summary.target()},
            {"schema", summary.schema()},
            {"trigger", TriggerName(summary.trigger())}})
      .Increment();
  if (!summary.live()) {
    freeze_window_.Add({{"target", summary.target()}}, SecondsBuckets())
        .Observe(static_cast<double>(summary.freeze_window_us()) / 1e6);
  }
  window_bytes_.Add({{"target", summary.target()}})
      .Increment(static_cast<double>(envelope.window_bytes()));
  walk_faults_.Add({{"target", summary.target()}})
      .Increment(static_cast<double>(CountWalkFaults(envelope)));
}

void DaemonMetrics::OnFreezeCall(const std::string& target, absl::Duration elapsed,
                                 absl::StatusCode code) {
  freeze_calls_
      .Add({{"target", target}, {"code", absl::StatusCodeToString(code)}}, SecondsBuckets())
      .Observe(absl::ToDoubleSeconds(elapsed));
}

void DaemonMetrics::OnAttach(const std::string& target, absl::Duration elapsed, bool ok) {
  attach_seconds_.Add({{"target", target}}, SecondsBuckets())
      .Observe(absl::ToDoubleSeconds(elapsed));
  if (!ok) attach_failures_.Add({{"target", target}}).Increment();
}

std::string DaemonMetrics::Scrape(const DumpArchive* archive, const DumpBus* bus) {
  {
    absl::MutexLock lock(&scrape_mu_);
    // Totals kept by their owners become counter increments of what is new since the last scrape.
    auto catch_up = [](prometheus::Counter& c, uint64_t total) {
      const double now = static_cast<double>(total);
      if (now > c.Value()) c.Increment(now - c.Value());
    };
    if (archive != nullptr) {
      archive_bytes_.Set(static_cast<double>(archive->total_bytes()));
      archive_dumps_.Set(static_cast<double>(archive->count()));
      catch_up(archive_evictions_, archive->evicted_total());
    }
    if (bus != nullptr) {
      subscribers_.Set(static_cast<double>(bus->subscriber_count()));
      catch_up(dropped_events_, bus->dropped_total());
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace kfreeze::server
