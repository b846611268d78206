#include "tests/walkers/support/scx_world.h"

#include <cstdio>
#include <cstdlib>

namespace kfreeze::testing {
namespace L = layout;

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "ScxWorld: %s\n", what);
  std::abort();
}

bool AtLeast(const ScxWorldOptions& o, ScxEra e) { return o.era >= e; }

// SCX_EV_* names per era, at the index of their EventCounterSample field (offset = index * 8).
std::vector<std::pair<uint32_t, const char*>> EventCounters(ScxEra era) {
  std::vector<std::pair<uint32_t, const char*>> out = {{0, "SCX_EV_SELECT_CPU_FALLBACK"},
                                                       {1, "SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE"},
                                                       {2, "SCX_EV_DISPATCH_KEEP_LAST"},
                                                       {3, "SCX_EV_ENQ_SKIP_EXITING"},
                                                       {4, "SCX_EV_ENQ_SKIP_MIGRATION_DISABLED"},
                                                       {8, "SCX_EV_BYPASS_DURATION"},
                                                       {9, "SCX_EV_BYPASS_DISPATCH"},
                                                       {10, "SCX_EV_BYPASS_ACTIVATE"}};
  out.push_back({7, era >= ScxEra::k6_16 ? "SCX_EV_REFILL_SLICE_DFL" : "SCX_EV_ENQ_SLICE_DFL"});
  if (era >= ScxEra::k7_1) {
    out.push_back({5, "SCX_EV_REENQ_IMMED"});
    out.push_back({6, era >= ScxEra::k7_3 ? "SCX_EV_REENQ_REPEAT" : "SCX_EV_REENQ_LOCAL_REPEAT"});
    out.push_back({11, "SCX_EV_INSERT_NOT_OWNED"});
    out.push_back({12, "SCX_EV_SUB_BYPASS_DISPATCH"});
  }
  return out;
}

}  // namespace

const char* ScxEraName(ScxEra era) {
  switch (era) {
    case ScxEra::k6_12:
      return "6.12";
    case ScxEra::k6_14:
      return "6.14";
    case ScxEra::k6_15:
      return "6.15";
    case ScxEra::k6_16:
      return "6.16";
    case ScxEra::k6_18:
      return "6.18";
    case ScxEra::k7_1:
      return "7.1";
    case ScxEra::k7_3:
      return "7.3";
  }
  return "?";
}

ScxWorld::ScxWorld(ScxWorldOptions options) : options_(std::move(options)) {
  BuildBtf();
  BuildSymbolsAndPerCpu();
}

