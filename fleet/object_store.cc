#include "fleet/object_store.h"

#include <openssl/sha.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kfreeze::fleet {
namespace {

std::string PaddedWebSafeBase64(absl::string_view bytes) {
  std::string out = absl::WebSafeBase64Escape(bytes);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

// A NUID-shaped id (22 characters of base62): a fresh chunk subject per stored version.
std::string NewNuid() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id(22, '0');
  for (char& c : id) c = kAlphabet[rng() % 62];
  return id;
}

}  // namespace

std::string ObjectDigest(absl::string_view data) {
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), sum);
  return absl::StrCat("SHA-256=", PaddedWebSafeBase64(absl::string_view(
                                      reinterpret_cast<char*>(sum), sizeof(sum))));
}

std::string EncodeObjectName(absl::string_view name) { return PaddedWebSafeBase64(name); }

absl::StatusOr<ObjectInfo> ParseObjectMeta(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("object meta is not a JSON object");
  ObjectInfo info;
  auto str = [&](const char* key, std::string* into) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) *into = it->get<std::string>();
  };
  str("name", &info.name);
  str("nuid", &info.nuid);
  str("digest", &info.digest);
  if (auto it = j.find("size"); it != j.end() && it->is_number_unsigned()) {
    info.size = it->get<uint64_t>();
  }
  if (auto it = j.find("chunks"); it != j.end() && it->is_number_unsigned()) {
    const uint64_t chunks = it->get<uint64_t>();
    if (chunks > UINT32_MAX) return absl::InvalidArgumentError("object meta: absurd chunk count");
    info.chunks = static_cast<uint32_t>(chunks);
  }
  if (auto it = j.find("deleted"); it != j.end() && it->is_boolean())
    info.deleted = it->get<bool>();
  if (info.name.empty()) return absl::InvalidArgumentError("object meta without a name");
  // The nuid becomes a subject token (chunks, purges): a wildcard there would name every object.
  if (info.nuid.empty() || info.nuid.size() > 64 ||
      !std::all_of(info.nuid.begin(), info.nuid.end(),
                   [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("object meta with a malformed nuid");
  }
  return info;
}

std::string ObjectStore::ChunkSubject(absl::string_view nuid) const {
  return absl::StrCat("$O.", bucket_, ".C.", nuid);
}

std::string ObjectStore::MetaSubject(absl::string_view name) const {
  return absl::StrCat("$O.", bucket_, ".M.", EncodeObjectName(name));
}

absl::Status ObjectStore::Ensure(NatsConnection* conn, const BucketConfig& config) {
  const std::string stream = "OBJ_" + config.name;
  const std::string chunks = absl::StrCat("$O.", config.name, ".C.>");
  const std::string meta = absl::StrCat("$O.", config.name, ".M.>");
  const char* subjects[] = {chunks.c_str(), meta.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 2;
  cfg.Discard = js_DiscardNew;
  cfg.AllowRollup = true;
  cfg.AllowDirect = true;
  return AddOrUpdateStream(conn, cfg, config.replicas, config.max_age, config.max_bytes,
                           absl::StrCat("object store bucket ", config.name));
}

void ObjectStore::PurgeChunks(absl::string_view nuid) {
  const std::string subject = ChunkSubject(nuid);
  const std::string name = stream();
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Purge.Subject = subject.c_str();
  jsErrCode jerr = jsErrCode(0);
  (void)js_PurgeStream(conn_->js(), name.c_str(), &o, &jerr);  // best effort: max_age ends them
}

absl::StatusOr<ObjectInfo> ObjectStore::Put(absl::string_view name, absl::string_view data,
                                            absl::Duration timeout) {
  if (name.empty()) return absl::InvalidArgumentError("empty object name");
  absl::StatusOr<ObjectInfo> previous = Info(name, timeout);
  // A meta that is not ours to read (corrupt, another object's) is overwritten, not obeyed.
  if (!previous.ok() && !absl::IsNotFound(previous.status()) &&
      !absl::IsDataLoss(previous.status())) {
    return previous.status();
  }

  ObjectInfo info;
  info.name = std::string(name);
  info.size = data.size();
  info.digest = ObjectDigest(data);
  // Idempotent: the same bytes under the same name are stored once (a retried publish).
  if (previous.ok() && previous->size == info.size && previous->digest == info.digest) {
    return *previous;
  }
  info.nuid = NewNuid();
  const std::string chunk_subject = ChunkSubject(info.nuid);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = absl::ToInt64Milliseconds(timeout);
  for (size_t off = 0; off < data.size(); off += kChunkBytes) {
    const size_t n = std::min<size_t>(kChunkBytes, data.size() - off);
    jsErrCode jerr = jsErrCode(0);
    jsPubAck* ack = nullptr;
    natsStatus s = js_Publish(&ack, conn_->js(), chunk_subject.c_str(), data.data() + off,
                              static_cast<int>(n), &po, &jerr);
    if (ack != nullptr) jsPubAck_Destroy(ack);
    if (s != NATS_OK) {
      absl::Status st = NatsError(s, absl::StrCat("object ", name, " chunk ", info.chunks), jerr);
      PurgeChunks(info.nuid);
      return st;
    }
    ++info.chunks;
  }
  nlohmann::json meta = {
      {"name", info.name},
      {"options", {{"max_chunk_size", kChunkBytes}}},
      {"bucket", bucket_},
      {"nuid", info.nuid},
      {"size", info.size},
      {"mtime", absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone())},
      {"chunks", info.chunks},
      {"digest", info.digest},
  };
  const std::string body = meta.dump();
  const std::string meta_subject = MetaSubject(name);
  natsMsg* m = nullptr;
  natsStatus s =
      natsMsg_Create(&m, meta_subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  MsgPtr msg(m);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Rollup", "sub");
  jsErrCode jerr = jsErrCode(0);
  jsPubAck* ack = nullptr;
  if (s == NATS_OK) s = js_PublishMsg(&ack, conn_->js(), m, &po, &jerr);
  if (ack != nullptr) jsPubAck_Destroy(ack);
  if (s != NATS_OK) {
    // The meta may be stored with only its ack lost: its chunks stay (max_age ends them if not),
    // and the retry finds the meta naming them.
    return NatsError(s, absl::StrCat("object ", name, " meta"), jerr);
  }
  if (previous.ok() && !previous->nuid.empty() && previous->nuid != info.nuid) {
    PurgeChunks(previous->nuid);
  }
  return info;
}

absl::StatusOr<ObjectInfo> ObjectStore::Info(absl::string_view name, absl::Duration timeout) {
  const std::string subject = MetaSubject(name);
  const std::string stream_name = stream();
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = absl::ToInt64Milliseconds(timeout);
  natsMsg* m = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_GetLastMsg(&m, conn_->js(), stream_name.c_str(), subject.c_str(), &o, &jerr);
  MsgPtr msg(m);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
    return absl::NotFoundError(absl::StrCat("no object ", name, " in bucket ", bucket_));
  }
  if (jerr == JSStreamNotFoundErr) {
    return absl::NotFoundError(absl::StrCat("no object store bucket ", bucket_));
  }
  if (s != NATS_OK) return NatsError(s, absl::StrCat("object ", name, " meta"), jerr);
  absl::StatusOr<ObjectInfo> info = ParseObjectMeta(
      absl::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))));
  if (!info.ok())
    return absl::DataLossError(absl::StrCat("object ", name, ": ", info.status().message()));
  if (info->deleted) return absl::NotFoundError(absl::StrCat("object ", name, " was deleted"));
  if (info->name != name) {
    return absl::DataLossError(absl::StrCat("object meta for ", name, " names ", info->name));
  }
  return info;
}

