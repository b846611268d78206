// KernelContext::Attach on synthetic arm64 images: every granule and VA size, KASLR, a 52-bit
// kernel on a 48-bit CPU, the virt RAM default, the real 7.3.4 note, and broken inputs.
#include <fstream>
#include <sstream>

#include "core/kernel/kernel_context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::Arm64ImageOptions;
using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;
using ::testing::HasSubstr;

struct Variant {
  const char* name;
  Arm64ImageOptions arm64;
  uint64_t kaslr_offset;
};

Arm64ImageOptions Arm64(int page_shift, int va_bits) {
  return Arm64ImageOptions::Granule(page_shift, va_bits);
}

std::vector<Variant> Variants() {
  std::vector<Variant> v = {
      {"4k_48_nokaslr", Arm64(12, 48), 0},
      {"4k_52_lpa2_kaslr", Arm64(12, 52), 0x181727800000ull},  // the slide of the real guest
      {"16k_47_kaslr", Arm64(14, 47), 0x3fe000000ull},
      {"64k_42_kaslr", Arm64(16, 42), 0x2e000000ull},
      {"64k_48", Arm64(16, 48), 0},
      {"4k_39", Arm64(12, 39), 0x12e000000ull},
  };
  Arm64ImageOptions on48 = Arm64(12, 52);
  on48.walk_va_bits = 48;
  v.push_back({"4k_52_kernel_on_48_bit_cpu", on48, 0x2e000000ull});
  Arm64ImageOptions on48_64k = Arm64(16, 52);  // TTBR1 points into swapper_pg_dir
  on48_64k.walk_va_bits = 48;
  v.push_back({"64k_52_kernel_on_48_bit_cpu", on48_64k, 0x2e000000ull});
  Arm64ImageOptions old = Arm64(12, 48);
  old.print_t1sz = false;  // before v5.9
  old.linear_offset = 0x3f400000000ull;
  old.pac_mask = 0;
  v.push_back({"4k_48_no_t1sz_randomized_linear_map", old, 0x2e000000ull});
  return v;
}

GuestImage Build(const Arm64ImageOptions& a, uint64_t kaslr) {
  GuestImageOptions o;
  o.arch = GuestArch::kArm64;
  o.arm64 = a;
  o.kaslr_offset = kaslr;
  o.release = "7.3.4+deb13-cloud-arm64";
  GuestImageBuilder b(o);
  return b.Build();
}

class Arm64AttachTest : public ::testing::TestWithParam<Variant> {};