void ScxWorld::BuildBtf() {
  TestBtf& b = btf_;
  auto fields = [this](const std::string& st, std::vector<TestField> fs) {
    std::vector<TestField> kept;
    for (TestField& f : fs) {
      if (!options_.omit.count(st + "." + f.name)) kept.push_back(std::move(f));
    }
    return kept;
  };
  auto add = [&](const std::string& st, uint32_t size, std::vector<TestField> fs) {
    if (options_.omit.count(st)) return;  // the whole struct
    b.Struct(st, size, fields(st, std::move(fs)));
  };
  add("list_head", 16, {{"next", "ptr", 0}, {"prev", "ptr", 8}});
  add("rhash_head", 8, {{"next", "ptr", 0}});
  add("scx_dsq_list_node", 24,
      {{"node", "list_head", 0}, {"flags", "u32", 16}, {"priv", "u32", 20}});
  add("scx_dispatch_q", L::kDsqSize,
      {{"id", "u64", L::kDsqId},
       {"list", "list_head", L::kDsqList},
       {"nr", "u32", L::kDsqNr},
       {"seq", "u32", L::kDsqSeq},
       {"hash_node", "rhash_head", L::kDsqHashNode}});
  add("sched_ext_entity", L::kSeeSize,
      {{"dsq", "ptr", L::kSeeDsq},
       {"ops_state", "u64", L::kSeeOpsState},
       {"dsq_list", "scx_dsq_list_node", L::kSeeDsqListNode},
       {"flags", "u32", L::kSeeFlags},
       {"weight", "u32", L::kSeeWeight},
       {"sticky_cpu", "s32", L::kSeeStickyCpu},
       {"holding_cpu", "s32", L::kSeeHoldingCpu},
       {"dsq_flags", "u32", L::kSeeDsqFlags},
       {"runnable_node", "list_head", L::kSeeRunnableNode},
       {"runnable_at", "u64", L::kSeeRunnableAt},
       {"slice", "u64", L::kSeeSlice},
       {"dsq_vtime", "u64", L::kSeeDsqVtime},
       {"tasks_node", "list_head", L::kSeeTasksNode}});
  add("thread_info", 24, {{"flags", "u64", 0}, {"cpu", "u32", 16}});
  add("cpumask", 8, {{"bits", "u64[1]", 0}});
  add("upid", L::kUpidSize, {{"nr", "s32", 0}, {"ns", "ptr", 8}});
  add("pid", L::kPidSize,
      {{"count", "u32", 0}, {"level", "u32", 4}, {"numbers", "upid[1]", L::kPidNumbers}});
  add("signal_struct", L::kSignalSize,
      {{"nr_threads", "s32", L::kSignalNrThreads},
       {"pids", "ptr[4]", L::kSignalPids},
       {"nvcsw", "u64", L::kSignalNvcsw},
       {"nivcsw", "u64", L::kSignalNivcsw}});
  add("task_struct", L::kTaskSize,
      {{"thread_info", "thread_info", 0},
       {"__state", "u32", L::kTaskState},
       {"prio", "s32", L::kTaskPrio},
       {"static_prio", "s32", L::kTaskStaticPrio},
       {"normal_prio", "s32", L::kTaskNormalPrio},
       {"rt_priority", "u32", L::kTaskRtPriority},
       {"sched_class", "ptr", L::kTaskSchedClass},
       {"policy", "u32", L::kTaskPolicy},
       {"migration_disabled", "u16", L::kTaskMigrationDisabled},
       {"cpus_ptr", "ptr", L::kTaskCpusPtr},
       {"cpus_mask", "cpumask", L::kTaskCpusMask},
       {"scx", "sched_ext_entity", L::kTaskScx},
       {"exit_state", "s32", L::kTaskExitState},
       {"pid", "s32", L::kTaskPid},
       {"tgid", "s32", L::kTaskTgid},
       {"real_parent", "ptr", L::kTaskRealParent},
       {"group_leader", "ptr", L::kTaskGroupLeader},
       {"comm", "char[16]", L::kTaskComm},
       {"signal", "ptr", L::kTaskSignal},
       {"nvcsw", "u64", L::kTaskNvcsw},
       {"nivcsw", "u64", L::kTaskNivcsw},
       {"thread_pid", "ptr", L::kTaskThreadPid},
       {"stack", "ptr", L::kTaskStack}});
  const ScxWorldOptions& o = options_;
  std::vector<TestField> scx_rq = {{"local_dsq", "scx_dispatch_q", L::kScxRqLocalDsq},
                                   {"runnable_list", "list_head", L::kScxRqRunnableList},
                                   {"nr_running", "u32", L::kScxRqNrRunning},
                                   {"flags", "u32", L::kScxRqFlags},
                                   {"cpu_released", "bool", L::kScxRqCpuReleased}};
  if (!AtLeast(o, ScxEra::k7_3)) scx_rq.push_back({"ops_qseq", "u64", L::kScxRqOpsQseq});
  if (AtLeast(o, ScxEra::k6_14)) scx_rq.push_back({"clock", "u64", L::kScxRqClock});
  if (AtLeast(o, ScxEra::k7_1)) {
    scx_rq.push_back({"nr_immed", "u32", L::kScxRqNrImmed});
    scx_rq.push_back({"kick_sync", "u64", L::kScxRqKickSync});
  } else {
    scx_rq.push_back({"pnt_seq", "u64", L::kScxRqKickSync});
  }
  add("scx_rq", L::kScxRqSize, std::move(scx_rq));
  add("rq", L::kRqSize,
      {{"nr_running", "u32", L::kRqNrRunning},
       {"curr", "ptr", L::kRqCurr},
       {"scx", "scx_rq", L::kRqScx}});
  if (AtLeast(o, ScxEra::k6_15)) {
    std::vector<TestField> ev;
    for (const auto& [i, name] : EventCounters(o.era)) ev.push_back({name, "s64", i * 8});
    add("scx_event_stats", L::kEventStatsSize, ev);
  }
  if (AtLeast(o, ScxEra::k6_18)) {
    std::vector<TestField> pcpu = {{"sch", "ptr", 0},
                                   {"event_stats", "scx_event_stats", L::kPcpuEventStats}};
    if (AtLeast(o, ScxEra::k7_1))
      pcpu.push_back({"bypass_dsq", "scx_dispatch_q", L::kPcpuBypassDsq});
    add("scx_sched_pcpu", L::kPcpuSize, std::move(pcpu));
  }
  if (AtLeast(o, ScxEra::k7_1)) {
    add("scx_sched_pnode", L::kDsqSize, {{"global_dsq", "scx_dispatch_q", 0}});
  }
  add("sched_ext_ops", L::kOpsSize,
      {{"exit_dump_len", "u32", L::kOpsExitDumpLen}, {"name", "char[128]", L::kOpsName}});
  add("bucket_table", L::kBtSize,
      {{"size", "u32", L::kBtSize_},
       {"nest", "u32", L::kBtNest},
       {"future_tbl", "ptr", L::kBtFutureTbl},
       {"buckets", "ptr[0]", L::kBtBuckets}});
  add("rhashtable", L::kRhtSize, {{"tbl", "ptr", L::kRhtTbl}, {"nelems", "s32", L::kRhtNelems}});
  std::vector<TestField> exit_info = {
      {"kind", "u32", L::kEiKind},     {"exit_code", "s64", L::kEiExitCode},
      {"reason", "ptr", L::kEiReason}, {"bt", "ptr", L::kEiBt},
      {"bt_len", "u32", L::kEiBtLen},  {"msg", "ptr", L::kEiMsg},
      {"dump", "ptr", L::kEiDump}};
  if (AtLeast(o, ScxEra::k6_18)) exit_info.push_back({"flags", "u64", L::kEiFlags});
  add("scx_exit_info", L::kExitInfoSize, std::move(exit_info));
  if (AtLeast(o, ScxEra::k6_16)) {
    std::vector<TestField> sched = {{"ops", "sched_ext_ops", 0},
                                    {"dsq_hash", "rhashtable", L::kSchedDsqHash},
                                    {"exit_kind", "u32", L::kSchedExitKind},
                                    {"exit_info", "ptr", L::kSchedExitInfo}};
    if (AtLeast(o, ScxEra::k6_18)) {
      sched.push_back({"pcpu", "ptr", L::kSchedPcpu});
    } else {
      sched.push_back({"event_stats_cpu", "ptr", L::kSchedEventStatsCpu});
    }
    if (AtLeast(o, ScxEra::k7_1)) {
      sched.push_back({"pnode", "ptr", L::kSchedPnode});
      sched.push_back({"bypass_depth", "s32", L::kSchedBypassDepth});
      sched.push_back({"aborting", "bool", L::kSchedAborting});
      sched.push_back({"watchdog_timeout", "u64", L::kSchedWatchdogTimeout});
      sched.push_back({"level", "s32", L::kSchedSize - 8});
    } else {
      sched.push_back({"global_dsqs", "ptr", L::kSchedGlobalDsqs});
    }
    add("scx_sched", L::kSchedSize, std::move(sched));
  }
  add("clocksource", 64,
      {{"mult", "u32", L::kClocksourceMult}, {"shift", "u32", L::kClocksourceShift}});
  b.Enum("scx_dsq_lnode_flags", {{"SCX_DSQ_LNODE_ITER_CURSOR", 1}});
  b.Enum("scx_ent_flags", {{"SCX_TASK_QUEUED", 1},
                           {"SCX_TASK_STATE_SHIFT", 8},
                           {"SCX_TASK_STATE_MASK", 1792},
                           {"SCX_TASK_CURSOR", -2147483648LL}});
  b.Enum("scx_exit_kind",
         {{"SCX_EXIT_NONE", 0}, {"SCX_EXIT_ERROR", 1024}, {"SCX_EXIT_ERROR_STALL", 1026}});
  if (AtLeast(o, ScxEra::k6_16)) {
    b.Enum("scx_enable_state",
           {{"SCX_ENABLING", 0}, {"SCX_ENABLED", 1}, {"SCX_DISABLING", 2}, {"SCX_DISABLED", 3}});
  } else {
    b.Enum("scx_ops_enable_state", {{"SCX_OPS_ENABLING", 0},
                                    {"SCX_OPS_ENABLED", 1},
                                    {"SCX_OPS_DISABLING", 2},
                                    {"SCX_OPS_DISABLED", 3}});
  }
  b.Enum("scx_ops_state", {{"SCX_OPSS_QSEQ_SHIFT", 2}});
  resolver_ = b.MakeResolver();
}