absl::StatusOr<std::string> ObjectStore::Get(absl::string_view name, absl::Duration timeout,
                                             uint64_t max_bytes) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<ObjectInfo> info = Info(name, timeout);
  if (!info.ok()) return info.status();
  if (info->size > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("object ", name, " holds ", info->size,
                                                     " bytes, more than the ", max_bytes,
                                                     " this reader takes"));
  }
  std::string data;
  if (info->chunks == 0) {
    if (info->size != 0 || ObjectDigest(data) != info->digest) {
      return absl::DataLossError(absl::StrCat("object ", name, ": no chunks, or not empty"));
    }
    return data;
  }
  // What the meta claims is not trusted with memory before the chunks are there.
  constexpr uint64_t kMaxUpfront = uint64_t{64} << 20;
  data.reserve(std::min({info->size, uint64_t{info->chunks} * kChunkBytes, kMaxUpfront}));
  const std::string subject = ChunkSubject(info->nuid);
  const std::string stream_name = stream();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_name.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverAll;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = absl::ToInt64Milliseconds(timeout);
  natsSubscription* sub = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_SubscribeSync(&sub, conn_->js(), subject.c_str(), &o, &so, &jerr);
  if (s != NATS_OK) return NatsError(s, absl::StrCat("object ", name, " chunks"), jerr);
  absl::Status status;
  for (uint32_t i = 0; i < info->chunks && status.ok(); ++i) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    natsMsg* m = nullptr;
    s = left > 0 ? natsSubscription_NextMsg(&m, sub, left) : NATS_TIMEOUT;
    MsgPtr msg(m);
    if (s != NATS_OK) {
      status = NatsError(s, absl::StrCat("object ", name, " chunk ", i, " of ", info->chunks));
      break;
    }
    const size_t n = static_cast<size_t>(natsMsg_GetDataLength(m));
    if (data.size() + n > info->size) {
      status = absl::DataLossError(
          absl::StrCat("object ", name, ": chunks exceed ", info->size, " bytes"));
      break;
    }
    data.append(natsMsg_GetData(m), n);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  if (!status.ok()) return status;
  if (data.size() != info->size || ObjectDigest(data) != info->digest) {
    return absl::DataLossError(
        absl::StrCat("object ", name, ": size or digest differ from its meta"));
  }
  return data;
}

}  // namespace kfreeze::fleet
