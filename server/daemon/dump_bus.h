// Fan-out of archived dumps to WatchDumps subscribers. Publish never blocks: each subscriber has
// a bounded queue and, when it is full, loses its oldest event; the loss is counted and reported
// in the next event it receives (DumpEvent.dropped_before). A slow subscriber therefore never
// delays a freeze or another subscriber.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/field_mask.pb.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::server {

// What a subscriber (WatchDumps, the HTTP event stream) asked for. Empty lists match anything.
struct WatchFilter {
  std::vector<std::string> targets;
  std::vector<std::string> schemas;
  google::protobuf::Map<std::string, std::string> labels;
  std::vector<uint32_t> exit_kinds;
  std::vector<std::string> schedulers;
  std::vector<kfreeze::v1::Trigger> triggers;
  bool summary_only = false;
  // Paths of DumpEvent to keep; empty = all.
  google::protobuf::FieldMask field_mask;

  bool Matches(const kfreeze::v1::DumpSummary& summary) const;
  // The event as this subscriber gets it: trimmed to field_mask (dropped_before and replayed are
  // kept whatever the mask says).
  kfreeze::v1::DumpEvent Shape(const kfreeze::v1::DumpEvent& event) const;
};

// A WatchRequest's filter: InvalidArgument for an exit kind kfreeze cannot read, a trigger out of
// range, or a field_mask path DumpEvent does not have. Sizes are the caller's to check (Limits).
absl::StatusOr<WatchFilter> FilterFromRequest(const kfreeze::v1::WatchRequest& request);

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
  // Told of every published dump, before the subscribers (metrics); must not block.
  using Observer =
      std::function<void(const kfreeze::v1::DumpSummary&, const kfreeze::v1::DumpEnvelope&)>;

  explicit DumpBus(size_t queue_depth, Observer observer = nullptr)
      : depth_(queue_depth == 0 ? 1 : queue_depth), observer_(std::move(observer)) {}
  ~DumpBus();

  std::unique_ptr<Subscription> Subscribe(WatchFilter filter);
  // Delivers to every matching subscriber; summary-only subscribers get no envelope.
  void Publish(const kfreeze::v1::DumpSummary& summary, const kfreeze::v1::DumpEnvelope& envelope);
  // Wakes every subscriber; Next() then drains and returns nullopt. Later Subscribe()s are closed.
  void Close();
  size_t subscriber_count() const;
  // Events subscribers lost to full queues, over the bus's life.
  uint64_t dropped_total() const { return dropped_total_.load(std::memory_order_relaxed); }

 private:
  friend class Subscription;
  void Unsubscribe(Subscription* sub);

  const size_t depth_;
  const Observer observer_;
  std::atomic<uint64_t> dropped_total_{0};
  mutable absl::Mutex mu_;
  std::vector<Subscription*> subs_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kfreeze::server
