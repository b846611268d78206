// Fault statuses carry their address; the propagation macros return errors and pass values.
#include "core/base/status.h"

#include "core/base/checked.h"
#include "gtest/gtest.h"

namespace kfreeze {
namespace {

TEST(FaultErrorTest, CarriesAddressAndSpace) {
  absl::Status v = FaultError(Kva(0xffff888000001000ull), "not mapped");
  EXPECT_EQ(v.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(v.message().find("0xffff888000001000"), absl::string_view::npos);
  ASSERT_TRUE(IsFault(v));
  EXPECT_EQ(GetFault(v)->address, 0xffff888000001000ull);
  EXPECT_EQ(GetFault(v)->space, AddressSpace::kVirtual);

  absl::Status p = FaultError(Pa(0x1234), "hole");
  EXPECT_EQ(GetFault(p)->space, AddressSpace::kPhysical);
  EXPECT_EQ(GetFault(p)->address, 0x1234u);
}

TEST(FaultErrorTest, OtherStatusesAreNotFaults) {
  EXPECT_FALSE(IsFault(absl::OutOfRangeError("plain")));
  EXPECT_FALSE(IsFault(absl::OkStatus()));
  EXPECT_EQ(BadData("x").code(), absl::StatusCode::kDataLoss);
}

absl::StatusOr<int> Half(int v) {
  if (v % 2) return absl::InvalidArgumentError("odd");
  return v / 2;
}

absl::StatusOr<int> Quarter(int v) {
  KF_ASSIGN_OR_RETURN(int h, Half(v));
  KF_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int v) {
  KF_RETURN_IF_ERROR(Half(v).status());
  return absl::OkStatus();
}

TEST(MacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(CheckedTest, DetectsOverflow) {
  EXPECT_FALSE(CheckedAdd(~0ull, 1).has_value());
  EXPECT_EQ(*CheckedAdd(1, 2), 3u);
  EXPECT_FALSE(CheckedMul(1ull << 33, 1ull << 33).has_value());
  EXPECT_TRUE(RangeWithin(10, 5, 15));
  EXPECT_FALSE(RangeWithin(10, 6, 15));
  EXPECT_FALSE(RangeWithin(16, 0, 15));
}

}  // namespace
}  // namespace kfreeze
