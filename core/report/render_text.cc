// Reports -> text for people: one section per report part, every *_unavailable reason and the
// truncation state in plain words.
#include "core/report/render_text.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/bpf_map_types.h"
#include "core/base/types.h"
#include "core/report/ktstr_json.h"
#include "google/protobuf/util/time_util.h"

namespace kfreeze::report {
namespace {

using namespace kfreeze::v1;

// Lists longer than this are cut in the text (the JSON keeps everything).
constexpr int kMaxListedItems = 64;
constexpr int kMaxListedPcs = 8;

std::string OptReason(bool has, const std::string& reason) {
  return has ? absl::StrCat(" <unavailable: ", reason, ">") : "";
}

// "cpu 3", "cpus 0-2", "cpus [0, 5]" for CPUs that share one value.
std::string CpuGroupLabel(const std::vector<int>& cpus, int total) {
  if (static_cast<int>(cpus.size()) == total && total > 1) return "all CPUs";
  if (cpus.size() == 1) return absl::StrCat("cpu ", cpus[0]);
  bool contiguous = cpus.back() - cpus.front() + 1 == static_cast<int>(cpus.size());
  if (contiguous) return absl::StrCat("cpus ", cpus.front(), "-", cpus.back());
  return absl::StrCat("cpus [", absl::StrJoin(cpus, ", "), "]");
}

void RenderPerCpu(const google::protobuf::RepeatedPtrField<OptionalRenderedValue>& per_cpu,
                  int indent, std::string* out) {
  // Identical values are grouped so 64 idle CPUs print as one line.
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (int cpu = 0; cpu < per_cpu.size(); ++cpu) {
    std::string text =
        per_cpu[cpu].has_value() ? RenderValueText(per_cpu[cpu].value(), indent + 1) : "<unmapped>";
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == text; });
    if (it == groups.end())
      groups.push_back({text, {cpu}});
    else
      it->second.push_back(cpu);
  }
  for (const auto& [text, cpus] : groups) {
    absl::StrAppend(out, std::string(indent * 2, ' '), CpuGroupLabel(cpus, per_cpu.size()), ": ",
                    text, "\n");
  }
}

std::string KeyText(bool has_key, const RenderedValue& key, const std::string& key_hex) {
  return has_key ? RenderValueText(key, 1) : absl::StrCat(BytesToSpacedHex(key_hex), " (raw)");
}

