#include "server/fleet/fleet_publisher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fleet/dump_feed.h"
#include "fleet/object_store.h"
#include "fleet/subjects.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server::fleet {
namespace {

constexpr absl::Duration kIdlePoll = absl::Seconds(1);
constexpr absl::Duration kDisconnectedPoll = absl::Milliseconds(250);
// Concurrent stores index out of seq order: a seq missing below one already archived is
// waited for this long before it counts as never coming (a failed store, or retention first).
constexpr absl::Duration kGapGrace = absl::Seconds(10);
constexpr absl::Duration kGapPoll = absl::Milliseconds(100);

}  // namespace

FleetPublisher::FleetPublisher(kfreeze::fleet::NatsConnection* conn, DumpArchive* archive,
                               DumpBus* bus, const FleetOptions& options, FleetMetrics* metrics)
    : conn_(conn), archive_(archive), options_(options), metrics_(metrics) {
  WatchFilter wake;
  wake.summary_only = true;
  wakeups_ = bus->Subscribe(std::move(wake));
  uint64_t cursor = 0;
  std::ifstream in(CursorPath());
  std::string text;
  if (in && std::getline(in, text) && absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &cursor)) {
    spdlog::info("nats: publishing archived dumps after seq {}", cursor);
  } else if (in) {
    // Garbled, not absent: publish everything archived again rather than drop a backlog
    // (JetStream drops events it already has within its duplicate window).
    std::vector<kfreeze::v1::DumpSummary> all = archive_->After(0);
    cursor = all.empty() ? 0 : all.front().seq() - 1;
    spdlog::warn("nats: {} unreadable: publishing every archived dump", CursorPath());
  } else {
    // First start with NATS: what is archived from now on goes out.
    bool more = false;
    std::vector<kfreeze::v1::DumpSummary> newest = archive_->List(DumpFilter{}, 0, 1, &more);
    cursor = newest.empty() ? 0 : newest.front().seq();
    SaveCursor(cursor);
    spdlog::info("nats: no cursor yet; publishing dumps archived after seq {}", cursor);
  }
  {
    absl::MutexLock lock(&mu_);
    cursor_ = cursor;
  }
  thread_ = std::thread([this] { Loop(); });
}

FleetPublisher::~FleetPublisher() { Stop(); }

void FleetPublisher::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

uint64_t FleetPublisher::cursor() const {
  absl::MutexLock lock(&mu_);
  return cursor_;
}

std::string FleetPublisher::CursorPath() const { return archive_->dir() + "/nats-cursor"; }

void FleetPublisher::SaveCursor(uint64_t seq) {
  const std::string path = CursorPath();
  const std::string tmp = path + ".tmp";
  const std::string text = absl::StrCat(seq, "\n");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const bool written = fd >= 0 &&
                       ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    spdlog::warn("nats: cannot write {}: a restart may publish again what JetStream dedups", path);
  }
}

absl::Status FleetPublisher::EnsureStreams() {
  if (absl::Status s = kfreeze::fleet::EnsureDumpStream(conn_, options_.stream); !s.ok()) return s;
  return kfreeze::fleet::ObjectStore::Ensure(conn_, options_.bucket);
}

