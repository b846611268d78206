// The map walk as a whole: enumeration through map_idr, headers, program BTF, deadline.
#include <bpf/btf.h>

#include <chrono>

#include "core/base/reasons.h"
#include "core/walkers/maps/map_walker.h"
#include "tests/walkers/maps/map_test_util.h"

namespace kfreeze::walkers::maps {
namespace {

using testing::FakeBpfKernel;
using testing::FakeMapSpec;
using testing::MapSpec;

TEST(MapWalker, FindsEveryIdAcrossXarrayLevelsIncludingIdsAbove65536) {
  FakeBpfKernel k;
  const std::vector<uint32_t> ids = {1, 2, 63, 64, 4097, 70000, 300000};
  for (uint32_t id : ids) {
    k.AddArray(id, MapSpec(kMapArray, 4, 4, 2, "m" + std::to_string(id)), Bytes<uint64_t>(id));
  }
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), static_cast<int>(ids.size()));
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& m = report.maps(static_cast<int>(i));
    EXPECT_EQ(m.map_id(), ids[i]);
    EXPECT_EQ(m.name(), "m" + std::to_string(ids[i]));
    EXPECT_EQ(m.map_type(), kMapArray);
    EXPECT_EQ(m.map_type_name(), "array");
    EXPECT_EQ(m.key_size(), 4u);
    EXPECT_EQ(m.value_size(), 4u);
    EXPECT_EQ(m.max_entries(), 2u);
    EXPECT_NE(m.map_kva(), 0u);
    EXPECT_FALSE(m.has_error()) << m.error();
  }
  EXPECT_FALSE(report.has_maps_unavailable());
}

TEST(MapWalker, ChunkSizeIsTakenFromBtfNotAssumed) {
  FakeBpfKernel k(/*chunk_size=*/16);
  for (uint32_t id : {3u, 17u, 300u, 5000u}) {
    k.AddArray(id, MapSpec(kMapArray, 4, 4, 1, "x"), Bytes<uint32_t>(id));
  }
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 4);
  EXPECT_EQ(report.maps(3).map_id(), 5000u);
  EXPECT_EQ(report.maps(3).value().bytes().hex(), "88 13 00 00");
}

TEST(MapWalker, SingleMapStoredInXaHead) {
  FakeBpfKernel k;
  k.AddArray(0, MapSpec(kMapArray, 4, 4, 1, "only"), Bytes<uint32_t>(7));
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 1);
  EXPECT_EQ(report.maps(0).name(), "only");
}

TEST(MapWalker, UnreadableMapIsReportedAndTheDumpGoesOn) {
  FakeBpfKernel k;
  k.AddArray(1, MapSpec(kMapArray, 4, 4, 1, "good1"), Bytes<uint32_t>(1));
  k.Register(2, testing::FakeGuest::Unmapped());
  k.AddArray(3, MapSpec(kMapArray, 4, 4, 1, "good3"), Bytes<uint32_t>(3));
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 3);
  EXPECT_EQ(report.maps(1).map_id(), 2u);
  EXPECT_NE(report.maps(1).error().find("struct bpf_map unreadable"), std::string::npos);
  EXPECT_EQ(report.maps(2).name(), "good3");
}

TEST(MapWalker, DeadlineCountsSkippedMaps) {
  FakeBpfKernel k;
  for (uint32_t id = 1; id <= 5; ++id) {
    k.AddArray(id, MapSpec(kMapArray, 4, 4, 1, "m"), Bytes<uint32_t>(id));
  }
  k.BuildIdr();
  MapWalker walker({.resolver = &k.resolver(),
                    .vmlinux = k.vmlinux(),
                    .percpu = &k.percpu(),
                    .map_idr = k.map_idr(),
                    .caps = {}});
  kfreeze::v1::FailureDumpReport report;
  // The deadline passes once two maps are in the report: the budget carries it to the walker.
  ReadBudget budget({}, [&report] { return report.maps_size() >= 2; });
  Reader reader = k.guest().MakeReader();
  reader.SetBudget(&budget);
  ASSERT_TRUE(walker.Dump(reader, report).ok());
  EXPECT_EQ(report.maps_size(), 2);
  EXPECT_EQ(report.maps_truncated(), 3u);
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kDeadline);
  EXPECT_EQ(report.sdt_alloc_unavailable(), kReasonSdtAllocDeadlineExceeded);
}

TEST(MapWalker, MaxMapsCapIsReported) {
  FakeBpfKernel k;
  for (uint32_t id = 1; id <= 5; ++id) {
    k.AddArray(id, MapSpec(kMapArray, 4, 4, 1, "m"), Bytes<uint32_t>(id));
  }
  MapCaps caps;
  caps.max_maps = 3;
  const auto report = DumpAll(k, caps);
  EXPECT_EQ(report.maps_size(), 3);
  EXPECT_NE(report.maps_unavailable().find("stopped at 3 maps"), std::string::npos);
}

