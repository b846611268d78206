#include "core/walkers/scx/task_refs.h"

namespace kfreeze::walkers::scx {

void ScxTaskRefs::AddRq(const kfreeze::v1::RqScxState& rq) {
  if (rq.has_curr_task_kva()) {
    order.push_back(Kva(rq.curr_task_kva()));
    running_on[rq.curr_task_kva()] = rq.cpu();
  }
  for (uint64_t t : rq.runnable_task_kvas()) {
    order.push_back(Kva(t));
    runnable.insert(t);
  }
}

void ScxTaskRefs::AddDsq(const kfreeze::v1::DsqState& dsq) {
  for (uint64_t t : dsq.task_kvas()) order.push_back(Kva(t));
}

}  // namespace kfreeze::walkers::scx
