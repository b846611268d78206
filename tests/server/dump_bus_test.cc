// WatchDumps fan-out: filters, bounded queues that drop the oldest with a count, close.
#include "server/daemon/dump_bus.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/dump_summary.h"

namespace kfreeze::server {
namespace {

kfreeze::v1::DumpSummary Summary(uint64_t seq, const std::string& target,
                                 const std::string& schema = "single") {
  kfreeze::v1::DumpSummary s;
  s.set_seq(seq);
  s.set_dump_id(absl::StrCat(target, "-", seq));
  s.set_target(target);
  s.set_schema(schema);
  return s;
}

kfreeze::v1::DumpEnvelope Envelope(uint64_t seq) {
  kfreeze::v1::DumpEnvelope e;
  e.set_dump_id(absl::StrCat("d", seq));
  e.mutable_single()->set_schema("single");
  return e;
}

TEST(DumpBus, DeliversMatchingEventsWithOrWithoutBody) {
  DumpBus bus(8);
  WatchFilter all;
  WatchFilter vm1_brief;
  vm1_brief.targets = {"vm1"};
  vm1_brief.summary_only = true;
  auto a = bus.Subscribe(all);
  auto b = bus.Subscribe(vm1_brief);
  bus.Publish(Summary(1, "vm0"), Envelope(1));
  bus.Publish(Summary(2, "vm1"), Envelope(2));
  auto a1 = a->Next(absl::Seconds(5));
  auto a2 = a->Next(absl::Seconds(5));
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(a1->summary().seq(), 1u);
  EXPECT_TRUE(a1->has_envelope());
  EXPECT_EQ(a2->summary().seq(), 2u);
  auto b1 = b->Next(absl::Seconds(5));
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->summary().target(), "vm1");
  EXPECT_FALSE(b1->has_envelope());
  EXPECT_FALSE(b->Next(absl::Milliseconds(1)).has_value());
}

TEST(DumpBus, SchemaAndLabelFilters) {
  DumpBus bus(8);
  WatchFilter f;
  f.schemas = {"dual"};
  f.labels["test"] = "t1";
  auto sub = bus.Subscribe(f);
  auto with_label = Summary(1, "vm0", "dual");
  (*with_label.mutable_labels())["test"] = "t1";
  bus.Publish(Summary(2, "vm0", "dual"), Envelope(2));  // label missing
  bus.Publish(Summary(3, "vm0", "single"), Envelope(3));
  bus.Publish(with_label, Envelope(1));
  auto e = sub->Next(absl::Seconds(5));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->summary().seq(), 1u);
  EXPECT_FALSE(sub->Next(absl::Milliseconds(1)).has_value());
}

// The filters a stall watcher needs: the exit kind (by the kernel's name, short name or number),
// the scheduler and the trigger.
TEST(DumpBus, ExitKindSchedulerAndTriggerFilters) {
  kfreeze::v1::WatchRequest request;
  request.add_exit_kinds("error_stall");
  request.add_exit_kinds("SCX_EXIT_ERROR_BPF");
  request.add_exit_kinds("64");
  request.add_schedulers("scx_simple");
  request.add_triggers(kfreeze::v1::TRIGGER_LATE);
  absl::StatusOr<WatchFilter> f = FilterFromRequest(request);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->exit_kinds, (std::vector<uint32_t>{1026, 1025, 64}));

  auto summary = [](uint32_t kind, const std::string& sched, kfreeze::v1::Trigger trigger) {
    kfreeze::v1::DumpSummary s = Summary(1, "vm0", "dual");
    s.set_exit_kind(kind);
    s.set_scheduler(sched);
    s.set_trigger(trigger);
    return s;
  };
  EXPECT_TRUE(f->Matches(summary(1026, "scx_simple", kfreeze::v1::TRIGGER_LATE)));
  EXPECT_TRUE(f->Matches(summary(64, "scx_simple", kfreeze::v1::TRIGGER_LATE)));
  EXPECT_FALSE(f->Matches(summary(1024, "scx_simple", kfreeze::v1::TRIGGER_LATE)));
  EXPECT_FALSE(f->Matches(summary(1026, "scx_lavd", kfreeze::v1::TRIGGER_LATE)));
  EXPECT_FALSE(f->Matches(summary(1026, "scx_simple", kfreeze::v1::TRIGGER_RPC)));
  EXPECT_FALSE(f->Matches(summary(0, "", kfreeze::v1::TRIGGER_LATE)));  // no sched_ext at all
}

// The summary a filter matches: a dual report's late side decides; exit_info's kind wins once
// the kernel's disable work set exit_kind to DONE.
TEST(DumpBus, SummariesCarryTheExitKindAndSchedulerOfTheReport) {
  kfreeze::v1::DumpEnvelope dual;
  auto* late = dual.mutable_dual()->mutable_late()->mutable_scx_sched_state();
  late->set_exit_kind(1);
  late->mutable_exit_info()->set_kind(1026);
  late->set_ops_name("scx_simple");
  dual.mutable_dual()->mutable_early()->mutable_scx_sched_state()->set_ops_name("early_name");
  kfreeze::v1::DumpSummary s = MakeSummary(dual, 10, 1);
  EXPECT_EQ(s.exit_kind(), 1026u);
  EXPECT_EQ(s.exit_kind_name(), "SCX_EXIT_ERROR_STALL");
  EXPECT_EQ(s.scheduler(), "scx_simple");

  kfreeze::v1::DumpEnvelope odd;
  odd.mutable_single()->mutable_scx_sched_state()->set_exit_kind(4242);
  kfreeze::v1::DumpSummary o = MakeSummary(odd, 10, 2);
  EXPECT_EQ(o.exit_kind(), 4242u);
  EXPECT_EQ(o.exit_kind_name(), "");  // shown and matched as its number

  kfreeze::v1::DumpEnvelope degraded;
  degraded.mutable_degraded()->set_exit_kind(1025);
  EXPECT_EQ(MakeSummary(degraded, 10, 3).exit_kind_name(), "SCX_EXIT_ERROR_BPF");
  EXPECT_EQ(MakeSummary(kfreeze::v1::DumpEnvelope(), 0, 4).exit_kind(), 0u);
}

