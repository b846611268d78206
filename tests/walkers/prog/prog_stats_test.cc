#include "core/walkers/prog/prog_stats.h"

#include <memory>
#include <string>

#include "core/base/reasons.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::walkers::prog {
namespace {

using kfreeze::testing::FakeGuest;
using kfreeze::testing::TestBtf;

constexpr uint32_t kProgType = 4, kProgStats = 16, kProgAux = 32;
constexpr uint32_t kAuxCnt = 0, kAuxId = 8, kAuxUsedMaps = 16, kAuxInsns = 24, kAuxName = 40;
constexpr uint32_t kMapType = 0, kMapName = 32;
constexpr uint32_t kSlots = 8;  // xa_node.slots offset
constexpr uint64_t kStructOps = 27, kTracing = 26, kMapStructOps = 26;

struct ProgWorld {
  ProgWorld() {
    btf.Enum("bpf_prog_type",
             {{"BPF_PROG_TYPE_TRACING", kTracing}, {"BPF_PROG_TYPE_STRUCT_OPS", kStructOps}});
    btf.Enum("bpf_map_type",
             {{"BPF_MAP_TYPE_ARRAY", 2}, {"BPF_MAP_TYPE_STRUCT_OPS", kMapStructOps}});
    btf.Struct("xarray", 16, {{"xa_lock", "u32", 0}, {"xa_head", "ptr", 8}});
    btf.Struct("idr", 24, {{"idr_rt", "xarray", 0}, {"idr_base", "u32", 16}});
    btf.Struct("xa_node", kSlots + 64 * 8, {{"shift", "u8", 0}, {"slots", "ptr[64]", kSlots}});
    btf.Struct("bpf_prog_stats", 32,
               {{"cnt", "u64", 0}, {"nsecs", "u64", 8}, {"misses", "u64", 16}});
    btf.Struct(
        "bpf_prog", 64,
        {{"type", "u32", kProgType}, {"stats", "ptr", kProgStats}, {"aux", "ptr", kProgAux}});
    btf.Struct("bpf_prog_aux", 64,
               {{"used_map_cnt", "u32", kAuxCnt},
                {"id", "u32", kAuxId},
                {"used_maps", "ptr", kAuxUsedMaps},
                {"verified_insns", "u32", kAuxInsns},
                {"name", "char[16]", kAuxName}});
    btf.Struct("bpf_map", 64, {{"map_type", "u32", kMapType}, {"name", "char[16]", kMapName}});
    resolver = btf.MakeResolver();
    tmpl = g.Alloc(4096, 4096);
    std::vector<uint64_t> offsets;
    for (int cpu = 0; cpu < 2; ++cpu) {
      units.push_back(g.Alloc(4096, 4096));
      offsets.push_back(units.back() - tmpl);
    }
    percpu = std::make_unique<PerCpuLayout>(2, offsets);
    idr = g.Alloc(24);
    node = g.Alloc(kSlots + 64 * 8, 64);
    g.Put<uint8_t>(node, 0);
    g.Put<uint64_t>(idr + 8, node.value | 2);  // xa_mk_node
    g.Put<uint32_t>(idr + 16, 1);              // idr_base: ids start at 1
    symbols = std::make_unique<SymbolIndex>(
        std::vector<SymbolIndex::Entry>{{"prog_idr", idr.value, 'd'}});
  }
  KernelView view() { return {*resolver, *symbols, *percpu}; }

  Kva Map(const std::string& name, uint32_t type = 2) {
    Kva m = g.Alloc(64);
    g.Put<uint32_t>(m + kMapType, type);
    g.PutString(m + kMapName, name);
    return m;
  }
  Kva Prog(uint32_t slot, uint64_t type, const std::string& name, std::vector<Kva> maps,
           uint64_t cnt_per_cpu) {
    Kva p = g.Alloc(64), aux = g.Alloc(64), used = g.Alloc(8 * 8);
    g.Put<uint32_t>(p + kProgType, static_cast<uint32_t>(type));
    g.PutPtr(p + kProgAux, aux);
    g.Put<uint32_t>(aux + kAuxId, slot + 1);
    g.Put<uint32_t>(aux + kAuxInsns, 42);
    g.PutString(aux + kAuxName, name);
    for (size_t i = 0; i < maps.size(); ++i) g.PutPtr(used + i * 8, maps[i]);
    g.PutPtr(aux + kAuxUsedMaps, used);
    g.Put<uint32_t>(aux + kAuxCnt, static_cast<uint32_t>(maps.size()));
    Kva stats_tmpl = tmpl + 64 + slot * 32;
    g.PutPtr(p + kProgStats, stats_tmpl);
    for (Kva u : units) {
      Kva s = u + 64 + slot * 32;
      g.Put<uint64_t>(s, cnt_per_cpu);
      g.Put<uint64_t>(s + 8, cnt_per_cpu * 100);
      g.Put<uint64_t>(s + 16, 1);
    }
    g.PutPtr(node + kSlots + slot * 8, p);
    return p;
  }

