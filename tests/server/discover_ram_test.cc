// vmm_pid targets: the guest RAM file found in a VMM's /proc/PID/maps (a file or a memfd).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/dump/standard/standard_attachment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

// Larger than anything else this test process maps shared.
constexpr size_t kRamBytes = 256 << 20;

TEST(DiscoverRamFile, FindsTheLargestSharedFileMapping) {
  std::string path = absl::StrCat("/dev/shm/kfreeze-discover-", getpid());
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kRamBytes), 0);
  void* map = mmap(nullptr, kRamBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto found = DiscoverRamFile(static_cast<uint32_t>(getpid()));
  munmap(map, kRamBytes);
  close(fd);
  unlink(path.c_str());
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, path);
}

TEST(DiscoverRamFile, ReachesAMemfdThroughProcFd) {
  int fd = memfd_create("kfreeze-test-ram", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kRamBytes), 0);
  void* map = mmap(nullptr, kRamBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto found = DiscoverRamFile(static_cast<uint32_t>(getpid()));
  munmap(map, kRamBytes);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, absl::StrCat("/proc/", getpid(), "/fd/", fd));
  close(fd);
}

TEST(DiscoverRamFile, NoSuchProcessIsNotFound) {
  auto found = DiscoverRamFile(0x7ffffff0);
  EXPECT_TRUE(absl::IsNotFound(found.status()));
}

}  // namespace
}  // namespace kfreeze::dump
