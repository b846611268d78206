// kfreezed's Prometheus metrics (prometheus-cpp's registry and text serializer; the HTTP side
// serves them at /metrics). Events are counted where they happen (a dump published, a Freeze
// call answered, an attach); levels (archive size, subscribers) are read when scraped.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kfreeze/v1/archive.pb.h"
#include "kfreeze/v1/report.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kfreeze::server {

class DumpArchive;
class DumpBus;

class DaemonMetrics {
 public:
  DaemonMetrics();

  // A dump was archived and published (every trigger).
  void OnDump(const kfreeze::v1::DumpSummary& summary, const kfreeze::v1::DumpEnvelope& envelope);
  // A Freeze call (gRPC or HTTP) finished after `elapsed` with `code`.
  void OnFreezeCall(const std::string& target, absl::Duration elapsed, absl::StatusCode code);
  // An attach of `target` finished.
  void OnAttach(const std::string& target, absl::Duration elapsed, bool ok);

  // The Prometheus text exposition, with the levels of `archive` and `bus` read now (either may
  // be null).
  std::string Scrape(const DumpArchive* archive, const DumpBus* bus);
  // For the parts of kfreezed outside the daemon (the fleet) to add their own families.
  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& dumps_;
  prometheus::Family<prometheus::Histogram>& freeze_window_;
  prometheus::Family<prometheus::Counter>& window_bytes_;
  prometheus::Family<prometheus::Histogram>& freeze_calls_;
  prometheus::Family<prometheus::Histogram>& attach_seconds_;
  prometheus::Family<prometheus::Counter>& attach_failures_;
  prometheus::Family<prometheus::Counter>& walk_faults_;
  prometheus::Gauge& subscribers_;
  prometheus::Counter& dropped_events_;
  prometheus::Gauge& archive_bytes_;
  prometheus::Gauge& archive_dumps_;
  prometheus::Counter& archive_evictions_;
  // prometheus-cpp's Family::Add is thread-safe; Scrape's level updates are serialised here.
  absl::Mutex scrape_mu_;
};

// What a walk could not read in a dump: each section with an unavailable reason other than
// "section not requested", each map with an error, each unreadable map entry or bucket.
uint64_t CountWalkFaults(const kfreeze::v1::DumpEnvelope& envelope);

}  // namespace kfreeze::server