void RenderMap(const FailureDumpMap& m, std::string* out) {
  std::string type_name =
      m.has_map_type_name() ? m.map_type_name() : std::string(BpfMapTypeName(m.map_type()));
  if (type_name.empty()) type_name = absl::StrCat(m.map_type());
  absl::StrAppend(out, "map ", m.name(), " (type=", type_name, ", value_size=", m.value_size(),
                  ", max_entries=", m.max_entries(), ")");
  if (m.has_error()) absl::StrAppend(out, " [error: ", m.error(), "]");
  absl::StrAppend(out, "\n");
  if (m.has_value()) absl::StrAppend(out, "  ", RenderValueText(m.value(), 1), "\n");
  int shown = 0;
  for (const auto& e : m.entries()) {
    if (++shown > kMaxListedItems) break;
    absl::StrAppend(out, "  entry: key=", KeyText(e.has_key(), e.key(), e.key_hex()), "\n");
    absl::StrAppend(out, "    value: ",
                    e.has_value() ? RenderValueText(e.value(), 2)
                                  : absl::StrCat(BytesToSpacedHex(e.value_hex()), " (raw)"),
                    "\n");
    if (e.has_payload()) absl::StrAppend(out, "    .data ", RenderValueText(e.payload(), 2), "\n");
  }
  if (m.entries_size() > kMaxListedItems) {
    absl::StrAppend(out, "  ... ", m.entries_size() - kMaxListedItems, " more entries\n");
  }
  shown = 0;
  for (const auto& e : m.array_entries()) {
    if (++shown > kMaxListedItems) break;
    absl::StrAppend(out, "  key ", e.key(), ": ",
                    e.has_value() ? RenderValueText(e.value(), 2) : "<unreadable>", "\n");
  }
  for (const auto& e : m.percpu_entries()) {
    absl::StrAppend(out, "  key ", e.key(), ":\n");
    RenderPerCpu(e.per_cpu(), 2, out);
  }
  for (const auto& e : m.percpu_hash_entries()) {
    absl::StrAppend(out, "  entry: key=", KeyText(e.has_key(), e.key(), e.key_hex()), "\n");
    RenderPerCpu(e.per_cpu(), 2, out);
  }
  if (m.has_arena()) {
    const auto& a = m.arena();
    int non_zero = 0;
    size_t bytes = 0;
    for (const auto& p : a.pages()) {
      bytes += p.bytes().size();
      if (p.bytes().find_first_not_of('\0') != std::string::npos) ++non_zero;
    }
    absl::StrAppend(out, "  arena: ", a.pages_size(), " pages captured (", bytes / 1024, " KiB), ",
                    non_zero, " non-zero, user_vm_start=", Hex(a.user_vm_start()),
                    " kern_vm_start=", Hex(a.kern_vm_start()));
    if (a.truncated()) absl::StrAppend(out, " (truncated, ", a.declared_pages(), " declared)");
    if (a.span_capped()) absl::StrAppend(out, " (span capped)");
    absl::StrAppend(out, "\n");
  }
  if (m.has_ringbuf()) {
    const auto& r = m.ringbuf();
    double pct = r.capacity() ? 100.0 * static_cast<double>(r.pending_bytes()) /
                                    static_cast<double>(r.capacity())
                              : 0;
    absl::StrAppend(out, absl::StrFormat("  ringbuf: capacity=%dB, pending=%dB (%.1f%%), "
                                         "consumer_pos=%d, producer_pos=%d, pending_pos=%d\n",
                                         r.capacity(), r.pending_bytes(), pct, r.consumer_pos(),
                                         r.producer_pos(), r.pending_pos()));
  }
  if (m.has_stack_trace()) {
    const auto& s = m.stack_trace();
    absl::StrAppend(out, "  stack_trace: ", s.entries_size(), " of ", s.n_buckets(),
                    " buckets populated", s.truncated() ? " (truncated)" : "");
    if (s.buckets_unreadable()) absl::StrAppend(out, " (", s.buckets_unreadable(), " unreadable)");
    absl::StrAppend(out, "\n");
    for (const auto& e : s.entries()) {
      std::vector<std::string> pcs;
      for (int i = 0; i < e.pcs_size() && i < kMaxListedPcs; ++i) pcs.push_back(Hex(e.pcs(i)));
      if (e.pcs_size() > kMaxListedPcs)
        pcs.push_back(absl::StrCat("+", e.pcs_size() - kMaxListedPcs, " more"));
      absl::StrAppend(out, "    bucket ", e.bucket_id(), ": nr=", e.nr(), " pcs=[",
                      absl::StrJoin(pcs, ", "), "]\n");
    }
  }
  if (m.has_fd_array()) {
    const auto& f = m.fd_array();
    absl::StrAppend(out, "  fd_array: ", f.populated(), " of ", f.scanned(), " slots populated",
                    f.truncated() ? " (slots truncated)" : "");
    if (f.unreadable()) absl::StrAppend(out, " (", f.unreadable(), " unreadable)");
    absl::StrAppend(out, " indices=[", absl::StrJoin(f.indices(), ", "),
                    f.indices_truncated() ? ", ..." : "", "]\n");
  }
  if (m.has_queue()) {
    absl::StrAppend(out, "  elements (", m.queue().elements_size(),
                    m.queue().truncated() ? ", truncated" : "", "):\n");
    for (int i = 0; i < m.queue().elements_size(); ++i) {
      const auto& e = m.queue().elements(i);
      std::string hex = i < m.queue().elements_hex_size() ? m.queue().elements_hex(i) : "";
      absl::StrAppend(out, "    [", i, "] ",
                      e.has_value() ? RenderValueText(e.value(), 3)
                                    : absl::StrCat(BytesToSpacedHex(hex), " (raw)"),
                      "\n");
    }
  }
  if (m.has_bloom()) {
    absl::StrAppend(out, "  bloom: ", m.bloom().bits_set(), " of ", m.bloom().bits_total(),
                    " bits set, ", m.bloom().nr_hash_funcs(), " hash functions\n");
  }
  for (const auto& e : m.lpm_entries()) {
    absl::StrAppend(out, "  prefix ", BytesToSpacedHex(e.data_hex()), "/", e.prefixlen(), ": ",
                    e.has_value() ? RenderValueText(e.value(), 2)
                                  : absl::StrCat(BytesToSpacedHex(e.value_hex()), " (raw)"),
                    "\n");
  }
}