void ScxWorld::BuildSymbolsAndPerCpu() {
  FakeGuest& g = guest_;
  unit_tmpl_ = g.Alloc(L::kUnitSize, 4096);
  std::vector<uint64_t> offsets;
  for (uint32_t cpu = 0; cpu < options_.cpus; ++cpu) {
    Kva unit = g.Alloc(L::kUnitSize, 4096);
    units_.push_back(unit);
    rqs_.push_back(unit + L::kUnitRq);
    offsets.push_back(unit - unit_tmpl_);
  }
  percpu_ = std::make_unique<PerCpuLayout>(options_.cpus, offsets);
  runqueues_tmpl_ = unit_tmpl_ + L::kUnitRq;
  scx_root_ = g.Alloc(8);
  scx_tasks_ = g.Alloc(16);
  ListInit(scx_tasks_);
  jiffies_ = g.Alloc(8);
  enable_state_ = g.Alloc(4);
  g.Put<uint32_t>(enable_state_, 3);  // SCX_DISABLED
  nr_node_ids_ = g.Alloc(4);
  g.Put<uint32_t>(nr_node_ids_, 1);
  clocksource_ = g.Alloc(64);
  // TICK_NSEC << JIFFIES_SHIFT(8), as kernel/time/jiffies.c initializes it.
  g.Put<uint32_t>(clocksource_ + L::kClocksourceMult,
                  ((1000000000u + options_.hz / 2) / options_.hz) << 8);
  g.Put<uint32_t>(clocksource_ + L::kClocksourceShift, 8);
  ext_class_ = g.Alloc(64);
  fair_class_ = g.Alloc(64);
  text_ = g.Alloc(4096, 4096);
  for (uint32_t cpu = 0; cpu < options_.cpus; ++cpu) {
    Kva rq = rqs_[cpu];
    InitDsq(LocalDsq(cpu), 0x8000000000000002ull);  // SCX_DSQ_LOCAL
    ListInit(rq + L::kRqScx + L::kScxRqRunnableList);
    g.Put<uint32_t>(rq + L::kRqScx + L::kScxRqFlags, 1);  // SCX_RQ_ONLINE
    g.Put<uint64_t>(rq + L::kRqScx + L::kScxRqKickSync, 70 + cpu);
    g.Put<uint64_t>(rq + L::kRqScx + L::kScxRqClock, 1000000 + cpu);
  }
  std::vector<SymbolIndex::Entry> syms = {{"runqueues", runqueues_tmpl_.value, 'D'},
                                          {"scx_tasks", scx_tasks_.value, 'd'},
                                          {"jiffies_64", jiffies_.value, 'D'},
                                          {"nr_node_ids", nr_node_ids_.value, 'D'},
                                          {"clocksource_jiffies", clocksource_.value, 'd'},
                                          {"ext_sched_class", ext_class_.value, 'D'},
                                          {"fair_sched_class", fair_class_.value, 'D'},
                                          {"scx_watchdog_workfn", text_.value, 't'}};
  const ScxEra era = options_.era;
  syms.push_back({era >= ScxEra::k6_16 ? "scx_enable_state_var" : "scx_ops_enable_state_var",
                  enable_state_.value, 'b'});
  if (era < ScxEra::k7_1) {
    bypass_depth_ = g.Alloc(4);
    syms.push_back({era >= ScxEra::k6_16 ? "scx_bypass_depth" : "scx_ops_bypass_depth",
                    bypass_depth_.value, 'b'});
  }
  if (era < ScxEra::k7_1) {
    watchdog_global_ = g.Alloc(8);
    syms.push_back({"scx_watchdog_timeout", watchdog_global_.value, 'b'});
  }
  if (Globals()) {
    // One scheduler at a time, its state in ext.c's statics.
    sched_ = g.Alloc(L::kOpsSize);
    exit_kind_ = g.Alloc(4);
    exit_info_ptr_ = g.Alloc(8);
    dsq_hash_ = g.Alloc(L::kRhtSize);
    global_dsqs_ = g.Alloc(8);
    syms.push_back({"scx_ops", sched_.value, 'b'});
    syms.push_back({"scx_exit_kind", exit_kind_.value, 'd'});
    syms.push_back({"scx_exit_info", exit_info_ptr_.value, 'b'});
    syms.push_back({"dsq_hash", dsq_hash_.value, 'b'});
    syms.push_back({"global_dsqs", global_dsqs_.value, 'b'});
    g.Put<uint32_t>(exit_kind_, 1);  // SCX_EXIT_DONE, as ext.c initializes it
    if (era >= ScxEra::k6_15) {
      // DEFINE_PER_CPU(struct scx_event_stats, event_stats_cpu): the symbol is the template.
      syms.push_back(
          {"event_stats_cpu", (unit_tmpl_ + L::kUnitPcpu + L::kPcpuEventStats).value, 'd'});
    }
  } else {
    syms.push_back({"scx_root", scx_root_.value, 'B'});
  }
  symbols_ = std::make_unique<SymbolIndex>(std::move(syms));
}