  FakeGuest g;
  TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  // Built in place: SymbolIndex keeps views into its own name storage.
  std::unique_ptr<SymbolIndex> symbols;
  std::unique_ptr<PerCpuLayout> percpu;
  Kva tmpl, idr, node;
  std::vector<Kva> units;
};

kfreeze::v1::FailureDumpReport Capture(ProgWorld& w) {
  Reader r = w.g.MakeReader();
  ProgContext ctx = BuildProgContext(w.view());
  EXPECT_TRUE(ctx.status.ok()) << ctx.status;
  kfreeze::v1::FailureDumpReport report;
  CaptureProgStats(r, ctx, report);
  return report;
}

TEST(ProgStats, StructOpsOnlySummedOverCpusAndActiveObject) {
  ProgWorld w;
  Kva bss = w.Map("scx_runn.bss"), data = w.Map("scx_runn.data"), ops = w.Map("lab_running", 26);
  w.Prog(0, kTracing, "probe", {w.Map("other.bss")}, 5);
  w.Prog(3, kStructOps, "lab_enqueue", {bss, data}, 10);
  w.Prog(9, kStructOps, "lab_dispatch", {bss}, 7);
  w.Prog(10, kStructOps, "lab_init", {ops}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_prog_runtime_stats_unavailable()) << r.prog_runtime_stats_unavailable();
  ASSERT_EQ(r.prog_runtime_stats_size(), 3);
  EXPECT_EQ(r.prog_runtime_stats(0).name(), "lab_enqueue");
  EXPECT_EQ(r.prog_runtime_stats(0).cnt(), 20u);
  EXPECT_EQ(r.prog_runtime_stats(0).nsecs(), 2000u);
  EXPECT_EQ(r.prog_runtime_stats(0).misses(), 2u);
  EXPECT_EQ(r.prog_runtime_stats(0).prog_id(), 4u);
  EXPECT_EQ(r.prog_runtime_stats(0).verified_insns(), 42u);
  EXPECT_EQ(r.active_obj_name(), "scx_runn");
  EXPECT_EQ(std::vector<uint64_t>(r.active_map_kvas().begin(), r.active_map_kvas().end()),
            (std::vector<uint64_t>{bss.value, data.value}));
}

TEST(ProgStats, FallsBackToStructOpsMapName) {
  ProgWorld w;
  Kva ops = w.Map("minimal", 26);
  w.Prog(1, kStructOps, "ops_enqueue", {ops}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.active_obj_name(), "minimal");
  ASSERT_EQ(r.active_map_kvas_size(), 1);
  EXPECT_EQ(r.active_map_kvas(0), ops.value);
}

TEST(ProgStats, NoStructOpsLoaded) {
  ProgWorld w;
  w.Prog(0, kTracing, "probe", {}, 5);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.prog_runtime_stats_unavailable(), kReasonNoStructOpsLoaded);
  EXPECT_FALSE(r.has_active_obj_name());
}

TEST(ProgStats, UnreadableAuxIsReportedOthersKept) {
  ProgWorld w;
  Kva bad = w.Prog(2, kStructOps, "broken", {}, 1);
  w.g.PutPtr(bad + kProgAux, FakeGuest::Unmapped());
  w.Prog(5, kStructOps, "fine", {}, 1);
  kfreeze::v1::FailureDumpReport r = Capture(w);
  ASSERT_EQ(r.prog_runtime_stats_size(), 1);
  EXPECT_EQ(r.prog_runtime_stats(0).name(), "fine");
  EXPECT_NE(r.prog_runtime_stats_unavailable().find("prog stats partial"), std::string::npos);
}

}  // namespace
}  // namespace kfreeze::walkers::prog
