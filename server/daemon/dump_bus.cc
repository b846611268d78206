#include "server/daemon/dump_bus.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/report/scx_exit_kind.h"
#include "google/protobuf/util/field_mask_util.h"
#include "server/daemon/dump_summary.h"

namespace kfreeze::server {

bool WatchFilter::Matches(const kfreeze::v1::DumpSummary& s) const {
  if (!targets.empty() && std::find(targets.begin(), targets.end(), s.target()) == targets.end()) {
    return false;
  }
  if (!schemas.empty() && std::find(schemas.begin(), schemas.end(), s.schema()) == schemas.end()) {
    return false;
  }
  if (!exit_kinds.empty() &&
      std::find(exit_kinds.begin(), exit_kinds.end(), s.exit_kind()) == exit_kinds.end()) {
    return false;
  }
  if (!schedulers.empty() &&
      std::find(schedulers.begin(), schedulers.end(), s.scheduler()) == schedulers.end()) {
    return false;
  }
  if (!triggers.empty() &&
      std::find(triggers.begin(), triggers.end(), s.trigger()) == triggers.end()) {
    return false;
  }
  return LabelsMatch(s.labels(), labels);
}

kfreeze::v1::DumpEvent WatchFilter::Shape(const kfreeze::v1::DumpEvent& event) const {
  kfreeze::v1::DumpEvent shaped = event;
  if (field_mask.paths_size() == 0) return shaped;
  google::protobuf::util::FieldMaskUtil::TrimMessage(field_mask, &shaped);
  shaped.set_dropped_before(event.dropped_before());
  shaped.set_replayed(event.replayed());
  return shaped;
}

absl::StatusOr<WatchFilter> FilterFromRequest(const kfreeze::v1::WatchRequest& request) {
  WatchFilter filter;
  filter.targets.assign(request.targets().begin(), request.targets().end());
  filter.schemas.assign(request.schemas().begin(), request.schemas().end());
  filter.labels = request.labels();
  filter.schedulers.assign(request.schedulers().begin(), request.schedulers().end());
  filter.summary_only = request.summary_only();
  for (const std::string& kind : request.exit_kinds()) {
    std::optional<uint32_t> k = report::ParseScxExitKind(kind);
    if (!k) {
      return absl::InvalidArgumentError(
          absl::StrCat("WatchRequest.exit_kinds: \"", absl::CHexEscape(kind),
                       "\" is neither a sched_ext exit kind (SCX_EXIT_ERROR_STALL, error_bpf, ...) "
                       "nor a number"));
    }
    filter.exit_kinds.push_back(*k);
  }
  for (int t : request.triggers()) {
    if (!kfreeze::v1::Trigger_IsValid(t)) {
      return absl::InvalidArgumentError(absl::StrCat("WatchRequest.triggers: unknown trigger ", t));
    }
    filter.triggers.push_back(static_cast<kfreeze::v1::Trigger>(t));
  }
  for (const std::string& path : request.field_mask().paths()) {
    if (!google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(
            kfreeze::v1::DumpEvent::descriptor(), path, nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat("WatchRequest.field_mask: DumpEvent has no \"",
                                                     absl::CHexEscape(path), "\""));
    }
  }
  filter.field_mask = request.field_mask();
  return filter;
}

Subscription::~Subscription() { bus_->Unsubscribe(this); }

void Subscription::Push(std::shared_ptr<const kfreeze::v1::DumpEvent> event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  while (queue_.size() >= depth_) {
    queue_.pop_front();
    ++dropped_pending_;
    ++dropped_total_;
    bus_->dropped_total_.fetch_add(1, std::memory_order_relaxed);
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
  if (observer_) observer_(summary, envelope);
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