void ScxWorld::ListInit(Kva head) {
  guest_.PutPtr(head, head);
  guest_.PutPtr(head + 8, head);
}

void ScxWorld::ListAddTail(Kva head, Kva node) {
  absl::StatusOr<uint64_t> prev_v = [&] {
    Reader r = guest_.MakeReader();
    return r.ReadU64(head + 8);
  }();
  if (!prev_v.ok()) Die("list head unreadable");
  Kva prev(*prev_v);
  guest_.PutPtr(node, head);
  guest_.PutPtr(node + 8, prev);
  guest_.PutPtr(prev, node);
  guest_.PutPtr(head + 8, node);
}

void ScxWorld::InitDsq(Kva dsq, uint64_t id) {
  guest_.Put<uint64_t>(dsq + L::kDsqId, id);
  ListInit(dsq + L::kDsqList);
}

Kva ScxWorld::NewTask(int32_t pid, const std::string& comm) {
  FakeGuest& g = guest_;
  Kva t = g.Alloc(L::kTaskSize);
  g.Put<int32_t>(t + L::kTaskPid, pid);
  g.Put<int32_t>(t + L::kTaskTgid, pid);
  g.PutString(t + L::kTaskComm, comm.substr(0, 15));
  g.PutPtr(t + L::kTaskSchedClass, ext_class_);
  g.Put<int32_t>(t + L::kTaskPrio, 120);
  g.Put<int32_t>(t + L::kTaskStaticPrio, 120);
  g.Put<int32_t>(t + L::kTaskNormalPrio, 120);
  g.Put<uint32_t>(t + L::kTaskPolicy, 7);  // SCHED_EXT
  g.PutPtr(t + L::kTaskCpusPtr, t + L::kTaskCpusMask);
  g.Put<uint64_t>(t + L::kTaskCpusMask, (1ull << options_.cpus) - 1);
  const Kva see = t + L::kTaskScx;
  g.Put<uint32_t>(see + L::kSeeWeight, 100);
  g.Put<int32_t>(see + L::kSeeStickyCpu, -1);
  g.Put<int32_t>(see + L::kSeeHoldingCpu, -1);
  g.Put<uint32_t>(see + L::kSeeFlags, 0x400 | 0x1);  // SCX_TASK_ENABLED | QUEUED
  g.Put<uint64_t>(see + L::kSeeSlice, 20000000);
  ListInit(see + L::kSeeRunnableNode);
  ListInit(see + L::kSeeDsqListNode);
  ListInit(see + L::kSeeTasksNode);
  g.PutPtr(t + L::kTaskRealParent, t);
  g.PutPtr(t + L::kTaskGroupLeader, t);
  return t;
}

