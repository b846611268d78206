// The dump archive: durable ids, listing, restart, retention, corrupt files.
#include "server/daemon/archive.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

namespace fs = std::filesystem;
using kfreeze::testing::TempDir;
using kfreeze::v1::DumpEnvelope;
using ::testing::ElementsAre;

class ArchiveTest : public ::testing::Test {
 protected:
  static DumpEnvelope Envelope(const std::string& target, const std::string& map_name,
                               int64_t captured_s = 0) {
    DumpEnvelope e;
    e.set_target(target);
    e.set_trigger(kfreeze::v1::TRIGGER_RPC);
    e.mutable_captured_at()->set_seconds(captured_s ? captured_s
                                                    : absl::ToUnixSeconds(absl::Now()));
    (*e.mutable_labels())["test"] = map_name;
    auto* single = e.mutable_single();
    single->set_schema("single");
    single->add_maps()->set_name(map_name);
    return e;
  }

  std::unique_ptr<DumpArchive> Open(RetentionPolicy r = {}) {
    auto a = DumpArchive::Open(dir_, r);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? std::move(*a) : nullptr;
  }

  const TempDir tmp_{"kfreeze-archive-test"};
  const std::string dir_ = tmp_.path();
};

TEST_F(ArchiveTest, StoreAssignsIdsAndGetReturnsTheEnvelope) {
  auto archive = Open();
  DumpEnvelope e = Envelope("vm0", "m1");
  auto s = archive->Store(e);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dump_id(), "vm0-000001");
  EXPECT_EQ(e.dump_id(), "vm0-000001");
  EXPECT_EQ(s->schema(), "single");
  EXPECT_EQ(s->seq(), 1u);
  EXPECT_GT(s->size_bytes(), 0u);
  auto got = archive->Get("vm0-000001");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->single().maps(0).name(), "m1");
  EXPECT_TRUE(absl::IsNotFound(archive->Get("vm0-000999").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(archive->Get("../index").status()));
}

TEST_F(ArchiveTest, ListIsNewestFirstFilteredAndPaged) {
  auto archive = Open();
  for (int i = 0; i < 5; ++i) {
    DumpEnvelope e = Envelope(i % 2 ? "vm1" : "vm0", absl::StrCat("m", i));
    ASSERT_TRUE(archive->Store(e).ok());
  }
  bool more = false;
  auto page1 = archive->List({}, 0, 2, &more);
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].seq(), 5u);
  EXPECT_EQ(page1[1].seq(), 4u);
  EXPECT_TRUE(more);
  auto page2 = archive->List({}, page1.back().seq(), 10, &more);
  ASSERT_EQ(page2.size(), 3u);
  EXPECT_EQ(page2[0].seq(), 3u);
  EXPECT_FALSE(more);
  DumpFilter only_vm1;
  only_vm1.target = "vm1";
  auto vm1 = archive->List(only_vm1, 0, 10, &more);
  ASSERT_EQ(vm1.size(), 2u);
  EXPECT_EQ(vm1[0].target(), "vm1");
  DumpFilter label;
  label.labels["test"] = "m2";
  auto labelled = archive->List(label, 0, 10, &more);
  ASSERT_EQ(labelled.size(), 1u);
  EXPECT_EQ(labelled[0].seq(), 3u);
  auto after = archive->After(3);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq(), 4u);
}

TEST_F(ArchiveTest, SurvivesARestartAndKeepsCountingSeqs) {
  {
    auto archive = Open();
    DumpEnvelope a = Envelope("vm0", "a"), b = Envelope("vm0", "b");
    ASSERT_TRUE(archive->Store(a).ok());
    ASSERT_TRUE(archive->Store(b).ok());
  }
  auto archive = Open();
  EXPECT_EQ(archive->count(), 2u);
  auto got = archive->Get("vm0-000002");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->single().maps(0).name(), "b");
  DumpEnvelope c = Envelope("vm0", "c");
  auto s = archive->Store(c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->seq(), 3u);
}

