// enum bpf_map_type names (include/uapi/linux/bpf.h), as bpftool prints them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kfreeze {

inline constexpr std::array<std::string_view, 35> kBpfMapTypeNames = {
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
    "insn_array",
};

// "" for a type newer than this table.
constexpr std::string_view BpfMapTypeName(uint32_t type) {
  return type < kBpfMapTypeNames.size() ? kBpfMapTypeNames[type] : std::string_view();
}

}  // namespace kfreeze
