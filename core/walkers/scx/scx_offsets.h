// Offsets of the sched_ext structures (kernel/sched/ext_internal.h, include/linux/sched/ext.h,
// kernel/sched/sched.h), resolved from vmlinux BTF once at attach. Each named group is
// all-or-nothing; a walker runs whatever its groups allow and names the rest in its reason.
// Members that moved across versions are optional (noted per member).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/btf/offset_resolver.h"
#include "core/ds/rhashtable.h"
#include "google/protobuf/descriptor.h"

namespace kfreeze::walkers::scx {

// struct rq (kernel/sched/sched.h), group "rq".
struct RqOffsets {
  uint64_t scx = 0;                    // rq.scx (struct scx_rq, embedded)
  uint64_t curr = 0;                   // rq.curr
  std::optional<uint64_t> nr_running;  // rq.nr_running (all classes)
};

// struct scx_rq, group "scx_rq".
struct ScxRqOffsets {
  uint64_t local_dsq = 0;
  uint64_t runnable_list = 0;
  uint64_t nr_running = 0;
  uint64_t flags = 0;
  uint64_t cpu_released = 0;
  std::optional<uint64_t> ops_qseq;   // through 7.1; gone in newer kernels
  std::optional<uint64_t> kick_sync;  // "pnt_seq" before 6.19
  uint32_t kick_sync_size = 8;
  std::optional<uint64_t> nr_immed;    // for-7.1
  std::optional<uint64_t> clock;       // v6.14+
  std::optional<uint64_t> bypass_dsq;  // 6.19-7.0 (then scx_sched_pcpu.bypass_dsq)
};

// struct task_struct identity + sched_ext entity location, group "task_struct".
struct TaskCoreOffsets {
  uint64_t pid = 0;
  uint64_t comm = 0;
  uint32_t comm_len = 16;  // TASK_COMM_LEN, from BTF
  uint64_t scx = 0;        // task_struct.scx (struct sched_ext_entity)
  uint64_t sched_class = 0;
};

// struct sched_ext_entity, group "sched_ext_entity"; offsets relative to the entity.
struct EntityOffsets {
  uint64_t dsq = 0;
  uint64_t dsq_list_node = 0;   // sched_ext_entity.dsq_list.node
  uint64_t dsq_list_flags = 0;  // sched_ext_entity.dsq_list.flags
  uint64_t runnable_node = 0;
  uint64_t runnable_at = 0;
  uint64_t tasks_node = 0;
  uint64_t flags = 0;
};

// struct scx_dispatch_q, group "scx_dispatch_q".
struct DsqOffsets {
  uint64_t list = 0;
  uint64_t nr = 0;
  uint64_t seq = 0;
  uint64_t id = 0;
  uint64_t hash_node = 0;
};

// struct sched_ext_ops, group "sched_ext_ops": inside scx_sched (6.16+) or the global scx_ops.
struct OpsOffsets {
  uint64_t name = 0;
  uint32_t name_len = 128;
  std::optional<uint64_t> exit_dump_len;
};

// struct scx_sched (6.16+, reached through scx_root), group "scx_sched". Absent before 6.16, where
// the same state lives in ext.c globals (ScxRoots).
struct SchedOffsets {
  uint64_t ops = 0;  // scx_sched.ops (struct sched_ext_ops, embedded)
  uint64_t dsq_hash = 0;
  uint64_t exit_kind = 0;  // atomic_t
  std::optional<uint64_t> aborting;
  std::optional<uint64_t> bypass_depth;
  std::optional<uint64_t> watchdog_timeout;  // 7.1+; older kernels keep a global
  std::optional<uint64_t> exit_info;
  std::optional<uint64_t> pcpu;             // 6.18+: struct scx_sched_pcpu __percpu *
  std::optional<uint64_t> pnode;            // struct scx_sched_pnode **, per NUMA node
  std::optional<uint64_t> global_dsqs;      // 6.16-6.17: struct scx_dispatch_q **global_dsqs
  std::optional<uint64_t> event_stats_cpu;  // 6.16-6.17: struct scx_event_stats __percpu *
  std::optional<uint64_t> parent;           // sub-scheduler support (struct scx_sched *)
  std::optional<uint64_t> level;            // depth below the root scheduler
};

// struct scx_sched_pcpu / scx_sched_pnode, groups "scx_sched_pcpu" / "scx_sched_pnode".
struct SchedPcpuOffsets {
  std::optional<uint64_t> bypass_dsq;
  std::optional<uint64_t> event_stats;
};
struct SchedPnodeOffsets {
  uint64_t global_dsq = 0;
};

// struct scx_exit_info, group "scx_exit_info".
struct ExitInfoOffsets {
  uint64_t kind = 0;
  uint64_t exit_code = 0;
  uint64_t reason = 0;
  uint64_t msg = 0;
  uint64_t dump = 0;
  uint64_t bt = 0;
  uint64_t bt_len = 0;
  std::optional<uint64_t> flags;  // SCX_EFLAG_*: newer kernels only
};

// struct scx_event_stats (6.15+), group "scx_event_stats": the SCX_EV_* s64 members this
// kernel's BTF has, each bound to its EventCounterSample field (event_counter_fields.h). A member
// the report has no field for is not read.
struct EventCounterOffset {
  const google::protobuf::FieldDescriptor* field = nullptr;
  uint64_t offset = 0;
};
struct EventStatsOffsets {
  std::vector<EventCounterOffset> counters;  // in BTF member order
};

// Kernel constants the walkers need, from BTF enums so they follow the kernel.
struct ScxConstants {
  uint32_t lnode_iter_cursor = 1;    // SCX_DSQ_LNODE_ITER_CURSOR
  uint32_t task_cursor = 1u << 31;   // SCX_TASK_CURSOR
  uint32_t exit_error = 1024;        // SCX_EXIT_ERROR
  uint32_t task_state_shift = 8;     // SCX_TASK_STATE_SHIFT
  uint32_t task_state_mask = 0x700;  // SCX_TASK_STATE_MASK
  uint32_t opss_qseq_shift = 2;      // SCX_OPSS_QSEQ_SHIFT
};

struct ScxOffsets {
  Group<RqOffsets> rq;
  Group<ScxRqOffsets> scx_rq;
  Group<TaskCoreOffsets> task;
  Group<EntityOffsets> entity;
  Group<DsqOffsets> dsq;
  Group<OpsOffsets> ops;
  Group<SchedOffsets> sched;
  Group<SchedPcpuOffsets> sched_pcpu;
  Group<SchedPnodeOffsets> sched_pnode;
  Group<ExitInfoOffsets> exit_info;
  Group<EventStatsOffsets> event_stats;
  Group<ds::RhashtableOffsets> rhashtable;
  ScxConstants constants;
  // Every group that failed, in resolution order, and why.
  OffsetGroupReport report;
};

// Resolves every group; never fails as a whole (a kernel without sched_ext misses all of them).
ScxOffsets ResolveScxOffsets(const OffsetResolver& resolver);

}  // namespace kfreeze::walkers::scx
