// Each map type's renderer on synthetic kernel objects, with its caps and failure modes.
#include <bpf/btf.h>

#include "tests/walkers/maps/map_test_util.h"

namespace kfreeze::walkers::maps {
namespace {

using testing::FakeBpfKernel;
using testing::FakeMapSpec;
using testing::MapSpec;

TEST(ArrayMap, EntriesAsHexWithoutBtfAndCapReported) {
  FakeBpfKernel k;
  // value_size 6: elem_size 8 apart in the kernel, 6 bytes shown.
  std::vector<uint8_t> values;
  for (int i = 0; i < 5; ++i) {
    for (int b = 0; b < 6; ++b) values.push_back(static_cast<uint8_t>(i * 16 + b));
  }
  k.AddArray(1, MapSpec(kMapArray, 4, 6, 5), values);
  MapCaps caps;
  caps.max_array_entries = 3;
  const auto report = DumpAll(k, caps);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.array_entries_size(), 3);
  EXPECT_EQ(m.array_entries(2).key(), 2u);
  EXPECT_EQ(m.array_entries(2).value().bytes().hex(), "20 21 22 23 24 25");
  EXPECT_EQ(m.error(), "ARRAY truncated at 3 keys (max_entries=5)");
}

TEST(PercpuArrayMap, OneValuePerPossibleCpu) {
  FakeBpfKernel k(64, /*cpus=*/4);
  std::vector<std::vector<uint8_t>> values;
  for (uint32_t key = 0; key < 3; ++key) {
    std::vector<uint8_t> v;
    for (uint32_t cpu = 0; cpu < 4; ++cpu) {
      auto b = Bytes<uint64_t>(key * 100 + cpu);
      v.insert(v.end(), b.begin(), b.end());
    }
    values.push_back(v);
  }
  k.AddPercpuArray(1, MapSpec(kMapPercpuArray, 4, 8, 3), values);
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.percpu_entries_size(), 3);
  ASSERT_EQ(m.percpu_entries(2).per_cpu_size(), 4);
  EXPECT_EQ(m.percpu_entries(2).per_cpu(3).value().bytes().hex(), "cb 00 00 00 00 00 00 00");
  EXPECT_FALSE(m.has_error()) << m.error();
}

TEST(HashMap, EveryEntryAcrossBucketsWithKeysAndValues) {
  FakeBpfKernel k;
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries;
  for (uint32_t i = 0; i < 10; ++i) entries.push_back({Bytes<uint32_t>(i), Bytes<uint64_t>(i * i)});
  k.AddHash(1, MapSpec(kMapHash, 4, 8, 16), 4, entries);
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.entries_size(), 10);
  std::map<uint32_t, uint64_t> seen;
  for (const auto& e : m.entries()) {
    ASSERT_EQ(e.key_hex().size(), 4u);
    ASSERT_EQ(e.value_hex().size(), 8u);
    uint32_t key;
    uint64_t value;
    std::memcpy(&key, e.key_hex().data(), 4);
    std::memcpy(&value, e.value_hex().data(), 8);
    seen[key] = value;
    EXPECT_FALSE(e.has_key());  // no BTF: raw bytes only
  }
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(seen[i], uint64_t{i} * i);
  EXPECT_FALSE(m.has_error()) << m.error();
}

TEST(HashMap, TypedKeyAndValueThroughProgramBtf) {
  FakeBpfKernel k;
  std::unique_ptr<struct btf, void (*)(struct btf*)> p(btf__new_empty(), btf__free);
  const int u32 = btf__add_int(p.get(), "u32", 4, 0);
  const int s64 = btf__add_int(p.get(), "s64", 8, BTF_INT_SIGNED);
  FakeMapSpec s = MapSpec(kMapHash, 4, 8, 8);
  s.btf = k.AddProgramBtf(p.get());
  s.btf_key_type_id = u32;
  s.btf_value_type_id = s64;
  k.AddHash(1, s, 8, {{Bytes<uint32_t>(7), Bytes<int64_t>(-9)}});
  const auto report = DumpAll(k);
  const auto& e = report.maps(0).entries(0);
  EXPECT_EQ(e.key().uint().value(), 7u);
  EXPECT_EQ(e.value().int_().value(), -9);
}