void ScxWorld::AddToScxTasks(Kva task) {
  ListAddTail(scx_tasks_, task + L::kTaskScx + L::kSeeTasksNode);
}

void ScxWorld::AddScxTasksCursor() {
  Kva see = guest_.Alloc(L::kSeeSize);
  guest_.Put<uint32_t>(see + L::kSeeFlags, 0x80000000u);
  ListAddTail(scx_tasks_, see + L::kSeeTasksNode);
}

void ScxWorld::AddRunnable(uint32_t cpu, Kva task) {
  Kva scx = rqs_[cpu] + L::kRqScx;
  ListAddTail(scx + L::kScxRqRunnableList, task + L::kTaskScx + L::kSeeRunnableNode);
  Reader r = guest_.MakeReader();
  guest_.Put<uint32_t>(scx + L::kScxRqNrRunning, r.ReadU32(scx + L::kScxRqNrRunning).value() + 1);
  guest_.Put<uint32_t>(rqs_[cpu] + L::kRqNrRunning,
                       r.ReadU32(rqs_[cpu] + L::kRqNrRunning).value() + 1);
  guest_.Put<uint32_t>(task + L::kTaskCpu, cpu);
}

void ScxWorld::SetCurr(uint32_t cpu, Kva task) { guest_.PutPtr(rqs_[cpu] + L::kRqCurr, task); }

