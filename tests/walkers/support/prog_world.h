// A miniature BPF program kernel for the prog-stats walker's tests and the guest-memory fuzzer:
// prog_idr as a one-node xarray, bpf_prog/bpf_prog_aux/bpf_map BTF at this fixture's own offsets,
// per-CPU bpf_prog_stats in two CPUs' units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/walkers/support/kernel_world.h"

namespace kfreeze::testing::prog_fixture {

constexpr uint32_t kProgType = 4, kProgStats = 16, kProgAux = 32;
constexpr uint32_t kAuxCnt = 0, kAuxId = 8, kAuxUsedMaps = 16, kAuxInsns = 24, kAuxName = 40;
constexpr uint32_t kMapType = 0, kMapName = 32;
constexpr uint32_t kSlots = 8;  // xa_node.slots offset
constexpr uint64_t kStructOps = 27, kTracing = 26, kMapStructOps = 26;

struct ProgWorld : KernelWorld {
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
    idr = g.Alloc(24);
    node = g.Alloc(kSlots + 64 * 8, 64);
    g.Put<uint8_t>(node, 0);
    g.Put<uint64_t>(idr + 8, node.value | 2);  // xa_mk_node
    g.Put<uint32_t>(idr + 16, 1);              // idr_base: ids start at 1
    Finish({{"prog_idr", idr.value, 'd'}});
  }

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

  Kva idr, node;
};

}  // namespace kfreeze::testing::prog_fixture