TEST(HashMap, EntryCapIsReported) {
  FakeBpfKernel k;
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries;
  for (uint32_t i = 0; i < 20; ++i) entries.push_back({Bytes<uint32_t>(i), Bytes<uint32_t>(i)});
  k.AddHash(1, MapSpec(kMapHash, 4, 4, 32), 8, entries);
  MapCaps caps;
  caps.max_hash_entries = 5;
  const auto report = DumpAll(k, caps);
  EXPECT_EQ(report.maps(0).entries_size(), 5);
  EXPECT_EQ(report.maps(0).error(), "hash map truncated at 5 entries");
}

TEST(HashMap, CyclicBucketChainIsDetectedAndTheWalkEnds) {
  FakeBpfKernel k;
  const Kva map = k.AddHash(
      1, MapSpec(kMapHash, 4, 4, 4), 1,
      {{Bytes<uint32_t>(1), Bytes<uint32_t>(10)}, {Bytes<uint32_t>(2), Bytes<uint32_t>(20)}});
  // Chain is bucket -> e2 -> e1 -> nulls; point e1 back at e2.
  Reader r = k.guest().MakeReader();
  const Kva buckets = Kva(r.ReadU64(map + FakeBpfKernel::kHtabBuckets).value());
  const uint64_t e2 = r.ReadU64(buckets).value();
  const uint64_t e1 = r.ReadU64(Kva(e2)).value();
  k.guest().Put<uint64_t>(Kva(e1), e2);
  k.AddArray(2, MapSpec(kMapArray, 4, 4, 1), Bytes<uint32_t>(5));
  const auto report = DumpAll(k);
  ASSERT_EQ(report.maps_size(), 2);
  EXPECT_EQ(report.maps(0).entries_size(), 2);
  EXPECT_NE(report.maps(0).error().find("chain loops back"), std::string::npos);
  EXPECT_EQ(report.maps(1).value().bytes().hex(), "05 00 00 00");
}

TEST(HashMap, UnreadableBucketArrayIsCountedNotZeros) {
  FakeBpfKernel k;
  const Kva map =
      k.AddHash(1, MapSpec(kMapHash, 4, 4, 4), 4, {{Bytes<uint32_t>(1), Bytes<uint32_t>(1)}});
  k.guest().PutPtr(map + FakeBpfKernel::kHtabBuckets, testing::FakeGuest::Unmapped());
  const auto report = DumpAll(k);
  EXPECT_EQ(report.maps(0).entries_size(), 0);
  EXPECT_NE(report.maps(0).error().find("read(s) failed"), std::string::npos);
}

TEST(PercpuHashMap, PerCpuValuesPerKey) {
  FakeBpfKernel k(64, 2);
  k.AddHash(1, MapSpec(kMapPercpuHash, 4, 4, 4), 2,
            {{Bytes<uint32_t>(3), Concat({Bytes<uint32_t>(30), Bytes<uint32_t>(31)})}});
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.percpu_hash_entries_size(), 1);
  EXPECT_EQ(m.percpu_hash_entries(0).key_hex(), Str(Bytes<uint32_t>(3)));
  ASSERT_EQ(m.percpu_hash_entries(0).per_cpu_size(), 2);
  EXPECT_EQ(m.percpu_hash_entries(0).per_cpu(1).value().bytes().hex(), "1f 00 00 00");
}

TEST(MapOfMaps, InnerMapIdsForArrayAndHashOfMaps) {
  FakeBpfKernel k;
  const Kva inner = k.AddArray(7, MapSpec(kMapArray, 4, 4, 1), Bytes<uint32_t>(0));
  k.AddFdArray(1, MapSpec(kMapArrayOfMaps, 4, 4, 4), {{2, inner}});
  k.AddHash(2, MapSpec(kMapHashOfMaps, 4, 4, 4), 2,
            {{Bytes<uint32_t>(9), Bytes<uint64_t>(inner.value)}});
  const auto report = DumpAll(k);
  const auto& aom = report.maps(0);
  EXPECT_EQ(aom.fd_array().populated(), 1u);
  EXPECT_EQ(aom.fd_array().scanned(), 4u);
  ASSERT_EQ(aom.fd_array().indices_size(), 1);
  EXPECT_EQ(aom.fd_array().indices(0), 2u);
  ASSERT_EQ(aom.entries_size(), 1);
  EXPECT_EQ(aom.entries(0).value().uint().value(), 7u);
  const auto& hom = report.maps(1);
  ASSERT_EQ(hom.entries_size(), 1);
  EXPECT_EQ(hom.entries(0).value_hex(), Str(Bytes<uint32_t>(7)));
}

