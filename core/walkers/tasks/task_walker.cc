#include "core/walkers/tasks/task_walker.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/guest_text.h"
#include "core/base/reasons.h"
#include "core/base/status.h"
#include "core/ds/list.h"
#include "core/walkers/common/cpulist.h"
#include "core/walkers/scx/sched_state.h"
#include "core/walkers/tasks/task_state.h"

namespace kfreeze::walkers::tasks {
namespace {

using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::TaskEnrichment;

// The byte window of task_struct that holds every member read, so each task is one read.
struct Window {
  uint64_t begin = 0, size = 0;
};

Window TaskWindow(const TaskContext& ctx) {
  const scx::ScxOffsets& so = ctx.scx->off;
  std::vector<uint64_t> offs = {so.task->pid, so.task->comm + so.task->comm_len,
                                so.task->sched_class};
  if (const auto& d = ctx.off.detail) {
    for (uint64_t o :
         {d->state, d->exit_state, d->tgid, d->prio, d->static_prio, d->normal_prio, d->rt_priority,
          d->policy, d->real_parent, d->group_leader, d->signal, d->nvcsw, d->nivcsw, d->cpu}) {
      offs.push_back(o);
    }
    for (const auto& o : {d->cpus_ptr, d->migration_disabled, d->core_cookie, d->stack}) {
      if (o) offs.push_back(*o);
    }
  }
  const uint64_t scx = so.task->scx;
  if (so.entity) {
    for (uint64_t o : {so.entity->dsq, so.entity->flags, so.entity->runnable_at}) {
      offs.push_back(scx + o);
    }
  }
  if (const auto& e = ctx.off.entity) {
    for (uint64_t o : {e->weight, e->slice, e->dsq_vtime, e->sticky_cpu, e->holding_cpu,
                       e->dsq_flags, e->ops_state}) {
      offs.push_back(scx + o);
    }
  }
  Window w;
  w.begin = *std::min_element(offs.begin(), offs.end());
  w.size = *std::max_element(offs.begin(), offs.end()) + 8 - w.begin;
  return w;
}

// One task's window of task_struct, read into a buffer the walk reuses.
class TaskBytes {
 public:
  TaskBytes(const std::vector<uint8_t>& bytes, uint64_t begin) : bytes_(bytes), begin_(begin) {}
  template <typename T>
  T Get(uint64_t offset) const {
    T v;
    std::memcpy(&v, bytes_.data() + (offset - begin_), sizeof(T));
    return v;
  }
  std::string Chars(uint64_t offset, size_t len) const {
    const char* p = reinterpret_cast<const char*>(bytes_.data() + (offset - begin_));
    return std::string(p, strnlen(p, len));
  }

 private:
  const std::vector<uint8_t>& bytes_;
  uint64_t begin_;
};

// What a task record needs from outside its own window: the pointers it follows, read.
struct Chased {
  std::optional<int32_t> leader_pid, parent_pid, nr_threads, pgid, sid;
  std::optional<std::string> parent_comm;
  std::optional<uint64_t> signal_nvcsw, signal_nivcsw, dsq_id;
  std::optional<std::vector<uint64_t>> cpus_words;
};

template <typename T>
std::optional<T> IfOk(absl::StatusOr<T> v) {
  return v.ok() ? std::optional<T>(*std::move(v)) : std::nullopt;
}

// A task is read in two steps, the reads (Read) and the record built from them (Render): the copy
// stage only needs the reads, which copy every page the decode stage will read again.
class Enricher {
 public:
  // task_struct is 6-14 KiB in every kernel; offsets spanning more come from a hostile BTF.
  static constexpr uint64_t kMaxWindowBytes = 64 * 1024;

  Enricher(Reader& reader, const TaskContext& ctx, const scx::ScxTaskRefs& refs,
           std::optional<uint64_t> jiffies)
      : reader_(reader), ctx_(ctx), refs_(refs), jiffies_(jiffies), window_(TaskWindow(ctx)) {
    if (window_.size <= kMaxWindowBytes) buffer_.resize(window_.size);
    for (const auto& k : ctx_.scx->sched_classes) ext_known_ |= k.short_name == "ext";
    if (const auto& d = ctx_.off.detail) {
      for (uint64_t o : {d->group_leader, d->real_parent, d->signal}) followed_.push_back({o, 8});
      for (const auto& o : {d->cpus_ptr, d->stack}) {
        if (o) followed_.push_back({*o, 8});
      }
      followed_.push_back({d->cpu, 4});
    }
    const scx::ScxOffsets& so = ctx_.scx->off;
    if (so.entity && so.dsq) followed_.push_back({so.task->scx + so.entity->dsq, 8});
  }

