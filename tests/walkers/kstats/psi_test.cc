#include "core/walkers/psi/psi.h"

#include <memory>

#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::walkers::psi {
namespace {

using kfreeze::testing::FakeGuest;
using kfreeze::testing::TestBtf;

constexpr uint32_t kTotal = 16, kAvg = 16 + 2 * 7 * 8;  // total[2][7], avg[7][3]
constexpr uint32_t kCssSibling = 0, kCssChildren = 16, kCssSerial = 32;
constexpr uint32_t kCgSelf = 8, kCgKn = 64, kCgPsi = 72;

struct PsiWorld {
  PsiWorld() {
    btf.Enum("psi_states", {{"PSI_IO_SOME", 0},
                            {"PSI_IO_FULL", 1},
                            {"PSI_MEM_SOME", 2},
                            {"PSI_MEM_FULL", 3},
                            {"PSI_CPU_SOME", 4},
                            {"PSI_CPU_FULL", 5},
                            {"PSI_IRQ_FULL", 6},
                            {"PSI_NONIDLE", 7},
                            {"NR_PSI_STATES", 8}});
    btf.Struct("psi_group", 512, {{"total", "u64[14]", kTotal}, {"avg", "u64[21]", kAvg}});
    btf.Struct("list_head", 16, {{"next", "ptr", 0}, {"prev", "ptr", 8}});
    btf.Struct("cgroup_subsys_state", 40,
               {{"sibling", "list_head", kCssSibling},
                {"children", "list_head", kCssChildren},
                {"serial_nr", "u64", kCssSerial}});
    btf.Struct("kernfs_node", 32, {{"name", "ptr", 8}});
    btf.Struct(
        "cgroup", 128,
        {{"self", "cgroup_subsys_state", kCgSelf}, {"kn", "ptr", kCgKn}, {"psi", "ptr", kCgPsi}});
    btf.Struct("cgroup_root", 256, {{"cgrp", "cgroup", 64}});
    resolver = btf.MakeResolver();
    percpu = std::make_unique<PerCpuLayout>(1, std::vector<uint64_t>{0});
    psi_system = NewGroup(100);
    root_obj = g.Alloc(256);
    root = root_obj + 64;
    InitCgroup(root, "", psi_system, 1);
    disabled = g.Alloc(16);
    symbols = std::make_unique<SymbolIndex>(
        std::vector<SymbolIndex::Entry>{{"psi_system", psi_system.value, 'D'},
                                        {"cgrp_dfl_root", root_obj.value, 'D'},
                                        {"psi_disabled", disabled.value, 'D'}});
  }
  KernelView view() { return {*resolver, *symbols, *percpu}; }

  Kva NewGroup(uint64_t seed) {
    Kva grp = g.Alloc(512);
    for (uint64_t s = 0; s < 7; ++s) {
      g.Put<uint64_t>(grp + kTotal + s * 8, seed * 1000 + s);  // total[PSI_AVGS][s]
      g.Put<uint64_t>(grp + kTotal + (7 + s) * 8, 0xdead);     // total[PSI_POLL][s]
      for (uint64_t k = 0; k < 3; ++k)
        g.Put<uint64_t>(grp + kAvg + (s * 3 + k) * 8, seed + s * 10 + k);
    }
    return grp;
  }
  void InitCgroup(Kva cg, const std::string& name, Kva psi, uint64_t serial) {
    Kva css = cg + kCgSelf;
    for (uint32_t l : {kCssSibling, kCssChildren}) {
      g.PutPtr(css + l, css + l);
      g.PutPtr(css + l + 8, css + l);
    }
    g.Put<uint64_t>(css + kCssSerial, serial);
    Kva kn = g.Alloc(32);
    Kva nm = g.Alloc(64);
    g.PutString(nm, name);
    g.PutPtr(kn + 8, nm);
    g.PutPtr(cg + kCgKn, kn);
    g.PutPtr(cg + kCgPsi, psi);
  }
  Kva AddChild(Kva parent, const std::string& name, uint64_t seed) {
    Kva cg = g.Alloc(128);
    InitCgroup(cg, name, NewGroup(seed), seed);
    Kva head = parent + kCgSelf + kCssChildren;
    Kva node = cg + kCgSelf + kCssSibling;
    Reader r = g.MakeReader();
    Kva last(r.ReadU64(head + 8).value());
    g.PutPtr(node, head);
    g.PutPtr(node + 8, last);
    g.PutPtr(last, node);
    g.PutPtr(head + 8, node);
    return cg;
  }

