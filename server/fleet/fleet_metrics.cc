#include "server/fleet/fleet_metrics.h"

#include "prometheus/family.h"

namespace kfreeze::server::fleet {
namespace {

prometheus::Counter& Counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

FleetMetrics::FleetMetrics(prometheus::Registry& r)
    : published(Counter(r, "kfreeze_nats_published_total",
                        "Dumps whose body and event the NATS cluster acknowledged")),
      duplicates(Counter(r, "kfreeze_nats_duplicate_events_total",
                         "Dump events the stream already held (a retried publish)")),
      failures(Counter(r, "kfreeze_nats_publish_failures_total",
                       "Publish attempts that failed and are retried")),
      unpublished(Counter(r, "kfreeze_nats_unpublished_total",
                          "Dumps archive retention removed before they reached NATS")),
      backlog(Gauge(r, "kfreeze_nats_backlog", "Archived dumps not yet published to NATS")),
      connected(Gauge(r, "kfreeze_nats_connected", "1 while connected to the NATS cluster")),
      publish_seconds(
          prometheus::BuildHistogram()
              .Name("kfreeze_nats_publish_seconds")
              .Help("Time to publish one dump (body chunks, meta and event)")
              .Register(r)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      requests(Counter(r, "kfreeze_nats_requests_total",
                       "Freeze and target-listing requests answered over NATS")) {}

}  // namespace kfreeze::server::fleet
