// Per-CPU layout: the zero-tail rule, the possible mask and PerCpuPtr.
#include "core/kernel/percpu.h"

#include "core/kernel/kernel_context.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using ::testing::ElementsAre;

TEST(PerCpuLayoutTest, ZeroTailEntriesAreNotCpus) {
  PerCpuLayout layout(6, {0x1000, 0x2000, 0, 0x4000, 0, 0});
  EXPECT_THAT(layout.PossibleCpus(), ElementsAre(0, 1, 3));
  EXPECT_EQ(*layout.PerCpuPtr(Kva(0xffffffff82000000ull), 1), Kva(0xffffffff82002000ull));
  EXPECT_EQ(layout.PerCpuPtr(Kva(0x100), 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(layout.PerCpuPtr(Kva(0x100), 99).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(PerCpuLayoutTest, CpuZeroIsPossibleEvenWithAZeroOffset) {
  // Uniprocessor-style layouts put CPU 0 at offset 0.
  PerCpuLayout layout(2, {0, 0});
  EXPECT_THAT(layout.PossibleCpus(), ElementsAre(0));
}

TEST(PerCpuLayoutTest, PossibleMaskExcludesCpus) {
  PerCpuLayout layout(3, {0x1000, 0x2000, 0x3000}, std::vector<bool>{true, false, true}, 2);
  EXPECT_THAT(layout.PossibleCpus(), ElementsAre(0, 2));
  EXPECT_EQ(*layout.online_count(), 2u);
}

TEST(PerCpuLayoutTest, ReadsFromGuestWithZeroTail) {
  testing::GuestImageOptions o;
  o.nr_cpus = 3;
  o.nr_cpu_ids = 8;  // entries 3..7 keep a zero offset (never set up)
  testing::GuestImageBuilder b(o);
  const Kva rq = b.AddPerCpu("runqueues", 512);
  b.Put<uint64_t>(b.PerCpuAddress(rq, 2) + 16, 0xfeedface);
  testing::GuestImage image = b.Build();
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  const PerCpuLayout& pc = (*ctx)->percpu();
  EXPECT_EQ(pc.nr_cpu_ids(), 8u);
  EXPECT_THAT(pc.PossibleCpus(), ElementsAre(0, 1, 2));
  Reader reader = (*ctx)->NewReader();
  absl::StatusOr<Kva> cpu2 = pc.PerCpuPtr(*(*ctx)->symbols().Require("runqueues"), 2);
  ASSERT_TRUE(cpu2.ok());
  EXPECT_EQ(*reader.ReadU64(*cpu2 + 16), 0xfeedfaceu);
}

TEST(PerCpuLayoutTest, ImplausibleCpuCountIsRejected) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  image.Put<uint32_t>(image.symbol("nr_cpu_ids"), 1u << 20);
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("nr_cpu_ids"), absl::string_view::npos);
}

}  // namespace
}  // namespace kfreeze
