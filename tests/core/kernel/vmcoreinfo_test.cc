// VMCOREINFO: parsing the text, finding the note in RAM, and refusing corrupt or missing notes.
#include "core/kernel/vmcoreinfo.h"

#include "core/base/status.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

constexpr char kText[] =
    "OSRELEASE=7.2.12+deb13-cloud-amd64\nBUILD-ID=abc\nPAGESIZE=4096\n"
    "SYMBOL(init_uts_ns)=ffffffff83a14f40\nOFFSET(uts_namespace.name)=0\n"
    "SYMBOL(_stext)=ffffffff81000000\nSYMBOL(init_top_pgt)=ffffffff83a0e000\n"
    "SYMBOL(kallsyms_names)=ffffffff82e4a0d8\nSYMBOL(kallsyms_num_syms)=ffffffff82e4a0d0\n"
    "SYMBOL(kallsyms_token_table)=ffffffff830f3d00\nSYMBOL(kallsyms_token_index)=ffffffff830f40a8\n"
    "SYMBOL(kallsyms_offsets)=ffffffff82d7f6f8\nSIZE(list_head)=16\n"
    "NUMBER(phys_base)=-736100352\nNUMBER(pgtable_l5_enabled)=1\n"
    "KERNELOFFSET=2e000000\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n";

TEST(ParseVmcoreInfoTest, ParsesTheFieldsAttachNeeds) {
  absl::StatusOr<VmcoreInfo> info = ParseVmcoreInfo(kText);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->osrelease, "7.2.12+deb13-cloud-amd64");
  EXPECT_EQ(info->kernel_offset, 0x2e000000u);
  EXPECT_EQ(info->phys_base, static_cast<uint64_t>(-736100352ll));  // %ld of a wrapped value
  EXPECT_TRUE(info->pgtable_l5);
  EXPECT_EQ(info->page_size, 4096u);
  EXPECT_EQ(*info->Symbol("_stext"), Kva(0xffffffff81000000ull));
  EXPECT_EQ(*info->PageTableRoot(), Kva(0xffffffff83a0e000ull));
  EXPECT_EQ(info->offsets.at("uts_namespace.name"), 0);
  EXPECT_EQ(info->sizes.at("list_head"), 16);
  absl::StatusOr<KallsymsLocations> loc = info->Kallsyms();
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->names, Kva(0xffffffff82e4a0d8ull));
  EXPECT_TRUE(loc->offsets.has_value());
  EXPECT_FALSE(loc->relative_base.has_value());
  EXPECT_FALSE(loc->addresses.has_value());
}

TEST(ParseVmcoreInfoTest, RejectsMissingOrMalformedFields) {
  EXPECT_FALSE(ParseVmcoreInfo("PAGESIZE=4096\nOSRELEASE=x\n").ok());  // must start with OSRELEASE
  EXPECT_FALSE(ParseVmcoreInfo("OSRELEASE=x\nNUMBER(phys_base)=0\n").ok());  // no KERNELOFFSET
  EXPECT_FALSE(ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=0\n").ok());       // no phys_base
  EXPECT_FALSE(ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=zz\nNUMBER(phys_base)=0\n").ok());
  EXPECT_FALSE(ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=0\nNUMBER(phys_base)=0y10\n").ok());
  // Hex NUMBERs (7.x prints NUMBER(VMALLOC_START) that way) are read; unreadable optional ones
  // are skipped rather than failing the whole note.
  absl::StatusOr<VmcoreInfo> hex = ParseVmcoreInfo(
      "OSRELEASE=x\nKERNELOFFSET=0\nNUMBER(phys_base)=0x10\nNUMBER(VMALLOC_START)="
      "0xff7fe59300000000\n"
      "NUMBER(weird)=abc\n");
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ(hex->phys_base, 0x10u);
  EXPECT_EQ(static_cast<uint64_t>(hex->numbers.at("VMALLOC_START")), 0xff7fe59300000000ull);
  EXPECT_FALSE(hex->numbers.contains("weird"));
  EXPECT_FALSE(
      ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=0\nNUMBER(phys_base)=0\nSYMBOL(a)=g\n").ok());
  EXPECT_FALSE(
      ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=0\nNUMBER(phys_base)=0\nPAGESIZE=3000\n").ok());
  EXPECT_FALSE(ParseVmcoreInfo(std::string("OSRELEASE=") + std::string(100, 'a') +
                               "\nKERNELOFFSET=0\nNUMBER(phys_base)=0\n")
                   .ok());
  absl::StatusOr<VmcoreInfo> minimal =
      ParseVmcoreInfo("OSRELEASE=x\nKERNELOFFSET=0\nNUMBER(phys_base)=0\n");
  ASSERT_TRUE(minimal.ok());
  EXPECT_FALSE(minimal->pgtable_l5);
  EXPECT_EQ(minimal->Kallsyms().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(minimal->PageTableRoot().status().code(), absl::StatusCode::kNotFound);
}

TEST(FindVmcoreInfoTest, FindsTheNoteAnywhereInRam) {
  testing::GuestImageOptions o;
  o.vmcoreinfo_pa = (64ull << 20) - 4096;  // the last page: worst case for the scan
  testing::GuestImageBuilder b(o);
  testing::GuestImage image = b.Build();
  auto ram = GuestRam::OpenFd(image.fd(), RamLayout::Flat(image.truth().ram_bytes));
  ASSERT_TRUE(ram.ok());
  absl::StatusOr<VmcoreInfo> info = FindVmcoreInfo(**ram);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->note_pa, Pa(o.vmcoreinfo_pa.value()));
  EXPECT_EQ(info->text, image.truth().vmcoreinfo_text);
}

TEST(FindVmcoreInfoTest, SkipsCorruptCandidatesBeforeTheRealNote) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  // A stale copy lower in RAM whose text is garbage, and one whose size field is absurd.
  const uint32_t header[3] = {11, 12, 0};
  const Pa stale(0x200000), huge(0x300000);
  image.WritePhys(stale, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(header), 12));
  image.WritePhys(
      stale + 12,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("VMCOREINFO\0\0GARBAGE=1\n"), 23));
  const uint32_t huge_header[3] = {11, 0x7fffffff, 0};
  image.WritePhys(huge,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(huge_header), 12));
  image.WritePhys(huge + 12,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("VMCOREINFO\0"), 11));
  auto ram = GuestRam::OpenFd(image.fd(), RamLayout::Flat(image.truth().ram_bytes));
  ASSERT_TRUE(ram.ok());
  absl::StatusOr<VmcoreInfo> info = FindVmcoreInfo(**ram);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->note_pa, image.truth().vmcoreinfo_pa);
  EXPECT_EQ(ReadVmcoreInfoAt(**ram, huge).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadVmcoreInfoAt(**ram, stale).status().code(), absl::StatusCode::kDataLoss);
}

TEST(FindVmcoreInfoTest, MissingOrCorruptNoteIsNotFound) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  const Pa note = image.truth().vmcoreinfo_pa;
  auto ram = GuestRam::OpenFd(image.fd(), RamLayout::Flat(image.truth().ram_bytes));
  ASSERT_TRUE(ram.ok());
  // Corrupt the text: the only candidate is rejected and the error says why.
  image.WritePhys(note + 24,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("XSRELEASE"), 9));
  absl::StatusOr<VmcoreInfo> bad = FindVmcoreInfo(**ram);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("rejected"), absl::string_view::npos);
  // Wipe the header (bad magic): nothing to find at all.
  image.PutPhys<uint32_t>(note, 0);
  absl::StatusOr<VmcoreInfo> none = FindVmcoreInfo(**ram);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kfreeze
