#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// Joins vCPU registers to the tasks they were running. vCPU i usually runs CPU i, but that is only
// trusted when the vCPU's SP lies on the kernel stack of a task the walk saw running
// (`is_running` and `stack_base`); then the task gets running_pc, running_symbol (when
// `symbolize` knows the IP) and lock_slowpath_match. Runs after the registers arrive, which is
// after the walk: the freeze overlaps the register read with the walk.
void PairRunningTasks(kfreeze::v1::FailureDumpReport& report,
                      const std::function<std::optional<std::string>(uint64_t)>& symbolize);

}  // namespace kfreeze::dump
