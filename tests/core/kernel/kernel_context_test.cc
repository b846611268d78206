// KernelContext::Attach end to end on synthetic images: KASLR on/off, 4/5-level paging, every
// kallsyms encoding, re-attach detection and the failure modes of a broken guest.
#include "core/kernel/kernel_context.h"
#include "core/qmp/qmp_client.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_qmp_server.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;
using ::testing::HasSubstr;

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
  absl::StatusOr<std::shared_ptr<const KernelContext>> ctx =
      KernelContext::Attach(image.attach_options());
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
  EXPECT_TRUE(std::ranges::equal(k.btf()->raw(), truth.btf));
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

namespace kfreeze {
namespace {

// An AttachTarget with ram_path /dev/zero aborted kfreezed (the default
// q35 split of a 0-byte "file" threw). It must be a clear InvalidArgument instead.
TEST(AttachFailureTest, CharacterDeviceAsRamIsRefusedNotFatal) {
  AttachOptions options;
  options.ram_path = "/dev/zero";
  auto ctx = KernelContext::Attach(options);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument) << ctx.status();
}

TEST(AttachFailureTest, NoVmcoreInfoIsNotFound) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  image.PutPhys<uint32_t>(image.truth().vmcoreinfo_pa, 0);
  auto ctx = KernelContext::Attach(image.attach_options());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kNotFound);
}

TEST(AttachFailureTest, ReleaseMismatchWithInitUtsNsIsRefused) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  image.WriteVirt(image.symbol("init_uts_ns") + 130,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("6.1.0-other\0"), 12));
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("6.1.0-other"));
}

TEST(AttachFailureTest, PageTablesThatDisagreeWithTheLinearMapsAreRefused) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  // page_offset_base now points 1 GiB off: the walk of its alias of the note page fails.
  image.Put<uint64_t>(image.symbol("page_offset_base"),
                      image.truth().page_offset_base + (1ull << 30));
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_FALSE(ctx.ok());
  EXPECT_THAT(std::string(ctx.status().message()), HasSubstr("do not map the linear-map alias"));
}

