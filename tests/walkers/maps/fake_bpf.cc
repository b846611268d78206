#include "tests/walkers/maps/fake_bpf.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FakeBpfKernel: %s\n", what.c_str());
  std::abort();
}

std::span<const uint8_t> AsBytes(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

}  // namespace

FakeBpfKernel::FakeBpfKernel(uint32_t chunk_size, uint32_t cpus, uint64_t ram_bytes)
    : chunk_size_(chunk_size), chunk_shift_(std::countr_zero(chunk_size)), guest_(ram_bytes) {
  TestBtf& b = vmlinux_;
  b.Struct("hlist_nulls_node", 16, {{"next", "ptr", 0}, {"pprev", "ptr", 8}});
  b.Struct("hlist_nulls_head", 8, {{"first", "ptr", 0}});
  b.Struct("hlist_node", 16, {{"next", "ptr", 0}, {"pprev", "ptr", 8}});
  b.Struct("hlist_head", 8, {{"first", "ptr", 0}});
  b.Struct("xarray", 16, {{"xa_lock", "u32", 0}, {"xa_flags", "u32", 4}, {"xa_head", "ptr", 8}});
  b.Struct("idr", 24, {{"idr_rt", "xarray", 0}, {"idr_base", "u32", 16}, {"idr_next", "u32", 20}});
  b.Struct("xa_node", 24 + 8 * chunk_size,
           {{"shift", "u8", 0},
            {"offset", "u8", 1},
            {"count", "u8", 2},
            {"nr_values", "u8", 3},
            {"parent", "ptr", 8},
            {"array", "ptr", 16},
            {"slots", absl::StrCat("ptr[", chunk_size, "]"), 24}});
  b.Struct("bpf_map", 128,
           {{"ops", "ptr", 0},
            {"inner_map_meta", "ptr", 8},
            {"map_type", "u32", 24},
            {"key_size", "u32", 28},
            {"value_size", "u32", 32},
            {"max_entries", "u32", 36},
            {"map_extra", "u64", 40},
            {"map_flags", "u32", 48},
            {"id", "u32", 52},
            {"btf", "ptr", 56},
            {"btf_key_type_id", "u32", 64},
            {"btf_value_type_id", "u32", 68},
            {"btf_vmlinux_value_type_id", "u32", 72},
            {"name", "char[16]", 80}});
  b.Struct("bpf_array", kArrayValue,
           {{"map", "bpf_map", 0},
            {"elem_size", "u32", 128},
            {"index_mask", "u32", 132},
            {"value", "char[0]", kArrayValue}});
  b.Struct("bucket", 16, {{"head", "hlist_nulls_head", 0}, {"raw_lock", "u32", 8}});
  b.Struct("bpf_htab", 192,
           {{"map", "bpf_map", 0},
            {"buckets", "ptr", kHtabBuckets},
            {"n_buckets", "u32", 152},
            {"elem_size", "u32", 156}});
  b.Struct("htab_elem", kElemKey,
           {{"hash_node", "hlist_nulls_node", 0},
            {"ptr_to_pptr", "ptr", 16},
            {"hash", "u32", 40},
            {"key", "char[0]", kElemKey}});
  b.Struct("btf", 64, {{"base_btf", "ptr", 8}, {"data", "ptr", 16}, {"data_size", "u32", 40}});
  b.Struct("bpf_ringbuf_map", 136, {{"map", "bpf_map", 0}, {"rb", "ptr", 128}});
  b.Struct("bpf_ringbuf", 12288,
           {{"mask", "u64", 64},
            {"consumer_pos", "u64", 4096},
            {"producer_pos", "u64", 8192},
            {"pending_pos", "u64", 8200}});
  b.Struct("stack_map_bucket", 16,
           {{"fnode", "ptr", 0}, {"hash", "u32", 8}, {"nr", "u32", 12}, {"data", "u64[0]", 16}});
  b.Struct("bpf_stack_map", 152,
           {{"map", "bpf_map", 0},
            {"elems", "ptr", 128},
            {"n_buckets", "u32", 144},
            {"buckets", "ptr[0]", 152}});
  b.Struct("bpf_queue_stack", 144,
           {{"map", "bpf_map", 0},
            {"lock", "u32", 128},
            {"head", "u32", 132},
            {"tail", "u32", 136},
            {"size", "u32", 140},
            {"elements", "char[0]", 144}});
  b.Struct("bpf_bloom_filter", 144,
           {{"map", "bpf_map", 0},
            {"bitset_mask", "u32", 128},
            {"hash_seed", "u32", 132},
            {"nr_hash_funcs", "u32", 136},
            {"bitset", "u64[0]", 144}});
  b.Struct("lpm_trie", 160,
           {{"map", "bpf_map", 0},
            {"root", "ptr", 128},
            {"n_entries", "u64", 136},
            {"max_prefixlen", "u64", 144},
            {"data_size", "u64", 152}});
  b.Struct("lpm_trie_node", 24,
           {{"child", "ptr[2]", 0},
            {"prefixlen", "u32", 16},
            {"flags", "u32", 20},
            {"data", "u8[0]", 24}});
  b.Struct("bpf_local_storage_map", 144,
           {{"map", "bpf_map", 0}, {"buckets", "ptr", 128}, {"bucket_log", "u32", 136}});
  b.Struct("bpf_local_storage_map_bucket", 16, {{"list", "hlist_head", 0}, {"lock", "u32", 8}});
  b.Struct("bpf_local_storage_data", 8, {{"smap", "ptr", 0}, {"data", "u8[0]", 8}});
  b.Struct("bpf_local_storage_elem", 72,
           {{"map_node", "hlist_node", 0},
            {"snode", "hlist_node", 16},
            {"local_storage", "ptr", 32},
            {"sdata", "bpf_local_storage_data", 64}});
  b.Struct("bpf_local_storage", 136, {{"cache", "ptr[16]", 0}, {"owner", "ptr", 128}});
  b.Struct("vm_struct", 16, {{"next", "ptr", 0}, {"addr", "ptr", 8}});
  b.Struct("bpf_arena", 152,
           {{"map", "bpf_map", 0},
            {"user_vm_start", "u64", 128},
            {"user_vm_end", "u64", 136},
            {"kern_vm", "ptr", 144}});
  b.Struct("bpf_struct_ops_value", 64,
           {{"refcnt", "u32", 0}, {"state", "u32", 4}, {"data", "char[0]", 64}});
  b.Struct(
      "bpf_struct_ops_map", 192 + 64,
      {{"map", "bpf_map", 0}, {"uvalue", "ptr", 184}, {"kvalue", "bpf_struct_ops_value", 192}});
  b.Struct("test_ops", 24,
           {{"name", "char[16]", 0}, {"timeout_ms", "u32", 16}, {"flags", "u32", 20}});
  b.Struct("bpf_struct_ops_common_value", 16, {{"refcnt", "u32", 0}, {"state", "u32", 4}});
  struct_ops_wrapper_ =
      b.Struct("bpf_struct_ops_test_ops", 64 + 24,
               {{"common", "bpf_struct_ops_common_value", 0}, {"data", "test_ops", 64}});
  b.Struct("bpf_prog_aux", 64, {{"used_map_cnt", "u32", 0}, {"id", "u32", 20}});
  b.Struct("bpf_prog", 64, {{"pages", "u16", 0}, {"type", "u32", 4}, {"aux", "ptr", 56}});
  resolver_ = vmlinux_.MakeResolver();

  map_idr_ = guest_.Alloc(24);
  // Per-CPU areas: one unit per CPU; __per_cpu_offset[cpu] = cpu * unit.
  percpu_unit_ = std::max<uint64_t>(64 << 10, (ram_bytes / 8 / cpus) & ~uint64_t{4095});
  percpu_base_ = guest_.Alloc(percpu_unit_ * cpus, 4096);
  std::vector<uint64_t> offsets;
  for (uint32_t c = 0; c < cpus; ++c) offsets.push_back(c * percpu_unit_);
  percpu_ = std::make_unique<PerCpuLayout>(cpus, offsets);
}

