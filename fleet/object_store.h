// A NATS JetStream object store bucket, in the layout of NATS ADR-20 (what nats.go, nats.js and
// the `nats` CLI read and write): stream OBJ_<bucket>, chunks on $O.<bucket>.C.<nuid>, the JSON
// meta of each object on $O.<bucket>.M.<base64url(name)>, rolled up so only the newest remains.
// libnats 3.4 has no object store API; this is that layout on its JetStream calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fleet/nats_connection.h"

namespace kfreeze::fleet {

struct BucketConfig {
  std::string name;
  int replicas = 1;
  absl::Duration max_age = absl::ZeroDuration();  // 0 = forever
  int64_t max_bytes = 0;                          // 0 = unbounded
};

struct ObjectInfo {
  std::string name;
  std::string nuid;  // the chunk subject's last token
  uint64_t size = 0;
  uint32_t chunks = 0;
  std::string digest;  // "SHA-256=<base64url>"
  bool deleted = false;
};

// "SHA-256=" + base64url (padded, as Go's URLEncoding) of the SHA-256 of `data`.
std::string ObjectDigest(absl::string_view data);
// base64url, padded: the meta subject's last token for `name`.
std::string EncodeObjectName(absl::string_view name);

class ObjectStore {
 public:
  static constexpr uint32_t kChunkBytes = 128 * 1024;  // ADR-20's default chunk size

  ObjectStore(NatsConnection* conn, std::string bucket) : conn_(conn), bucket_(std::move(bucket)) {}

  // Creates the bucket's stream, or updates its retention to `config`.
  static absl::Status Ensure(NatsConnection* conn, const BucketConfig& config);

  // Stores `data` under `name` (a new nuid; the previous version's chunks are purged); the same
  // bytes already stored under `name` are not stored again. Each chunk and the meta wait for
  // JetStream's ack; on failure the partial chunks are purged.
  absl::StatusOr<ObjectInfo> Put(absl::string_view name, absl::string_view data,
                                 absl::Duration timeout);
  // NotFound when the bucket holds no such object (or only its deletion marker).
  absl::StatusOr<ObjectInfo> Info(absl::string_view name, absl::Duration timeout);
  // The object's bytes, checked against the meta's size and digest (DataLoss when they differ).
  // `max_bytes` bounds what a caller is willing to hold (ResourceExhausted beyond it).
  absl::StatusOr<std::string> Get(absl::string_view name, absl::Duration timeout,
                                  uint64_t max_bytes);

  const std::string& bucket() const { return bucket_; }
  std::string stream() const { return "OBJ_" + bucket_; }

 private:
  std::string ChunkSubject(absl::string_view nuid) const;
  std::string MetaSubject(absl::string_view name) const;
  void PurgeChunks(absl::string_view nuid);

  NatsConnection* const conn_;
  const std::string bucket_;
};

// Parses an ADR-20 meta message body; InvalidArgument for what is not one.
absl::StatusOr<ObjectInfo> ParseObjectMeta(absl::string_view json);

}  // namespace kfreeze::fleet