  // Reads the task's window and what it points to; the window stays valid until the next Read.
  absl::Status Read(Kva task, Chased& c) {
    if (window_.size > kMaxWindowBytes) {
      return BadData(absl::StrCat("task_struct window of ", window_.size,
                                  " bytes (from BTF offsets) exceeds ", kMaxWindowBytes));
    }
    if (reader_.copying()) {
      // The copy stage only follows pointers: it marks the window's pages for the decode stage
      // and reads just the members it needs, instead of pulling the whole window through the
      // cache before the snapshot copies it again.
      KF_RETURN_IF_ERROR(reader_.Prefetch(task + window_.begin, window_.size));
      for (const Member& m : followed_) {
        std::span<uint8_t> at =
            std::span<uint8_t>(buffer_).subspan(m.offset - window_.begin, m.size);
        KF_RETURN_IF_ERROR(reader_.ReadVirt(task + m.offset, at));
      }
    } else {
      KF_RETURN_IF_ERROR(reader_.ReadVirt(task + window_.begin, std::span<uint8_t>(buffer_)));
    }
    const TaskBytes b = bytes();
    if (ctx_.off.detail) ChaseDetail(b, c);
    const scx::ScxOffsets& so = ctx_.scx->off;
    if (so.entity && so.dsq) {
      if (Kva dsq(b.Get<uint64_t>(so.task->scx + so.entity->dsq)); !dsq.IsNull()) {
        c.dsq_id = IfOk(reader_.ReadU64(dsq + so.dsq->id));
      }
    }
    return absl::OkStatus();
  }

  TaskEnrichment Render(Kva task, const Chased& c) const {
    const TaskBytes b = bytes();
    const scx::TaskCoreOffsets& to = *ctx_.scx->off.task;
    TaskEnrichment t;
    t.set_task_kva(task.value);
    t.set_pid(b.Get<int32_t>(to.pid));
    const std::string comm = b.Chars(to.comm, to.comm_len);
    t.set_comm(GuestText(comm));
    if (!IsValidUtf8(comm)) t.set_comm_raw(comm);
    const uint64_t cls = b.Get<uint64_t>(to.sched_class);
    std::optional<std::string> cls_name = ctx_.scx->SchedClassName(cls);
    if (cls_name) t.set_sched_class(*cls_name);
    const bool runnable = refs_.runnable.contains(task.value);
    t.set_is_runnable_in_scx(runnable);
    auto running = refs_.running_on.find(task.value);
    t.set_is_running(running != refs_.running_on.end());
    // A task queued on a runnable list but not in ext_sched_class was boosted out by PI.
    t.set_pi_boosted_out_of_scx(runnable && ext_known_ && cls_name.value_or("") != "ext");
    if (ctx_.off.detail) FillDetail(b, c, t);
    FillEntity(b, c, t);
    return t;
  }

  // Memory-latency hints, issued ahead of Read along the task list: the members Read follows,
  // then (once those are in cache) what they point to. Read then finds its lines loading or
  // loaded instead of missing one after another.
  void HintMembers(Kva task) {
    for (const Member& m : followed_) reader_.Hint(task + m.offset);
  }
  void HintChased(Kva task) {
    auto follow = [&](uint64_t member, uint64_t offset) {
      std::optional<uint64_t> p = reader_.PeekU64(task + member);
      if (p && *p != 0) reader_.Hint(Kva(*p) + offset);
    };
    if (const auto& d = ctx_.off.detail) {
      const scx::TaskCoreOffsets& to = *ctx_.scx->off.task;
      follow(d->group_leader, to.pid);
      follow(d->real_parent, to.pid);
      follow(d->real_parent, to.comm);
      if (const auto& s = ctx_.off.signal) {
        follow(d->signal, s->nr_threads);
        follow(d->signal, s->nvcsw);
        follow(d->signal, s->pids);
      }
      if (d->cpus_ptr) follow(*d->cpus_ptr, 0);
    }
    const scx::ScxOffsets& so = ctx_.scx->off;
    if (so.entity && so.dsq) follow(so.task->scx + so.entity->dsq, so.dsq->id);
  }

