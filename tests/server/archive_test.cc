// The dump archive: durable ids, listing, restart, retention, corrupt files.
#include "server/daemon/archive.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/daemon/archive_journal.h"
#include "server/daemon/dump_summary.h"
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

  // A daemon that stores three dumps and dies without closing the archive (no checkpoint, no
  // destructor). `after(archive)` runs before the death; its nonzero result fails the test.
  void StoreThreeAndDie(const std::function<int(DumpArchive&)>& after) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto a = DumpArchive::Open(dir_, {});
      if (!a.ok()) _exit(2);
      for (int i = 0; i < 3; ++i) {
        DumpEnvelope e = Envelope("vm0", absl::StrCat("m", i));
        if (!(*a)->Store(e).ok()) _exit(3);
      }
      _exit(after(**a));
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
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

// ---- The write-ahead journal, its group commit and the replay after a crash.

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Spit(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// The envelope Store would have journaled for `target`-<seq>.
std::string JournaledEnvelope(const std::string& target, uint64_t seq, const std::string& map) {
  DumpEnvelope e;
  e.set_target(target);
  e.set_dump_id(absl::StrFormat("%s-%06d", target, seq));
  e.mutable_captured_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  e.mutable_single()->set_schema("single");
  e.mutable_single()->add_maps()->set_name(map);
  return e.SerializeAsString();
}

TEST(ArchiveJournalFormat, ParsesWholeRecordsAndStopsAtATornOrCorruptOne) {
  std::string a = EncodeJournalRecord(1, "first"), b = EncodeJournalRecord(2, "second"),
              c = EncodeJournalRecord(3, "");
  std::string all = a + b + c;
  size_t valid = 0;
  std::vector<JournalRecord> r = ParseJournal(all, &valid);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(valid, all.size());
  EXPECT_EQ(r[1].seq, 2u);
  EXPECT_EQ(r[1].envelope, "second");
  EXPECT_EQ(r[2].envelope, "");
  // A crash can cut the file anywhere: only whole records before the cut come back.
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    std::vector<JournalRecord> part = ParseJournal(std::string_view(all).substr(0, cut), &valid);
    size_t whole = cut >= all.size() ? 3 : cut >= a.size() + b.size() ? 2 : cut >= a.size() ? 1 : 0;
    ASSERT_EQ(part.size(), whole) << "cut at " << cut;
    EXPECT_LE(valid, cut);
  }
  // A flipped byte in the second record's payload ends the replay before it.
  std::string rotten = all;
  rotten[a.size() + 20] ^= 0x40;
  EXPECT_EQ(ParseJournal(rotten, &valid).size(), 1u);
  EXPECT_EQ(valid, a.size());
  // An absurd length or garbage never reads past the data.
  std::string absurd = a + "KFJ1\xff\xff\xff\x7f" + std::string(8, '\0');
  EXPECT_EQ(ParseJournal(absurd, nullptr).size(), 1u);
  EXPECT_TRUE(ParseJournal(std::string(100, '\0'), &valid).empty());
}

