// A fake kernel for the map walker tests: vmlinux-like BTF for the BPF map structures at
// deliberately unusual offsets (a walker that hard-codes a real kernel offset fails), and a
// builder that lays out maps, their contents, program BTF and map_idr's xarray in a FakeGuest.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/btf/btf_set.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/percpu.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::testing {

struct FakeMapSpec {
  std::string name;
  uint32_t type = 0;
  uint32_t key_size = 4;
  uint32_t value_size = 4;
  uint32_t max_entries = 1;
  uint32_t flags = 0;
  uint64_t map_extra = 0;
  Kva btf;  // struct btf * (see AddProgramBtf)
  uint32_t btf_key_type_id = 0;
  uint32_t btf_value_type_id = 0;
};

// A map of `type` with the given key/value sizes and capacity, no flags and no program BTF.
inline FakeMapSpec MapSpec(uint32_t type, uint32_t key_size, uint32_t value_size,
                           uint32_t max_entries, std::string name = "m") {
  FakeMapSpec s;
  s.name = std::move(name);
  s.type = type;
  s.key_size = key_size;
  s.value_size = value_size;
  s.max_entries = max_entries;
  return s;
}

class FakeBpfKernel {
 public:
  // `chunk_size`: xa_node.slots length (64 in real kernels; tests vary it to prove it is read
  // from BTF). `cpus`: possible CPUs.
  explicit FakeBpfKernel(uint32_t chunk_size = 64, uint32_t cpus = 4,
                         uint64_t ram_bytes = 64ull << 20);

  FakeGuest& guest() { return guest_; }
  const OffsetResolver& resolver() const { return *resolver_; }
  const struct btf* vmlinux() const { return vmlinux_.btf(); }
  const PerCpuLayout& percpu() const { return *percpu_; }
  Kva map_idr() const { return map_idr_; }
  uint32_t chunk_size() const { return chunk_size_; }

  // Raw BTF bytes placed in guest memory behind a struct btf; returns the struct btf KVA.
  Kva AddProgramBtf(const struct btf* program);
  Kva AddProgramBtfBytes(const std::vector<uint8_t>& raw);

  // Map objects; each is registered in map_idr at `id` (BuildIdr writes the xarray).
  Kva AddArray(uint32_t id, const FakeMapSpec& spec, const std::vector<uint8_t>& values);
  Kva AddPercpuArray(uint32_t id, const FakeMapSpec& spec,
                     const std::vector<std::vector<uint8_t>>& per_key_per_cpu_values);
  // Hash maps: entries (key, value) chained into buckets by `bucket_of`; per-CPU maps take the
  // value as one value per CPU concatenated.
  Kva AddHash(uint32_t id, const FakeMapSpec& spec, uint32_t n_buckets,
              const std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>& entries);
  Kva AddFdArray(uint32_t id, const FakeMapSpec& spec, const std::map<uint32_t, Kva>& slots);
  // STRUCT_OPS of the fake vmlinux type `struct test_ops` (wrapper bpf_struct_ops_test_ops):
  // `kvalue` is the wrapper's bytes (16-byte common header, data at 64).
  Kva AddStructOps(uint32_t id, const FakeMapSpec& spec, const std::vector<uint8_t>& kvalue);
  // ARENA of spec.max_entries pages at `user_vm_start`; `pages` (page offset -> bytes) filled.
  Kva AddArena(uint32_t id, const FakeMapSpec& spec, uint64_t user_vm_start,
               const std::map<uint64_t, std::vector<uint8_t>>& pages);
  // A struct bpf_prog whose aux->id is `id` (not in any map).
  Kva AddProg(uint32_t id);
  Kva AddRingbuf(uint32_t id, const FakeMapSpec& spec, uint64_t consumer, uint64_t producer);
  Kva AddQueue(uint32_t id, const FakeMapSpec& spec, uint32_t head, uint32_t tail,
               const std::vector<uint8_t>& elements);
  Kva AddBloom(uint32_t id, const FakeMapSpec& spec, const std::vector<uint64_t>& words);
  Kva AddStackTrace(uint32_t id, const FakeMapSpec& spec,
                    const std::map<uint32_t, std::vector<uint64_t>>& buckets);
  // LPM: (prefixlen, data, value) leaves hung under one intermediate root.
  Kva AddLpm(
      uint32_t id, const FakeMapSpec& spec,
      const std::vector<std::tuple<uint32_t, std::vector<uint8_t>, std::vector<uint8_t>>>& leaves);
  Kva AddLocalStorage(uint32_t id, const FakeMapSpec& spec,
                      const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& owner_values);
  Kva AddMapOfType(uint32_t id, const FakeMapSpec& spec);  // just the struct bpf_map

  // Registers an already-built object at `id` (e.g. a corrupt one).
  void Register(uint32_t id, Kva map) { idr_[id] = map; }
  // Writes map_idr's xarray for everything registered.
  void BuildIdr();

  // Offsets inside the fake layout, for tests that corrupt things.
  static constexpr uint64_t kArrayValue = 152;
  static constexpr uint64_t kHtabBuckets = 136;
  static constexpr uint64_t kElemKey = 48;

 private:
  Kva AllocMap(uint64_t size, const FakeMapSpec& spec);
  void WriteMapHeader(Kva map, const FakeMapSpec& spec);
  Kva BuildNode(uint64_t base, int shift, const std::map<uint32_t, Kva>& entries);

  uint32_t struct_ops_wrapper_ = 0;
  uint32_t chunk_size_;
  uint32_t chunk_shift_;
  FakeGuest guest_;
  TestBtf vmlinux_;
  std::unique_ptr<OffsetResolver> resolver_;
  std::unique_ptr<PerCpuLayout> percpu_;
  Kva map_idr_;
  Kva percpu_base_;
  uint64_t percpu_unit_ = 0;
  uint64_t percpu_next_ = 0;
  std::map<uint32_t, Kva> idr_;
};

}  // namespace kfreeze::testing
