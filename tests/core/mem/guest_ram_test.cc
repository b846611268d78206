// GuestRam: bounded reads over a region table, page scans, and surviving a shrinking RAM file.
#include "core/mem/guest_ram.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "gtest/gtest.h"

namespace kfreeze {
namespace {

constexpr uint64_t kFile = 1 << 20;

// A memfd of `bytes` whose every 8 bytes hold their own offset.
int PatternedMemfd(uint64_t bytes) {
  int fd = memfd_create("guest-ram-test", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  std::vector<uint64_t> words(bytes / 8);
  for (uint64_t i = 0; i < words.size(); ++i) words[i] = i * 8;
  EXPECT_EQ(pwrite(fd, words.data(), bytes, 0), static_cast<ssize_t>(bytes));
  return fd;
}

class GuestRamTest : public ::testing::Test {
 protected:
  void SetUp() override { fd_ = PatternedMemfd(kFile); }
  void TearDown() override { close(fd_); }
  int fd_ = -1;
};

TEST_F(GuestRamTest, ReadsThroughRegions) {
  // GPA 0..512K -> file 0, GPA 1M..1.5M -> file 512K.
  auto layout = RamLayout::Parse("0:512K@0,1M:512K@512K", 0);
  ASSERT_TRUE(layout.ok());
  auto ram = GuestRam::OpenFd(fd_, *layout);
  ASSERT_TRUE(ram.ok()) << ram.status();
  EXPECT_EQ(*(*ram)->ReadU64(Pa(0x100)), 0x100u);
  EXPECT_EQ(*(*ram)->ReadU64(Pa((1 << 20) + 0x100)), (512u << 10) + 0x100);
  absl::StatusOr<uint64_t> hole = (*ram)->ReadU64(Pa(600 << 10));
  ASSERT_FALSE(hole.ok());
  EXPECT_TRUE(IsFault(hole.status()));
  EXPECT_EQ(GetFault(hole.status())->address, 600u << 10);
}

TEST_F(GuestRamTest, ReadPastEndOfRamFailsWithoutPartialSuccess) {
  auto ram = GuestRam::OpenFd(fd_, RamLayout::Flat(kFile));
  ASSERT_TRUE(ram.ok());
  uint8_t buf[16];
  absl::Status s = (*ram)->Read(Pa(kFile - 8), buf);
  EXPECT_TRUE(IsFault(s));
  EXPECT_EQ(GetFault(s)->address, kFile);
  EXPECT_TRUE((*ram)->Read(Pa(kFile - 16), buf).ok());
  EXPECT_TRUE(IsFault((*ram)->Read(Pa(~0ull - 4), buf)));  // wraps the address space
  EXPECT_EQ(*(*ram)->ContiguousBytes(Pa(kFile - 8), 100), 8u);
}

TEST_F(GuestRamTest, LayoutLargerThanFileIsRejected) {
  auto ram = GuestRam::OpenFd(fd_, RamLayout::Flat(2 * kFile));
  EXPECT_EQ(ram.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(GuestRam::OpenFile("/nonexistent/ram").ok());
  EXPECT_FALSE(GuestRam::OpenFd(-1).ok());
}

TEST_F(GuestRamTest, FindPageMatchesMaskedPattern) {
  const uint8_t marker[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0x42};
  ASSERT_EQ(pwrite(fd_, marker, sizeof(marker), 0x7000), 8);
  ASSERT_EQ(pwrite(fd_, marker, sizeof(marker), 0x9008), 8);  // not at a page start
  auto ram = GuestRam::OpenFd(fd_, RamLayout::Flat(kFile));
  ASSERT_TRUE(ram.ok());
  const uint8_t mask[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff};
  const uint8_t want[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 0x42};
  PagePattern pattern{want, mask, 4096};
  auto hit = (*ram)->FindPage(pattern);
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ(**hit, Pa(0x7000));
  auto none = (*ram)->FindPage(pattern, Pa(0x7001));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(GuestRamHolesTest, FindPageSkipsHolesAndStillFindsData) {
  int fd = memfd_create("guest-ram-holes", MFD_CLOEXEC);
  ASSERT_EQ(ftruncate(fd, 64 << 20), 0);  // sparse: all holes
  const uint32_t magic = 0x12345678;
  ASSERT_EQ(pwrite(fd, &magic, 4, 40 << 20), 4);
  auto ram = GuestRam::OpenFd(fd, RamLayout::Flat(64 << 20));
  ASSERT_TRUE(ram.ok());
  const uint8_t mask[4] = {0xff, 0xff, 0xff, 0xff};
  auto hit = (*ram)->FindPage(
      {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&magic), 4), mask});
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ(**hit, Pa(40 << 20));
  close(fd);
}

TEST_F(GuestRamTest, CopyPagesCopiesWholeFramesInTheOrderGivenAndRejectsPartialOnes) {
  auto layout = RamLayout::Parse("0:512K@0,1M:512K@512K", 0);
  ASSERT_TRUE(layout.ok());
  auto ram = GuestRam::OpenFd(fd_, *layout);
  ASSERT_TRUE(ram.ok());
  // More frames than one internal batch, out of order, across both regions.
  std::vector<uint64_t> frames;
  for (uint64_t i = 0; i < 70; ++i) frames.push_back(i % 2 ? (1 << 20) + i * 4096 : i * 4096);
  std::vector<uint8_t> out(frames.size() * 4096);
  ASSERT_TRUE((*ram)->CopyPages(frames, out.data()).ok());
  for (size_t i = 0; i < frames.size(); ++i) {
    const uint64_t file_offset = frames[i] >= (1 << 20) ? frames[i] - (512 << 10) : frames[i];
    uint64_t first = 0, last = 0;
    std::memcpy(&first, out.data() + i * 4096, 8);
    std::memcpy(&last, out.data() + i * 4096 + 4088, 8);
    EXPECT_EQ(first, file_offset) << i;
    EXPECT_EQ(last, file_offset + 4088) << i;
  }
  // A frame in the hole, one not page aligned, one past the end: faults, not copies.
  for (uint64_t bad : {uint64_t{600} << 10, uint64_t{4096 + 8}, uint64_t{2} << 20}) {
    const uint64_t one[1] = {bad};
    EXPECT_TRUE(IsFault((*ram)->CopyPages(one, out.data()))) << bad;
  }
}

TEST_F(GuestRamTest, ShrinkingFileFailsReadsInsteadOfKillingTheProcess) {
  auto ram = GuestRam::OpenFd(fd_, RamLayout::Flat(kFile));
  ASSERT_TRUE(ram.ok());
  ASSERT_EQ(*(*ram)->ReadU64(Pa(kFile - 8)), kFile - 8);
  // The VMM died and its RAM file was truncated under our mapping: touching it raises SIGBUS.
  ASSERT_EQ(ftruncate(fd_, 4096), 0);
  absl::StatusOr<uint64_t> gone = (*ram)->ReadU64(Pa(kFile - 8));
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsFault(gone.status()));
  EXPECT_NE(gone.status().message().find("SIGBUS"), absl::string_view::npos);
  EXPECT_TRUE((*ram)->lost());
  EXPECT_FALSE((*ram)->ReadU64(Pa(0)).ok());  // fails fast from now on
  std::vector<uint8_t> page(4096);
  const uint64_t frame[1] = {kFile - 4096};
  EXPECT_NE((*ram)->CopyPages(frame, page.data()).message().find("SIGBUS"), std::string::npos);
  const uint8_t mask[1] = {0xff}, want[1] = {1};
  EXPECT_FALSE((*ram)->FindPage({want, mask}).ok());
}

TEST(GuestRamScanTest, ScanHitsSigbusGracefully) {
  int fd = PatternedMemfd(kFile);
  auto ram = GuestRam::OpenFd(fd, RamLayout::Flat(kFile));
  ASSERT_TRUE(ram.ok());
  ASSERT_EQ(ftruncate(fd, 8192), 0);
  const uint8_t mask[1] = {0xff}, want[1] = {0x77};  // never matches: the scan runs into the cut
  auto hit = (*ram)->FindPage({want, mask});
  // SEEK_DATA sees the new EOF and stops early, or the guarded scan hits SIGBUS; both are fine,
  // crashing is not.
  if (hit.ok()) {
    EXPECT_FALSE(hit->has_value());
  } else {
    EXPECT_TRUE(IsFault(hit.status()));
  }
  close(fd);
}

}  // namespace
}  // namespace kfreeze