  // The task's stack for the stacks phase; {} without a `stack` offset.
  TaskStackRef StackRef(Kva task, bool running) const {
    if (!ctx_.off.detail || !ctx_.off.detail->stack) return {};
    const TaskBytes b = bytes();
    return {task.value, b.Get<uint64_t>(*ctx_.off.detail->stack), running,
            b.Get<uint32_t>(ctx_.off.detail->cpu)};
  }

 private:
  TaskBytes bytes() const { return TaskBytes(buffer_, window_.begin); }

  void ChaseDetail(const TaskBytes& b, Chased& c) {
    const TaskDetailOffsets& d = *ctx_.off.detail;
    const scx::TaskCoreOffsets& to = *ctx_.scx->off.task;
    if (Kva leader(b.Get<uint64_t>(d.group_leader)); !leader.IsNull()) {
      c.leader_pid = IfOk(reader_.ReadS32(leader + to.pid));
    }
    if (Kva parent(b.Get<uint64_t>(d.real_parent)); !parent.IsNull()) {
      c.parent_pid = IfOk(reader_.ReadS32(parent + to.pid));
      c.parent_comm = IfOk(reader_.ReadCharArray(parent + to.comm, to.comm_len));
    }
    if (Kva signal(b.Get<uint64_t>(d.signal)); !signal.IsNull() && ctx_.off.signal) {
      ChaseSignal(signal, c);
    }
    if (d.cpus_ptr) {
      if (Kva mask(b.Get<uint64_t>(*d.cpus_ptr)); !mask.IsNull()) {
        const uint32_t nbits = ctx_.scx->percpu->nr_cpu_ids();
        std::vector<uint64_t> words((nbits + 63) / 64);
        absl::Status s = reader_.ReadVirt(
            mask, std::span<uint8_t>(reinterpret_cast<uint8_t*>(words.data()), words.size() * 8));
        if (s.ok()) c.cpus_words = std::move(words);
      }
    }
  }

  void ChaseSignal(Kva signal, Chased& c) {
    const SignalOffsets& s = *ctx_.off.signal;
    c.nr_threads = IfOk(reader_.ReadS32(signal + s.nr_threads));
    c.signal_nvcsw = IfOk(reader_.ReadU64(signal + s.nvcsw));
    c.signal_nivcsw = IfOk(reader_.ReadU64(signal + s.nivcsw));
    auto pid_nr = [&](int64_t type) -> std::optional<int32_t> {
      absl::StatusOr<Kva> pid = reader_.ReadPtr(signal + s.pids + static_cast<uint64_t>(type) * 8);
      if (!pid.ok() || pid->IsNull()) return std::nullopt;
      return IfOk(reader_.ReadS32(*pid + s.pid_numbers + s.upid_nr));
    };
    c.pgid = pid_nr(s.pidtype_pgid);
    c.sid = pid_nr(s.pidtype_sid);
  }

