#include "core/walkers/scx/scx_context.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/walkers/common/kernel_hz.h"
#include "core/walkers/scx/scx_features.h"

namespace kfreeze::walkers::scx {
namespace {

constexpr std::pair<const char*, const char*> kSchedClasses[] = {
    {"ext_sched_class", "ext"}, {"fair_sched_class", "fair"}, {"rt_sched_class", "rt"},
    {"dl_sched_class", "dl"},   {"idle_sched_class", "idle"}, {"stop_sched_class", "stop"},
};

// Renamed from SCX_OPS_* in 6.15; whichever the BTF has is used.
constexpr std::pair<const char*, const char*> kEnableStates[] = {
    {"SCX_ENABLING", "enabling"},       {"SCX_ENABLED", "enabled"},
    {"SCX_DISABLING", "disabling"},     {"SCX_DISABLED", "disabled"},
    {"SCX_OPS_ENABLING", "enabling"},   {"SCX_OPS_ENABLED", "enabled"},
    {"SCX_OPS_DISABLING", "disabling"}, {"SCX_OPS_DISABLED", "disabled"},
};

}  // namespace

std::optional<std::string> ScxContext::SchedClassName(uint64_t class_kva) const {
  for (const SchedClassSymbol& c : sched_classes) {
    if (c.address.value == class_kva) return c.short_name;
  }
  return std::nullopt;
}

std::optional<std::string> ScxContext::EnableStateName(int64_t value) const {
  for (const auto& [v, name] : enable_state_names) {
    if (v == value) return name;
  }
  return std::nullopt;
}

ScxContext BuildScxContext(const KernelView& kernel, Reader& reader) {
  ScxContext ctx;
  ctx.off = ResolveScxOffsets(kernel.btf);
  ctx.percpu = &kernel.percpu;
  ctx.symbols = &kernel.symbols;
  const SymbolIndex& s = kernel.symbols;
  ctx.roots.scx_root = s.Address("scx_root");
  ctx.roots.scx_tasks = s.Address("scx_tasks");
  ctx.roots.runqueues = s.Address("runqueues");
  if (absl::StatusOr<Kva> j = JiffiesAddress(s); j.ok()) ctx.roots.jiffies = *j;
  ctx.roots.enable_state = s.Address({"scx_enable_state_var", "scx_ops_enable_state_var"});
  ctx.roots.enable_seq = s.Address({"scx_enable_seq", "scx_ops_enable_seq"});
  ctx.roots.watchdog_timeout = s.Address("scx_watchdog_timeout");
  ctx.roots.bypass_depth = s.Address({"scx_bypass_depth", "scx_ops_bypass_depth"});
  ctx.roots.aborting = s.Address("scx_aborting");
  if (ctx.roots.scx_root) {
    ctx.layout = ScxLayout::kScxRoot;
    // scx_root without struct scx_sched in BTF: a broken BTF, not an older layout.
    if (!kernel.btf.FindComposite("scx_sched").ok()) {
      ctx.off.report.Add("scx_sched", ctx.off.sched.status);
    }
  } else if (std::optional<Kva> ops = s.Address("scx_ops")) {
    ctx.layout = ScxLayout::kScxOpsGlobals;
    ScxRoots& r = ctx.roots;
    r.ops = ops;
    r.exit_kind = s.Address("scx_exit_kind");
    r.exit_info = s.Address("scx_exit_info");
    r.dsq_hash = s.Address("dsq_hash");
    r.global_dsqs = s.Address("global_dsqs");
    r.event_stats_cpu = s.Address("event_stats_cpu");
  }
  if (absl::StatusOr<uint32_t> hz = ReadKernelHz(reader, kernel); hz.ok()) ctx.hz = *hz;
  if (std::optional<Kva> n = s.Address("nr_node_ids")) {
    // Bounded by MAX_NUMNODES (1 << NODES_SHIFT, at most 1024 on x86-64).
    if (absl::StatusOr<uint32_t> v = reader.ReadU32(*n); v.ok() && *v >= 1 && *v <= 1024) {
      ctx.nr_nodes = *v;
    }
  }
  for (const auto& [sym, short_name] : kSchedClasses) {
    if (std::optional<Kva> a = s.Address(sym)) ctx.sched_classes.push_back({*a, short_name});
  }
  for (const auto& [enumerator, name] : kEnableStates) {
    if (absl::StatusOr<int64_t> v = kernel.btf.EnumValue(enumerator); v.ok()) {
      ctx.enable_state_names.emplace_back(*v, name);
      if (absl::string_view(name) == "disabled") ctx.disabled_state = *v;
    }
  }
  ctx.features = DescribeScxFeatures(ctx);
  return ctx;
}

}  // namespace kfreeze::walkers::scx