void RenderVcpuRegs(const google::protobuf::RepeatedPtrField<VcpuRegSlot>& regs, std::string* out) {
  absl::StrAppend(out, "vcpu_regs:\n");
  for (int i = 0; i < regs.size(); ++i) {
    if (!regs[i].has_regs()) {
      absl::StrAppend(out, "  vcpu ", i, ": <unavailable>\n");
      continue;
    }
    const auto& r = regs[i].regs();
    absl::StrAppend(
        out, absl::StrFormat("  vcpu %d: ip=0x%016x sp=0x%016x ptroot=0x%016x", i,
                             r.instruction_pointer(), r.stack_pointer(), r.page_table_root()));
    if (r.has_user_page_table_root())
      absl::StrAppend(out, absl::StrFormat(" uptroot=0x%016x", r.user_page_table_root()));
    if (r.has_ip_symbol()) absl::StrAppend(out, " (", r.ip_symbol(), ")");
    absl::StrAppend(out, "\n");
  }
}

void RenderScx(const FailureDumpReport& r, std::string* out) {
  if (r.has_scx_walker_unavailable()) {
    absl::StrAppend(out, "scx_walker: <unavailable: ", r.scx_walker_unavailable(), ">\n");
  }
  // Fields this kernel does not have are left out rather than shown as 0.
  const auto& absent_fields = r.scx_features().absent_fields();
  auto has = [&absent_fields](absl::string_view field) {
    return std::find(absent_fields.begin(), absent_fields.end(), field) == absent_fields.end();
  };
  if (r.has_scx_features()) {
    absl::StrAppend(out, "scx_layout: ", r.scx_features().layout(),
                    " counters=", r.scx_features().event_counters_layout(),
                    " global_dsqs=", r.scx_features().global_dsqs(), "\n");
  }
  if (r.has_scx_sched_state()) {
    const auto& s = r.scx_sched_state();
    absl::StrAppend(out, "scx_sched:", s.has_ops_name() ? absl::StrCat(" ", s.ops_name()) : "",
                    " exit_kind=", s.exit_kind());
    if (has("scx_sched_state.aborting")) {
      absl::StrAppend(out, " aborting=", s.aborting() ? "true" : "false");
    }
    if (has("scx_sched_state.bypass_depth"))
      absl::StrAppend(out, " bypass_depth=", s.bypass_depth());
    if (s.has_exit_kind_raw())
      absl::StrAppend(out, " (exit_kind field reads ", s.exit_kind_raw(), ")");
    if (s.has_watchdog_timeout())
      absl::StrAppend(out, " watchdog_timeout=", s.watchdog_timeout(), "j");
    if (s.has_enable_state()) absl::StrAppend(out, " state=", s.enable_state());
    if (s.has_source()) absl::StrAppend(out, " source=", s.source());
    if (s.has_sched_kva()) absl::StrAppend(out, " sched=", Hex(s.sched_kva()));
    absl::StrAppend(out, "\n");
    if (s.has_exit_info()) {
      const auto& e = s.exit_info();
      absl::StrAppend(out, "  exit: kind=", e.kind(), " code=", e.exit_code());
      if (e.has_flags()) absl::StrAppend(out, " flags=", Hex(e.flags()));
      if (e.has_reason()) absl::StrAppend(out, " reason=\"", e.reason(), "\"");
      absl::StrAppend(out, "\n");
      if (e.has_msg()) absl::StrAppend(out, "  msg: ", e.msg(), "\n");
      for (const auto& f : e.backtrace()) absl::StrAppend(out, "    ", f, "\n");
      if (e.has_dump()) absl::StrAppend(out, "  kernel dump:\n", e.dump(), "\n");
    }
  }
  for (const auto& rq : r.rq_scx_states()) {
    absl::StrAppend(out, absl::StrFormat("CPU %-3d: nr_run=%d flags=0x%x cpu_rel=%d", rq.cpu(),
                                         rq.nr_running(), rq.flags(), rq.cpu_released() ? 1 : 0));
    if (rq.has_kick_sync()) absl::StrAppend(out, " ksync=", rq.kick_sync());
    if (has("rq_scx_state.ops_qseq")) absl::StrAppend(out, " ops_qseq=", rq.ops_qseq());
    if (rq.has_rq_clock()) absl::StrAppend(out, " clock=", rq.rq_clock());
    if (rq.has_curr_pid()) {
      absl::StrAppend(out, " curr=", rq.has_curr_comm() ? rq.curr_comm() : "?", "[", rq.curr_pid(),
                      "]");
    }
    if (rq.has_curr_sched_class()) absl::StrAppend(out, " class=", rq.curr_sched_class());
    absl::StrAppend(out, " runnable=", rq.runnable_task_kvas_size(),
                    rq.runnable_truncated() ? " (truncated)" : "", "\n");
  }
  for (const auto& d : r.dsq_states()) {
    absl::StrAppend(out, "dsq ", Hex(d.id()), " (", d.origin(), "): nr=", d.nr(), " seq=", d.seq(),
                    d.truncated() ? " (truncated)" : "");
    if (d.has_oldest_runnable_age_jiffies()) {
      absl::StrAppend(out, " oldest=", d.oldest_runnable_age_jiffies(), "j");
    }
    std::vector<std::string> kvas;
    for (int i = 0; i < d.task_kvas_size() && i < kMaxListedPcs; ++i)
      kvas.push_back(Hex(d.task_kvas(i)));
    if (!kvas.empty())
      absl::StrAppend(out, " tasks=[", absl::StrJoin(kvas, ", "),
                      d.task_kvas_size() > kMaxListedPcs ? ", ..." : "", "]");
    absl::StrAppend(out, "\n");
  }
}

