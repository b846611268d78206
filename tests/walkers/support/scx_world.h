// A miniature sched_ext kernel for walker tests and benchmarks: BTF for every struct the kernel
// walkers read (at layouts unlike the real kernel's), symbols, per-CPU runqueues, tasks, DSQs,
// a scheduler behind scx_root with a dsq_hash rhashtable. Tests drop BTF members with
// ScxWorldOptions::omit to check the partial-reason paths.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/types.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/percpu.h"
#include "core/kernel/symbols.h"
#include "core/walkers/common/kernel_view.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::testing {

// Byte layouts written into the fake guest; the BTF describes exactly these.
namespace layout {
// struct list_head / rhash_head / scx_dsq_list_node
inline constexpr uint32_t kListHeadSize = 16;
// struct scx_dispatch_q
inline constexpr uint32_t kDsqSize = 128, kDsqId = 24, kDsqList = 40, kDsqNr = 56, kDsqSeq = 60,
                          kDsqHashNode = 72;
// struct sched_ext_entity (inside task_struct at kTaskScx)
inline constexpr uint32_t kSeeSize = 256, kSeeDsq = 0, kSeeOpsState = 8, kSeeDsqListNode = 16,
                          kSeeDsqListFlags = 32, kSeeFlags = 48, kSeeWeight = 52,
                          kSeeStickyCpu = 56, kSeeHoldingCpu = 60, kSeeDsqFlags = 64,
                          kSeeRunnableNode = 72, kSeeRunnableAt = 88, kSeeSlice = 96,
                          kSeeDsqVtime = 104, kSeeTasksNode = 112;
// struct task_struct
inline constexpr uint32_t kTaskSize = 1024, kTaskCpu = 16 /* thread_info.cpu */, kTaskState = 24,
                          kTaskPrio = 32, kTaskStaticPrio = 36, kTaskNormalPrio = 40,
                          kTaskRtPriority = 44, kTaskSchedClass = 48, kTaskPolicy = 56,
                          kTaskMigrationDisabled = 60, kTaskCpusPtr = 64, kTaskCpusMask = 72,
                          kTaskScx = 128, kTaskExitState = 384, kTaskPid = 388, kTaskTgid = 392,
                          kTaskRealParent = 400, kTaskGroupLeader = 408, kTaskComm = 416,
                          kTaskSignal = 432, kTaskNvcsw = 440, kTaskNivcsw = 448,
                          kTaskThreadPid = 456, kTaskStack = 464;
// struct signal_struct, struct pid, struct upid
inline constexpr uint32_t kSignalSize = 128, kSignalNrThreads = 4, kSignalPids = 16 /* [4] */,
                          kSignalNvcsw = 48, kSignalNivcsw = 56;
inline constexpr uint32_t kPidSize = 64, kPidNumbers = 32, kUpidSize = 16;
// struct scx_rq (inside rq at kRqScx), struct rq
inline constexpr uint32_t kScxRqSize = 320, kScxRqLocalDsq = 0, kScxRqRunnableList = 128,
                          kScxRqNrRunning = 144, kScxRqFlags = 148, kScxRqCpuReleased = 152,
                          kScxRqNrImmed = 156, kScxRqClock = 160, kScxRqKickSync = 168,
                          kScxRqOpsQseq = 176;
inline constexpr uint32_t kRqSize = 1024, kRqNrRunning = 4, kRqCurr = 16, kRqScx = 64;
// struct scx_event_stats, scx_sched_pcpu, scx_sched_pnode
inline constexpr uint32_t kEventStatsSize = 13 * 8;
inline constexpr uint32_t kPcpuSize = 512, kPcpuEventStats = 16, kPcpuBypassDsq = 128;
// struct sched_ext_ops (at scx_sched+0), struct scx_sched
inline constexpr uint32_t kOpsSize = 256, kOpsExitDumpLen = 8, kOpsName = 64;
inline constexpr uint32_t kSchedSize = 512, kSchedDsqHash = 256, kSchedPnode = 320,
                          kSchedPcpu = 328, kSchedBypassDepth = 336, kSchedAborting = 340,
                          kSchedWatchdogTimeout = 344, kSchedExitKind = 352, kSchedExitInfo = 360,
                          kSchedGlobalDsqs = 368, kSchedEventStatsCpu = 376;
// struct scx_exit_info
inline constexpr uint32_t kExitInfoSize = 64, kEiKind = 0, kEiExitCode = 8, kEiFlags = 16,
                          kEiReason = 24, kEiBt = 32, kEiBtLen = 40, kEiMsg = 48, kEiDump = 56;
// struct rhashtable, bucket_table
inline constexpr uint32_t kRhtSize = 64, kRhtTbl = 0, kRhtNelems = 56;
inline constexpr uint32_t kBtSize = 64, kBtSize_ = 0, kBtNest = 4, kBtFutureTbl = 40,
                          kBtBuckets = 64;
// Per-CPU unit
inline constexpr uint32_t kUnitSize = 4096, kUnitRq = 0, kUnitPcpu = 2048;
// struct clocksource
inline constexpr uint32_t kClocksourceMult = 24, kClocksourceShift = 28;
}  // namespace layout

