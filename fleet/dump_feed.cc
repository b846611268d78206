#include "fleet/dump_feed.h"

#include "absl/strings/str_cat.h"
#include "fleet/headers.h"
#include "fleet/subjects.h"

namespace kfreeze::fleet {

absl::Status EnsureDumpStream(NatsConnection* conn, const StreamConfig& config) {
  const std::string subject = absl::StrCat(kDumpSubjectPrefix, ".>");
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = config.name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Duplicates = absl::ToInt64Nanoseconds(config.duplicate_window);
  cfg.Discard = js_DiscardOld;
  return AddOrUpdateStream(conn, cfg, config.replicas, config.max_age, config.max_bytes,
                           absl::StrCat("dump stream ", config.name));
}

absl::Status PublishDumpEvent(NatsConnection* conn, const std::string& stream,
                              const kfreeze::v1::DumpEvent& event, absl::Duration timeout,
                              bool* duplicate) {
  const kfreeze::v1::DumpSummary& summary = event.summary();
  if (summary.host().empty() || summary.target().empty() || summary.dump_id().empty()) {
    return absl::InvalidArgumentError("a fleet dump event names its host, target and dump id");
  }
  const std::string subject = DumpSubject(summary.host(), summary.target());
  const std::string object = DumpObjectName(summary.host(), summary.dump_id());
  const std::string body = event.SerializeAsString();
  natsMsg* m = nullptr;
  natsStatus s =
      natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  MsgPtr msg(m);
  const std::pair<const char*, std::string> headers[] = {
      {kHostHeader, summary.host()},
      {kTargetHeader, summary.target()},
      {kDumpIdHeader, summary.dump_id()},
      {kObjectHeader, object},
      {kSchemaHeader, summary.schema()},
      {kCapturedAtHeader, absl::FormatTime(absl::RFC3339_full,
                                           absl::FromUnixSeconds(summary.captured_at().seconds()) +
                                               absl::Nanoseconds(summary.captured_at().nanos()),
                                           absl::UTCTimeZone())},
      {kTriggerHeader, kfreeze::v1::Trigger_Name(summary.trigger())},
      {kExitKindHeader, absl::StrCat(summary.exit_kind())},
      {kSchedulerHeader, summary.scheduler()},
      {kSummaryHeader, summary.summary()},
  };
  for (const auto& [key, value] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Set(m, key, HeaderValue(value).c_str());
  }
  if (s != NATS_OK) return NatsError(s, "dump event");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = absl::ToInt64Milliseconds(timeout);
  po.MsgId = object.c_str();
  po.ExpectStream = stream.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode jerr = jsErrCode(0);
  s = js_PublishMsg(&ack, conn->js(), m, &po, &jerr);
  if (duplicate != nullptr) *duplicate = ack != nullptr && ack->Duplicate;
  if (ack != nullptr) jsPubAck_Destroy(ack);
  return NatsError(s, absl::StrCat("dump event ", object), jerr);
}

absl::StatusOr<std::optional<kfreeze::v1::DumpSummary>> LastEventSummary(NatsConnection* conn,
                                                                         const std::string& stream,
                                                                         const std::string& host,
                                                                         const std::string& target,
                                                                         absl::Duration timeout) {
  const std::string subject = DumpSubject(host, target);
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = absl::ToInt64Milliseconds(timeout);
  natsMsg* m = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_GetLastMsg(&m, conn->js(), stream.c_str(), subject.c_str(), &o, &jerr);
  MsgPtr msg(m);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return std::nullopt;
  if (s != NATS_OK) return NatsError(s, absl::StrCat("last event on ", subject), jerr);
  kfreeze::v1::DumpEvent event;
  if (!event.ParseFromArray(natsMsg_GetData(m), natsMsg_GetDataLength(m))) return std::nullopt;
  return std::optional<kfreeze::v1::DumpSummary>(std::move(*event.mutable_summary()));
}

absl::StatusOr<std::unique_ptr<DumpFeedReader>> DumpFeedReader::Open(NatsConnection* conn,
                                                                     const std::string& stream,
                                                                     const std::string& host,
                                                                     const std::string& target,
                                                                     const FeedStart& start) {
  const std::string filter = DumpFilterSubject(host, target);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverNew;
  if (start.all) so.Config.DeliverPolicy = js_DeliverAll;
  if (start.after_seq > 0) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start.after_seq + 1;
  }
  if (start.since != absl::InfinitePast()) {
    so.Config.DeliverPolicy = js_DeliverByStartTime;
    so.Config.OptStartTime = absl::ToUnixNanos(start.since);
  }
  natsSubscription* sub = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_SubscribeSync(&sub, conn->js(), filter.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) return NatsError(s, absl::StrCat("reading ", stream, " on ", filter), jerr);
  return std::unique_ptr<DumpFeedReader>(new DumpFeedReader(sub));
}

DumpFeedReader::~DumpFeedReader() {
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

absl::StatusOr<std::optional<FeedEvent>> DumpFeedReader::Next(absl::Duration timeout) {
  natsMsg* m = nullptr;
  natsStatus s = natsSubscription_NextMsg(&m, sub_, absl::ToInt64Milliseconds(timeout));
  // A slow consumer lost messages libnats could not buffer; the ordered consumer resets itself.
  if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) return std::nullopt;
  if (s != NATS_OK) return NatsError(s, "dump feed");
  MsgPtr msg(m);
  FeedEvent out;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta != nullptr) {
    out.stream_seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  if (!out.event.ParseFromArray(natsMsg_GetData(m), natsMsg_GetDataLength(m))) {
    return absl::DataLossError(absl::StrCat("stream message ", out.stream_seq, " on ",
                                            natsMsg_GetSubject(m), " is not a DumpEvent"));
  }
  return std::optional<FeedEvent>(std::move(out));
}

}  // namespace kfreeze::fleet
