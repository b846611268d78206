// WatchDumps fan-out: filters, bounded queues that drop the oldest with a count, close.
#include "server/daemon/dump_bus.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

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
