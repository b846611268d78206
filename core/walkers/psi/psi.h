// PSI (include/linux/psi_types.h, kernel/sched/psi.c): struct psi_group totals and running
// averages, for psi_system and every cgroup v2 group under a root path (kernel/cgroup/cgroup.c:
// cgrp_dfl_root.cgrp, children on cgroup.self.children linked through css.sibling).
// Totals are what the kernel last aggregated (a /proc/pressure read or the 2 s averaging work
// refreshes them), so they never exceed what the guest itself would print next.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::psi {

// Cgroups visited per capture (ktstr's MAX_CGROUPS_WALKED).
inline constexpr size_t kMaxCgroups = 1024;
// kernfs names are path components; NAME_MAX.
inline constexpr size_t kMaxCgroupNameLen = 256;
// A cgroup path is at most PATH_MAX in cgroupfs; a longer one is a hostile name chain.
inline constexpr size_t kMaxCgroupPathLen = 4096;
// Children of one cgroup followed before the walk of that level is cut.
inline constexpr size_t kMaxChildren = 4096;

struct PsiState {
  int64_t index = 0;  // enum psi_states value
  std::string resource, kind;
};

struct PsiContext {
  std::optional<Kva> psi_system, psi_disabled, cgrp_dfl_root;
  uint64_t total = 0, avg = 0;  // psi_group.total[NR_PSI_AGGREGATORS][NR_PSI_STATES - 1], avg[][3]
  uint32_t states_per_row = 0;  // NR_PSI_STATES - 1
  std::vector<PsiState> states;
  std::optional<int64_t> irq_full;  // PSI_IRQ_FULL (ktstr's total_ns/avg10_raw)
  // cgroup walk; absent when its group failed (psi_system still works).
  struct Cgroup {
    uint64_t root_cgrp = 0;                                       // cgroup_root.cgrp
    uint64_t self = 0, sibling = 0, children = 0, serial_nr = 0;  // cgroup.self.*
    uint64_t kn = 0, kn_name = 0, psi = 0;
  };
  Group<Cgroup> cgroup;  // its status says why cgroups are not walked
  absl::Status status;   // psi_group offsets or psi_system missing
  const SymbolIndex* symbols = nullptr;
};

PsiContext BuildPsiContext(const KernelView& kernel);

struct PsiOptions {
  std::string root_path = "/";  // cgroup v2 path whose subtree is listed ("/" = all)
};

// Fills cgroup_psi (psi_system first as "/" with is_system, then the cgroups under root_path)
// or cgroup_psi_unavailable.
void CapturePsi(Reader& reader, const PsiContext& ctx, const PsiOptions& options,
                kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::psi