void RenderTasks(const FailureDumpReport& r, std::string* out) {
  if (r.task_enrichments_size() == 0) {
    if (r.has_task_enrichments_unavailable()) {
      absl::StrAppend(out, "task_enrichments: <unavailable: ", r.task_enrichments_unavailable(),
                      ">\n");
    }
    return;
  }
  absl::StrAppend(out, "tasks: ", r.task_enrichments_size(), " captured\n");
  absl::StrAppend(out, absl::StrFormat("  %7s %7s %-16s %-5s %4s %5s %7s %-10s %s\n", "PID", "TGID",
                                       "COMM", "STATE", "CPU", "PRIO", "WEIGHT", "CLASS", "SCX"));
  int shown = 0;
  for (const auto& t : r.task_enrichments()) {
    if (++shown > kMaxListedItems * 4) {
      absl::StrAppend(out, "  ... ", r.task_enrichments_size() - shown + 1, " more tasks\n");
      break;
    }
    std::string scx;
    if (t.has_dsq_id()) absl::StrAppend(&scx, " dsq=", Hex(t.dsq_id()));
    if (t.has_runnable_at_age_jiffies())
      absl::StrAppend(&scx, " waiting=", t.runnable_at_age_jiffies(), "j");
    if (t.has_slice()) absl::StrAppend(&scx, " slice=", t.slice());
    if (t.has_scx_flags()) absl::StrAppend(&scx, absl::StrFormat(" flags=0x%x", t.scx_flags()));
    if (t.is_running()) absl::StrAppend(&scx, " running");
    if (t.has_running_symbol()) absl::StrAppend(&scx, " at ", t.running_symbol());
    if (t.has_lock_slowpath_match()) absl::StrAppend(&scx, " in ", t.lock_slowpath_match());
    absl::StrAppend(out,
                    absl::StrFormat("  %7d %7d %-16s %-5s %4s %5d %7d %-10s%s\n", t.pid(), t.tgid(),
                                    t.comm(), t.has_state_char() ? t.state_char() : "?",
                                    t.has_cpu() ? absl::StrCat(t.cpu()) : "?", t.prio(), t.weight(),
                                    t.has_sched_class() ? t.sched_class() : "?", scx));
  }
}

