// The fleet's dump events: the JetStream stream every kfreezed publishes to, one message per dump
// on kfreeze.dumps.<host>.<target> (docs/design/fleet.md §2), and the reader fleet clients
// consume it with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/nats_connection.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::fleet {

struct StreamConfig {
  std::string name;
  int replicas = 1;
  absl::Duration max_age = absl::ZeroDuration();  // 0 = forever
  int64_t max_bytes = 0;                          // 0 = unbounded
  absl::Duration duplicate_window = absl::Minutes(2);
};

// Creates the stream (subjects kfreeze.dumps.>) or updates its retention.
absl::Status EnsureDumpStream(NatsConnection* conn, const StreamConfig& config);

// Publishes `event` (its summary must name host, target and dump id) with Nats-Msg-Id
// "<host>/<dump_id>" and waits for the stream's ack. `*duplicate`: the stream already had it.
absl::Status PublishDumpEvent(NatsConnection* conn, const std::string& stream,
                              const kfreeze::v1::DumpEvent& event, absl::Duration timeout,
                              bool* duplicate);

// The summary of the newest event on kfreeze.dumps.<host>.<target> (nullopt when there is none,
// or it is no DumpEvent).
absl::StatusOr<std::optional<kfreeze::v1::DumpSummary>> LastEventSummary(NatsConnection* conn,
                                                                         const std::string& stream,
                                                                         const std::string& host,
                                                                         const std::string& target,
                                                                         absl::Duration timeout);

struct FeedEvent {
  kfreeze::v1::DumpEvent event;
  uint64_t stream_seq = 0;
};

// Where a reader starts in the stream.
struct FeedStart {
  bool all = false;        // from the first event kept
  uint64_t after_seq = 0;  // from the event after this stream sequence (0 = not used)
  absl::Time since = absl::InfinitePast();  // from this time (InfinitePast = not used)
};

// An ordered consumer over kfreeze.dumps.<host|*>.<target|*>. Default start: new events only.
class DumpFeedReader {
 public:
  static absl::StatusOr<std::unique_ptr<DumpFeedReader>> Open(NatsConnection* conn,
                                                              const std::string& stream,
                                                              const std::string& host,
                                                              const std::string& target,
                                                              const FeedStart& start);
  ~DumpFeedReader();
  // The next event; nullopt after `timeout` without one. DataLoss for a message that is not a
  // DumpEvent (it is skipped: the next call goes on).
  absl::StatusOr<std::optional<FeedEvent>> Next(absl::Duration timeout);

 private:
  explicit DumpFeedReader(natsSubscription* sub) : sub_(sub) {}
  natsSubscription* sub_;
};

}  // namespace kfreeze::fleet
