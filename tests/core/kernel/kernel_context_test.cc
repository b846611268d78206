// KernelContext::Attach end to end on synthetic images: KASLR on/off, 4/5-level paging, every
// kallsyms encoding, re-attach detection and the failure modes of a broken guest.
#include "core/kernel/kernel_context.h"

#include <fstream>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using ::testing::HasSubstr;
using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;

struct Variant {
  const char* name;
  GuestImageOptions options;
};

std::vector<Variant> Variants() {
  std::vector<Variant> v;
  v.push_back({"nokaslr_l4", {}});
  GuestImageOptions kaslr;
  kaslr.ram_bytes = 128ull << 20;
  kaslr.kaslr_offset = 0x2e000000;
  kaslr.image_pa = 0x3000000;  // phys_base = 48M - 16M - 736M wraps below zero
  kaslr.page_offset_base = 0xffff9a0c40000000ull;
  v.push_back({"kaslr_l4", kaslr});
  GuestImageOptions l5 = kaslr;
  l5.levels = 5;
  l5.page_offset_base = 0xff11af3140000000ull;
  l5.direct_map_leaf = testing::k2M;
  v.push_back({"kaslr_l5_2m", l5});
  GuestImageOptions l5_4k = l5;
  l5_4k.image_leaf = testing::k4K;
  l5_4k.kaslr_offset = 0;
  v.push_back({"nokaslr_l5_4k_image", l5_4k});
  return v;
}

class AttachTest : public ::testing::TestWithParam<Variant> {};

TEST_P(AttachTest, FindsEverythingTheImageHolds) {
  GuestImageBuilder b(GetParam().options);
  GuestImage image = b.Build();
  const testing::GuestImageTruth& truth = image.truth();
  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx = KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  const KernelContext& k = **ctx;
  EXPECT_EQ(k.release(), truth.release);
  EXPECT_EQ(k.kaslr_offset(), truth.kaslr_offset);
  EXPECT_EQ(k.phys_base(), truth.phys_base);
  EXPECT_EQ(k.page_offset_base(), truth.page_offset_base);
  EXPECT_EQ(k.pgtable_levels(), truth.levels);
  EXPECT_EQ(k.vmcoreinfo().note_pa, truth.vmcoreinfo_pa);
  EXPECT_EQ(k.symbols().size(), truth.symbols.size());
  for (const auto& [name, kva] : truth.symbols) {
    std::optional<Symbol> s = k.symbols().Find(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(s->address, kva) << name;
  }
  EXPECT_EQ(k.percpu().offsets(), truth.per_cpu_offsets);
  EXPECT_EQ(k.percpu().PossibleCpus().size(), 4u);
  ASSERT_NE(k.btf(), nullptr) << k.btf_status();
  EXPECT_EQ(k.btf()->raw(), truth.btf);
  ASSERT_NE(k.offsets(), nullptr);
  EXPECT_TRUE(k.offsets()->Offset("uts_namespace.name.release").ok());
  std::vector<std::string> steps;
  for (const StepTiming& t : k.attach_timings()) steps.push_back(t.step);
  EXPECT_THAT(steps, ::testing::ElementsAre("ram", "vmcoreinfo", "kallsyms", "paging", "btf",
                                            "btf_index", "percpu", "uts_check"));
  EXPECT_TRUE(k.Revalidate().ok());
}

INSTANTIATE_TEST_SUITE_P(Images, AttachTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kfreeze
