// report.sdt_allocations / scx_static_ranges and their reasons from global sections.
#include "core/walkers/sdt/sdt_capture.h"

#include "absl/strings/match.h"
#include "core/base/reasons.h"
#include "gtest/gtest.h"
#include "tests/walkers/sdt/sdt_fixture.h"

namespace kfreeze::walkers::sdt {
namespace {

using kfreeze::v1::FailureDumpReport;
using testing::BuildSdtBtf;
using testing::FakeArena;
using testing::SdtBtf;
using testing::SdtBtfOptions;

struct World {
  SdtBtf btf;
  FakeArena arena;
  std::vector<uint8_t> bss = std::vector<uint8_t>(SdtBtf::kBssSize, 0);

  explicit World(const SdtBtfOptions& o = {}) : btf(BuildSdtBtf(o)) {
    // task_allocator: elem_size 24, one allocation at the root (a 1-level view is enough here:
    // the tree shapes are sdt_walk_test's job).
    testing::Put64(bss, SdtBtf::kAllocatorOff + 8, 24);
    // scx_static: 2 pages at page 10, 40 bytes handed out.
    testing::Put64(bss, SdtBtf::kStaticOff, 2 * 4096);
    testing::Put64(bss, SdtBtf::kStaticOff + 8, FakeArena::At(10));
    testing::Put64(bss, SdtBtf::kStaticOff + 16, 40);
  }
  ArenaAllocatorInputs Inputs(bool with_arena = true) {
    ArenaAllocatorInputs in;
    in.sections.push_back({"sched.bss", btf.btf.get(), btf.datasec, bss});
    if (with_arena) in.arena = {&arena, testing::kUserVmStart};
    return in;
  }
  FailureDumpReport Capture(const ArenaAllocatorInputs& in) {
    FailureDumpReport report;
    CaptureArenaAllocators(in, report);
    return report;
  }
};

TEST(SdtCapture, FindsAllocatorAndStaticVariablesByType) {
  World w;
  const FailureDumpReport r = w.Capture(w.Inputs());
  ASSERT_EQ(r.sdt_allocations_size(), 1);
  EXPECT_EQ(r.sdt_allocations(0).allocator_name(), "task_allocator");
  EXPECT_EQ(r.sdt_allocations(0).elem_size(), 24u);
  EXPECT_FALSE(r.has_sdt_alloc_unavailable()) << r.sdt_alloc_unavailable();
  ASSERT_EQ(r.scx_static_ranges().ranges_size(), 1);
  EXPECT_EQ(r.scx_static_ranges().ranges(0).instance_name(), "scx_static");
  EXPECT_EQ(r.scx_static_ranges().ranges(0).size(), 40u);
  EXPECT_FALSE(r.has_scx_static_unavailable()) << r.scx_static_unavailable();
}

TEST(SdtCapture, NoArenaIsTheReason) {
  World w;
  const FailureDumpReport r = w.Capture(w.Inputs(/*with_arena=*/false));
  EXPECT_EQ(r.sdt_allocations_size(), 0);
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocNoArena);
  EXPECT_EQ(r.scx_static_unavailable(), kReasonSdtAllocNoArena);
}

TEST(SdtCapture, ProgramWithoutTheLibraryTypesSaysSo) {
  World w({.with_allocator = false, .with_static = false});
  const FailureDumpReport r = w.Capture(w.Inputs());
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocNoType);
  EXPECT_EQ(r.scx_static_unavailable(), kReasonScxStaticNoType);
  EXPECT_FALSE(r.has_scx_static_ranges());
}

TEST(SdtCapture, UninitialisedAllocatorIsNoInstance) {
  World w;
  std::fill(w.bss.begin(), w.bss.begin() + 40, 0);
  const FailureDumpReport r = w.Capture(w.Inputs());
  EXPECT_EQ(r.sdt_allocations_size(), 0);
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocNoInstance);
  EXPECT_EQ(r.scx_static_ranges().ranges_size(), 1);  // unaffected
}

TEST(SdtCapture, RejectedStaticInstanceIsCountedNotListed) {
  World w;
  testing::Put64(w.bss, SdtBtf::kStaticOff + 16, 1u << 20);  // off > max_alloc_bytes
  const FailureDumpReport r = w.Capture(w.Inputs());
  ASSERT_TRUE(r.has_scx_static_ranges());
  EXPECT_EQ(r.scx_static_ranges().ranges_size(), 0);
  EXPECT_EQ(r.scx_static_ranges().skipped(), 1u);
  EXPECT_FALSE(r.has_scx_static_unavailable());
}

TEST(SdtCapture, BrokenLayoutNamesTheMember) {
  World w({.allocator_has_root = false});
  const FailureDumpReport r = w.Capture(w.Inputs());
  EXPECT_TRUE(absl::StartsWith(r.sdt_alloc_unavailable(), kReasonSdtLayoutPrefix))
      << r.sdt_alloc_unavailable();
  EXPECT_NE(r.sdt_alloc_unavailable().find("root"), std::string::npos);
}

TEST(SdtCapture, NoSectionAndDeadlineReasons) {
  World w;
  ArenaAllocatorInputs in = w.Inputs();
  in.sections.clear();
  FailureDumpReport r = w.Capture(in);
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocNoBss);
  EXPECT_EQ(r.scx_static_unavailable(), kReasonSdtAllocNoBss);
  in = w.Inputs();
  in.expired = [] { return true; };
  r = w.Capture(in);
  EXPECT_EQ(r.sdt_allocations_size(), 0);
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocDeadlineExceeded);
  EXPECT_EQ(r.scx_static_unavailable(), kReasonSdtAllocDeadlineExceeded);
}

TEST(SdtCapture, SectionShorterThanItsBtfIsIgnored) {
  World w;
  w.bss.resize(16);
  const FailureDumpReport r = w.Capture(w.Inputs());
  EXPECT_EQ(r.sdt_alloc_unavailable(), kReasonSdtAllocNoInstance);
  EXPECT_EQ(r.scx_static_unavailable(), kReasonScxStaticNoInstance);
}

}  // namespace
}  // namespace kfreeze::walkers::sdt
