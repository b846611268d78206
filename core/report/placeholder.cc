#include "core/report/placeholder.h"

#include "core/base/reasons.h"

namespace kfreeze::report {

kfreeze::v1::FailureDumpReport MakePlaceholderReport(const std::string& reason) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema(std::string(kSchemaSingle));
  r.set_sdt_alloc_unavailable(reason);
  r.set_prog_runtime_stats_unavailable(reason);
  r.set_per_node_numa_unavailable(reason);
  r.set_task_enrichments_unavailable(reason);
  r.set_scx_walker_unavailable(reason);
  r.set_is_placeholder(true);
  return r;
}

}  // namespace kfreeze::report