absl::Status FleetPublisher::PublishOne(const kfreeze::v1::DumpSummary& summary) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> body = archive_->GetBytes(summary.dump_id());
  if (!body.ok()) {
    if (absl::IsNotFound(body.status()) || absl::IsDataLoss(body.status())) {
      spdlog::warn("nats: dump {} never reached NATS: {}", summary.dump_id(),
                   body.status().ToString());
      metrics_->unpublished.Increment();
      return absl::OkStatus();
    }
    return body.status();
  }
  kfreeze::fleet::ObjectStore store(conn_, options_.bucket.name);
  const std::string object = kfreeze::fleet::DumpObjectName(options_.host, summary.dump_id());
  absl::StatusOr<kfreeze::fleet::ObjectInfo> put =
      store.Put(object, *body, options_.publish_timeout);
  if (!put.ok()) return put.status();
  // Already in the stream (a lost ack, a crash before the cursor moved, a garbled cursor), even
  // longer ago than the duplicate window: this host publishes each target's dumps in archive
  // order, so the target's newest event is at or past this dump. Its capture time as well: an
  // archive started afresh counts seqs from 1 again, and its dumps are newer.
  absl::StatusOr<std::optional<kfreeze::v1::DumpSummary>> last = kfreeze::fleet::LastEventSummary(
      conn_, options_.stream.name, options_.host, summary.target(), options_.publish_timeout);
  if (!last.ok()) return last.status();
  auto at = [](const kfreeze::v1::DumpSummary& s) {
    return absl::FromUnixSeconds(s.captured_at().seconds()) +
           absl::Nanoseconds(s.captured_at().nanos());
  };
  if (*last && (*last)->seq() >= summary.seq() && at(**last) >= at(summary)) {
    metrics_->duplicates.Increment();
    metrics_->published.Increment();
    return absl::OkStatus();
  }
  kfreeze::v1::DumpEvent event;
  *event.mutable_summary() = summary;
  event.mutable_summary()->set_host(options_.host);
  bool duplicate = false;
  if (absl::Status s = kfreeze::fleet::PublishDumpEvent(conn_, options_.stream.name, event,
                                                        options_.publish_timeout, &duplicate);
      !s.ok()) {
    return s;
  }
  if (duplicate) metrics_->duplicates.Increment();
  metrics_->published.Increment();
  metrics_->publish_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

void FleetPublisher::Loop() {
  bool ensured = false;
  absl::Duration backoff = options_.retry_min;
  std::string last_error;
  absl::Time gap_since = absl::InfiniteFuture();  // when the seq after the cursor went missing
  auto fail = [&](const absl::Status& s) {
    metrics_->failures.Increment();
    if (s.ToString() != last_error) {
      last_error = s.ToString();
      spdlog::warn("nats: {} (retrying every {} at most; dumps stay archived)", last_error,
                   absl::FormatDuration(options_.retry_max));
    }
    stop_.WaitForNotificationWithTimeout(backoff);
    backoff = std::min(backoff * 2, options_.retry_max);
  };
  while (!stop_.HasBeenNotified()) {
    const uint64_t cursor = this->cursor();
    std::vector<kfreeze::v1::DumpSummary> pending = archive_->After(cursor);
    metrics_->backlog.Set(static_cast<double>(pending.size()));
    const bool up = conn_->connected();
    metrics_->connected.Set(up ? 1 : 0);
    if (!up) {
      stop_.WaitForNotificationWithTimeout(kDisconnectedPoll);
      continue;
    }
    if (!ensured) {
      if (absl::Status s = EnsureStreams(); !s.ok()) {
        fail(s);
        continue;
      }
      ensured = true;
    }
    if (pending.empty()) {
      // An archived dump, or a second of nothing (or a closed bus: kfreezed is stopping).
      if (!wakeups_->Next(kIdlePoll) && wakeups_->closed()) {
        stop_.WaitForNotificationWithTimeout(kIdlePoll);
      }
      continue;
    }
    for (const kfreeze::v1::DumpSummary& summary : pending) {
      if (stop_.HasBeenNotified()) break;
      const uint64_t expected = this->cursor() + 1;
      if (summary.seq() > expected) {
        const absl::Time now = absl::Now();
        if (gap_since == absl::InfiniteFuture()) gap_since = now;
        if (now - gap_since < kGapGrace) {
          stop_.WaitForNotificationWithTimeout(kGapPoll);
          break;
        }
        spdlog::warn(
            "nats: archive seq {}..{} never came (a failed store, or retention removed "
            "it before it was published)",
            expected, summary.seq() - 1);
        metrics_->unpublished.Increment(static_cast<double>(summary.seq() - expected));
      }
      gap_since = absl::InfiniteFuture();
      if (absl::Status s = PublishOne(summary); !s.ok()) {
        // A stream or bucket deleted under us (JetStream then answers "no responders") is
        // recreated by the next round.
        ensured = false;
        fail(s);
        break;
      }
      if (!last_error.empty()) {
        spdlog::info("nats: publishing again (dump {})", summary.dump_id());
        last_error.clear();
      }
      backoff = options_.retry_min;
      {
        absl::MutexLock lock(&mu_);
        cursor_ = summary.seq();
      }
      SaveCursor(summary.seq());
    }
  }
}

}  // namespace kfreeze::server::fleet