  void FillDetail(const TaskBytes& b, const Chased& c, TaskEnrichment& t) const {
    const TaskDetailOffsets& d = *ctx_.off.detail;
    t.set_tgid(b.Get<int32_t>(d.tgid));
    t.set_prio(b.Get<int32_t>(d.prio));
    t.set_static_prio(b.Get<int32_t>(d.static_prio));
    t.set_normal_prio(b.Get<int32_t>(d.normal_prio));
    t.set_rt_priority(b.Get<uint32_t>(d.rt_priority));
    t.set_policy(b.Get<uint32_t>(d.policy));
    const uint32_t state = b.Get<uint32_t>(d.state);
    t.set_state(state);
    t.set_state_char(std::string(1, TaskStateChar(state, b.Get<uint32_t>(d.exit_state))));
    t.set_cpu(b.Get<uint32_t>(d.cpu));
    t.set_nvcsw(b.Get<uint64_t>(d.nvcsw));
    t.set_nivcsw(b.Get<uint64_t>(d.nivcsw));
    if (d.migration_disabled) t.set_migration_disabled(b.Get<uint16_t>(*d.migration_disabled));
    if (d.core_cookie) t.set_core_cookie(b.Get<uint64_t>(*d.core_cookie));
    if (c.leader_pid) t.set_group_leader_pid(*c.leader_pid);
    if (c.parent_pid) t.set_real_parent_pid(*c.parent_pid);
    if (c.parent_comm) {
      t.set_real_parent_comm(GuestText(*c.parent_comm));
      if (!IsValidUtf8(*c.parent_comm)) t.set_real_parent_comm_raw(*c.parent_comm);
    }
    if (c.nr_threads) t.set_nr_threads(*c.nr_threads);
    if (c.signal_nvcsw) t.set_signal_nvcsw(*c.signal_nvcsw);
    if (c.signal_nivcsw) t.set_signal_nivcsw(*c.signal_nivcsw);
    if (c.pgid) t.set_pgid(*c.pgid);
    if (c.sid) t.set_sid(*c.sid);
    if (c.cpus_words) {
      t.set_cpus_allowed(FormatCpuList(*c.cpus_words, ctx_.scx->percpu->nr_cpu_ids()));
    }
  }

  void FillEntity(const TaskBytes& b, const Chased& c, TaskEnrichment& t) const {
    const scx::ScxOffsets& so = ctx_.scx->off;
    const uint64_t scx = so.task->scx;
    const scx::ScxConstants& k = so.constants;
    if (so.entity) {
      const uint32_t flags = b.Get<uint32_t>(scx + so.entity->flags);
      t.set_scx_flags(flags);
      t.set_scx_state((flags & k.task_state_mask) >> k.task_state_shift);
      const uint64_t runnable_at = b.Get<uint64_t>(scx + so.entity->runnable_at);
      if (jiffies_ && runnable_at <= *jiffies_)
        t.set_runnable_at_age_jiffies(*jiffies_ - runnable_at);
      if (c.dsq_id) t.set_dsq_id(*c.dsq_id);
    }
    if (const auto& e = ctx_.off.entity) {
      t.set_weight(b.Get<uint32_t>(scx + e->weight));
      t.set_slice(b.Get<uint64_t>(scx + e->slice));
      t.set_dsq_vtime(b.Get<uint64_t>(scx + e->dsq_vtime));
      t.set_sticky_cpu(b.Get<int32_t>(scx + e->sticky_cpu));
      t.set_holding_cpu(b.Get<int32_t>(scx + e->holding_cpu));
      t.set_dsq_flags(b.Get<uint32_t>(scx + e->dsq_flags));
      const uint64_t ops = b.Get<uint64_t>(scx + e->ops_state);
      t.set_ops_state(ops & ((1ull << k.opss_qseq_shift) - 1));
      t.set_ops_qseq(ops >> k.opss_qseq_shift);
    }
    if (ctx_.off.detail && ctx_.off.detail->stack) {
      // dump::PairRunningTasks joins it to the vCPU registers, which arrive after the walk.
      t.set_stack_base(b.Get<uint64_t>(*ctx_.off.detail->stack));
    }
  }

  struct Member {
    uint64_t offset, size;
  };