Kva FakeBpfKernel::AddProgramBtf(const struct btf* program) {
  uint32_t size = 0;
  const void* raw = btf__raw_data(program, &size);
  if (raw == nullptr) Die("btf__raw_data");
  const auto* p = static_cast<const uint8_t*>(raw);
  return AddProgramBtfBytes(std::vector<uint8_t>(p, p + size));
}

Kva FakeBpfKernel::AddProgramBtfBytes(const std::vector<uint8_t>& raw) {
  const Kva data = guest_.Alloc(raw.size(), 8);
  guest_.Write(data, AsBytes(raw));
  const Kva obj = guest_.Alloc(64);
  guest_.PutPtr(obj + 16, data);
  guest_.Put<uint32_t>(obj + 40, static_cast<uint32_t>(raw.size()));
  return obj;
}

void FakeBpfKernel::WriteMapHeader(Kva map, const FakeMapSpec& s) {
  guest_.Put<uint32_t>(map + 24, s.type);
  guest_.Put<uint32_t>(map + 28, s.key_size);
  guest_.Put<uint32_t>(map + 32, s.value_size);
  guest_.Put<uint32_t>(map + 36, s.max_entries);
  guest_.Put<uint64_t>(map + 40, s.map_extra);
  guest_.Put<uint32_t>(map + 48, s.flags);
  guest_.PutPtr(map + 56, s.btf);
  guest_.Put<uint32_t>(map + 64, s.btf_key_type_id);
  guest_.Put<uint32_t>(map + 68, s.btf_value_type_id);
  guest_.PutString(map + 80, s.name.substr(0, 15));
}