// Program BTF: struct stats { u64 hits; char tag[8]; enum mode m; } and a .bss Datasec.
struct ProgramBtf {
  ProgramBtf() : btf(btf__new_empty(), btf__free) {
    struct btf* b = btf.get();
    u64 = btf__add_int(b, "unsigned long long", 8, 0);
    u32 = btf__add_int(b, "unsigned int", 4, 0);
    chr = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
    tag = btf__add_array(b, u32, chr, 8);
    mode = btf__add_enum(b, "mode", 4);
    btf__add_enum_value(b, "MODE_IDLE", 0);
    btf__add_enum_value(b, "MODE_BUSY", 1);
    stats = btf__add_struct(b, "stats", 20);
    btf__add_field(b, "hits", u64, 0, 0);
    btf__add_field(b, "tag", tag, 64, 0);
    btf__add_field(b, "m", mode, 128, 0);
    const int counter = btf__add_var(b, "counter", BTF_VAR_GLOBAL_ALLOCATED, u64);
    const int st = btf__add_var(b, "st", BTF_VAR_GLOBAL_ALLOCATED, stats);
    bss = btf__add_datasec(b, ".bss", 32);
    btf__add_datasec_var_info(b, counter, 0, 8);
    btf__add_datasec_var_info(b, st, 8, 20);
  }
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf;
  int u64, u32, chr, tag, mode, stats, bss;
};

std::vector<uint8_t> StatsBytes(uint64_t hits, const char* tag, uint32_t mode) {
  std::vector<uint8_t> out = Bytes<uint64_t>(hits);
  std::vector<uint8_t> t(8, 0);
  std::memcpy(t.data(), tag, std::strlen(tag));
  out.insert(out.end(), t.begin(), t.end());
  auto m = Bytes<uint32_t>(mode);
  out.insert(out.end(), m.begin(), m.end());
  return out;
}

TEST(MapWalker, GlobalSectionRendersAsDatasecWithMemberNames) {
  FakeBpfKernel k;
  ProgramBtf p;
  FakeMapSpec s = MapSpec(kMapArray, 4, 32, 1, "obj.bss");
  s.btf = k.AddProgramBtf(p.btf.get());
  s.btf_value_type_id = p.bss;
  std::vector<uint8_t> value = Concat({Bytes<uint64_t>(849), StatsBytes(5, "busy", 1)});
  value.resize(32, 0);
  k.AddArray(1, s, value);
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 1);
  const auto& v = report.maps(0).value();
  ASSERT_TRUE(v.has_struct_()) << v.DebugString();
  EXPECT_EQ(v.struct_().type_name(), ".bss");
  EXPECT_EQ(v.struct_().members(0).name(), "counter");
  EXPECT_EQ(v.struct_().members(0).value().uint().value(), 849u);
  const auto& st = v.struct_().members(1).value().struct_();
  EXPECT_EQ(st.type_name(), "stats");
  EXPECT_EQ(st.members(1).value().array().text(), "busy");
  EXPECT_EQ(st.members(2).value().enum_().variant(), "MODE_BUSY");
  EXPECT_FALSE(report.maps(0).has_error()) << report.maps(0).error();
}

TEST(MapWalker, MapsOfOneObjectShareOneBtfParse) {
  FakeBpfKernel k;
  ProgramBtf p;
  const Kva btf = k.AddProgramBtf(p.btf.get());
  for (uint32_t id = 1; id <= 3; ++id) {
    FakeMapSpec s = MapSpec(kMapArray, 4, 20, 2, "a");
    s.btf = btf;
    s.btf_key_type_id = p.u32;
    s.btf_value_type_id = p.stats;
    k.AddArray(id, s, Concat({StatsBytes(id, "x", 0), StatsBytes(id * 10, "y", 1)}));
  }
  k.BuildIdr();
  MapWalker walker({.resolver = &k.resolver(),
                    .vmlinux = k.vmlinux(),
                    .percpu = &k.percpu(),
                    .map_idr = k.map_idr(),
                    .caps = {}});
  Reader reader = k.guest().MakeReader();
  for (int dump = 0; dump < 2; ++dump) {
    kfreeze::v1::FailureDumpReport report;
    ASSERT_TRUE(walker.Dump(reader, report).ok());
    ASSERT_EQ(report.maps_size(), 3);
    EXPECT_EQ(report.maps(2).array_entries(1).value().struct_().members(0).value().uint().value(),
              30u);
  }
  EXPECT_EQ(walker.btf_cache().parses(), 1u);  // one parse for three maps and two dumps
  EXPECT_EQ(walker.btf_cache().hits(), 5u);
}

TEST(MapWalker, CorruptProgramBtfRendersHexWithAnErrorAndTheDumpGoesOn) {
  FakeBpfKernel k;
  std::vector<uint8_t> garbage(64, 0xa5);
  garbage[0] = 0x9f;  // right magic, nonsense header
  garbage[1] = 0xeb;
  FakeMapSpec s = MapSpec(kMapArray, 4, 4, 2, "broken");
  s.btf = k.AddProgramBtfBytes(garbage);
  s.btf_value_type_id = 3;
  k.AddArray(1, s, Concat({Bytes<uint32_t>(0x11223344), Bytes<uint32_t>(5)}));
  k.AddArray(2, MapSpec(kMapArray, 4, 4, 1, "fine"), Bytes<uint32_t>(9));
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 2);
  const auto& broken = report.maps(0);
  EXPECT_NE(broken.error().find("program BTF unusable"), std::string::npos) << broken.error();
  EXPECT_EQ(broken.array_entries(0).value().bytes().hex(), "44 33 22 11");
  EXPECT_EQ(report.maps(1).value().bytes().hex(), "09 00 00 00");
  EXPECT_FALSE(report.maps(1).has_error());
}

}  // namespace
}  // namespace kfreeze::walkers::maps