TEST_P(Arm64AttachTest, FindsEverythingTheImageHolds) {
  GuestImage image = Build(GetParam().arm64, GetParam().kaslr_offset);
  const testing::GuestImageTruth& truth = image.truth();
  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx =
      KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status() << "\n" << truth.vmcoreinfo_text;
  const KernelContext& k = **ctx;
  EXPECT_EQ(k.arch(), GuestArch::kArm64);
  EXPECT_EQ(k.release(), truth.release);
  EXPECT_EQ(k.kaslr_offset(), truth.kaslr_offset);
  EXPECT_EQ(k.vmcoreinfo().arm64.kimage_voffset, truth.kimage_voffset);
  EXPECT_EQ(k.vmcoreinfo().arm64.phys_offset, truth.phys_offset);
  EXPECT_EQ(k.pgtable_levels(), truth.levels);
  EXPECT_EQ(k.translator().config().direct_map.va_start, truth.linear_map_start);
  EXPECT_EQ(k.symbols().size(), truth.symbols.size());
  for (const auto& [name, kva] : truth.symbols) {
    std::optional<Symbol> s = k.symbols().Find(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(s->address, kva) << name;
  }
  EXPECT_EQ(k.percpu().offsets(), truth.per_cpu_offsets);
  ASSERT_NE(k.btf(), nullptr) << k.btf_status();
  // Reads through every path: image (linear), linear map, and the page walk agree with the
  // builder.
  Reader reader = k.NewReader();
  absl::StatusOr<std::string> machine = reader.ReadCharArray(
      image.symbol("init_uts_ns") + *k.offsets()->Offset("uts_namespace.name.machine"), 65);
  ASSERT_TRUE(machine.ok()) << machine.status();
  EXPECT_EQ(*machine, "aarch64");
  for (Kva va : {image.symbol("_text"), image.symbol("swapper_pg_dir"),
                 Kva(truth.linear_map_start + 4096)}) {
    absl::StatusOr<Translation> walked = k.translator().Walk(va);
    ASSERT_TRUE(walked.ok()) << Hex(va) << ": " << walked.status();
    EXPECT_EQ(walked->pa, *image.Translate(va)) << Hex(va);
    EXPECT_EQ(k.translator().Translate(va)->pa, walked->pa) << Hex(va);
  }
  EXPECT_TRUE(k.Revalidate().ok());
}

INSTANTIATE_TEST_SUITE_P(Images, Arm64AttachTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Arm64AttachTest, WithoutALayoutTheRamIsTakenAsQemuVirt) {
  GuestImage image = Build(Arm64(12, 52), 0x181727800000ull);
  AttachOptions options = image.attach_options();
  options.ram_layout.clear();  // no --ram-layout, no QMP
  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx = KernelContext::Attach(options);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ((*ctx)->layout_source(), "virt default (arm64 guest)");
  EXPECT_EQ((*ctx)->vmcoreinfo().note_pa, image.truth().vmcoreinfo_pa);
}

TEST(Arm64AttachTest, RevalidateSeesANewImageOffset) {
  GuestImage image = Build(Arm64(12, 48), 0x2e000000ull);
  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx =
      KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  image.Put<uint64_t>(image.symbol("kimage_voffset"), image.truth().kimage_voffset + (2 << 20));
  EXPECT_THAT(std::string((*ctx)->Revalidate().message()), HasSubstr("kimage_voffset"));
}

// The note with one key left out (empty value) or given again with another value (the parser
// keeps the last); attach must refuse it with a reason naming the problem.
absl::Status AttachWithLine(absl::string_view key, absl::string_view value) {
  GuestImageOptions o;
  o.arch = GuestArch::kArm64;
  GuestImageBuilder b(o);
  if (value.empty()) {
    b.OmitVmcoreInfoKey(key);
  } else {
    b.AddVmcoreInfoLine(absl::StrCat(key, "=", value));
  }
  GuestImage image = b.Build();
  return KernelContext::Attach(image.attach_options()).status();
}

TEST(Arm64AttachFailureTest, BrokenNotesAreRefusedWithAReason) {
  EXPECT_THAT(std::string(AttachWithLine("NUMBER(PHYS_OFFSET)", "").message()),
              HasSubstr("PHYS_OFFSET"));
  EXPECT_THAT(std::string(AttachWithLine("NUMBER(VA_BITS)", "99").message()),
              HasSubstr("not a bit count"));
  EXPECT_THAT(std::string(AttachWithLine("NUMBER(VA_BITS)", "").message()), HasSubstr("VA_BITS"));
  EXPECT_THAT(std::string(AttachWithLine("NUMBER(TCR_EL1_T1SZ)", "0x30").message()),
              HasSubstr("outside what a walk can translate"));
  EXPECT_THAT(std::string(AttachWithLine("PAGESIZE", "8192").message()), HasSubstr("8192"));
  // A wrong kimage_voffset: kallsyms is read from the wrong place, or the walk disagrees.
  EXPECT_FALSE(AttachWithLine("NUMBER(kimage_voffset)", "0xffff800000000000").ok());
  EXPECT_THAT(std::string(AttachWithLine("SYMBOL(swapper_pg_dir)", "ffff000000000000").message()),
              HasSubstr("outside the kernel image"));
  // A PHYS_OFFSET that puts RAM's linear alias in the user half.
  EXPECT_FALSE(AttachWithLine("NUMBER(PHYS_OFFSET)", "0x8000000000000000").ok());
}

TEST(Arm64VmcoreInfoTest, TheRealNoteOfDebian734ParsesAsArm64) {
  std::ifstream in(std::string(KFREEZE_SOURCE_DIR) +
                   "/tests/core/kernel/testdata/vmcoreinfo-7.3.4-cloud-arm64.txt");
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<VmcoreInfo> info = ParseVmcoreInfo(text.str());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->arch, GuestArch::kArm64);
  EXPECT_EQ(info->osrelease, "7.3.4+deb13-cloud-arm64");
  EXPECT_EQ(info->kernel_offset, 0x181727800000ull);
  EXPECT_EQ(info->arm64.va_bits, 52u);
  EXPECT_EQ(info->arm64.WalkVaBits(), 52u);
  EXPECT_EQ(info->arm64.kimage_voffset, 0xffff981767600000ull);
  EXPECT_EQ(info->arm64.phys_offset, 0x40000000u);
  EXPECT_EQ(info->arm64.pac_mask, 0xfff0000000000000ull);
  EXPECT_EQ(info->arm64.PageOffset(), 0xfff0000000000000ull);
  EXPECT_EQ(*info->PageTableRoot(), Kva(0xffff9817a986b000ull));
  EXPECT_TRUE(info->Kallsyms().ok());
}

}  // namespace
}  // namespace kfreeze