TEST(ArchiveJournalGroupCommit, ConcurrentAppendsAreAllDurableInOrderAndShareSyncs) {
  TempDir tmp("kfreeze-journal-test");
  auto j = ArchiveJournal::Create(tmp.path(), 1);
  ASSERT_TRUE(j.ok()) << j.status();
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        uint64_t seq = static_cast<uint64_t>(t) * 1000 + static_cast<uint64_t>(i);
        EXPECT_TRUE((*j)->Append(seq, absl::StrCat("t", t, "-", i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ((*j)->records(), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_LE((*j)->syncs(), static_cast<uint64_t>(kThreads * kEach));
  std::cout << "journal: " << kThreads * kEach << " appends, " << (*j)->syncs() << " fdatasyncs\n";
  size_t valid = 0;
  std::string data = Slurp((*j)->path());
  std::vector<JournalRecord> records = ParseJournal(data, &valid);
  EXPECT_EQ(valid, data.size());
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kEach));
  std::map<uint64_t, uint64_t> next;  // each writer's records appear in its own order
  for (const JournalRecord& r : records) {
    uint64_t t = r.seq / 1000, i = r.seq % 1000;
    EXPECT_EQ(i, next[t]++);
    EXPECT_EQ(r.envelope, absl::StrCat("t", t, "-", i));
  }
}

TEST_F(ArchiveTest, ACleanCloseLeavesNoJournalToReplay) {
  {
    auto archive = Open();
    EXPECT_EQ(ListJournalGenerations(dir_).size(), 1u);
    DumpEnvelope e = Envelope("vm0", "a");
    ASSERT_TRUE(archive->Store(e).ok());
    EXPECT_GE(archive->journal_syncs(), 1u);
  }
  EXPECT_TRUE(ListJournalGenerations(dir_).empty());
  auto archive = Open();
  EXPECT_EQ(archive->count(), 1u);
}

TEST_F(ArchiveTest, ADaemonKilledAfterStoreKeepsEveryAcknowledgedDump) {
  StoreThreeAndDie([&](DumpArchive&) {
    // What a crash may leave: the index lost, a dump file lost, another one torn.
    unlink((dir_ + "/index.binpb").c_str());
    unlink((dir_ + "/dumps/vm0-000002.binpb").c_str());
    return truncate((dir_ + "/dumps/vm0-000003.binpb").c_str(), 5) == 0 ? 0 : 4;
  });
  auto archive = Open();
  ASSERT_EQ(archive->count(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto got = archive->Get(absl::StrFormat("vm0-%06d", i + 1));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->single().maps(0).name(), absl::StrCat("m", i));
    EXPECT_EQ(archive->Find(got->dump_id())->seq(), static_cast<uint64_t>(i + 1));
  }
  // The replayed journal is gone, a new one is open, and seqs continue after the journal's.
  EXPECT_EQ(ListJournalGenerations(dir_).size(), 1u);
  DumpEnvelope next = Envelope("vm0", "next");
  auto s = archive->Store(next);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->seq(), 4u);
}

TEST_F(ArchiveTest, StoresLeaveTheIndexToTheCheckpointAndAKillStillKeepsTheirSeqs) {
  const std::string index = dir_ + "/index.binpb";
  auto read_index = [&] {
    kfreeze::v1::ArchiveIndex stored;
    std::ifstream in(index, std::ios::binary);
    EXPECT_TRUE(stored.ParseFromIstream(&in));
    return stored;
  };
  StoreThreeAndDie([](DumpArchive&) { return 0; });
  // The journal holds the three; the index is still the empty one Open wrote.
  EXPECT_EQ(read_index().entries_size(), 0);
  {
    auto archive = Open();
    ASSERT_EQ(archive->count(), 3u);
    for (int i = 0; i < 3; ++i) {
      auto row = archive->Find(absl::StrFormat("vm0-%06d", i + 1));
      ASSERT_TRUE(row.has_value());
      EXPECT_EQ(row->seq(), static_cast<uint64_t>(i + 1));
    }
  }  // a clean close checkpoints: the index now names all three and no journal is left
  EXPECT_EQ(ListJournalGenerations(dir_).size(), 0u);
  kfreeze::v1::ArchiveIndex stored = read_index();
  ASSERT_EQ(stored.entries_size(), 3);
  EXPECT_EQ(stored.entries(2).dump_id(), "vm0-000003");
  EXPECT_EQ(stored.entries(2).seq(), 3u);
}

TEST_F(ArchiveTest, ReplayToleratesATornTailDuplicatesAndGarbageRecords) {
  std::string dumps = dir_ + "/dumps";
  fs::create_directories(dumps);
  std::string one = JournaledEnvelope("vm0", 1, "one"), two = JournaledEnvelope("vm0", 2, "two");
  std::string three = EncodeJournalRecord(3, JournaledEnvelope("vm0", 3, "three"));
  Spit(JournalPath(dir_, 5), EncodeJournalRecord(1, one) + EncodeJournalRecord(1, one) +
                                 EncodeJournalRecord(9, "not an envelope \xff\xff") +
                                 EncodeJournalRecord(2, two) + three.substr(0, three.size() / 2));
  Spit(dumps + "/vm0-000002.binpb", two.substr(0, 7));  // torn by the crash
  auto archive = Open();
  EXPECT_EQ(archive->count(), 2u);  // the torn third record was never acknowledged
  EXPECT_FALSE(archive->Find("vm0-000003").has_value());
  EXPECT_FALSE(fs::exists(dumps + "/vm0-000003.binpb"));
  EXPECT_EQ(Slurp(dumps + "/vm0-000001.binpb"), one);
  EXPECT_EQ(Slurp(dumps + "/vm0-000002.binpb"), two);
  EXPECT_EQ(ListJournalGenerations(dir_), std::vector<uint64_t>{6});
  DumpEnvelope e = Envelope("vm0", "next");
  auto s = archive->Store(e);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->seq(), 10u);  // after every seq the journal named, even an unusable record's
}

TEST_F(ArchiveTest, ReplayedDumpsStillObeyRetentionAndNeverListAMissingBody) {
  std::string dumps = dir_ + "/dumps";
  fs::create_directories(dumps);
  std::string journal;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    journal += EncodeJournalRecord(seq, JournaledEnvelope("vm0", seq, absl::StrCat("m", seq)));
  }
  Spit(JournalPath(dir_, 1), journal);
  // An index that lists a dump whose body is gone and that no journal covers.
  kfreeze::v1::ArchiveIndex index;
  DumpEnvelope ghost;
  ghost.set_target("vm9");
  ghost.set_dump_id("vm9-000042");
  *index.add_entries() = MakeSummary(ghost, 10, 42);
  Spit(dir_ + "/index.binpb", index.SerializeAsString());
  RetentionPolicy r;
  r.max_count = 3;
  auto archive = Open(r);
  EXPECT_FALSE(archive->Find("vm9-000042").has_value());
  auto all = archive->After(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].dump_id(), "vm0-000003");
  EXPECT_FALSE(fs::exists(dumps + "/vm0-000002.binpb"));
  for (const auto& s : all) EXPECT_TRUE(archive->Get(s.dump_id()).ok()) << s.dump_id();
}

TEST_F(ArchiveTest, ManyWritersAcrossACheckpointAreAllDurableAndOrdered) {
  constexpr int kThreads = 8, kEach = 80;  // past one checkpoint (512 records)
  {
    auto archive = Open();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          DumpEnvelope e = Envelope(absl::StrCat("vm", t), absl::StrCat("m", i));
          ASSERT_TRUE(archive->Store(e).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int i = 0; i < 200 && archive->checkpoints() == 0; ++i)
      absl::SleepFor(absl::Milliseconds(50));
    EXPECT_GE(archive->checkpoints(), 1u);
    EXPECT_LT(archive->journal_syncs(), static_cast<uint64_t>(kThreads * kEach));
    std::cout << kThreads * kEach << " stores, " << archive->journal_syncs()
              << " journal fdatasyncs, " << archive->checkpoints() << " checkpoint(s)\n";
    auto all = archive->After(0);
    ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
    for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].seq(), all[i].seq());
  }
  auto reopened = Open();
  EXPECT_EQ(reopened->count(), static_cast<size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace kfreeze::server