void RenderCpuTime(const FailureDumpReport& r, std::string* out) {
  if (r.per_cpu_time_size() == 0) {
    if (r.has_per_cpu_time_unavailable()) {
      absl::StrAppend(out, "per_cpu_time: <unavailable: ", r.per_cpu_time_unavailable(), ">\n");
    }
    return;
  }
  absl::StrAppend(
      out, "per_cpu_time (ms):\n",
      absl::StrFormat("  %4s %10s %10s %10s %10s %10s %12s %10s %10s %10s\n", "CPU", "user", "nice",
                      "system", "softirq", "irq", "idle", "iowait", "steal", "irqs"));
  for (const auto& c : r.per_cpu_time()) {
    auto ms = [](uint64_t ns) { return ns / 1000000; };
    absl::StrAppend(
        out,
        absl::StrFormat("  %4d %10d %10d %10d %10d %10d %12d %10d %10d %10d\n", c.cpu(),
                        ms(c.cpustat_user_ns()), ms(c.cpustat_nice_ns()), ms(c.cpustat_system_ns()),
                        ms(c.cpustat_softirq_ns()), ms(c.cpustat_irq_ns()), ms(c.cpustat_idle_ns()),
                        ms(c.cpustat_iowait_ns()), ms(c.cpustat_steal_ns()), c.irqs_sum()));
  }
}

void RenderEventTimeline(const FailureDumpReport& r, std::string* out) {
  const auto& samples = r.event_counter_timeline();
  if (samples.empty()) return;
  absl::StrAppend(out, "event_counter_timeline: ", samples.size(), " samples (",
                  samples[0].elapsed_ms(), "–", samples[samples.size() - 1].elapsed_ms(), "ms)\n");
  const auto* d = EventCounterSample::descriptor();
  const auto* refl = EventCounterSample::GetReflection();
  for (int f = 0; f < d->field_count(); ++f) {
    const auto* field = d->field(f);
    if (field->name() == "elapsed_ms") continue;
    std::vector<int64_t> series;
    bool any = false;
    for (const auto& s : samples) {
      series.push_back(refl->GetInt64(s, field));
      any |= series.back() != 0;
    }
    if (!any) continue;
    absl::StrAppend(out, absl::StrFormat("%30s  %s  (last=%d)\n", field->name(),
                                         RenderSparklineI64(series), series.back()));
  }
}