TEST(ProgArrayMap, SlotsWithProgramIds) {
  FakeBpfKernel k;
  k.AddFdArray(1, MapSpec(kMapProgArray, 4, 4, 8), {{1, k.AddProg(42)}, {6, k.AddProg(43)}});
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  EXPECT_EQ(m.fd_array().populated(), 2u);
  ASSERT_EQ(m.entries_size(), 2);
  EXPECT_EQ(m.entries(1).key_hex(), Str(Bytes<uint32_t>(6)));
  EXPECT_EQ(m.entries(1).value().uint().value(), 43u);
  EXPECT_FALSE(m.has_error()) << m.error();
}

TEST(RingbufMap, PositionsAndPendingBytes) {
  FakeBpfKernel k;
  k.AddRingbuf(1, MapSpec(kMapRingbuf, 0, 0, 4096), 100, 164);
  const auto report = DumpAll(k);
  const auto& rb = report.maps(0).ringbuf();
  EXPECT_EQ(rb.capacity(), 4096u);
  EXPECT_EQ(rb.consumer_pos(), 100u);
  EXPECT_EQ(rb.producer_pos(), 164u);
  EXPECT_EQ(rb.pending_bytes(), 64u);
}

TEST(QueueAndStackMaps, ElementsInPopOrderAcrossTheWrap) {
  FakeBpfKernel k;
  // size = 5 slots; elements sit in slots 3, 4, 0 (tail=3, head=1).
  std::vector<uint8_t> slots;
  for (uint32_t v : {100u, 0u, 0u, 30u, 40u}) {
    auto b = Bytes<uint32_t>(v);
    slots.insert(slots.end(), b.begin(), b.end());
  }
  k.AddQueue(1, MapSpec(kMapQueue, 0, 4, 4), /*head=*/1, /*tail=*/3, slots);
  k.AddQueue(2, MapSpec(kMapStack, 0, 4, 4), 1, 3, slots);
  const auto report = DumpAll(k);
  const auto& q = report.maps(0).queue();
  ASSERT_EQ(q.elements_hex_size(), 3);
  EXPECT_EQ(q.elements_hex(0), Str(Bytes<uint32_t>(30)));
  EXPECT_EQ(q.elements_hex(2), Str(Bytes<uint32_t>(100)));
  const auto& s = report.maps(1).queue();
  ASSERT_EQ(s.elements_hex_size(), 3);
  EXPECT_EQ(s.elements_hex(0), Str(Bytes<uint32_t>(100)));
  EXPECT_EQ(s.elements_hex(2), Str(Bytes<uint32_t>(30)));
}

TEST(QueueMap, ImplausibleStateIsAnErrorNotGarbage) {
  FakeBpfKernel k;
  k.AddQueue(1, MapSpec(kMapQueue, 0, 4, 4), /*head=*/9, 0, std::vector<uint8_t>(20));
  const auto report = DumpAll(k);
  EXPECT_FALSE(report.maps(0).has_queue());
  EXPECT_NE(report.maps(0).error().find("implausible queue state"), std::string::npos);
}

TEST(BloomFilterMap, BitPopulation) {
  FakeBpfKernel k;
  k.AddBloom(1, MapSpec(kMapBloomFilter, 0, 4, 100), {0xff, 0x1, 0, 0x8000000000000000ull});
  const auto report = DumpAll(k);
  const auto& b = report.maps(0).bloom();
  EXPECT_EQ(b.bits_total(), 256u);
  EXPECT_EQ(b.bits_set(), 10u);
  EXPECT_EQ(b.nr_hash_funcs(), 3u);
}

