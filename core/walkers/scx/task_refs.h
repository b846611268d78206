// The tasks the scx walk met (rq->curr, each CPU's runnable list, every DSQ), in the order it met
// them: what the tasks walker enriches first, so every KVA in rq_scx_states and dsq_states joins
// to a task record. Built by CaptureScx alongside the report section and handed on as a typed
// dump output, so the tasks walk finds the same tasks whether or not the scx section was asked for.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/base/types.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

struct ScxTaskRefs {
  std::vector<Kva> order;                              // first sighting order, repeats kept
  absl::flat_hash_set<uint64_t> runnable;              // on some CPU's scx runnable list
  absl::flat_hash_map<uint64_t, uint32_t> running_on;  // task -> CPU whose rq->curr it is

  void AddRq(const kfreeze::v1::RqScxState& rq);
  void AddDsq(const kfreeze::v1::DsqState& dsq);
};

}  // namespace kfreeze::walkers::scx