void RenderRest(const FailureDumpReport& r, std::string* out) {
  for (const auto& a : r.sdt_allocations()) {
    absl::StrAppend(out, "sdt_alloc ", a.allocator_name(), " (elem_size=", a.elem_size(),
                    ", target_type_id=", a.target_type_id());
    if (!a.payload_type_reason().empty())
      absl::StrAppend(out, ", reason=", a.payload_type_reason());
    absl::StrAppend(out, "): ", a.entries_size(), " live", a.truncated() ? " (truncated)" : "",
                    " (", a.skipped_subtrees(), " subtrees skipped)\n");
    for (const auto& e : a.entries()) {
      absl::StrAppend(out, "  [", e.idx(), "/", e.genn(), "] ", Hex(e.user_addr()), " ",
                      RenderValueText(e.payload(), 2), "\n");
    }
  }
  if (r.has_sdt_alloc_unavailable())
    absl::StrAppend(out, "sdt_alloc: <unavailable: ", r.sdt_alloc_unavailable(), ">\n");
  if (r.has_scx_static_ranges()) {
    for (const auto& s : r.scx_static_ranges().ranges()) {
      absl::StrAppend(out, "scx_static ", s.instance_name(), " [", Hex(s.start_low32()), "..",
                      Hex(uint64_t{s.start_low32()} + s.size()), ") cap=", s.capacity(), "\n");
    }
    if (r.scx_static_ranges().skipped()) {
      absl::StrAppend(out, "scx_static: ", r.scx_static_ranges().skipped(),
                      " instance(s) skipped\n");
    }
  }
  if (r.prog_runtime_stats_size() || r.has_prog_runtime_stats_unavailable()) {
    absl::StrAppend(
        out, "prog_runtime_stats:",
        OptReason(r.has_prog_runtime_stats_unavailable(), r.prog_runtime_stats_unavailable()),
        "\n");
  }
  for (const auto& p : r.prog_runtime_stats()) {
    absl::StrAppend(out, "  ", p.name(), ": cnt=", p.cnt(), " nsecs=", p.nsecs(),
                    " misses=", p.misses());
    if (p.cnt())
      absl::StrAppend(out, absl::StrFormat(" ns/call=%.3f", static_cast<double>(p.nsecs()) /
                                                                static_cast<double>(p.cnt())));
    if (p.misses())
      absl::StrAppend(
          out, absl::StrFormat(" miss_rate=%.4f", static_cast<double>(p.misses()) /
                                                      static_cast<double>(p.cnt() + p.misses())));
    absl::StrAppend(out, "\n");
  }
  RenderCpuTime(r, out);
  for (const auto& c : r.cgroup_psi()) {
    absl::StrAppend(out, "psi ",
                    c.is_system() ? "system" : (c.has_path() ? c.path() : Hex(c.cgroup_kva())),
                    ": irq_full_total=", c.total_ns(), "ns");
    for (const auto& s : c.states()) {
      absl::StrAppend(
          out, absl::StrFormat(" %s_%s=%dns(avg10=%.2f%%)", s.resource(), s.kind(), s.total_ns(),
                               static_cast<double>(s.avg10_raw()) / 2048.0));
    }
    absl::StrAppend(out, "\n");
  }
  if (r.has_cgroup_psi_unavailable())
    absl::StrAppend(out, "cgroup_psi: <unavailable: ", r.cgroup_psi_unavailable(), ">\n");
  for (const auto& n : r.per_node_numa()) {
    absl::StrAppend(out, "numa node ", n.node(), ": hit=", n.numa_hit(), " miss=", n.numa_miss(),
                    " foreign=", n.numa_foreign(), " interleave_hit=", n.numa_interleave_hit(),
                    " local=", n.numa_local(), " other=", n.numa_other(), "\n");
  }
  if (r.has_per_node_numa_unavailable())
    absl::StrAppend(out, "per_node_numa: <unavailable: ", r.per_node_numa_unavailable(), ">\n");
  RenderTasks(r, out);
  RenderScx(r, out);
  RenderEventTimeline(r, out);
  if (r.vcpu_perf_at_freeze_size()) {
    absl::StrAppend(out, "vcpu_perf_at_freeze:\n");
    for (int i = 0; i < r.vcpu_perf_at_freeze_size(); ++i) {
      const auto& slot = r.vcpu_perf_at_freeze(i);
      if (!slot.has_sample()) {
        absl::StrAppend(out, "  vcpu ", i, ": <unavailable>\n");
        continue;
      }
      const auto& s = slot.sample();
      double ipc =
          s.cycles() ? static_cast<double>(s.instructions()) / static_cast<double>(s.cycles()) : 0;
      absl::StrAppend(out,
                      absl::StrFormat("  vcpu %d: cycles=%d insns=%d ipc=%.3f cache_misses=%d "
                                      "branch_misses=%d (en/ru=%d/%d ns)\n",
                                      i, s.cycles(), s.instructions(), ipc, s.cache_misses(),
                                      s.branch_misses(), s.time_enabled_ns(), s.time_running_ns()));
    }
  }
  if (r.has_probe_counters()) {
    absl::StrAppend(out, "probe_counters:");
    const auto* d = ProbeBssCounters::descriptor();
    for (int f = 0; f < d->field_count(); ++f) {
      absl::StrAppend(
          out, " ", d->field(f)->name(), "=",
          ProbeBssCounters::GetReflection()->GetUInt64(r.probe_counters(), d->field(f)));
    }
    absl::StrAppend(out, "\n");
  }
}

}  // namespace

