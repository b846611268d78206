#include "core/btf_render/hex.h"

#include <vector>

#include "gtest/gtest.h"

namespace kfreeze::btf_render {
namespace {

TEST(HexBytesTest, LowercasePairsSeparatedBySpaces) {
  const std::vector<uint8_t> bytes = {0xde, 0xad, 0x00, 0x0f};
  EXPECT_EQ(HexBytes(bytes), "de ad 00 0f");
  EXPECT_EQ(HexBytes({}), "");
  const std::vector<uint8_t> one = {0xa0};
  EXPECT_EQ(HexBytes(one), "a0");
}

}  // namespace
}  // namespace kfreeze::btf_render
