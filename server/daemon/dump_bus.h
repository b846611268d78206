// Fan-out of archived dumps to WatchDumps subscribers. Publish never blocks: each subscriber has
// a bounded queue and, when it is full, loses its oldest event; the loss is counted and reported
// in the next event it receives (DumpEvent.dropped_before). A slow subscriber therefore never
// delays a freeze or another subscriber.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::server {

struct WatchFilter {
  std::vector<std::string> targets;  // empty = any
  std::vector<std::string> schemas;  // empty = any
  google::protobuf::Map<std::string, std::string> labels;
  bool summary_only = false;

  bool Matches(const kfreeze::v1::DumpSummary& summary) const;
};

class DumpBus;

class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next event (with dropped_before filled), waiting at most `timeout`. nullopt on timeout or
  // once the bus is closed and the queue drained (closed() tells which).
  std::optional<kfreeze::v1::DumpEvent> Next(absl::Duration timeout);
  bool closed() const;
  uint64_t total_dropped() const;
  const WatchFilter& filter() const { return filter_; }

 private:
  friend class DumpBus;
  Subscription(DumpBus* bus, WatchFilter filter, size_t depth)
      : bus_(bus), filter_(std::move(filter)), depth_(depth) {}
  void Push(std::shared_ptr<const kfreeze::v1::DumpEvent> event);
  void Close();

  DumpBus* const bus_;
  const WatchFilter filter_;
  const size_t depth_;
  mutable absl::Mutex mu_;
  // Shared between subscribers: a publish costs one event build, not one copy per subscriber.
  std::deque<std::shared_ptr<const kfreeze::v1::DumpEvent>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_pending_ ABSL_GUARDED_BY(mu_) = 0;  // not yet reported
  uint64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class DumpBus {
 public:
  explicit DumpBus(size_t queue_depth) : depth_(queue_depth == 0 ? 1 : queue_depth) {}
  ~DumpBus();

  std::unique_ptr<Subscription> Subscribe(WatchFilter filter);
  // Delivers to every matching subscriber; summary-only subscribers get no envelope.
  void Publish(const kfreeze::v1::DumpSummary& summary, const kfreeze::v1::DumpEnvelope& envelope);
  // Wakes every subscriber; Next() then drains and returns nullopt. Later Subscribe()s are closed.
  void Close();
  size_t subscriber_count() const;

 private:
  friend class Subscription;
  void Unsubscribe(Subscription* sub);

  const size_t depth_;
  mutable absl::Mutex mu_;
  std::vector<Subscription*> subs_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kfreeze::server