Kva ScxWorld::SetSignal(const std::vector<Kva>& tasks, int32_t nr_threads, int32_t pgid,
                        int32_t sid) {
  FakeGuest& g = guest_;
  Kva sig = g.Alloc(L::kSignalSize);
  g.Put<int32_t>(sig + L::kSignalNrThreads, nr_threads);
  g.Put<uint64_t>(sig + L::kSignalNvcsw, 11);
  g.Put<uint64_t>(sig + L::kSignalNivcsw, 22);
  auto make_pid = [&](int32_t nr) {
    Kva p = g.Alloc(L::kPidSize + L::kUpidSize);
    g.Put<int32_t>(p + L::kPidNumbers, nr);
    return p;
  };
  g.PutPtr(sig + L::kSignalPids + 2 * 8, make_pid(pgid));
  g.PutPtr(sig + L::kSignalPids + 3 * 8, make_pid(sid));
  for (Kva t : tasks) g.PutPtr(t + L::kTaskSignal, sig);
  return sig;
}

Kva ScxWorld::GiveStack(Kva task) {
  Kva stack = guest_.Alloc(16 * 1024, 16 * 1024);
  guest_.PutPtr(task + L::kTaskStack, stack);
  return stack;
}

void ScxWorld::SetRunnableAt(Kva task, uint64_t jiffies) {
  guest_.Put<uint64_t>(task + L::kTaskScx + L::kSeeRunnableAt, jiffies);
}

void ScxWorld::SetJiffies(uint64_t jiffies) { guest_.Put<uint64_t>(jiffies_, jiffies); }

void ScxWorld::Enqueue(Kva dsq, Kva task) {
  ListAddTail(dsq + L::kDsqList, task + L::kTaskScx + L::kSeeDsqListNode);
  guest_.PutPtr(task + L::kTaskScx + L::kSeeDsq, dsq);
  Reader r = guest_.MakeReader();
  guest_.Put<uint32_t>(dsq + L::kDsqNr, r.ReadU32(dsq + L::kDsqNr).value() + 1);
  guest_.Put<uint32_t>(dsq + L::kDsqSeq, r.ReadU32(dsq + L::kDsqSeq).value() + 1);
}