TEST_F(ArchiveTest, CorruptDumpFileIsSkippedAtOpenAndReportedAtGet) {
  {
    auto archive = Open();
    DumpEnvelope a = Envelope("vm0", "a"), b = Envelope("vm0", "b");
    ASSERT_TRUE(archive->Store(a).ok());
    ASSERT_TRUE(archive->Store(b).ok());
  }
  // A dump file nobody indexed and that does not parse, plus a dump whose bytes rotted.
  std::ofstream(dir_ + "/dumps/vm0-000077.binpb") << "\xff\xff garbage";
  std::ofstream(dir_ + "/dumps/vm0-000002.binpb", std::ios::trunc) << "\x0a\xff\xff\xff";
  auto archive = Open();
  EXPECT_EQ(archive->count(), 2u);  // 77 skipped, 2 still indexed
  EXPECT_FALSE(archive->Find("vm0-000077").has_value());
  EXPECT_TRUE(archive->Get("vm0-000001").ok());
  EXPECT_TRUE(absl::IsDataLoss(archive->Get("vm0-000002").status()));
  DumpEnvelope c = Envelope("vm0", "c");
  EXPECT_TRUE(archive->Store(c).ok());
}

TEST_F(ArchiveTest, CorruptIndexIsRebuiltFromTheFiles) {
  {
    auto archive = Open();
    DumpEnvelope a = Envelope("vm0", "a", 1000), b = Envelope("vm1", "b", 2000);
    ASSERT_TRUE(archive->Store(a).ok());
    ASSERT_TRUE(archive->Store(b).ok());
  }
  std::ofstream(dir_ + "/index.binpb", std::ios::trunc) << "\xff\xff\xff";
  std::ofstream(dir_ + "/dumps/vm0-000003.binpb.tmp-1") << "half written";
  auto archive = Open();
  EXPECT_EQ(archive->count(), 2u);
  ASSERT_TRUE(archive->Find("vm1-000002").has_value());
  EXPECT_EQ(archive->Find("vm1-000002")->target(), "vm1");
  EXPECT_FALSE(fs::exists(dir_ + "/dumps/vm0-000003.binpb.tmp-1"));
  DumpEnvelope c = Envelope("vm0", "c");
  auto s = archive->Store(c);
  ASSERT_TRUE(s.ok());
  EXPECT_GT(s->seq(), 2u);  // never reuses an id that exists on disk
  EXPECT_NE(s->dump_id(), "vm0-000001");
}

TEST_F(ArchiveTest, RetentionByCountDropsTheOldest) {
  RetentionPolicy r;
  r.max_count = 3;
  auto archive = Open(r);
  for (int i = 0; i < 5; ++i) {
    DumpEnvelope e = Envelope("vm0", absl::StrCat("m", i));
    ASSERT_TRUE(archive->Store(e).ok());
  }
  EXPECT_EQ(archive->count(), 3u);
  EXPECT_FALSE(archive->Find("vm0-000002").has_value());
  EXPECT_FALSE(fs::exists(dir_ + "/dumps/vm0-000002.binpb"));
  EXPECT_TRUE(archive->Find("vm0-000003").has_value());
}

TEST_F(ArchiveTest, RetentionByBytesKeepsTheTotalUnderTheBound) {
  DumpEnvelope probe = Envelope("vm0", "m0");
  uint64_t one = probe.ByteSizeLong() + 20;  // the id adds a few bytes
  RetentionPolicy r;
  r.max_bytes = one * 2;
  auto archive = Open(r);
  for (int i = 0; i < 6; ++i) {
    DumpEnvelope e = Envelope("vm0", absl::StrCat("m", i));
    ASSERT_TRUE(archive->Store(e).ok());
    EXPECT_LE(archive->total_bytes(), r.max_bytes);
  }
  EXPECT_EQ(archive->count(), 2u);
  EXPECT_TRUE(archive->Find("vm0-000006").has_value());
}