// The sched_ext layouts the walkers must read, named by the first release of each. Which structs,
// members, symbols and enumerators exist follows the real releases (docs/kernel-layouts/
// sched_ext.md); the byte offsets stay this fixture's own, so a walker that passes on every era
// is driven by BTF and symbols, not by a version.
enum class ScxEra {
  k6_12,  // scx_ops globals, SCX_OPS_* enable states, global_dsqs[node], no event counters
  k6_14,  // + scx_rq.clock
  k6_15,  // + per-CPU global event_stats_cpu (9 counters, SCX_EV_ENQ_SLICE_DFL)
  k6_16,  // struct scx_sched behind scx_root (global_dsqs[], event_stats_cpu inside it),
          // scx_enable_state_var / SCX_* states, SCX_EV_REFILL_SLICE_DFL
  k6_18,  // scx_sched.pcpu (struct scx_sched_pcpu.event_stats), scx_exit_info.flags
  k7_1,   // pnode[node]->global_dsq, watchdog_timeout/bypass_depth/aborting/level in scx_sched,
          // pcpu bypass DSQs, scx_rq.kick_sync (was pnt_seq) and nr_immed, 13 counters
  k7_3,   // scx_rq.ops_qseq gone, SCX_EV_REENQ_LOCAL_REPEAT renamed SCX_EV_REENQ_REPEAT
};
const char* ScxEraName(ScxEra era);
inline constexpr ScxEra kAllScxEras[] = {ScxEra::k6_12, ScxEra::k6_14, ScxEra::k6_15, ScxEra::k6_16,
                                         ScxEra::k6_18, ScxEra::k7_1,  ScxEra::k7_3};

struct ScxWorldOptions {
  ScxEra era = ScxEra::k7_3;
  uint32_t cpus = 2;
  uint32_t hz = 250;
  uint32_t user_dsq_buckets = 8;
  // "struct.member" entries left out of the BTF.
  std::set<std::string> omit;
};

class ScxWorld {
 public:
  explicit ScxWorld(ScxWorldOptions options = {});

  FakeGuest& guest() { return guest_; }
  walkers::KernelView view() const { return {*resolver_, *symbols_, *percpu_}; }
  const ScxWorldOptions& options() const { return options_; }

  // A task (not yet on any list) with sched_class = ext_sched_class.
  Kva NewTask(int32_t pid, const std::string& comm);
  void AddToScxTasks(Kva task);
  void AddScxTasksCursor();  // an iterator cursor on scx_tasks (flags has SCX_TASK_CURSOR)
  void AddRunnable(uint32_t cpu, Kva task);
  void SetCurr(uint32_t cpu, Kva task);
  // A signal_struct with pgid/sid pids, shared by the given tasks.
  Kva SetSignal(const std::vector<Kva>& tasks, int32_t nr_threads, int32_t pgid, int32_t sid);
  // Allocates a 16 KiB kernel stack for the task; returns its base.
  Kva GiveStack(Kva task);
  void SetRunnableAt(Kva task, uint64_t jiffies);
  void SetJiffies(uint64_t jiffies);
  // Appends `task` to the DSQ's list (sets p->scx.dsq, bumps nr).
  void Enqueue(Kva dsq, Kva task);
  void EnqueueCursor(Kva dsq);  // a BPF iterator cursor node

  Kva Rq(uint32_t cpu) const { return rqs_[cpu]; }
  Kva LocalDsq(uint32_t cpu) const { return rqs_[cpu] + layout::kRqScx + layout::kScxRqLocalDsq; }

  // Allocates a scheduler and points scx_root at it (before 6.16: fills the scx_ops globals and
  // sets the enable state to enabled).
  Kva AttachScheduler(const std::string& name, uint64_t watchdog_timeout = 30 * 250);
  void DetachScheduler();  // scx_root = NULL, or the enable state SCX_(OPS_)DISABLED
  // What the report calls sched_kva: the scx_sched, or &scx_ops on the globals layout.
  Kva sched() const { return sched_; }
  Kva ExitKindAddr() const { return exit_kind_; }
  bool Globals() const { return options_.era < ScxEra::k6_16; }
  Kva BypassDsq(uint32_t cpu) const;
  Kva GlobalDsq() const { return global_dsq_; }
  Kva UserDsq(uint64_t id);  // creates and hashes it into dsq_hash
  // Replaces the bucket table with a resize in progress: old table with `old_buckets` keeps
  // the DSQs at even indexes, the future table the rest.
  void StartResize(uint32_t old_buckets);
  void SetExit(uint32_t kind, const std::string& reason, const std::string& msg,
               const std::string& dump, const std::vector<uint64_t>& bt);
  void SetEventCounter(uint32_t cpu, int index, int64_t value);

  Kva ExtClass() const { return ext_class_; }
  Kva FairClass() const { return fair_class_; }
  Kva SchedulerText() const { return text_; }  // a 'T' symbol "scx_watchdog_workfn"

 private:
  void BuildBtf();
  void BuildSymbolsAndPerCpu();
  void InitDsq(Kva dsq, uint64_t id);
  void ListInit(Kva head);
  void ListAddTail(Kva head, Kva node);
  void RehashUserDsqs();

  ScxWorldOptions options_;
  FakeGuest guest_;
  TestBtf btf_;
  std::unique_ptr<OffsetResolver> resolver_;
  std::unique_ptr<SymbolIndex> symbols_;  // in place: it keeps views into its name storage
  std::unique_ptr<PerCpuLayout> percpu_;
  Kva unit_tmpl_;           // the per-CPU template unit (what symbols point into)
  std::vector<Kva> units_;  // one per CPU: rq at +0, scx_sched_pcpu at +kUnitPcpu
  std::vector<Kva> rqs_;
  Kva runqueues_tmpl_, scx_root_, scx_tasks_, jiffies_, enable_state_, clocksource_;
  Kva ext_class_, fair_class_, text_, nr_node_ids_;
  Kva sched_, pcpu_tmpl_, global_dsq_, table_;
  // Where the scheduler's state lives: inside sched_ (6.16+) or in globals.
  Kva dsq_hash_, exit_kind_, exit_info_ptr_;
  Kva watchdog_global_, bypass_depth_, global_dsqs_;  // globals of older layouts
  std::vector<std::pair<uint64_t, Kva>> user_dsqs_;
};

}  // namespace kfreeze::testing
