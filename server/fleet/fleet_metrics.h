// The fleet's Prometheus metrics, in kfreezed's registry (served at /metrics with the rest).
#pragma once

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kfreeze::server::fleet {

struct FleetMetrics {
  explicit FleetMetrics(prometheus::Registry& registry);

  prometheus::Counter& published;          // dumps whose body and event the cluster acknowledged
  prometheus::Counter& duplicates;         // events the stream already held (a retried publish)
  prometheus::Counter& failures;           // publish attempts that failed (and will be retried)
  prometheus::Counter& unpublished;        // dumps retention removed before they could be published
  prometheus::Gauge& backlog;              // archived dumps not yet published
  prometheus::Gauge& connected;            // 1 while connected to the cluster
  prometheus::Histogram& publish_seconds;  // body + event, per dump
  prometheus::Counter& requests;           // freeze and target requests answered
};

}  // namespace kfreeze::server::fleet