TEST(DumpBus, UnreadableFiltersAreRefusedWithTheFieldNamed) {
  kfreeze::v1::WatchRequest bad_kind;
  bad_kind.add_exit_kinds("error_\xff");
  EXPECT_TRUE(absl::IsInvalidArgument(FilterFromRequest(bad_kind).status()));
  EXPECT_NE(FilterFromRequest(bad_kind).status().message().find("exit_kinds"), std::string::npos);

  kfreeze::v1::WatchRequest bad_trigger;
  bad_trigger.add_triggers(static_cast<kfreeze::v1::Trigger>(999));
  EXPECT_TRUE(absl::IsInvalidArgument(FilterFromRequest(bad_trigger).status()));

  kfreeze::v1::WatchRequest bad_path;
  bad_path.mutable_field_mask()->add_paths("envelope.single.no_such_field");
  absl::Status s = FilterFromRequest(bad_path).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("no_such_field"), std::string::npos) << s;
}

// A field mask trims each event to what the subscriber asked for; the stream's own bookkeeping
// (how many events it lost, whether this one is a replay) is kept whatever the mask.
TEST(DumpBus, FieldMaskTrimsEventsButKeepsTheStreamBookkeeping) {
  kfreeze::v1::WatchRequest request;
  request.mutable_field_mask()->add_paths("summary.dump_id");
  request.mutable_field_mask()->add_paths("envelope.single.scx_sched_state");
  absl::StatusOr<WatchFilter> f = FilterFromRequest(request);
  ASSERT_TRUE(f.ok()) << f.status();

  kfreeze::v1::DumpEvent event;
  *event.mutable_summary() = Summary(7, "vm0");
  *event.mutable_envelope() = Envelope(7);
  event.mutable_envelope()->mutable_single()->mutable_scx_sched_state()->set_ops_name("s");
  event.mutable_envelope()->mutable_single()->add_maps()->set_name("big");
  event.set_dropped_before(3);
  event.set_replayed(true);
  kfreeze::v1::DumpEvent shaped = f->Shape(event);
  EXPECT_EQ(shaped.summary().dump_id(), "vm0-7");
  EXPECT_EQ(shaped.summary().target(), "");
  EXPECT_EQ(shaped.envelope().single().scx_sched_state().ops_name(), "s");
  EXPECT_EQ(shaped.envelope().single().maps_size(), 0);
  EXPECT_EQ(shaped.envelope().dump_id(), "");
  EXPECT_EQ(shaped.dropped_before(), 3u);
  EXPECT_TRUE(shaped.replayed());

  WatchFilter unmasked;
  EXPECT_EQ(unmasked.Shape(event).envelope().single().maps_size(), 1);
}

TEST(DumpBus, SlowSubscriberLosesTheOldestAndIsToldHowMany) {
  DumpBus bus(4);
  auto slow = bus.Subscribe({});
  auto fast = bus.Subscribe({});
  uint64_t fast_seen = 0;
  for (uint64_t i = 1; i <= 10; ++i) {
    bus.Publish(Summary(i, "vm0"), Envelope(i));
    auto e = fast->Next(absl::Seconds(5));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->dropped_before(), 0u);
    fast_seen = e->summary().seq();
  }
  EXPECT_EQ(fast_seen, 10u);
  // The slow one kept the newest 4 (7..10); the first event it reads says 6 were lost.
  auto first = slow->Next(absl::Seconds(5));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->summary().seq(), 7u);
  EXPECT_EQ(first->dropped_before(), 6u);
  auto second = slow->Next(absl::Seconds(5));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->summary().seq(), 8u);
  EXPECT_EQ(second->dropped_before(), 0u);
  EXPECT_EQ(slow->total_dropped(), 6u);
}

TEST(DumpBus, CloseWakesWaitersAndDrains) {
  DumpBus bus(4);
  auto sub = bus.Subscribe({});
  bus.Publish(Summary(1, "vm0"), Envelope(1));
  std::thread closer([&] { bus.Close(); });
  closer.join();
  auto e = sub->Next(absl::Seconds(5));
  ASSERT_TRUE(e);  // queued before the close: still delivered
  EXPECT_FALSE(sub->Next(absl::Seconds(30)).has_value());  // returns at once: closed
  EXPECT_TRUE(sub->closed());
  auto late = bus.Subscribe({});
  EXPECT_TRUE(late->closed());
}

TEST(DumpBus, UnsubscribesOnDestruction) {
  DumpBus bus(4);
  {
    auto sub = bus.Subscribe({});
    EXPECT_EQ(bus.subscriber_count(), 1u);
  }
  EXPECT_EQ(bus.subscriber_count(), 0u);
  bus.Publish(Summary(1, "vm0"), Envelope(1));  // no dangling subscriber
}

}  // namespace
}  // namespace kfreeze::server
