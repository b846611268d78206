// BM_Hash: one map walk of a 4,096-entry BPF_MAP_TYPE_HASH whose values are a 64-byte struct
// (typed through program BTF, or raw). BM_PercpuArray: 256 keys x 64 CPUs of a 16-byte struct.
// Counters: entries/s (per-CPU values count as entries), bytes read per walk, and the ratio of
// the walk's time to a memcpy of those same bytes (the physical floor of reading them).
#include <bpf/btf.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/walkers/maps/map_info.h"
#include "core/walkers/maps/map_walker.h"
#include "google/protobuf/arena.h"
#include "tests/walkers/maps/fake_bpf.h"

namespace {

using kfreeze::Kva;
using kfreeze::Reader;
using kfreeze::testing::FakeBpfKernel;
using kfreeze::testing::FakeMapSpec;
using kfreeze::testing::MapSpec;
namespace maps = kfreeze::walkers::maps;

using BtfHandle = std::unique_ptr<struct btf, void (*)(struct btf*)>;

// struct task_ctx { u64 runtime; u32 weight; s32 prio; char comm[16]; enum state st; u32 pad;
//                   u64 slots[3]; } = 64 bytes.
struct ProgramBtf {
  BtfHandle btf{btf__new_empty(), btf__free};
  int u32, value;
  explicit ProgramBtf(bool percpu) {
    struct btf* b = btf.get();
    const int u64 = btf__add_int(b, "u64", 8, 0);
    u32 = btf__add_int(b, "u32", 4, 0);
    const int s32 = btf__add_int(b, "s32", 4, BTF_INT_SIGNED);
    const int chr = btf__add_int(b, "char", 1, BTF_INT_SIGNED);
    if (percpu) {  // struct stat { u64 count; u64 sum; }
      value = btf__add_struct(b, "stat", 16);
      btf__add_field(b, "count", u64, 0, 0);
      btf__add_field(b, "sum", u64, 64, 0);
      return;
    }
    const int comm = btf__add_array(b, u32, chr, 16);
    const int slots = btf__add_array(b, u32, u64, 3);
    const int st = btf__add_enum(b, "state", 4);
    btf__add_enum_value(b, "ST_IDLE", 0);
    btf__add_enum_value(b, "ST_RUN", 1);
    value = btf__add_struct(b, "task_ctx", 64);
    btf__add_field(b, "runtime", u64, 0, 0);
    btf__add_field(b, "weight", u32, 64, 0);
    btf__add_field(b, "prio", s32, 96, 0);
    btf__add_field(b, "comm", comm, 128, 0);
    btf__add_field(b, "st", st, 256, 0);
    btf__add_field(b, "pad", u32, 288, 0);
    btf__add_field(b, "slots", slots, 320, 0);
  }
  // Types `s`'s key (u32) and value through this BTF, loaded into `k`; untyped maps walk raw.
  void TypeMap(FakeBpfKernel& k, FakeMapSpec& s) const {
    s.btf = k.AddProgramBtf(btf.get());
    s.btf_key_type_id = u32;
    s.btf_value_type_id = value;
  }
};

// Nanoseconds of one memcpy of `bytes` bytes (best of a few rounds, after warming).
double MemcpyNs(uint64_t bytes) {
  std::vector<uint8_t> src(bytes, 0x5a), dst(bytes);
  double best = 1e30;
  for (int round = 0; round < 20; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  return best;
}

// `arena`: the report lives on a protobuf Arena (what a daemon that builds many reports does),
// which turns the rendered tree's many small allocations into bump allocations.
void RunWalk(benchmark::State& state, FakeBpfKernel& k, uint64_t entries, uint64_t bytes,
             bool arena) {
  k.BuildIdr();
  maps::MapWalker walker({.resolver = &k.resolver(),
                          .vmlinux = k.vmlinux(),
                          .percpu = &k.percpu(),
                          .map_idr = k.map_idr(),
                          .caps = {}});
  Reader reader = k.guest().MakeReader();
  double total_ns = 0;
  for (auto _ : state) {
    google::protobuf::Arena pool;
    kfreeze::v1::FailureDumpReport heap_report;
    kfreeze::v1::FailureDumpReport& report =
        arena ? *google::protobuf::Arena::CreateMessage<kfreeze::v1::FailureDumpReport>(&pool)
              : heap_report;
    auto t0 = std::chrono::steady_clock::now();
    if (!walker.Dump(reader, report).ok() || report.maps_size() != 1 ||
        report.maps(0).has_error()) {
      state.SkipWithError("map walk failed");
      return;
    }
    total_ns +=
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(report.maps_size());
  }
  state.counters["entries/s"] = benchmark::Counter(static_cast<double>(entries),
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_read"] = static_cast<double>(bytes);
  const double walk_ns = total_ns / static_cast<double>(state.iterations());
  state.counters["walk_ms"] = walk_ns / 1e6;  // the walk alone (report teardown excluded)
  state.counters["x_memcpy"] = walk_ns / MemcpyNs(bytes);
}

void BM_Hash(benchmark::State& state) {
  const bool typed = state.range(0) != 0;
  const bool arena = state.range(1) != 0;
  constexpr uint32_t kEntries = 4096, kValue = 64, kKey = 4;
  FakeBpfKernel k(64, 4, 128ull << 20);
  ProgramBtf p(false);
  FakeMapSpec s = MapSpec(maps::kMapHash, kKey, kValue, kEntries, "bench_hash");
  if (typed) p.TypeMap(k, s);
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries;
  for (uint32_t i = 0; i < kEntries; ++i) {
    std::vector<uint8_t> key(4), value(kValue);
    std::memcpy(key.data(), &i, 4);
    for (uint32_t b = 0; b < kValue; ++b) value[b] = static_cast<uint8_t>(i + b);
    std::memcpy(value.data() + 16, "worker", 7);
    entries.push_back({key, value});
  }
  k.AddHash(1, s, kEntries, entries);
  // Bytes the walk reads: struct bpf_map, the bucket array, each element (header, key, value).
  const uint64_t elem = FakeBpfKernel::kElemKey + 8 + kValue;
  const uint64_t bytes = 128 + uint64_t{kEntries} * 16 + uint64_t{kEntries} * elem;
  RunWalk(state, k, kEntries, bytes, arena);
}
BENCHMARK(BM_Hash)
    ->ArgNames({"typed", "arena"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond);

void BM_PercpuArray(benchmark::State& state) {
  const bool typed = state.range(0) != 0;
  const bool arena = state.range(1) != 0;
  constexpr uint32_t kCpus = 64, kKeys = 256, kValue = 16;
  FakeBpfKernel k(64, kCpus, 128ull << 20);
  ProgramBtf p(true);
  FakeMapSpec s = MapSpec(maps::kMapPercpuArray, 4, kValue, kKeys, "bench_pcpu");
  if (typed) p.TypeMap(k, s);
  std::vector<std::vector<uint8_t>> values(kKeys, std::vector<uint8_t>(kValue * kCpus));
  for (uint32_t key = 0; key < kKeys; ++key) {
    for (uint32_t b = 0; b < kValue * kCpus; ++b) values[key][b] = static_cast<uint8_t>(key ^ b);
  }
  k.AddPercpuArray(1, s, values);
  const uint64_t bytes = 128 + uint64_t{kKeys} * 8 + uint64_t{kKeys} * kCpus * kValue;
  RunWalk(state, k, uint64_t{kKeys} * kCpus, bytes, arena);
}
BENCHMARK(BM_PercpuArray)
    ->ArgNames({"typed", "arena"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