  Reader& reader_;
  const TaskContext& ctx_;
  const scx::ScxTaskRefs& refs_;
  std::optional<uint64_t> jiffies_;
  Window window_;
  bool ext_known_ = false;        // the kernel's classes include ext_sched_class
  std::vector<uint8_t> buffer_;   // the current task's window
  std::vector<Member> followed_;  // what the copy stage reads of the window (Read, StackRef)
};

// Tasks on scx_tasks, iterator cursors skipped.
std::vector<Kva> ScxTasks(Reader& reader, const TaskContext& ctx, absl::Status* error) {
  std::vector<Kva> out;
  const scx::ScxContext& s = *ctx.scx;
  if (!s.roots.scx_tasks || !s.off.entity) {
    *error = absl::NotFoundError("no scx_tasks list");
    return out;
  }
  ds::ListWalk walk = ds::ListForEach(reader, *s.roots.scx_tasks, kMaxScxTasksNodes);
  for (Kva node : walk.nodes) {
    const Kva entity = ds::ContainerOf(node, s.off.entity->tasks_node);
    absl::StatusOr<uint32_t> flags = reader.ReadU32(entity + s.off.entity->flags);
    if (flags.ok() && (*flags & s.off.constants.task_cursor)) continue;
    out.push_back(ds::ContainerOf(entity, s.off.task->scx));
  }
  if (!walk.complete()) {
    *error = !walk.error.ok() ? walk.error
                              : BadData(walk.cycle ? "scx_tasks: cycle" : "scx_tasks: too long");
  }
  return out;
}

}  // namespace

TaskContext BuildTaskContext(const OffsetResolver& resolver, const scx::ScxContext& scx) {
  TaskContext ctx;
  ctx.scx = &scx;
  ctx.off = ResolveTaskOffsets(resolver);
  return ctx;
}

TaskStackRefs CaptureTasks(Reader& reader, const TaskContext& ctx, const scx::ScxTaskRefs& refs,
                           FailureDumpReport& report) {
  TaskStackRefs stacks;
  if (ctx.scx == nullptr || !ctx.scx->off.task) {
    report.set_task_enrichments_unavailable(
        absl::StrCat(std::string(kReasonNoTaskWalker), ": missing offset groups [task_struct]"));
    return stacks;
  }
  absl::Status list_error;
  std::vector<Kva> listed = ScxTasks(reader, ctx, &list_error);
  std::optional<uint64_t> jiffies;
  if (auto j = scx::ReadJiffies(reader, *ctx.scx); j.ok()) jiffies = *j;

  Enricher enricher(reader, ctx, refs, jiffies);
  absl::flat_hash_set<uint64_t> seen;
  size_t wanted = 0, unreadable = 0, captured = 0;
  absl::Status first_unreadable;
  auto visit = [&](Kva task) {
    if (task.IsNull() || !seen.insert(task.value).second) return;
    ++wanted;
    if (captured >= kMaxTasks) return;
    // A spent dump budget (deadline included) ends every later task at once, with its reason.
    Chased chased;
    absl::Status read =
        reader.ChargeNodes(1) ? enricher.Read(task, chased) : reader.budget()->status();
    if (!read.ok()) {
      if (unreadable++ == 0) first_unreadable = read;
      return;
    }
    ++captured;
    const bool running = refs.running_on.contains(task.value);
    if (TaskStackRef ref = enricher.StackRef(task, running); ref.stack_base != 0) {
      stacks.tasks.push_back(ref);
    }
    // The copy stage has copied what the record needs; the decode stage builds it.
    if (!reader.copying()) *report.add_task_enrichments() = enricher.Render(task, chased);
  };
  std::vector<Kva> todo(refs.order.begin(), refs.order.end());
  todo.insert(todo.end(), listed.begin(), listed.end());
  // How far ahead the hints run: far enough to cover a memory miss, near enough to stay cached.
  constexpr size_t kHintAhead = 8;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (i + 2 * kHintAhead < todo.size()) enricher.HintMembers(todo[i + 2 * kHintAhead]);
    if (i + kHintAhead < todo.size()) enricher.HintChased(todo[i + kHintAhead]);
    visit(todo[i]);
  }

  std::vector<std::string> problems;
  if (!ctx.off.report.all_ok()) problems.push_back(ctx.off.report.MissingReason());
  if (!list_error.ok()) problems.push_back(std::string(list_error.message()));
  if (unreadable > 0) {
    problems.push_back(
        absl::StrCat(unreadable, " unreadable tasks (first: ", first_unreadable.message(), ")"));
  }
  // ktstr's wire-stable reason means "no task KVAs"; tasks found but unreadable are a partial walk.
  if (captured == 0 && unreadable == 0) {
    report.set_task_enrichments_unavailable(std::string(kReasonTaskWalkerZeroTasks));
  } else if (wanted > kMaxTasks) {
    report.set_task_enrichments_unavailable(absl::StrCat(std::string(kReasonTasksTruncatedPrefix),
                                                         captured, " of ", wanted, " tasks (cap ",
                                                         kMaxTasks, ")"));
  } else if (!problems.empty()) {
    report.set_task_enrichments_unavailable(
        absl::StrCat(kReasonTasksPartialPrefix, absl::StrJoin(problems, "; ")));
  }
  return stacks;
}

}  // namespace kfreeze::walkers::tasks
