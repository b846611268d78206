// RamLayout: QEMU defaults, the --ram-layout syntax and `info mtree -f` parsing.
#include "core/mem/ram_layout.h"

#include "gtest/gtest.h"

namespace kfreeze {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST(RamLayoutTest, Q35SplitsAtTheLowmemLimit) {
  RamLayout small = RamLayout::Q35(kGiB);
  ASSERT_EQ(small.regions().size(), 1u);
  EXPECT_EQ(small.EndPa(), kGiB);

  RamLayout big = RamLayout::Q35(4 * kGiB);
  ASSERT_EQ(big.regions().size(), 2u);
  EXPECT_EQ(big.regions()[0].size, 2 * kGiB);  // >= 2.75 GiB of RAM: 2 GiB below 4G
  EXPECT_EQ(big.regions()[1].gpa, Pa(4 * kGiB));
  EXPECT_EQ(big.regions()[1].file_offset, 2 * kGiB);
  EXPECT_EQ(big.FileBytesNeeded(), 4 * kGiB);

  RamLayout mid = RamLayout::Q35(0xa0000000ull);  // 2.5 GiB stays below 2.75 GiB
  EXPECT_EQ(mid.regions().size(), 1u);
}

TEST(RamLayoutTest, EmptyFileGivesAnEmptyLayoutNotAFailure) {
  EXPECT_TRUE(RamLayout::Q35(0).regions().empty());
  EXPECT_TRUE(RamLayout::Pc(0).regions().empty());
  EXPECT_TRUE(RamLayout::Flat(0).regions().empty());
}

TEST(RamLayoutTest, PcUsesThreeGiBBelow4G) {
  RamLayout pc = RamLayout::Pc(4 * kGiB);
  ASSERT_EQ(pc.regions().size(), 2u);
  EXPECT_EQ(pc.regions()[0].size, 3 * kGiB);
}

TEST(RamLayoutTest, ParsesExplicitSpec) {
  absl::StatusOr<RamLayout> l = RamLayout::Parse("0:2G@0, 0x100000000:1G@2G", 0);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->regions().size(), 2u);
  EXPECT_EQ(l->regions()[1].gpa, Pa(0x100000000ull));
  EXPECT_EQ(l->regions()[1].size, kGiB);
  EXPECT_EQ(l->regions()[1].file_offset, 2 * kGiB);
  EXPECT_EQ(l->ToString(), "0x0:0x80000000@0x0,0x100000000:0x40000000@0x80000000");
  EXPECT_EQ(RamLayout::Parse("q35", kGiB)->regions().size(), 1u);
  EXPECT_EQ(RamLayout::Parse("flat", 5 * kGiB)->EndPa(), 5 * kGiB);
}

TEST(RamLayoutTest, RejectsBadSpecs) {
  EXPECT_FALSE(RamLayout::Parse("", 0).ok());
  EXPECT_FALSE(RamLayout::Parse("0:1G", 0).ok());
  EXPECT_FALSE(RamLayout::Parse("0:zz@0", 0).ok());
  EXPECT_FALSE(RamLayout::Parse("0:2G@0,1G:1G@2G", 0).ok());         // overlap
  EXPECT_FALSE(RamLayout::Parse("0:0@0", 0).ok());                   // empty
  EXPECT_FALSE(RamLayout::Parse("0xffffffffffffffff:2@0", 0).ok());  // wraps
  EXPECT_FALSE(RamLayout::Parse("0:99999999999G@0", 0).ok());        // size overflow
}

// Trimmed from QEMU 7.2 `info mtree -f` of `-machine q35,memory-backend=mem0 -m 1024`.
constexpr char kQ35Mtree[] = R"(FlatView #0
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
FlatView #1
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): mem0 KVM
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000000c0000-00000000000dffff (prio 0, rom): mem0 @00000000000c0000 KVM
  00000000000e0000-00000000000fffff (prio 0, rom): mem0 @00000000000e0000 KVM
  0000000000100000-000000003fffffff (prio 0, ram): mem0 @0000000000100000 KVM
  00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmio-mcfg
  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram KVM
  00000000fffc0000-00000000ffffffff (prio 0, romd): system.flash0 KVM
FlatView #2
 AS "pci-bridge", root: bus master container
  0000000000000000-ffffffffffffffff (prio 0, i/o): pci
)";

TEST(RamLayoutTest, ParsesQemuMtree) {
  absl::StatusOr<RamLayout> l = RamLayout::FromMtree(kQ35Mtree);
  ASSERT_TRUE(l.ok()) << l.status();
  // mem0 pieces merge around the VGA hole; vga.vram and flash are not guest RAM.
  ASSERT_EQ(l->regions().size(), 2u);
  EXPECT_EQ(l->regions()[0].gpa, Pa(0));
  EXPECT_EQ(l->regions()[0].size, 0xa0000u);
  EXPECT_EQ(l->regions()[1].gpa, Pa(0xc0000));
  EXPECT_EQ(l->regions()[1].file_offset, 0xc0000u);
  EXPECT_EQ(l->EndPa(), kGiB);
}

TEST(RamLayoutTest, MtreeWithCrLfLineEndsFromHmp) {
  // As QEMU 7.2 returns it through human-monitor-command on the lab guest.
  constexpr char text[] =
      "FlatView #1\r\n AS \"memory\", root: system\r\n Root memory region: system\r\n"
      "  0000000000000000-00000000000c2fff (prio 0, ram): mem0\r\n"
      "  00000000000c3000-00000000000e7fff (prio 0, rom): mem0 @00000000000c3000\r\n"
      "  00000000000e8000-00000000000effff (prio 0, ram): mem0 @00000000000e8000\r\n"
      "  00000000000f0000-00000000000fffff (prio 0, rom): mem0 @00000000000f0000\r\n"
      "  0000000000100000-000000003fffffff (prio 0, ram): mem0 @0000000000100000\r\n"
      "  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\r\n";
  absl::StatusOr<RamLayout> l = RamLayout::FromMtree(text);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->regions().size(), 1u);
  EXPECT_EQ(l->ToString(), "0x0:0x40000000@0x0");
}

TEST(RamLayoutTest, MtreeAbove4GUsesOffsets) {
  constexpr char text[] = R"(FlatView #0
 AS "memory", root: system
  0000000000000000-000000007fffffff (prio 0, ram): pc.ram KVM
  0000000100000000-000000017fffffff (prio 0, ram): pc.ram @0000000080000000 KVM
)";
  absl::StatusOr<RamLayout> l = RamLayout::FromMtree(text);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->regions().size(), 2u);
  EXPECT_EQ(l->regions()[1].gpa, Pa(0x100000000ull));
  EXPECT_EQ(l->regions()[1].file_offset, 0x80000000u);
}

TEST(RamLayoutTest, MtreeWithoutMemoryViewFails) {
  EXPECT_EQ(RamLayout::FromMtree("FlatView #0\n AS \"I/O\", root: io\n").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(RamLayout::FromMtree("garbage").ok());
}

}  // namespace
}  // namespace kfreeze