std::string RenderSparkline(std::span<const uint64_t> values) {
  static constexpr std::string_view kGlyphs[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  constexpr uint64_t kLast = std::size(kGlyphs) - 1;
  std::string out;
  if (values.empty()) return out;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const uint64_t min = *lo, max = *hi;
  for (uint64_t v : values) {
    size_t idx;
    if (max == min) {
      idx = max == 0 ? 0 : std::size(kGlyphs) / 2;
    } else {
      // 128-bit product: (v - min) * 7 overflows u64 for large counters.
      unsigned __int128 scaled = static_cast<unsigned __int128>(v - min) * kLast / (max - min);
      idx = static_cast<size_t>(std::min<unsigned __int128>(scaled, kLast));
    }
    out.append(kGlyphs[idx]);
  }
  return out;
}

std::string RenderSparklineI64(std::span<const int64_t> values) {
  std::vector<uint64_t> widened;
  widened.reserve(values.size());
  for (int64_t v : values) widened.push_back(v < 0 ? 0 : static_cast<uint64_t>(v));
  return RenderSparkline(widened);
}

std::string RenderSingleText(const FailureDumpReport& r) {
  std::string out;
  if (r.is_placeholder()) absl::StrAppend(&out, "placeholder report (no capture ran)\n");
  for (int i = 0; i < r.maps_size(); ++i) {
    if (i) absl::StrAppend(&out, "\n");
    RenderMap(r.maps(i), &out);
  }
  if (r.has_maps_unavailable())
    absl::StrAppend(&out, "maps: <unavailable: ", r.maps_unavailable(), ">\n");
  if (r.has_active_obj_name()) {
    absl::StrAppend(&out, "\nactive scheduler object: ", r.active_obj_name(), "\n");
  }
  std::string rest;
  if (r.vcpu_regs_size()) RenderVcpuRegs(r.vcpu_regs(), &rest);
  if (r.has_vcpu_regs_unavailable())
    absl::StrAppend(&rest, "vcpu_regs: <unavailable: ", r.vcpu_regs_unavailable(), ">\n");
  RenderRest(r, &rest);
  if (!rest.empty()) absl::StrAppend(&out, out.empty() ? "" : "\n", rest);
  if (r.has_dump_truncated_at_us() || r.maps_truncated() || r.truncated_phases_size()) {
    absl::StrAppend(
        &out, "\ndump truncated: deadline crossed at ",
        r.has_dump_truncated_at_us() ? absl::StrCat(r.dump_truncated_at_us(), "us") : "?", " (",
        r.maps_truncated(), " map(s) skipped");
    if (r.truncated_phases_size())
      absl::StrAppend(&out, "; phases skipped: ", absl::StrJoin(r.truncated_phases(), ", "));
    absl::StrAppend(&out, ")\n");
  }
  if (out.empty()) return "(empty failure dump)\n";
  return out;
}

std::string RenderDualText(const DualFailureDumpReport& r) {
  std::string out = "DualFailureDumpReport: early=";
  if (!r.has_early()) {
    absl::StrAppend(&out, "absent (",
                    r.has_early_skipped_reason() ? r.early_skipped_reason() : "no reason recorded",
                    ")");
  } else if (r.early_max_age_jiffies() || r.early_threshold_jiffies()) {
    absl::StrAppend(&out, "present (max_age=", r.early_max_age_jiffies(),
                    "j, threshold=", r.early_threshold_jiffies(), "j)");
  } else {
    absl::StrAppend(&out, "present (jiffies not captured)");
  }
  absl::StrAppend(&out, ", late=(", r.late().maps_size(), " maps, ", r.late().vcpu_regs_size(),
                  " vcpu_regs)\n");
  if (r.has_snapshot_tag()) absl::StrAppend(&out, "snapshot tag: ", r.snapshot_tag(), "\n");
  if (r.has_early()) {
    absl::StrAppend(&out, "\n=== early snapshot (sched_ext watchdog half-way) ===\n",
                    RenderSingleText(r.early()));
  }
  absl::StrAppend(&out, "\n=== late snapshot (error-exit) ===\n", RenderSingleText(r.late()));
  return out;
}

std::string RenderDegradedText(const DegradedFailureDumpReport& r) {
  std::string out = absl::StrCat("degraded failure dump:\n  reason: ", r.reason(), "\n");
  int parked = 0;
  for (const auto& slot : r.vcpu_regs()) parked += slot.has_regs() ? 1 : 0;
  absl::StrAppend(&out, "  vcpus_parked: ", parked, "/", r.vcpu_regs_size(), "\n");
  for (int i = 0; i < r.vcpu_regs_size(); ++i) {
    const auto& slot = r.vcpu_regs(i);
    if (!slot.has_regs()) {
      absl::StrAppend(&out, "    vcpu ", i, ": not_parked\n");
      continue;
    }
    absl::StrAppend(
        &out, absl::StrFormat("    vcpu %d: parked, ip=0x%016x sp=0x%016x ptroot=0x%016x\n", i,
                              slot.regs().instruction_pointer(), slot.regs().stack_pointer(),
                              slot.regs().page_table_root()));
  }
  if (r.unparked_vcpus_size())
    absl::StrAppend(&out, "  never paused: vcpus ", absl::StrJoin(r.unparked_vcpus(), ", "), "\n");
  absl::StrAppend(&out, "  watchpoint_hit: ", r.watchpoint_hit() ? "true" : "false", "\n");
  absl::StrAppend(&out, "  bss_latch_state: ", r.bss_latch_state(), "\n");
  if (r.has_exit_kind()) absl::StrAppend(&out, "  exit_kind: ", r.exit_kind(), "\n");
  if (r.elapsed_ms()) absl::StrAppend(&out, "  elapsed_ms: ", r.elapsed_ms(), "\n");
  if (r.has_partial())
    absl::StrAppend(&out, "\n=== collected before the failure ===\n",
                    RenderSingleText(r.partial()));
  return out;
}

std::string RenderEnvelopeText(const DumpEnvelope& e) {
  std::string out;
  if (!e.dump_id().empty() || !e.target().empty()) {
    absl::StrAppend(&out, "dump ", e.dump_id(), " target=", e.target(),
                    " trigger=", Trigger_Name(e.trigger()));
    if (e.has_captured_at())
      absl::StrAppend(&out, " at ", google::protobuf::util::TimeUtil::ToString(e.captured_at()));
    if (!e.kernel_release().empty()) absl::StrAppend(&out, " kernel=", e.kernel_release());
    if (e.live()) absl::StrAppend(&out, " LIVE (vCPUs not paused; reads may be torn)");
    absl::StrAppend(&out, "\n");
    std::map<std::string, std::string> labels(e.labels().begin(), e.labels().end());
    for (const auto& [k, v] : labels) absl::StrAppend(&out, "  label ", k, "=", v, "\n");
    if (e.timings_size()) {
      std::vector<std::string> t;
      for (const auto& p : e.timings()) {
        t.push_back(absl::StrCat(p.phase(), "=",
                                 p.skipped() ? "skipped" : absl::StrCat(p.duration_us(), "us")));
      }
      absl::StrAppend(&out, "  timings: ", absl::StrJoin(t, " "), "\n");
    }
    absl::StrAppend(&out, "\n");
  }
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      absl::StrAppend(&out, RenderSingleText(e.single()));
      break;
    case DumpEnvelope::kDual:
      absl::StrAppend(&out, RenderDualText(e.dual()));
      break;
    case DumpEnvelope::kDegraded:
      absl::StrAppend(&out, RenderDegradedText(e.degraded()));
      break;
    case DumpEnvelope::REPORT_NOT_SET:
      absl::StrAppend(&out, "(no report)\n");
      break;
  }
  return out;
}