Kva FakeBpfKernel::AllocMap(uint64_t size, const FakeMapSpec& spec) {
  const Kva map = guest_.Alloc(size, 64);
  WriteMapHeader(map, spec);
  return map;
}

Kva FakeBpfKernel::AddMapOfType(uint32_t id, const FakeMapSpec& spec) {
  const Kva map = AllocMap(192, spec);
  guest_.Put<uint32_t>(map + 52, id);
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddArray(uint32_t id, const FakeMapSpec& spec,
                            const std::vector<uint8_t>& values) {
  const uint64_t elem = (spec.value_size + 7) / 8 * 8;
  const Kva map = AllocMap(kArrayValue + elem * spec.max_entries, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 128, static_cast<uint32_t>(elem));
  // `values` is value_size bytes per key, packed; spread them elem_size apart.
  for (uint32_t k = 0; k < spec.max_entries && (k + 1) * spec.value_size <= values.size(); ++k) {
    guest_.Write(map + kArrayValue + k * elem,
                 std::span<const uint8_t>(values.data() + k * spec.value_size, spec.value_size));
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddPercpuArray(uint32_t id, const FakeMapSpec& spec,
                                  const std::vector<std::vector<uint8_t>>& values) {
  const Kva map = AllocMap(kArrayValue + 8 * spec.max_entries, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 128, (spec.value_size + 7) / 8 * 8);
  const uint32_t cpus = percpu_->nr_cpu_ids();
  for (uint32_t k = 0; k < spec.max_entries; ++k) {
    const uint64_t off = percpu_next_;
    percpu_next_ += (spec.value_size + 7) / 8 * 8;
    if (percpu_next_ > percpu_unit_) Die("per-CPU unit full");
    const Kva pptr = percpu_base_ + off;
    guest_.PutPtr(map + kArrayValue + k * 8, pptr);
    if (k >= values.size()) continue;
    for (uint32_t c = 0; c < cpus; ++c) {
      guest_.Write(
          pptr + c * percpu_unit_,
          std::span<const uint8_t>(values[k].data() + c * spec.value_size, spec.value_size));
    }
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddHash(
    uint32_t id, const FakeMapSpec& spec, uint32_t n_buckets,
    const std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>& entries) {
  const bool percpu = spec.type == 5 || spec.type == 10;
  const Kva map = AllocMap(192, spec);
  guest_.Put<uint32_t>(map + 52, id);
  const Kva buckets = guest_.Alloc(16ull * n_buckets, 64);
  guest_.PutPtr(map + kHtabBuckets, buckets);
  guest_.Put<uint32_t>(map + 152, n_buckets);
  // Every chain starts as an empty nulls list: (bucket index << 1) | 1.
  for (uint32_t b = 0; b < n_buckets; ++b) guest_.Put<uint64_t>(buckets + 16ull * b, (b << 1) | 1);
  const uint64_t key_room = (spec.key_size + 7) / 8 * 8;
  const uint64_t value_room = percpu ? 8 : (spec.value_size + 7) / 8 * 8;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [key, value] = entries[i];
    const Kva elem = guest_.Alloc(kElemKey + key_room + value_room, 8);
    guest_.Write(elem + kElemKey, AsBytes(key));
    if (percpu) {
      const Kva pptr = percpu_base_ + percpu_next_;
      percpu_next_ += (spec.value_size + 7) / 8 * 8;
      guest_.PutPtr(elem + kElemKey + key_room, pptr);
      for (uint32_t c = 0; c < percpu_->nr_cpu_ids(); ++c) {
        guest_.Write(pptr + c * percpu_unit_,
                     std::span<const uint8_t>(value.data() + c * spec.value_size, spec.value_size));
      }
    } else {
      guest_.Write(elem + kElemKey + key_room, AsBytes(value));
    }
    // Push onto the front of bucket i % n_buckets.
    const Kva head = buckets + 16ull * (i % n_buckets);
    guest_.Put<uint64_t>(elem, guest_.MakeReader().ReadU64(head).value());
    guest_.PutPtr(head, elem);
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddFdArray(uint32_t id, const FakeMapSpec& spec,
                              const std::map<uint32_t, Kva>& slots) {
  const Kva map = AllocMap(kArrayValue + 8 * spec.max_entries, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 128, 8);
  for (const auto& [index, target] : slots) guest_.PutPtr(map + kArrayValue + 8 * index, target);
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddStructOps(uint32_t id, const FakeMapSpec& spec,
                                const std::vector<uint8_t>& kvalue) {
  const Kva map = AllocMap(192 + kvalue.size(), spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 72, struct_ops_wrapper_);
  guest_.Write(map + 192, AsBytes(kvalue));
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddArena(uint32_t id, const FakeMapSpec& spec, uint64_t user_vm_start,
                            const std::map<uint64_t, std::vector<uint8_t>>& pages) {
  const Kva map = AllocMap(152, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint64_t>(map + 128, user_vm_start);
  // kern_vm_start = vm->addr + 32 KiB; a page at user offset o lives at kern_vm_start + o.
  const uint64_t span = uint64_t{spec.max_entries} * 4096;
  const Kva area = guest_.Alloc(32768 + span, 4096);
  const Kva vm = guest_.Alloc(16);
  guest_.PutPtr(vm + 8, area);
  guest_.PutPtr(map + 144, vm);
  for (const auto& [pgoff, bytes] : pages) {
    guest_.Write(area + 32768 + pgoff * 4096, AsBytes(bytes));
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddProg(uint32_t id) {
  const Kva aux = guest_.Alloc(64);
  guest_.Put<uint32_t>(aux + 20, id);
  const Kva prog = guest_.Alloc(64);
  guest_.PutPtr(prog + 56, aux);
  return prog;
}

Kva FakeBpfKernel::AddRingbuf(uint32_t id, const FakeMapSpec& spec, uint64_t consumer,
                              uint64_t producer) {
  const Kva map = AllocMap(136, spec);
  guest_.Put<uint32_t>(map + 52, id);
  const Kva rb = guest_.Alloc(12288, 4096);
  guest_.PutPtr(map + 128, rb);
  guest_.Put<uint64_t>(rb + 64, spec.max_entries - 1);
  guest_.Put<uint64_t>(rb + 4096, consumer);
  guest_.Put<uint64_t>(rb + 8192, producer);
  guest_.Put<uint64_t>(rb + 8200, producer);
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddQueue(uint32_t id, const FakeMapSpec& spec, uint32_t head, uint32_t tail,
                            const std::vector<uint8_t>& elements) {
  const uint32_t size = spec.max_entries + 1;
  const Kva map = AllocMap(144 + uint64_t{size} * spec.value_size, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 132, head);
  guest_.Put<uint32_t>(map + 136, tail);
  guest_.Put<uint32_t>(map + 140, size);
  guest_.Write(map + 144, AsBytes(elements));
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddBloom(uint32_t id, const FakeMapSpec& spec,
                            const std::vector<uint64_t>& words) {
  const Kva map = AllocMap(144 + 8 * words.size(), spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 128, static_cast<uint32_t>(words.size() * 64 - 1));
  guest_.Put<uint32_t>(map + 136, 3);
  for (size_t i = 0; i < words.size(); ++i) guest_.Put<uint64_t>(map + 144 + 8 * i, words[i]);
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddStackTrace(uint32_t id, const FakeMapSpec& spec,
                                 const std::map<uint32_t, std::vector<uint64_t>>& buckets) {
  const uint32_t n = spec.max_entries;
  const Kva map = AllocMap(152 + 8ull * n, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint32_t>(map + 144, n);
  for (const auto& [index, pcs] : buckets) {
    const Kva bucket = guest_.Alloc(16 + 8 * pcs.size(), 8);
    guest_.Put<uint32_t>(bucket + 12, static_cast<uint32_t>(pcs.size()));
    for (size_t i = 0; i < pcs.size(); ++i) guest_.Put<uint64_t>(bucket + 16 + 8 * i, pcs[i]);
    guest_.PutPtr(map + 152 + 8ull * index, bucket);
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddLpm(
    uint32_t id, const FakeMapSpec& spec,
    const std::vector<std::tuple<uint32_t, std::vector<uint8_t>, std::vector<uint8_t>>>& leaves) {
  const uint64_t data_size = spec.key_size - 4;
  const Kva map = AllocMap(160, spec);
  guest_.Put<uint32_t>(map + 52, id);
  guest_.Put<uint64_t>(map + 152, data_size);
  auto node = [&](uint32_t prefixlen, uint32_t flags, const std::vector<uint8_t>& data,
                  const std::vector<uint8_t>& value) {
    const Kva n = guest_.Alloc(24 + data_size + spec.value_size, 8);
    guest_.Put<uint32_t>(n + 16, prefixlen);
    guest_.Put<uint32_t>(n + 20, flags);
    guest_.Write(n + 24, AsBytes(data));
    guest_.Write(n + 24 + data_size, AsBytes(value));
    return n;
  };
  // A chain of intermediate nodes, each holding one leaf as child[0] and the rest as child[1].
  const Kva root = node(0, 1, std::vector<uint8_t>(data_size), {});
  guest_.PutPtr(map + 128, root);
  Kva parent = root;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const auto& [prefixlen, data, value] = leaves[i];
    const Kva leaf = node(prefixlen, 0, data, value);
    guest_.PutPtr(parent, leaf);
    if (i + 1 < leaves.size()) {
      const Kva next = node(0, 1, std::vector<uint8_t>(data_size), {});
      guest_.PutPtr(parent + 8, next);
      parent = next;
    }
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::AddLocalStorage(
    uint32_t id, const FakeMapSpec& spec,
    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& owner_values) {
  const Kva map = AllocMap(144, spec);
  guest_.Put<uint32_t>(map + 52, id);
  const uint32_t log = 2;
  const Kva buckets = guest_.Alloc(16 << log, 64);
  guest_.PutPtr(map + 128, buckets);
  guest_.Put<uint32_t>(map + 136, log);
  for (size_t i = 0; i < owner_values.size(); ++i) {
    const auto& [owner, value] = owner_values[i];
    const Kva storage = guest_.Alloc(136, 8);
    guest_.Put<uint64_t>(storage + 128, owner);
    const Kva elem = guest_.Alloc(72 + value.size(), 8);
    guest_.PutPtr(elem + 32, storage);
    guest_.Write(elem + 72, AsBytes(value));
    const Kva head = buckets + 16ull * (i % (1u << log));
    guest_.Put<uint64_t>(elem, guest_.MakeReader().ReadU64(head).value());
    guest_.PutPtr(head, elem);
  }
  Register(id, map);
  return map;
}

Kva FakeBpfKernel::BuildNode(uint64_t base, int shift, const std::map<uint32_t, Kva>& entries) {
  const Kva node = guest_.Alloc(24 + 8 * chunk_size_, 8);
  guest_.Put<uint8_t>(node, static_cast<uint8_t>(shift));
  for (uint32_t slot = 0; slot < chunk_size_; ++slot) {
    const uint64_t lo = base + (uint64_t{slot} << shift);
    const uint64_t hi = lo + (uint64_t{1} << shift);
    std::map<uint32_t, Kva> sub;
    for (auto it = entries.lower_bound(static_cast<uint32_t>(lo));
         it != entries.end() && it->first < hi; ++it) {
      sub.insert(*it);
    }
    if (sub.empty()) continue;
    uint64_t value;
    if (shift == 0) {
      value = sub.begin()->second.value;
    } else {
      value = BuildNode(lo, shift - static_cast<int>(chunk_shift_), sub).value | 2;
    }
    guest_.Put<uint64_t>(node + 24 + 8 * slot, value);
  }
  return node;
}

void FakeBpfKernel::BuildIdr() {
  if (idr_.empty()) return guest_.Put<uint64_t>(map_idr_ + 8, 0);
  const uint64_t max_id = idr_.rbegin()->first;
  if (max_id == 0) return guest_.PutPtr(map_idr_ + 8, idr_.begin()->second);
  int shift = 0;
  while ((max_id >> shift) >= chunk_size_) shift += static_cast<int>(chunk_shift_);
  guest_.Put<uint64_t>(map_idr_ + 8, BuildNode(0, shift, idr_).value | 2);
}

}  // namespace kfreeze::testing
