// Corrupt map headers and contents: each map renders an error (never zeros, never a crash or a
// runaway read) and the walk goes on to the next map.
#include "core/walkers/maps/map_offsets.h"
#include "core/walkers/maps/program_btf.h"
#include "tests/walkers/maps/map_test_util.h"

namespace kfreeze::walkers::maps {
namespace {

using testing::FakeBpfKernel;
using testing::MapSpec;

TEST(HostileMaps, ImplausibleHeadersAreErrorsAndTheWalkGoesOn) {
  FakeBpfKernel k;
  // ARRAY claiming 4G entries of 4 GiB - 1 bytes: elem_size mismatch is caught before any read.
  const Kva arr = k.AddArray(1, MapSpec(kMapArray, 4, 8, 2, "bad"), {});
  k.guest().Put<uint32_t>(arr + 32, 0xffffffffu);  // value_size
  k.guest().Put<uint32_t>(arr + 36, 0xffffffffu);  // max_entries
  // HASH with n_buckets not a power of two, and one with 2^31 buckets behind a bad pointer.
  const Kva h1 = k.AddHash(2, MapSpec(kMapHash, 4, 4, 4, "bad"), 4, {});
  k.guest().Put<uint32_t>(h1 + 152, 12345);
  const Kva h2 = k.AddHash(3, MapSpec(kMapHash, 4, 4, 4, "bad"), 4, {});
  k.guest().Put<uint32_t>(h2 + 152, 1u << 31);
  k.guest().PutPtr(h2 + FakeBpfKernel::kHtabBuckets, testing::FakeGuest::Unmapped());
  // PERCPU_ARRAY whose per-CPU pointers are garbage.
  const Kva pa = k.AddPercpuArray(4, MapSpec(kMapPercpuArray, 4, 8, 2, "bad"), {});
  k.guest().Put<uint64_t>(pa + FakeBpfKernel::kArrayValue, 0xdeadbeefdeadbeefull);
  // QUEUE whose size does not match max_entries.
  k.AddQueue(5, MapSpec(kMapQueue, 0, 4, 4, "bad"), 0, 0, {});
  k.guest().Put<uint32_t>(k.AddQueue(6, MapSpec(kMapQueue, 0, 4, 4, "bad"), 1, 0, {}) + 140, 99);
  // BLOOM with a mask that is not 2^n - 1.
  k.guest().Put<uint32_t>(k.AddBloom(7, MapSpec(kMapBloomFilter, 0, 4, 8, "bad"), {1}) + 128, 1000);
  // LPM whose data_size disagrees with key_size.
  k.guest().Put<uint64_t>(k.AddLpm(8, MapSpec(kMapLpmTrie, 8, 4, 4, "bad"), {}) + 152, 1u << 20);
  // STACK_TRACE claiming 2^31 buckets.
  k.guest().Put<uint32_t>(k.AddStackTrace(9, MapSpec(kMapStackTrace, 4, 64, 4, "bad"), {}) + 144,
                          1u << 31);
  // Local storage with bucket_log 40.
  k.guest().Put<uint32_t>(k.AddLocalStorage(10, MapSpec(kMapTaskStorage, 4, 8, 0, "bad"), {}) + 136,
                          40);
  k.AddArray(11, MapSpec(kMapArray, 4, 4, 1, "bad"), Bytes<uint32_t>(0x600d));
  MapCaps caps;
  caps.max_stack_buckets = 1024;
  const auto report = DumpAll(k, caps);
  ASSERT_EQ(report.maps_size(), 11);
  for (int i = 0; i < 10; ++i) {
    if (i == 4) continue;  // map 5: an empty, consistent queue
    EXPECT_TRUE(report.maps(i).has_error())
        << "map " << report.maps(i).map_id() << ": " << report.maps(i).DebugString();
  }
  EXPECT_NE(report.maps(0).error().find("elem_size"), std::string::npos);
  EXPECT_NE(report.maps(1).error().find("implausible n_buckets 12345"), std::string::npos);
  EXPECT_NE(report.maps(2).error().find("scanned 1048576 of 2147483648 buckets"),
            std::string::npos);
  EXPECT_NE(report.maps(3).error().find("read(s) failed"), std::string::npos);
  EXPECT_EQ(report.maps(3).percpu_entries(0).per_cpu(0).value().truncated().had(), 0u);
  EXPECT_EQ(report.maps(4).queue().elements_size(), 0);
  EXPECT_NE(report.maps(5).error().find("implausible queue state"), std::string::npos);
  EXPECT_NE(report.maps(6).error().find("implausible bitset_mask"), std::string::npos);
  EXPECT_NE(report.maps(7).error().find("implausible lpm data_size"), std::string::npos);
  EXPECT_TRUE(report.maps(8).stack_trace().truncated());
  EXPECT_NE(report.maps(9).error().find("implausible bucket_log 40"), std::string::npos);
  EXPECT_EQ(report.maps(10).value().bytes().hex(), "0d 60 00 00");
}

TEST(HostileMaps, HashChainIntoUnmappedMemoryKeepsWhatWasRead) {
  FakeBpfKernel k;
  const Kva map = k.AddHash(
      1, MapSpec(kMapHash, 4, 4, 4, "bad"), 1,
      {{Bytes<uint32_t>(1), Bytes<uint32_t>(10)}, {Bytes<uint32_t>(2), Bytes<uint32_t>(20)}});
  Reader r = k.guest().MakeReader();
  const Kva buckets = Kva(r.ReadU64(map + FakeBpfKernel::kHtabBuckets).value());
  const uint64_t first = r.ReadU64(buckets).value();
  k.guest().PutPtr(Kva(first), testing::FakeGuest::Unmapped());  // next of the first element
  const auto report = DumpAll(k);
  EXPECT_EQ(report.maps(0).entries_size(), 1);
  EXPECT_NE(report.maps(0).error().find("read(s) failed"), std::string::npos);
}

}  // namespace
}  // namespace kfreeze::walkers::maps