TEST(StackTraceMap, PopulatedBucketsWithPcsAndCap) {
  FakeBpfKernel k;
  k.AddStackTrace(1, MapSpec(kMapStackTrace, 4, 8 * 127, 8),
                  {{2, {0xffffffff81000010ull, 0xffffffff81000020ull}}, {5, {1, 2, 3, 4}}});
  MapCaps caps;
  caps.max_stack_pcs = 3;
  const auto report = DumpAll(k, caps);
  const auto& st = report.maps(0).stack_trace();
  EXPECT_EQ(st.n_buckets(), 8u);
  ASSERT_EQ(st.entries_size(), 2);
  EXPECT_EQ(st.entries(0).bucket_id(), 2u);
  EXPECT_EQ(st.entries(0).pcs(1), 0xffffffff81000020ull);
  EXPECT_EQ(st.entries(1).nr(), 4u);
  EXPECT_EQ(st.entries(1).pcs_size(), 3);
  EXPECT_TRUE(st.truncated());
}

TEST(LpmTrieMap, LeavesWithPrefixDataAndValue) {
  FakeBpfKernel k;
  k.AddLpm(1, MapSpec(kMapLpmTrie, 8, 4, 16),
           {{24, {10, 0, 0, 0}, Bytes<uint32_t>(1)}, {16, {192, 168, 0, 0}, Bytes<uint32_t>(2)}});
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.lpm_entries_size(), 2);
  EXPECT_EQ(m.lpm_entries(0).prefixlen(), 24u);
  EXPECT_EQ(m.lpm_entries(0).data_hex(), Str({10, 0, 0, 0}));
  EXPECT_EQ(m.lpm_entries(1).value_hex(), Str(Bytes<uint32_t>(2)));
  EXPECT_FALSE(m.has_error()) << m.error();
}

TEST(LocalStorageMap, EntriesKeyedByOwner) {
  FakeBpfKernel k;
  k.AddLocalStorage(
      1, MapSpec(kMapTaskStorage, 4, 8, 0),
      {{0xffff888000123400ull, Bytes<uint64_t>(77)}, {0xffff888000567800ull, Bytes<uint64_t>(88)}});
  const auto report = DumpAll(k);
  const auto& m = report.maps(0);
  ASSERT_EQ(m.entries_size(), 2);
  std::set<uint64_t> owners;
  for (const auto& e : m.entries()) owners.insert(e.key().ptr().value());
  EXPECT_TRUE(owners.count(0xffff888000123400ull));
  EXPECT_TRUE(owners.count(0xffff888000567800ull));
}

TEST(UnwalkedMapTypes, SayWhyInsteadOfOmitting) {
  FakeBpfKernel k;
  k.AddMapOfType(1, MapSpec(kMapDevmap, 4, 4, 4));
  k.AddMapOfType(2, MapSpec(99, 4, 4, 4));
  const auto report = DumpAll(k);
  EXPECT_NE(report.maps(0).error().find("not walked"), std::string::npos);
  EXPECT_EQ(report.maps(1).error(), "unsupported map type 99 (unknown)");
  EXPECT_FALSE(report.maps(1).has_map_type_name());
}

TEST(ArrayMap, HalfMappedValueIsTruncatedWithTheBytesRead) {
  FakeBpfKernel k(64, 4, 16 << 20);
  // A one-entry array whose value runs off the end of guest RAM.
  const Kva map = k.AddArray(1, MapSpec(kMapArray, 4, 8, 1), Bytes<uint64_t>(0));
  (void)map;
  FakeMapSpec big = MapSpec(kMapArray, 4, 4096, 1);
  // Place a map header near the end of RAM so its value crosses out of it.
  const uint64_t ram = k.guest().ram_bytes();
  const Kva at = Kva(testing::kFakeDirectMapBase + ram - FakeBpfKernel::kArrayValue - 100);
  k.guest().Put<uint32_t>(at + 24, kMapArray);
  k.guest().Put<uint32_t>(at + 28, 4);
  k.guest().Put<uint32_t>(at + 32, 4096);
  k.guest().Put<uint32_t>(at + 36, 1);
  k.Register(2, at);
  const auto report = DumpAll(k);
  const auto& v = report.maps(1).value();
  ASSERT_TRUE(v.has_truncated()) << v.DebugString();
  EXPECT_EQ(v.truncated().needed(), 4096u);
  EXPECT_EQ(v.truncated().had(), 100u);
  EXPECT_NE(report.maps(1).error().find("read(s) failed"), std::string::npos);
}

}  // namespace
}  // namespace kfreeze::walkers::maps
