#include "server/daemon/dump_bus.h"

#include <algorithm>

#include "server/daemon/dump_summary.h"

namespace kfreeze::server {

bool WatchFilter::Matches(const kfreeze::v1::DumpSummary& s) const {
  if (!targets.empty() && std::find(targets.begin(), targets.end(), s.target()) == targets.end()) {
    return false;
  }
  if (!schemas.empty() && std::find(schemas.begin(), schemas.end(), s.schema()) == schemas.end()) {
    return false;
  }
  return LabelsMatch(s.labels(), labels);
}

Subscription::~Subscription() { bus_->Unsubscribe(this); }

void Subscription::Push(std::shared_ptr<const kfreeze::v1::DumpEvent> event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  while (queue_.size() >= depth_) {
    queue_.pop_front();
    ++dropped_pending_;
    ++dropped_total_;
  }
  queue_.push_back(std::move(event));
}

void Subscription::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::optional<kfreeze::v1::DumpEvent> Subscription::Next(absl::Duration timeout) {
  std::shared_ptr<const kfreeze::v1::DumpEvent> shared;
  uint64_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (queue_.empty()) return std::nullopt;
    shared = std::move(queue_.front());
    queue_.pop_front();
    dropped = dropped_pending_;
    dropped_pending_ = 0;
  }
  // The copy of a large envelope happens outside the lock, on the subscriber's own thread.
  kfreeze::v1::DumpEvent event = *shared;
  event.set_dropped_before(dropped);
  return event;
}

bool Subscription::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_ && queue_.empty();
}

uint64_t Subscription::total_dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

DumpBus::~DumpBus() { Close(); }

std::unique_ptr<Subscription> DumpBus::Subscribe(WatchFilter filter) {
  std::unique_ptr<Subscription> sub(new Subscription(this, std::move(filter), depth_));
  absl::MutexLock lock(&mu_);
  if (closed_) {
    sub->Close();
  } else {
    subs_.push_back(sub.get());
  }
  return sub;
}

void DumpBus::Unsubscribe(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
}

void DumpBus::Publish(const kfreeze::v1::DumpSummary& summary,
                      const kfreeze::v1::DumpEnvelope& envelope) {
  // Built at most once each, copied into the queues under the bus lock only (never blocks on a
  // subscriber's reader: Push takes the subscriber's own short lock).
  std::shared_ptr<kfreeze::v1::DumpEvent> full, brief;
  absl::MutexLock lock(&mu_);
  for (Subscription* sub : subs_) {
    if (!sub->filter().Matches(summary)) continue;
    std::shared_ptr<kfreeze::v1::DumpEvent>& event = sub->filter().summary_only ? brief : full;
    if (!event) {
      event = std::make_shared<kfreeze::v1::DumpEvent>();
      *event->mutable_summary() = summary;
      if (!sub->filter().summary_only) *event->mutable_envelope() = envelope;
    }
    sub->Push(event);
  }
}

void DumpBus::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (Subscription* sub : subs_) sub->Close();
}

size_t DumpBus::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subs_.size();
}

}  // namespace kfreeze::server