namespace kfreeze::walkers::maps {
namespace {

// A guest that loads a new BTF object for every dump must not grow the daemon: the cache keeps
// what the previous dump used, and within one dump stops at its caps (the rest render as hex).
TEST(HostileMaps, ProgramBtfCacheIsBoundedAcrossAndWithinDumps) {
  FakeBpfKernel k;
  std::unique_ptr<struct btf, void (*)(struct btf*)> p(btf__new_empty(), btf__free);
  btf__add_int(p.get(), "int", 4, BTF_INT_SIGNED);
  uint32_t size = 0;
  const void* raw = btf__raw_data(p.get(), &size);
  const std::vector<uint8_t> blob(static_cast<const uint8_t*>(raw),
                                  static_cast<const uint8_t*>(raw) + size);
  std::vector<Kva> objects;
  for (int i = 0; i < 6; ++i) objects.push_back(k.AddProgramBtfBytes(blob));
  const MapOffsets off = ResolveMapOffsets(k.resolver());
  ASSERT_TRUE(off.btf.ok()) << off.btf.status;
  Reader r = k.guest().MakeReader();
  ProgramBtfCache cache(k.vmlinux(), /*max_bytes=*/1 << 20, /*max_entries=*/4);

  cache.BeginDump();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(cache.Get(r, objects[i], *off.btf).ok()) << i;
  absl::StatusOr<const struct btf*> full = cache.Get(r, objects[4], *off.btf);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(cache.Get(r, objects[0], *off.btf).ok());  // cached ones still hit
  EXPECT_EQ(cache.entries(), 4u);
  EXPECT_EQ(cache.bytes(), 4 * blob.size());

  // The next dump uses two new objects and one old: the three unused ones are evicted first.
  cache.BeginDump();
  EXPECT_EQ(cache.entries(), 4u);  // everything was used by the previous dump
  EXPECT_TRUE(cache.Get(r, objects[0], *off.btf).ok());
  cache.BeginDump();
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), blob.size());
  EXPECT_TRUE(cache.Get(r, objects[4], *off.btf).ok());
  EXPECT_TRUE(cache.Get(r, objects[5], *off.btf).ok());
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.hits(), 2u);
}

}  // namespace
}  // namespace kfreeze::walkers::maps