namespace {
std::string SingleSummary(const FailureDumpReport& r) {
  std::string s = absl::StrCat("maps=", r.maps_size(), " tasks=", r.task_enrichments_size(),
                               " cpus=", std::max(r.rq_scx_states_size(), r.per_cpu_time_size()),
                               " dsqs=", r.dsq_states_size());
  if (r.has_scx_sched_state()) absl::StrAppend(&s, " exit_kind=", r.scx_sched_state().exit_kind());
  if (r.has_active_obj_name()) absl::StrAppend(&s, " scheduler=", r.active_obj_name());
  if (r.is_placeholder()) absl::StrAppend(&s, " placeholder");
  if (r.has_dump_truncated_at_us())
    absl::StrAppend(&s, " truncated_at_us=", r.dump_truncated_at_us());
  return s;
}
}  // namespace

std::string SummaryLine(const DumpEnvelope& e) {
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      return absl::StrCat("schema=single ", SingleSummary(e.single()));
    case DumpEnvelope::kDual:
      return absl::StrCat("schema=dual early=", e.dual().has_early() ? "present" : "absent",
                          " late: ", SingleSummary(e.dual().late()));
    case DumpEnvelope::kDegraded:
      return absl::StrCat("schema=degraded reason=\"", e.degraded().reason(),
                          "\" vcpus=", e.degraded().vcpu_regs_size());
    case DumpEnvelope::REPORT_NOT_SET:
      return "schema=";
  }
  return "schema=";
}

}  // namespace kfreeze::report
