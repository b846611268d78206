// The map walk finds the scheduler's arena allocators: .bss variables typed by its program BTF,
// walked through the arena it captured.
#include "core/base/reasons.h"
#include "tests/walkers/maps/map_test_util.h"
#include "tests/walkers/sdt/sdt_fixture.h"

namespace kfreeze::walkers::maps {
namespace {

using sdt::testing::BuildSdtBtf;
using sdt::testing::FakeArena;
using sdt::testing::SdtBtf;
using testing::FakeBpfKernel;
using testing::FakeMapSpec;
using testing::MapSpec;

constexpr uint64_t kStart = sdt::testing::kUserVmStart;

struct Pages {
  std::map<uint64_t, std::vector<uint8_t>> by_index;
  void Put64(uint64_t addr, uint64_t v) {
    auto& p = by_index[(addr - kStart) / 4096];
    p.resize(4096);
    std::memcpy(p.data() + (addr - kStart) % 4096, &v, 8);
  }
};

TEST(MapWalkerSdt, AllocationsAndStaticRangeComeFromTheArena) {
  FakeBpfKernel k;
  SdtBtf btf = BuildSdtBtf();
  // Root desc on page 1 -> chunk page 2 -> desc page 3 -> chunk 4 -> leaf desc 5 -> chunk 6;
  // one allocation (idx 4, genn 1, task_ctx{pid 4242, weight 100}) on page 7.
  Pages pages;
  for (uint64_t level = 0; level < 3; ++level) {
    const uint64_t desc = FakeArena::At(1 + 2 * level), chunk = FakeArena::At(2 + 2 * level);
    pages.Put64(desc + btf.desc_chunk, chunk);
    pages.Put64(desc + btf.desc_nr_free, 511);
    if (level < 2) pages.Put64(chunk, FakeArena::At(3 + 2 * level));
  }
  const uint64_t data = FakeArena::At(7, 48);
  pages.Put64(FakeArena::At(5) + btf.desc_allocated, uint64_t{1} << 4);
  pages.Put64(FakeArena::At(6) + 4 * 8, data);
  pages.Put64(data, uint64_t{4} | uint64_t{1} << 32);
  pages.Put64(data + 8, 4242);
  pages.Put64(data + 16, 100);
  pages.Put64(FakeArena::At(9), 0);  // scx_static's region

  std::vector<uint8_t> bss(SdtBtf::kBssSize, 0);
  sdt::testing::Put64(bss, 8, 24);
  sdt::testing::Put64(bss, 32, FakeArena::At(1));
  sdt::testing::Put64(bss, SdtBtf::kStaticOff, 4096);
  sdt::testing::Put64(bss, SdtBtf::kStaticOff + 8, FakeArena::At(9));
  sdt::testing::Put64(bss, SdtBtf::kStaticOff + 16, 64);
  FakeMapSpec s = MapSpec(kMapArray, 4, SdtBtf::kBssSize, 1, "sched.bss");
  s.btf = k.AddProgramBtf(btf.btf.get());
  s.btf_value_type_id = btf.datasec;
  k.AddArray(1, s, bss);
  k.AddArena(2, MapSpec(kMapArena, 0, 0, 16, "arena"), kStart, pages.by_index);

  const auto report = DumpAll(k);
  ASSERT_EQ(report.sdt_allocations_size(), 1) << report.sdt_alloc_unavailable();
  const auto& a = report.sdt_allocations(0);
  EXPECT_EQ(a.allocator_name(), "task_allocator");
  ASSERT_EQ(a.entries_size(), 1);
  EXPECT_EQ(a.entries(0).idx(), 4);
  EXPECT_EQ(a.entries(0).genn(), 1);
  EXPECT_EQ(a.entries(0).user_addr(), uint32_t(data));
  EXPECT_EQ(a.entries(0).payload().struct_().members(0).value().uint().value(), 4242u);
  EXPECT_FALSE(report.has_sdt_alloc_unavailable());
  ASSERT_EQ(report.scx_static_ranges().ranges_size(), 1);
  EXPECT_EQ(report.scx_static_ranges().ranges(0).size(), 64u);
  EXPECT_FALSE(report.has_scx_static_unavailable());
}

TEST(MapWalkerSdt, NoGlobalSectionIsTheReasonForAGuestWithoutOne) {
  FakeBpfKernel k;
  k.AddArray(1, MapSpec(kMapArray, 4, 4, 1, "plain"), Bytes<uint32_t>(7));
  const auto report = DumpAll(k);
  EXPECT_EQ(report.sdt_alloc_unavailable(), kReasonSdtAllocNoBss);
  EXPECT_EQ(report.scx_static_unavailable(), kReasonSdtAllocNoBss);
}

}  // namespace
}  // namespace kfreeze::walkers::maps
