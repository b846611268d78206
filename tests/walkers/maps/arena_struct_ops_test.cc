// ARENA snapshots, __arena pointer chasing from other maps, and STRUCT_OPS values.
#include <bpf/btf.h>

#include "tests/walkers/maps/map_test_util.h"

namespace kfreeze::walkers::maps {
namespace {

using testing::FakeBpfKernel;
using testing::FakeMapSpec;
using testing::MapSpec;

constexpr uint64_t kUserVmStart = 0x100000000000ull;

std::vector<uint8_t> Page(std::initializer_list<std::pair<uint32_t, uint64_t>> words) {
  std::vector<uint8_t> page(4096, 0);
  for (auto [off, v] : words) std::memcpy(page.data() + off, &v, 8);
  return page;
}

TEST(ArenaMap, PagesCapturedWithBounds) {
  FakeBpfKernel k;
  k.AddArena(1, MapSpec(kMapArena, 0, 0, 4), kUserVmStart, {{1, Page({{8, 0xfeedull}})}});
  const auto report = DumpAll(k);
  const auto& a = report.maps(0).arena();
  EXPECT_EQ(a.user_vm_start(), kUserVmStart);
  EXPECT_EQ(a.declared_pages(), 4u);
  EXPECT_NE(a.kern_vm_start(), 0u);
  ASSERT_EQ(a.pages_size(), 4);  // the fake maps every page
  EXPECT_EQ(a.pages(1).user_addr(), kUserVmStart + 4096);
  uint64_t word;
  std::memcpy(&word, a.pages(1).bytes().data() + 8, 8);
  EXPECT_EQ(word, 0xfeedull);
  EXPECT_FALSE(a.truncated());
  EXPECT_FALSE(report.maps(0).has_error()) << report.maps(0).error();
}

TEST(ArenaMap, PageCapsAreReported) {
  FakeBpfKernel k;
  k.AddArena(1, MapSpec(kMapArena, 0, 0, 64), kUserVmStart, {});
  MapCaps caps;
  caps.max_arena_pages = 4;
  caps.max_arena_stride_probes = 3;
  const auto report = DumpAll(k, caps);
  const auto& a = report.maps(0).arena();
  EXPECT_TRUE(a.truncated());
  EXPECT_EQ(a.pages_size(), 7);  // 4 in order + 3 strided probes over the other 60
  EXPECT_EQ(a.pages(4).user_addr(), kUserVmStart + 4 * 4096);
  EXPECT_EQ(a.pages(5).user_addr(), kUserVmStart + 24 * 4096);
  EXPECT_NE(report.maps(0).error().find("arena pages probed"), std::string::npos);
}

TEST(ArenaMap, ArenaPointersInOtherMapsAreChasedIntoTheSnapshot) {
  FakeBpfKernel k;
  // struct node { u64 val; struct node *next; }; .bss { struct node *head; void *raw; }
  std::unique_ptr<struct btf, void (*)(struct btf*)> p(btf__new_empty(), btf__free);
  struct btf* b = p.get();
  const int u64 = btf__add_int(b, "u64", 8, 0);
  const int node = btf__add_struct(b, "node", 16);
  btf__add_field(b, "val", u64, 0, 0);
  btf__add_field(b, "next", node + 1, 64, 0);
  const int node_ptr = btf__add_ptr(b, node);
  const int void_ptr = btf__add_ptr(b, 0);
  const int head = btf__add_var(b, "head", BTF_VAR_GLOBAL_ALLOCATED, node_ptr);
  const int raw = btf__add_var(b, "kernel_ptr", BTF_VAR_GLOBAL_ALLOCATED, void_ptr);
  const int bss = btf__add_datasec(b, ".bss", 16);
  btf__add_datasec_var_info(b, head, 0, 8);
  btf__add_datasec_var_info(b, raw, 8, 8);
  ASSERT_EQ(node_ptr, node + 1);

  const uint64_t n1 = kUserVmStart + 4096 + 16, n2 = kUserVmStart + 2 * 4096;
  FakeMapSpec s = MapSpec(kMapArray, 4, 16, 1);
  s.btf = k.AddProgramBtf(b);
  s.btf_value_type_id = bss;
  std::vector<uint8_t> value(16);
  std::memcpy(value.data(), &n1, 8);
  const uint64_t kernel_ptr = 0xffff888000abc000ull;
  std::memcpy(value.data() + 8, &kernel_ptr, 8);
  k.AddArray(1, s, value);  // a lower id than the arena: the pre-pass captures the arena first
  k.AddArena(5, MapSpec(kMapArena, 0, 0, 4), kUserVmStart,
             {{1, Page({{16, 111}, {24, n2}})}, {2, Page({{0, 222}, {8, 0}})}});
  const auto report = DumpAll(k);
  const auto& vars = report.maps(0).value().struct_().members();
  ASSERT_EQ(vars.size(), 2);
  const auto& p1 = vars[0].value().ptr();
  EXPECT_EQ(p1.value(), n1);
  ASSERT_TRUE(p1.has_deref()) << p1.deref_skipped_reason();
  EXPECT_EQ(p1.deref().struct_().members(0).value().uint().value(), 111u);
  const auto& p2 = p1.deref().struct_().members(1).value().ptr();
  EXPECT_EQ(p2.deref().struct_().members(0).value().uint().value(), 222u);
  EXPECT_EQ(vars[1].value().ptr().deref_skipped_reason(), "not an arena address: not dereferenced");
}

TEST(StructOpsMap, ValueRenderedWithTheVmlinuxWrapperType) {
  FakeBpfKernel k;
  std::vector<uint8_t> kvalue(64 + 24, 0);
  kvalue[0] = 1;  // common.refcnt
  std::memcpy(kvalue.data() + 64, "my_sched", 9);
  const uint32_t timeout = 5000;
  std::memcpy(kvalue.data() + 80, &timeout, 4);
  k.AddStructOps(1, MapSpec(kMapStructOps, 4, 64 + 24, 1), kvalue);
  const auto report = DumpAll(k);
  const auto& v = report.maps(0).value();
  ASSERT_TRUE(v.has_struct_()) << v.DebugString() << report.maps(0).error();
  EXPECT_EQ(v.struct_().type_name(), "bpf_struct_ops_test_ops");
  const auto& data = v.struct_().members(1).value().struct_();
  EXPECT_EQ(data.members(0).value().array().text(), "my_sched");
  EXPECT_EQ(data.members(1).value().uint().value(), 5000u);
}

}  // namespace
}  // namespace kfreeze::walkers::maps
