// Every bound kfreeze applies to guest-derived sizes and loops, each with the reason for its value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace kfreeze::caps {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// --- guest RAM ---
// QEMU splits RAM into a handful of ranges (below/above 4 GiB, NUMA nodes); 64 is generous.
inline constexpr size_t kMaxRamRegions = 64;
// A single host-buffer read of guest memory; the largest legitimate one is vmlinux BTF (~10 MiB).
inline constexpr uint64_t kMaxSingleReadBytes = 256 * kMiB;

// --- translation ---
// Leaf translations cached per Reader, per leaf size (4K / 2M / 1G); direct-mapped by page number.
inline constexpr size_t kTranslationCacheSlots = 64;

// --- VMCOREINFO ---
// The kernel reserves VMCOREINFO_BYTES = PAGE_SIZE for the text; 64 KiB covers 64K-page kernels.
inline constexpr uint32_t kMaxVmcoreInfoBytes = 64 * kKiB;
// __NEW_UTS_LEN is 64; a longer OSRELEASE means we are not looking at a real note.
inline constexpr size_t kMaxOsReleaseLength = 64;

// --- kallsyms ---
// allyesconfig kernels have ~500k symbols; 4M leaves room and bounds allocations from a bad count.
inline constexpr uint32_t kMaxKallsymsSymbols = 4 * 1024 * 1024;
// KSYM_NAME_LEN is 512 since v6.1; a symbol can never decode longer than that.
inline constexpr size_t kMaxSymbolNameLength = 512;
// kallsyms_names for 4M symbols at ~20 bytes each stays below this.
inline constexpr uint64_t kMaxKallsymsNamesBytes = 128 * kMiB;
// Tokens are substrings of symbol names, so no token can be longer than a name.
inline constexpr size_t kMaxKallsymsTokenLength = kMaxSymbolNameLength;
// kallsyms_names has no length field: it is copied in chunks starting at this size, doubling.
inline constexpr uint64_t kKallsymsNamesChunkBytes = 16 * kKiB;

// --- per-CPU ---
// CONFIG_NR_CPUS can be at most 8192 on x86-64.
inline constexpr uint32_t kMaxCpus = 8192;

// --- BTF ---
// vmlinux BTF is ~5 MiB on a Debian kernel; allyesconfig ~20 MiB.
inline constexpr uint64_t kMaxVmlinuxBtfBytes = 64 * kMiB;
// Program BTF blobs (bpf_map->btf, read by the maps walker; BtfSet::FromFile checks the same
// bound).
inline constexpr uint64_t kMaxProgramBtfBytes = 32 * kMiB;
// libbpf's MAX_RESOLVE_DEPTH: typedef/modifier chains and anonymous-member nesting.
inline constexpr int kBtfMaxResolveDepth = 32;
// Components of a member path like "rq.scx.local_dsq.nr".
inline constexpr size_t kMaxMemberPathComponents = 32;

// --- strings ---
// Default bound for C strings read from the guest (comm, names); callers may pass smaller.
inline constexpr size_t kMaxCStringLength = 4096;

// --- QMP ---
// `info mtree -f` on a big machine is a few hundred KiB; one reply line never needs more.
inline constexpr size_t kMaxQmpReplyBytes = 16 * kMiB;
// Default timeout of one QMP command (stop/cont take < 1 ms, HMP info registers ~20 ms).
inline constexpr absl::Duration kQmpDefaultTimeout = absl::Seconds(5);
// Async events QEMU may interleave before our reply (STOP, RESUME, ...) before we give up.
inline constexpr int kMaxQmpEventsPerReply = 1024;

// --- per-dump budget (ReadBudget) ---
// Guest bytes one dump may read through its Readers: a full dump of a busy guest reads a few
// hundred MiB at most (arena pages and big maps dominate); a hostile guest must not make it more.
inline constexpr uint64_t kDumpMaxReadBytes = 1 * kGiB;
// Bytes the walk's own containers (node lists, visited sets, pending stacks) may hold at once.
inline constexpr uint64_t kDumpMaxHeldBytes = 128 * kMiB;
// Report nodes (tasks, cgroups, map elements, list nodes) one dump may produce.
inline constexpr uint64_t kDumpMaxNodes = 4 * 1024 * 1024;
// Guest pages one dump may copy into its private snapshot inside the freeze window.
inline constexpr uint64_t kDumpMaxSnapshotBytes = 256 * kMiB;
// Reads between two clock checks of the deadline on the read path (a read is ~100 ns).
inline constexpr uint32_t kDeadlineCheckEveryReads = 64;

// --- program BTF cache ---
// Parsed program BTF kept across dumps (blob bytes); entries unused by the last dump are evicted
// first, and a dump that needs more than this renders the rest as hex.
inline constexpr uint64_t kMaxProgramBtfCacheBytes = 64 * kMiB;
inline constexpr size_t kMaxProgramBtfCacheEntries = 256;

}  // namespace kfreeze::caps
