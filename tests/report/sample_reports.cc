#include "tests/report/sample_reports.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/report/placeholder.h"

namespace kfreeze::testing {
namespace {

using namespace kfreeze::v1;

RenderedValue Uint(uint32_t bits, uint64_t v) {
  RenderedValue r;
  r.mutable_uint()->set_bits(bits);
  r.mutable_uint()->set_value(v);
  return r;
}

RenderedValue Int(uint32_t bits, int64_t v) {
  RenderedValue r;
  r.mutable_int_()->set_bits(bits);
  r.mutable_int_()->set_value(v);
  return r;
}

void AddMember(StructValue* s, const std::string& name, RenderedValue v) {
  auto* m = s->add_members();
  m->set_name(name);
  *m->mutable_value() = std::move(v);
}

// A struct with one member of every kind, nested.
RenderedValue EveryKindStruct() {
  RenderedValue root;
  StructValue* s = root.mutable_struct_();
  s->set_type_name(".bss");
  AddMember(s, "nr_dispatched", Uint(64, 849));
  AddMember(s, "big", Uint(64, 18400526959283003096ull));
  AddMember(s, "neg", Int(32, -1));
  RenderedValue b;
  b.mutable_bool_()->set_value(true);
  AddMember(s, "verify_once", b);
  RenderedValue c;
  c.mutable_char_()->set_value('A');
  AddMember(s, "letter", c);
  RenderedValue f;
  f.mutable_float_()->set_bits(64);
  f.mutable_float_()->set_value(1.5);
  AddMember(s, "ratio", f);
  RenderedValue nan;
  nan.mutable_float_()->set_bits(32);
  nan.mutable_float_()->set_value(std::nan(""));
  AddMember(s, "not_a_number", nan);
  RenderedValue e;
  e.mutable_enum_()->set_bits(32);
  e.mutable_enum_()->set_value(2);
  e.mutable_enum_()->set_variant("SCX_X");
  AddMember(s, "mode", e);
  RenderedValue e2;
  e2.mutable_enum_()->set_bits(64);
  e2.mutable_enum_()->set_value(-5);
  e2.mutable_enum_()->set_is_signed(true);
  AddMember(s, "unnamed_enum", e2);
  RenderedValue anon;
  anon.mutable_struct_();  // anonymous struct: type_name absent -> null
  AddMember(s, "anon", anon);
  RenderedValue arr;
  arr.mutable_array()->set_len(4);
  for (uint64_t i : {0, 7, 0, 9}) *arr.mutable_array()->add_elements() = Uint(32, i);
  AddMember(s, "slots", arr);
  RenderedValue text;
  text.mutable_array()->set_len(8);
  for (char ch : std::string("abc\0\0\0\0\0", 8)) {
    text.mutable_array()->add_elements()->mutable_char_()->set_value(
        static_cast<unsigned char>(ch));
  }
  text.mutable_array()->set_text("abc");
  AddMember(s, "name", text);
  RenderedValue cpus;
  cpus.mutable_cpu_list()->set_cpus("0-2,5");
  AddMember(s, "allowed", cpus);
  RenderedValue p;
  p.mutable_ptr()->set_value(0x100000006000);
  *p.mutable_ptr()->mutable_deref() = Uint(64, 42);
  p.mutable_ptr()->set_cast_annotation("cast→arena");
  AddMember(s, "root", p);
  RenderedValue p2;
  p2.mutable_ptr()->set_value(0xffff888001234000);
  p2.mutable_ptr()->set_deref_skipped_reason("kernel pointer not chased");
  AddMember(s, "task", p2);
  RenderedValue bytes;
  bytes.mutable_bytes()->set_hex("01 02 ff");
  AddMember(s, "u128", bytes);
  RenderedValue tr;
  tr.mutable_truncated()->set_needed(64);
  tr.mutable_truncated()->set_had(16);
  *tr.mutable_truncated()->mutable_partial() = Uint(64, 3);
  AddMember(s, "cut", tr);
  RenderedValue un;
  un.mutable_unsupported()->set_reason("forward declaration: type body not in BTF");
  AddMember(s, "opaque", un);
  return root;
}

FailureDumpMap BssMap() {
  FailureDumpMap m;
  m.set_name("bpf_bpf.bss");
  m.set_map_kva(18400526959283003096ull);
  m.set_map_type(2);
  m.set_value_size(448);
  m.set_max_entries(1);
  *m.mutable_value() = EveryKindStruct();
  m.set_map_id(7);
  m.set_key_size(4);
  return m;
}

void FillMaps(FailureDumpReport* r) {
  *r->add_maps() = BssMap();

  FailureDumpMap* h = r->add_maps();
  h->set_name("task_ctx");
  h->set_map_type(1);
  h->set_value_size(16);
  h->set_max_entries(1024);
  auto* e = h->add_entries();
  *e->mutable_key() = Uint(32, 17);
  e->set_key_hex(std::string("\x11\0\0\0", 4));
  *e->mutable_value() = Uint(64, 5);
  e->set_value_hex(std::string("\x05\0\0\0\0\0\0\0", 8));
  auto* raw = h->add_entries();  // untyped: hex only
  raw->set_key_hex("\xde\xad\xbe\xef");
  raw->set_value_hex("\x01");
  h->set_error("hash map truncated at 4096 entries");

  FailureDumpMap* a = r->add_maps();
  a->set_name("counters");
  a->set_map_type(2);
  a->set_value_size(8);
  a->set_max_entries(3);
  auto* ae = a->add_array_entries();
  ae->set_key(0);
  *ae->mutable_value() = Uint(64, 11);
  a->add_array_entries()->set_key(1);  // unreadable

  FailureDumpMap* pc = r->add_maps();
  pc->set_name("pcpu");
  pc->set_map_type(6);
  pc->set_value_size(8);
  pc->set_max_entries(1);
  auto* pe = pc->add_percpu_entries();
  pe->set_key(0);
  *pe->add_per_cpu()->mutable_value() = Uint(64, 1);
  pe->add_per_cpu();  // unmapped CPU -> null
  *pe->add_per_cpu()->mutable_value() = Uint(64, 1);

  FailureDumpMap* ph = r->add_maps();
  ph->set_name("pcpu_hash");
  ph->set_map_type(5);
  ph->set_value_size(4);
  ph->set_max_entries(8);
  auto* phe = ph->add_percpu_hash_entries();
  phe->set_key_hex("\x01\x02");
  *phe->add_per_cpu()->mutable_value() = Int(32, -3);

  FailureDumpMap* ar = r->add_maps();
  ar->set_name("arena");
  ar->set_map_type(33);
  auto* snap = ar->mutable_arena();
  auto* page = snap->add_pages();
  page->set_user_addr(17592186044416ull);
  page->set_bytes(std::string("\xbe\xba\xfe\xca\0", 5));
  snap->set_truncated(true);
  snap->set_declared_pages(1048576);
  snap->set_kern_vm_start(0xffffc90000000000ull);
  snap->set_user_vm_start(17592186044416ull);

  FailureDumpMap* rb = r->add_maps();
  rb->set_name("events");
  rb->set_map_type(27);
  rb->set_max_entries(4096);
  auto* ring = rb->mutable_ringbuf();
  ring->set_capacity(4096);
  ring->set_consumer_pos(128);
  ring->set_producer_pos(640);
  ring->set_pending_pos(640);
  ring->set_pending_bytes(512);

  FailureDumpMap* st = r->add_maps();
  st->set_name("stacks");
  st->set_map_type(7);
  auto* trace = st->mutable_stack_trace();
  trace->set_n_buckets(16);
  auto* bucket = trace->add_entries();
  bucket->set_bucket_id(3);
  bucket->set_nr(2);
  bucket->add_pcs(0xffffffff81000010ull);
  bucket->add_pcs(0xffffffff81000020ull);
  bucket->set_data_hex(std::string("\x10\0\0\x81\xff\xff\xff\xff", 8));
  trace->set_buckets_unreadable(1);

  FailureDumpMap* fd = r->add_maps();
  fd->set_name("progs");
  fd->set_map_type(3);
  auto* fda = fd->mutable_fd_array();
  fda->set_populated(2);
  fda->set_scanned(8);
  fda->add_indices(0);
  fda->add_indices(5);

  FailureDumpMap* q = r->add_maps();
  q->set_name("queue");
  q->set_map_type(22);
  auto* qe = q->mutable_queue();
  *qe->add_elements()->mutable_value() = Uint(32, 1);
  qe->add_elements();
  qe->add_elements_hex("\x01\0\0\0");
  qe->add_elements_hex("\x02\0\0\0");

  FailureDumpMap* bl = r->add_maps();
  bl->set_name("bloom");
  bl->set_map_type(30);
  bl->mutable_bloom()->set_bits_total(1024);
  bl->mutable_bloom()->set_bits_set(37);
  bl->mutable_bloom()->set_nr_hash_funcs(5);

  FailureDumpMap* lpm = r->add_maps();
  lpm->set_name("lpm");
  lpm->set_map_type(11);
  auto* le = lpm->add_lpm_entries();
  le->set_prefixlen(24);
  le->set_data_hex("\x0a\x00\x01");
  le->set_value_hex("\x07\0\0\0");

  FailureDumpMap* bad = r->add_maps();
  bad->set_name("weird");
  bad->set_map_type(99);
  bad->set_error("unsupported map type 99 (unknown)");
}

void FillWalkers(FailureDumpReport* r) {
  auto* v0 = r->add_vcpu_regs()->mutable_regs();
  v0->set_instruction_pointer(0xffffffff81e3a2b1ull);
  v0->set_stack_pointer(0xffffc90000013e80ull);
  v0->set_page_table_root(0x10a2000);
  v0->set_ip_symbol("default_idle+0x11");
  auto* x86 = v0->mutable_x86();
  x86->set_rip(0xffffffff81e3a2b1ull);
  x86->set_rsp(0xffffc90000013e80ull);
  x86->set_rflags(0x246);
  x86->set_cs(0x10);
  x86->set_ss(0x18);
  x86->set_gs_base(0xffff88803ec00000ull);
  x86->set_cr0(0x80050033);
  x86->set_cr3(0x10a2000);
  x86->set_cr4(0x370ef0);
  x86->set_efer(0xd01);
  r->add_vcpu_regs();  // vCPU 1 never parked -> null
  r->set_active_obj_name("scx_poc");
  r->add_active_map_kvas(0xffff888003a1c000ull);
  auto* sdt = r->add_sdt_allocations();
  sdt->set_allocator_name("scx_task_allocator");
  auto* se = sdt->add_entries();
  se->set_idx(3);
  se->set_genn(1);
  se->set_user_addr(0x6040);
  *se->mutable_payload() = Uint(64, 9);
  sdt->set_elem_size(64);
  sdt->set_target_type_id(42);
  auto* ranges = r->mutable_scx_static_ranges();
  auto* range = ranges->add_ranges();
  range->set_instance_name("static_pool");
  range->set_start_low32(0x1000);
  range->set_size(256);
  range->set_capacity(4096);
  auto* prog = r->add_prog_runtime_stats();
  prog->set_name("poc_enqueue");
  prog->set_cnt(1000);
  prog->set_nsecs(250000);
  prog->set_misses(2);
  prog->set_prog_id(31);
  auto* cpu = r->add_per_cpu_time();
  cpu->set_cpu(0);
  cpu->set_cpustat_user_ns(1200000000);
  cpu->set_cpustat_idle_ns(9000000000);
  for (int i = 0; i < 10; ++i) cpu->add_softirqs(i * 3);
  cpu->set_irqs_sum(4242);
  cpu->set_iowait_sleeptime_ns(0);  // present zero must survive
  auto* psi = r->add_cgroup_psi();
  psi->set_cgroup_kva(0);
  psi->set_path("/");
  psi->set_is_system(true);
  auto* line = psi->add_states();
  line->set_resource("cpu");
  line->set_kind("some");
  line->set_total_ns(123456);
  line->set_avg10_raw(205);
  auto* numa = r->add_per_node_numa();
  numa->set_node(0);
  numa->set_numa_hit(5000);
  numa->set_numa_local(5000);
  auto* t = r->add_task_enrichments();
  t->set_pid(135);
  t->set_tgid(135);
  t->set_comm("bpftool");
  t->set_real_parent_pid(1);
  t->set_real_parent_comm("init");
  t->set_weight(100);
  t->set_prio(120);
  t->set_static_prio(120);
  t->set_normal_prio(120);
  t->set_sched_class("ext");
  t->set_nvcsw(10);
  t->set_task_kva(0xffff888004560000ull);
  t->set_state_char("R");
  t->set_cpu(0);
  t->set_dsq_id(0x8000000000000002ull);
  t->set_runnable_at_age_jiffies(719);
  t->set_slice(0);
  t->set_is_runnable_in_scx(true);
  // The kernel dump's stack for bpftool[135] (the sched_ext sample), innermost first.
  t->set_kernel_stack_origin("thread.sp");
  const char* frames[] = {"__schedule+0x3c1/0x1290", "unmap_region+0x9e/0x100",
                          "__do_sys_brk+0x35c/0x3c0", "do_syscall_64+0xea/0x610",
                          "entry_SYSCALL_64_after_hwframe+0x76/0x7e"};
  uint64_t pc = 0xffffffff81a00000ull;
  for (const char* symbol : frames) {
    auto* f = t->add_kernel_stack();
    f->set_pc(pc += 0x1000);
    f->set_symbol(symbol);
    f->set_sp(0xffffc90000433e00ull + (pc & 0xff00) / 0x100);
    f->set_via(f->pc() == 0xffffffff81a01000ull ? "regs" : "orc");
  }
  for (int i = 0; i < 4; ++i) {
    auto* s = r->add_event_counter_timeline();
    s->set_elapsed_ms(100 * i);
    s->set_dispatch_keep_last(i);
    s->set_refill_slice_dfl(53);
    s->set_bypass_duration(i == 2 ? -4 : 47376383);
  }
  auto* rq = r->add_rq_scx_states();
  rq->set_cpu(0);
  rq->set_nr_running(4);
  rq->set_flags(1);
  rq->set_ops_qseq(76);
  rq->set_kick_sync(76);
  rq->set_curr_pid(28);
  rq->set_curr_comm("kworker/u8:1");
  rq->add_runnable_task_kvas(0xffff888004560000ull);
  rq->set_curr_sched_class("ext");
  auto* rq1 = r->add_rq_scx_states();  // empty runnable list still serialised
  rq1->set_cpu(1);
  auto* dsq = r->add_dsq_states();
  dsq->set_id(0x8000000000000002ull);
  dsq->set_origin("local cpu 0");
  dsq->set_nr(1);
  dsq->set_seq(5);
  dsq->add_task_kvas(0xffff888004560000ull);
  auto* features = r->mutable_scx_features();
  features->set_layout("scx_root");
  features->set_event_counters_layout("sched_pcpu");
  features->set_watchdog_timeout_field("scx_sched");
  features->set_global_dsqs("pnode");
  auto* sched = r->mutable_scx_sched_state();
  sched->set_exit_kind(1026);
  sched->set_watchdog_timeout(500);
  sched->set_source(std::string(kScxSourceLive));
  sched->set_sched_kva(0xffff888003000000ull);
  sched->set_ops_name("poc_stall");
  auto* exit = sched->mutable_exit_info();
  exit->set_kind(1026);
  exit->set_reason("runnable task stall");
  exit->set_msg("bpftool[135] failed to run for 2.876s");
  exit->add_backtrace_pcs(0xffffffff811234afull);
  exit->add_backtrace("__scx_exit+0x4f/0x70");
  auto* perf = r->add_vcpu_perf_at_freeze()->mutable_sample();
  perf->set_cycles(1000);
  perf->set_instructions(2500);
  r->add_vcpu_perf_at_freeze();
  r->set_dump_truncated_at_us(1500);
  r->set_maps_truncated(2);
  r->add_truncated_phases("numa");
  auto* probe = r->mutable_probe_counters();
  probe->set_probe_count(7);
  probe->set_trigger_count(1);
}

}  // namespace

FailureDumpReport SampleSingleReport() {
  FailureDumpReport r;
  r.set_schema(std::string(kSchemaSingle));
  FillMaps(&r);
  FillWalkers(&r);
  // A partial section: what was read stays, the reason says what is missing.
  r.set_per_node_numa_unavailable(absl::StrCat(kReasonNumaPartialPrefix, "node 1: unreadable"));
  return r;
}

DualFailureDumpReport SampleDualReport() {
  DualFailureDumpReport d;
  d.set_schema(std::string(kSchemaDual));
  FailureDumpReport early;
  early.set_schema(std::string(kSchemaSingle));
  *early.add_maps() = BssMap();
  early.set_scx_walker_unavailable(std::string(kReasonScxWalkerNoState));
  *d.mutable_early() = early;
  *d.mutable_late() = SampleSingleReport();
  d.set_early_max_age_jiffies(260);
  d.set_early_threshold_jiffies(250);
  return d;
}

DegradedFailureDumpReport SampleDegradedReport() {
  DegradedFailureDumpReport d;
  d.set_schema(std::string(kSchemaDegraded));
  d.set_reason(absl::StrCat(kReasonPauseFailed, ": stop: QMP timeout after 30000ms"));
  d.add_vcpu_regs()->mutable_regs()->set_instruction_pointer(0xffffffff81000000ull);
  d.add_vcpu_regs();
  d.set_bss_latch_state(std::string(kBssLatchNotResolved));
  d.set_exit_kind(0);
  d.set_elapsed_ms(30001);
  d.add_unparked_vcpus(1);
  return d;
}

FailureDumpReport SamplePlaceholderReport() {
  return report::MakePlaceholderReport(
      "test failed at stage `payload started but produced no test result`; no BPF state captured");
}

FailureDumpReport LargeReport(int hash_entries, int cpus, int tasks) {
  FailureDumpReport r;
  r.set_schema(std::string(kSchemaSingle));
  FailureDumpMap* h = r.add_maps();
  h->set_name("big_hash");
  h->set_map_type(1);
  h->set_value_size(24);
  h->set_max_entries(static_cast<uint32_t>(hash_entries));
  for (int i = 0; i < hash_entries; ++i) {
    auto* e = h->add_entries();
    *e->mutable_key() = Uint(32, static_cast<uint64_t>(i));
    e->set_key_hex(std::string(reinterpret_cast<const char*>(&i), 4));
    StructValue* s = e->mutable_value()->mutable_struct_();
    s->set_type_name("task_ctx");
    AddMember(s, "vtime", Uint(64, 1000000ull * static_cast<uint64_t>(i)));
    AddMember(s, "cpu", Int(32, i % 64));
    RenderedValue flag;
    flag.mutable_bool_()->set_value(i % 2 == 0);
    AddMember(s, "queued", flag);
    e->set_value_hex(std::string(24, static_cast<char>(i)));
  }
  for (int c = 0; c < cpus; ++c) {
    auto* t = r.add_per_cpu_time();
    t->set_cpu(static_cast<uint32_t>(c));
    t->set_cpustat_user_ns(1000000ull * static_cast<uint64_t>(c));
    t->set_cpustat_idle_ns(9000000000ull);
    for (int i = 0; i < 10; ++i) t->add_softirqs(static_cast<uint64_t>(i * c));
    auto* rq = r.add_rq_scx_states();
    rq->set_cpu(static_cast<uint32_t>(c));
    rq->set_nr_running(2);
  }
  for (int i = 0; i < tasks; ++i) {
    auto* t = r.add_task_enrichments();
    t->set_pid(i + 1);
    t->set_tgid(i + 1);
    t->set_comm("worker");
    t->set_weight(100);
    t->set_prio(120);
    t->set_task_kva(0xffff888000000000ull + 0x2000ull * static_cast<uint64_t>(i));
    t->set_sched_class("ext");
  }
  return r;
}

}  // namespace kfreeze::testing