void ScxWorld::EnqueueCursor(Kva dsq) {
  Kva see = guest_.Alloc(L::kSeeSize);
  guest_.Put<uint32_t>(see + L::kSeeDsqListFlags, 1);  // SCX_DSQ_LNODE_ITER_CURSOR
  ListAddTail(dsq + L::kDsqList, see + L::kSeeDsqListNode);
}

Kva ScxWorld::AttachScheduler(const std::string& name, uint64_t watchdog_timeout) {
  FakeGuest& g = guest_;
  const ScxEra era = options_.era;
  if (!Globals()) {
    sched_ = g.Alloc(L::kSchedSize);
    dsq_hash_ = sched_ + L::kSchedDsqHash;
    exit_kind_ = sched_ + L::kSchedExitKind;
    exit_info_ptr_ = sched_ + L::kSchedExitInfo;
  }
  g.PutString(sched_ + L::kOpsName, name);
  g.Put<uint32_t>(exit_kind_, 0);  // SCX_EXIT_NONE while running
  if (era >= ScxEra::k7_1) {
    g.Put<uint64_t>(sched_ + L::kSchedWatchdogTimeout, watchdog_timeout);  // from 7.1
  } else {
    g.Put<uint64_t>(watchdog_global_, watchdog_timeout);
  }
  // The global DSQ of each node: global_dsqs[node] (global before 6.16, in scx_sched to 7.0),
  // then pnode[node]->global_dsq (7.1+; the DSQ is the pnode's first member).
  Kva array = g.Alloc(8);
  global_dsq_ = g.Alloc(L::kDsqSize);
  g.PutPtr(array, global_dsq_);
  InitDsq(global_dsq_, 0x8000000000000001ull);  // SCX_DSQ_GLOBAL
  g.PutPtr(Globals()             ? global_dsqs_
           : era >= ScxEra::k7_1 ? sched_ + L::kSchedPnode
                                 : sched_ + L::kSchedGlobalDsqs,
           array);
  if (era >= ScxEra::k6_18) {
    // Per-CPU scx_sched_pcpu in each unit; the template pointer is what scx_sched.pcpu holds.
    pcpu_tmpl_ = unit_tmpl_ + L::kUnitPcpu;
    g.PutPtr(sched_ + L::kSchedPcpu, pcpu_tmpl_);
    for (uint32_t cpu = 0; cpu < options_.cpus; ++cpu) {
      Kva pcpu = units_[cpu] + L::kUnitPcpu;
      g.PutPtr(pcpu, sched_);
      if (era >= ScxEra::k7_1) InitDsq(pcpu + L::kPcpuBypassDsq, 0x8000000000000003ull);
    }
  } else if (era >= ScxEra::k6_16) {
    g.PutPtr(sched_ + L::kSchedEventStatsCpu, unit_tmpl_ + L::kUnitPcpu + L::kPcpuEventStats);
  }
  table_ = g.Alloc(L::kBtBuckets + uint64_t{options_.user_dsq_buckets} * 8);
  g.Put<uint32_t>(table_ + L::kBtSize_, options_.user_dsq_buckets);
  g.PutPtr(dsq_hash_ + L::kRhtTbl, table_);
  if (!Globals()) g.PutPtr(scx_root_, sched_);
  g.Put<uint32_t>(enable_state_, 1);  // SCX_(OPS_)ENABLED
  return sched_;
}

void ScxWorld::DetachScheduler() {
  if (!Globals()) guest_.PutPtr(scx_root_, Kva(0));
  guest_.Put<uint32_t>(enable_state_, 3);
}

Kva ScxWorld::BypassDsq(uint32_t cpu) const {
  return units_[cpu] + L::kUnitPcpu + L::kPcpuBypassDsq;
}