  FakeGuest g;
  TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  // Built in place: SymbolIndex keeps views into its own name storage.
  std::unique_ptr<SymbolIndex> symbols;
  std::unique_ptr<PerCpuLayout> percpu;
  Kva psi_system, root_obj, root, disabled;
};

TEST(Psi, SystemAndCgroupTreeWithPaths) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "system.slice", 200);
  w.AddChild(a, "ssh.service", 300);
  w.AddChild(w.root, "user.slice", 400);
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  ASSERT_TRUE(ctx.status.ok()) << ctx.status;
  kfreeze::v1::FailureDumpReport report;
  CapturePsi(r, ctx, {}, report);
  EXPECT_FALSE(report.has_cgroup_psi_unavailable()) << report.cgroup_psi_unavailable();
  ASSERT_EQ(report.cgroup_psi_size(), 4);
  const auto& sys = report.cgroup_psi(0);
  EXPECT_TRUE(sys.is_system());
  EXPECT_EQ(sys.path(), "/");
  ASSERT_EQ(sys.states_size(), 7);
  EXPECT_EQ(sys.states(4).resource(), "cpu");
  EXPECT_EQ(sys.states(4).kind(), "some");
  EXPECT_EQ(sys.states(4).total_ns(), 100004u);
  EXPECT_EQ(sys.states(4).avg10_raw(), 140u);
  EXPECT_EQ(sys.states(4).avg300_raw(), 142u);
  EXPECT_EQ(sys.total_ns(), 100006u);  // seed field: PSI_IRQ_FULL
  EXPECT_EQ(report.cgroup_psi(1).path(), "/system.slice");
  EXPECT_EQ(report.cgroup_psi(2).path(), "/system.slice/ssh.service");
  EXPECT_EQ(report.cgroup_psi(2).serial_nr(), 300u);
  EXPECT_EQ(report.cgroup_psi(2).states(0).total_ns(), 300000u);
  EXPECT_EQ(report.cgroup_psi(3).path(), "/user.slice");
}

TEST(Psi, RootPathSelectsSubtree) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "system.slice", 200);
  w.AddChild(a, "ssh.service", 300);
  w.AddChild(w.root, "user.slice", 400);
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  CapturePsi(r, ctx, {.root_path = "/system.slice/"}, report);
  ASSERT_EQ(report.cgroup_psi_size(), 3);
  EXPECT_EQ(report.cgroup_psi(1).path(), "/system.slice");
  EXPECT_EQ(report.cgroup_psi(2).path(), "/system.slice/ssh.service");
}

TEST(Psi, UnknownRootPathIsReported) {
  PsiWorld w;
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  CapturePsi(r, ctx, {.root_path = "/nope"}, report);
  EXPECT_EQ(report.cgroup_psi_size(), 1);  // psi_system still there
  EXPECT_EQ(report.cgroup_psi_unavailable(), "PSI partial: no cgroup /nope");
}

TEST(Psi, CyclicChildrenDoNotLoop) {
  PsiWorld w;
  Kva a = w.AddChild(w.root, "a", 200);
  w.AddChild(w.root, "b", 300);
  // a's sibling link points back at itself: the children walk cycles.
  w.g.PutPtr(a + kCgSelf + kCssSibling, a + kCgSelf + kCssSibling);
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  CapturePsi(r, ctx, {}, report);
  EXPECT_EQ(report.cgroup_psi_size(), 2);
  EXPECT_NE(report.cgroup_psi_unavailable().find("incomplete"), std::string::npos);
}

TEST(Psi, DisabledIsSaidNotZeroed) {
  PsiWorld w;
  w.g.Put<int32_t>(w.disabled, 1);
  Reader r = w.g.MakeReader();
  PsiContext ctx = BuildPsiContext(w.view());
  kfreeze::v1::FailureDumpReport report;
  CapturePsi(r, ctx, {}, report);
  EXPECT_EQ(report.cgroup_psi_size(), 0);
  EXPECT_EQ(report.cgroup_psi_unavailable(), "PSI disabled in the guest kernel (psi_disabled)");
}

}  // namespace
}  // namespace kfreeze::walkers::psi
