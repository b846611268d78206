#include "core/unwind/stack_memory.h"

#include <cstring>
#include <limits>

#include "gtest/gtest.h"

namespace kfreeze {
namespace {

std::vector<uint8_t> Words(std::initializer_list<uint64_t> words) {
  std::vector<uint8_t> out(words.size() * 8);
  size_t i = 0;
  for (uint64_t w : words) std::memcpy(out.data() + 8 * i++, &w, 8);
  return out;
}

TEST(StackMemory, ReadsWithinRangesOnly) {
  StackMemory m;
  m.Add(0x1000, Words({1, 2, 3}));
  m.Add(0x3000, Words({7}));
  EXPECT_EQ(m.bytes(), 32u);
  EXPECT_EQ(m.ReadU64(0x1000), 1u);
  EXPECT_EQ(m.ReadU64(0x1010), 3u);
  EXPECT_EQ(m.ReadU64(0x3000), 7u);
  EXPECT_FALSE(m.ReadU64(0x1014).has_value());  // straddles the end
  EXPECT_FALSE(m.ReadU64(0xff8).has_value());
  EXPECT_FALSE(m.ReadU64(0x2000).has_value());
  EXPECT_TRUE(m.Contains(0x1000, 24));
  EXPECT_FALSE(m.Contains(0x1000, 25));
  EXPECT_EQ(m.RangeStart(0x1008, 8), 0x1000u);
}

TEST(StackMemory, OverlappingAndNestedRanges) {
  StackMemory m;
  m.Add(0x1000, std::vector<uint8_t>(0x1000, 0xaa));  // [0x1000, 0x2000)
  m.Add(0x1100, Words({5}));                          // nested
  m.Add(0x1f00, std::vector<uint8_t>(0x200, 0xbb));   // overlaps the end
  // A read inside the big range but beyond the nested one still finds the big one.
  EXPECT_EQ(m.ReadU64(0x1800), 0xaaaaaaaaaaaaaaaau);
  EXPECT_EQ(m.ReadU64(0x1100), 5u);  // either copy is the same paused guest; the later start wins
  EXPECT_EQ(m.ReadU64(0x20f8), 0xbbbbbbbbbbbbbbbbu);
  EXPECT_TRUE(m.Contains(0x1f00, 0x200));
  EXPECT_FALSE(m.Contains(0x1000, 0x1100));  // no single range holds it
}

TEST(StackMemory, HostileAddressesNeitherWrapNorAllocate) {
  StackMemory m;
  constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();
  m.Add(kTop - 15, std::vector<uint8_t>(64, 1));  // would wrap: truncated to the 15 bytes left
  EXPECT_EQ(m.bytes(), 15u);
  m.Add(0x5000, {});  // nothing
  EXPECT_EQ(m.ranges(), 1u);
  EXPECT_EQ(m.ReadU64(kTop - 15), 0x0101010101010101u);
  EXPECT_FALSE(m.ReadU64(kTop - 7).has_value());
  EXPECT_FALSE(m.ReadU64(kTop).has_value());
  EXPECT_FALSE(m.Contains(0, std::numeric_limits<size_t>::max()));
  EXPECT_FALSE(m.Contains(kTop - 15, std::numeric_limits<size_t>::max()));
  // A huge claimed length is a question, never an allocation.
  EXPECT_FALSE(m.Contains(0x1000, size_t{1} << 62));
  StackMemory empty;
  EXPECT_FALSE(empty.ReadU64(0).has_value());
  EXPECT_FALSE(empty.Contains(0, 0));
}

}  // namespace
}  // namespace kfreeze