TEST(AttachFailureTest, NonKernelPageOffsetBaseIsRefused) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  image.Put<uint64_t>(image.symbol("page_offset_base"), 0x1000);
  EXPECT_EQ(KernelContext::Attach(image.attach_options()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(AttachFailureTest, RamFileLargerLayoutIsRefused) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  AttachOptions o = image.attach_options();
  o.ram_layout = "0:1G@0";
  EXPECT_EQ(KernelContext::Attach(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.ram_layout = "";
  o.ram_fd = -1;
  o.ram_path = "/nonexistent/guest.ram";
  EXPECT_EQ(KernelContext::Attach(o).status().code(), absl::StatusCode::kNotFound);
}

TEST(AttachTest, MissingBtfIsReportedNotFatal) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  // Break the BTF magic in guest memory.
  image.Put<uint16_t>(image.symbol("__start_BTF"), 0x1234);
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ((*ctx)->btf(), nullptr);
  EXPECT_EQ((*ctx)->offsets(), nullptr);
  EXPECT_THAT(std::string((*ctx)->btf_status().message()), HasSubstr("magic"));
}

TEST(AttachTest, HostBtfFileOverridesGuestMemory) {
  testing::GuestImageBuilder b;
  b.btf().AddStruct("host_only", {{"x", "u64"}});
  testing::GuestImage image = b.Build();
  image.Put<uint16_t>(image.symbol("__start_BTF"), 0x1234);  // guest copy unusable
  const std::string path = ::testing::TempDir() + "/host.btf";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(image.truth().btf.data()), image.truth().btf.size());
  }
  AttachOptions o = image.attach_options();
  o.btf_path = path;
  auto ctx = KernelContext::Attach(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_NE((*ctx)->btf(), nullptr);
  EXPECT_EQ((*ctx)->btf()->source(), path);
  EXPECT_TRUE((*ctx)->offsets()->FindComposite("host_only").ok());
}

TEST(AttachTest, SystemMapCrossCheck) {
  testing::GuestImageOptions opts;
  opts.kaslr_offset = 0x6000000;
  testing::GuestImageBuilder b(opts);
  testing::GuestImage image = b.Build();
  const std::string good = ::testing::TempDir() + "/System.map";
  const std::string bad = ::testing::TempDir() + "/System.map.bad";
  {
    std::ofstream g(good), x(bad);
    for (const auto& [name, kva] : image.truth().symbols) {
      const uint64_t link = kva.value - opts.kaslr_offset;  // System.map holds link-time addresses
      g << absl::StrFormat("%016x T %s\n", link, name);
      x << absl::StrFormat("%016x T %s\n", name == "start_kernel" ? link + 16 : link, name);
    }
  }
  AttachOptions o = image.attach_options();
  o.system_map_path = good;
  auto ctx = KernelContext::Attach(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_TRUE((*ctx)->host_symbol_check().has_value());
  EXPECT_EQ((*ctx)->host_symbol_check()->mismatched, 0u);
  EXPECT_GT((*ctx)->host_symbol_check()->compared, 20u);
  o.system_map_path = bad;
  auto mismatch = KernelContext::Attach(o);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(std::string(mismatch.status().message()), HasSubstr("start_kernel"));
}

TEST(RevalidateTest, DetectsAnotherKernelAfterReboot) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  auto ctx = KernelContext::Attach(image.attach_options());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_TRUE((*ctx)->Revalidate().ok());
  // New per-CPU offsets (the old note stays in place, as after a reboot into the same release).
  const Kva offsets = image.symbol("__per_cpu_offset");
  image.Put<uint64_t>(offsets + 8, 0x123000);
  absl::Status changed = (*ctx)->Revalidate();
  EXPECT_EQ(changed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(changed.message()), HasSubstr("per-CPU"));
  image.Put<uint64_t>(offsets + 8, image.truth().per_cpu_offsets[1]);
  ASSERT_TRUE((*ctx)->Revalidate().ok());
  // A different KERNELOFFSET in the note.
  const Pa note = image.truth().vmcoreinfo_pa;
  const std::string& text = image.truth().vmcoreinfo_text;
  const size_t at = text.find("KERNELOFFSET=0");
  ASSERT_NE(at, std::string::npos);
  image.WritePhys(note + 24 + at,
                  std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("KERNELOFFSET=1"), 14));
  EXPECT_THAT(std::string((*ctx)->Revalidate().message()), HasSubstr("KERNELOFFSET"));
  // The RAM file vanished.
  image.Truncate(4096);
  EXPECT_FALSE((*ctx)->Revalidate().ok());
}

}  // namespace
}  // namespace kfreeze

namespace kfreeze {
namespace {

TEST(AttachTest, LayoutFromQmpInfoMtree) {
  testing::GuestImageBuilder b;
  testing::GuestImage image = b.Build();
  // QEMU says the 64 MiB RAM region starts at GPA 0 (mem0, q35, no hole below 64 MiB).
  testing::FakeQmpServer qemu(testing::QemuLikeHandler(
      "FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
      "  0000000000000000-0000000003ffffff (prio 0, ram): mem0 KVM\n"));
  AttachOptions o = image.attach_options();
  o.ram_layout = "";
  o.memory_tree = [&qemu] { return FetchMemoryTree(qemu.path()); };
  auto ctx = KernelContext::Attach(o);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ((*ctx)->layout_source(), "qmp info mtree -f");
  EXPECT_EQ((*ctx)->ram().layout().EndPa(), 64ull << 20);
  EXPECT_EQ(qemu.commands(), std::vector<std::string>{"human-monitor-command"});
  // A QMP socket that is not there fails the attach (the user asked for it).
  o.memory_tree = [] { return FetchMemoryTree("/nonexistent/qmp.sock"); };
  EXPECT_EQ(KernelContext::Attach(o).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kfreeze
