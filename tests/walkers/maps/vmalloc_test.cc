// Map objects in vmalloc space: values and hash elements that straddle a page boundary whose two
// pages are physically apart (and in reverse order) must be read page by page, never as one
// contiguous physical run.
#include "core/mem/translator.h"
#include "tests/support/page_table_builder.h"
#include "tests/support/phys_memory.h"
#include "tests/walkers/maps/map_test_util.h"

namespace kfreeze::walkers::maps {
namespace {

using testing::FakeBpfKernel;
using testing::kFakeDirectMapBase;
using testing::MapSpec;

constexpr uint64_t kVmalloc = 0xffffc90000200000ull;

// A FakeBpfKernel plus page tables that map a vmalloc range onto scattered guest pages.
class VmallocGuest {
 public:
  VmallocGuest() {
    const Kva tables = k_.guest().Alloc(256 << 10, 4096);
    alloc_ =
        std::make_unique<testing::PhysAllocator>(Pa(tables.value - kFakeDirectMapBase).value,
                                                 tables.value - kFakeDirectMapBase + (256 << 10));
    pt_ = std::make_unique<testing::PageTableBuilder>(phys_, *alloc_, 4);
  }

  // Maps `pages` vmalloc pages at kVmalloc to freshly allocated guest pages, last page first.
  void MapPages(int pages) {
    std::vector<Kva> frames;
    for (int i = 0; i < pages; ++i) frames.push_back(k_.guest().Alloc(4096, 4096));
    for (int i = 0; i < pages; ++i) {
      const Kva frame = frames[pages - 1 - i];
      frames_.push_back(frame);
      pt_->Map(Kva(kVmalloc + 4096ull * i), Pa(frame.value - kFakeDirectMapBase), 4096, 4096);
    }
    // Copy the tables the builder wrote into guest RAM.
    for (const auto& [pfn, page] : phys_.pages()) {
      k_.guest().Write(Kva(kFakeDirectMapBase + pfn * 4096), *page);
    }
  }

  // Writes through the vmalloc mapping, page by page.
  void Write(uint64_t va, const std::vector<uint8_t>& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      const uint64_t off = va + i - kVmalloc;
      k_.guest().Put<uint8_t>(frames_[off / 4096] + off % 4096, bytes[i]);
    }
  }

  kfreeze::v1::FailureDumpReport Dump() {
    k_.BuildIdr();
    PagingConfig cfg = k_.guest().translator().config();
    cfg.root = pt_->root();
    cfg.format = *X86_64PageTables(4);
    Translator translator(k_.guest().translator().ram(), cfg);
    Reader reader(translator);
    MapWalker walker({.resolver = &k_.resolver(),
                      .vmlinux = k_.vmlinux(),
                      .percpu = &k_.percpu(),
                      .map_idr = k_.map_idr(),
                      .caps = {}});
    kfreeze::v1::FailureDumpReport report;
    EXPECT_TRUE(walker.Dump(reader, report).ok());
    return report;
  }

  FakeBpfKernel& kernel() { return k_; }

 private:
  FakeBpfKernel k_;
  testing::PhysMemory phys_;
  std::unique_ptr<testing::PhysAllocator> alloc_;
  std::unique_ptr<testing::PageTableBuilder> pt_;
  std::vector<Kva> frames_;
};

TEST(VmallocMaps, ArrayValueStraddlingScatteredPagesIsReadPageByPage) {
  VmallocGuest g;
  g.MapPages(2);
  // struct bpf_array placed so value[0] (16 bytes) starts 8 bytes before the page boundary.
  const uint64_t map = kVmalloc + 4096 - 8 - FakeBpfKernel::kArrayValue;
  std::vector<uint8_t> header(FakeBpfKernel::kArrayValue, 0);
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(header.data() + off, &v, 4); };
  put32(24, kMapArray);
  put32(28, 4);
  put32(32, 16);
  put32(36, 2);
  put32(52, 1);
  put32(128, 16);  // elem_size
  std::memcpy(header.data() + 80, "vm_array", 9);
  g.Write(map, header);
  std::vector<uint8_t> values(32);
  for (int i = 0; i < 32; ++i) values[i] = static_cast<uint8_t>(0xa0 + i);
  g.Write(map + FakeBpfKernel::kArrayValue, values);
  g.kernel().Register(1, Kva(map));
  const auto report = g.Dump();
  ASSERT_EQ(report.maps_size(), 1);
  const auto& m = report.maps(0);
  EXPECT_EQ(m.name(), "vm_array");
  ASSERT_EQ(m.array_entries_size(), 2) << m.error();
  EXPECT_EQ(m.array_entries(0).value().bytes().hex(),
            "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af");
  EXPECT_FALSE(m.has_error()) << m.error();
}

TEST(VmallocMaps, HashElementStraddlingScatteredPagesIsReadPageByPage) {
  VmallocGuest g;
  g.MapPages(2);
  const Kva map = g.kernel().AddHash(1, MapSpec(kMapHash, 4, 8, 4, "vm_hash"), 1, {});
  // One element in vmalloc: header + key + value, with the page boundary inside the key.
  const uint64_t elem = kVmalloc + 4096 - FakeBpfKernel::kElemKey - 2;
  std::vector<uint8_t> bytes(FakeBpfKernel::kElemKey + 16, 0);
  const uint64_t nulls = 1;  // end of bucket 0's chain
  std::memcpy(bytes.data(), &nulls, 8);
  const uint32_t key = 0x11223344;
  const uint64_t value = 0x5566778899aabbccull;
  std::memcpy(bytes.data() + FakeBpfKernel::kElemKey, &key, 4);
  std::memcpy(bytes.data() + FakeBpfKernel::kElemKey + 8, &value, 8);
  g.Write(elem, bytes);
  Reader direct = g.kernel().guest().MakeReader();
  const Kva buckets = Kva(direct.ReadU64(map + FakeBpfKernel::kHtabBuckets).value());
  g.kernel().guest().Put<uint64_t>(buckets, elem);
  const auto report = g.Dump();
  const auto& m = report.maps(0);
  ASSERT_EQ(m.entries_size(), 1) << m.error();
  EXPECT_EQ(m.entries(0).key_hex(), Str(Bytes<uint32_t>(key)));
  EXPECT_EQ(m.entries(0).value_hex(), Str(Bytes<uint64_t>(value)));
}

}  // namespace
}  // namespace kfreeze::walkers::maps