void ScxWorld::RehashUserDsqs() {
  // Simple chaining: bucket = id % size, nulls marker terminates each chain.
  Reader r = guest_.MakeReader();
  uint32_t size = r.ReadU32(table_ + L::kBtSize_).value();
  for (uint32_t i = 0; i < size; ++i) guest_.Put<uint64_t>(table_ + L::kBtBuckets + i * 8ull, 0);
  for (auto& [id, dsq] : user_dsqs_) {
    uint32_t b = static_cast<uint32_t>(id % size);
    Kva slot = table_ + L::kBtBuckets + b * 8ull;
    uint64_t head = r.ReadU64(slot).value();
    guest_.Put<uint64_t>(dsq + L::kDsqHashNode, head != 0 ? head : ((uint64_t{b} << 1) | 1));
    guest_.PutPtr(slot, dsq + L::kDsqHashNode);
  }
  guest_.Put<int32_t>(dsq_hash_ + L::kRhtNelems, static_cast<int32_t>(user_dsqs_.size()));
}

Kva ScxWorld::UserDsq(uint64_t id) {
  if (sched_.IsNull()) Die("UserDsq before AttachScheduler");
  Kva dsq = guest_.Alloc(L::kDsqSize);
  InitDsq(dsq, id);
  user_dsqs_.push_back({id, dsq});
  RehashUserDsqs();
  return dsq;
}

void ScxWorld::StartResize(uint32_t old_buckets) {
  // The current table becomes the future one; a smaller old table keeps the even-indexed DSQs.
  FakeGuest& g = guest_;
  Kva future = table_;
  Kva old = g.Alloc(L::kBtBuckets + uint64_t{old_buckets} * 8);
  g.Put<uint32_t>(old + L::kBtSize_, old_buckets);
  g.PutPtr(old + L::kBtFutureTbl, future);
  std::vector<std::pair<uint64_t, Kva>> all = user_dsqs_;
  std::vector<std::pair<uint64_t, Kva>> moved, stay;
  for (size_t i = 0; i < all.size(); ++i) (i % 2 == 0 ? stay : moved).push_back(all[i]);
  user_dsqs_ = moved;
  RehashUserDsqs();  // future table holds the moved ones
  table_ = old;
  user_dsqs_ = stay;
  RehashUserDsqs();  // old table holds the rest
  g.PutPtr(dsq_hash_ + L::kRhtTbl, old);
  user_dsqs_ = all;
  g.Put<int32_t>(dsq_hash_ + L::kRhtNelems, static_cast<int32_t>(all.size()));
}

void ScxWorld::SetExit(uint32_t kind, const std::string& reason, const std::string& msg,
                       const std::string& dump, const std::vector<uint64_t>& bt) {
  FakeGuest& g = guest_;
  Kva ei = g.Alloc(L::kExitInfoSize);
  g.Put<uint32_t>(ei + L::kEiKind, kind);
  g.Put<int64_t>(ei + L::kEiExitCode, -1);
  g.Put<uint64_t>(ei + L::kEiFlags, 1);  // SCX_EFLAG_INITIALIZED
  Kva r = g.Alloc(reason.size() + 1);
  g.PutString(r, reason);
  g.PutPtr(ei + L::kEiReason, r);
  Kva m = g.Alloc(1024);
  g.PutString(m, msg);
  g.PutPtr(ei + L::kEiMsg, m);
  Kva d = g.Alloc(32 * 1024, 4096);
  g.PutString(d, dump);
  g.PutPtr(ei + L::kEiDump, d);
  Kva b = g.Alloc(64 * 8);
  for (size_t i = 0; i < bt.size(); ++i) g.Put<uint64_t>(b + i * 8, bt[i]);
  g.PutPtr(ei + L::kEiBt, b);
  g.Put<uint32_t>(ei + L::kEiBtLen, static_cast<uint32_t>(bt.size()));
  g.PutPtr(exit_info_ptr_, ei);
  g.Put<uint32_t>(exit_kind_, kind);
}

void ScxWorld::SetEventCounter(uint32_t cpu, int index, int64_t value) {
  guest_.Put<int64_t>(units_[cpu] + L::kUnitPcpu + L::kPcpuEventStats + index * 8ull, value);
}

}  // namespace kfreeze::testing
