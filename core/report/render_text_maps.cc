// Text for the BPF maps, each with its entries by map kind, arena, ring buffer, stack traces, ...
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/bpf_map_types.h"
#include "core/base/types.h"
#include "core/report/raw_hex.h"
#include "core/report/render_text.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report::text {
namespace {

using namespace kfreeze::v1;

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
  return has_key ? RenderValueText(key, 1) : absl::StrCat(RawHex(key_hex), " (raw)");
}

}  // namespace

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
                                  : absl::StrCat(RawHex(e.value_hex()), " (raw)"),
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
      absl::StrAppend(
          out, "    [", i, "] ",
          e.has_value() ? RenderValueText(e.value(), 3) : absl::StrCat(RawHex(hex), " (raw)"),
          "\n");
    }
  }
  if (m.has_bloom()) {
    absl::StrAppend(out, "  bloom: ", m.bloom().bits_set(), " of ", m.bloom().bits_total(),
                    " bits set, ", m.bloom().nr_hash_funcs(), " hash functions\n");
  }
  for (const auto& e : m.lpm_entries()) {
    absl::StrAppend(out, "  prefix ", RawHex(e.data_hex()), "/", e.prefixlen(), ": ",
                    e.has_value() ? RenderValueText(e.value(), 2)
                                  : absl::StrCat(RawHex(e.value_hex()), " (raw)"),
                    "\n");
  }
}

void RenderMaps(const FailureDumpReport& r, std::string* out) {
  if (r.maps_size()) absl::StrAppend(out, "bpf maps: ", r.maps_size(), "\n");
  for (int i = 0; i < r.maps_size(); ++i) {
    if (i) absl::StrAppend(out, "\n");
    RenderMap(r.maps(i), out);
  }
  AppendReason(out, "maps", r.has_maps_unavailable(), r.maps_unavailable());
}

}  // namespace kfreeze::report::text