TEST_F(ArchiveTest, OneTargetsFloodCannotEvictAnotherTargetsDumps) {
  RetentionPolicy r;
  r.max_count = 10;
  r.max_count_per_target = 4;
  auto archive = Open(r);
  for (int i = 0; i < 2; ++i) {
    DumpEnvelope e = Envelope("quiet", absl::StrCat("q", i));
    ASSERT_TRUE(archive->Store(e).ok());
  }
  for (int i = 0; i < 30; ++i) {  // a guest whose auto-triggers keep firing
    DumpEnvelope e = Envelope("noisy", absl::StrCat("n", i));
    ASSERT_TRUE(archive->Store(e).ok());
  }
  EXPECT_TRUE(archive->Find("quiet-000001").has_value());
  EXPECT_TRUE(archive->Find("quiet-000002").has_value());
  DumpFilter noisy;
  noisy.target = "noisy";
  std::vector<kfreeze::v1::DumpSummary> left = archive->List(noisy, 0, 100, nullptr);
  ASSERT_EQ(left.size(), 4u);
  EXPECT_EQ(left.front().dump_id(), "noisy-000032");  // its newest stay
  EXPECT_FALSE(fs::exists(dir_ + "/dumps/noisy-000003.binpb"));
  EXPECT_EQ(archive->count(), 6u);
  // Bytes are accounted for the removed dumps too.
  uint64_t bytes = 0;
  for (const auto& s : archive->List({}, 0, 100, nullptr)) bytes += s.size_bytes();
  EXPECT_EQ(archive->total_bytes(), bytes);
}

TEST_F(ArchiveTest, PerTargetByteQuota) {
  DumpEnvelope probe = Envelope("a", "m0");
  uint64_t one = probe.ByteSizeLong() + 20;
  RetentionPolicy r;
  r.max_bytes_per_target = one * 2;
  auto archive = Open(r);
  DumpEnvelope b = Envelope("b", "b0");
  ASSERT_TRUE(archive->Store(b).ok());
  for (int i = 0; i < 5; ++i) {
    DumpEnvelope e = Envelope("a", absl::StrCat("m", i));
    ASSERT_TRUE(archive->Store(e).ok());
  }
  EXPECT_EQ(archive->count(), 3u);  // two of a, the one of b
  EXPECT_TRUE(archive->Find("b-000001").has_value());
}

TEST_F(ArchiveTest, RetentionByAgeAppliesOnPrune) {
  RetentionPolicy r;
  r.max_age = absl::Hours(1);
  auto archive = Open(r);
  int64_t now = absl::ToUnixSeconds(absl::Now());
  DumpEnvelope old_one = Envelope("vm0", "old", now - 7200);
  DumpEnvelope fresh = Envelope("vm0", "fresh", now);
  // The old one is already expired when stored: retention removes it at once.
  ASSERT_TRUE(archive->Store(old_one).ok());
  ASSERT_TRUE(archive->Store(fresh).ok());
  EXPECT_EQ(archive->count(), 1u);
  EXPECT_EQ(archive->Prune(absl::Now() + absl::Hours(2)), 1u);
  EXPECT_EQ(archive->count(), 0u);
}

TEST_F(ArchiveTest, ConcurrentStoresGetDistinctIdsAndAnOrderedIndex) {
  auto archive = Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        DumpEnvelope e = Envelope(absl::StrCat("vm", t), "m");
        ASSERT_TRUE(archive->Store(e).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = archive->After(0);
  ASSERT_EQ(all.size(), 40u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].seq(), all[i].seq());
  auto reopened = Open();
  EXPECT_EQ(reopened->count(), 40u);
}

TEST_F(ArchiveTest, RejectsUnsafeTargetNames) {
  auto archive = Open();
  DumpEnvelope e = Envelope("../../etc", "m");
  EXPECT_TRUE(absl::IsInvalidArgument(archive->Store(e).status()));
  EXPECT_TRUE(IsSafeName("vm-0.a_b"));
  EXPECT_FALSE(IsSafeName(".hidden"));
  EXPECT_FALSE(IsSafeName(""));
  EXPECT_FALSE(IsSafeName(std::string(65, 'a')));
}

}  // namespace
}  // namespace kfreeze::server
