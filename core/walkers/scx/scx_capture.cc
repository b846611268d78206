#include "core/walkers/scx/scx_capture.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/reasons.h"
#include "core/walkers/scx/dsq_walk.h"
#include "core/walkers/scx/rq_state.h"
#include "core/walkers/scx/sched_location.h"
#include "core/walkers/scx/sched_state.h"

namespace kfreeze::walkers::scx {
namespace {

// Problems are listed up to this many in the reason; the rest are counted.
constexpr size_t kMaxListedProblems = 4;

// Appends each readable DSQ to the report and its tasks to `tasks`; returns how many it appended.
int WalkRefs(Reader& reader, const ScxContext& ctx, const DsqRefs& refs,
             std::optional<uint64_t> jiffies, kfreeze::v1::FailureDumpReport& report,
             ScxTaskRefs& tasks, std::vector<std::string>& problems) {
  int walked = 0;
  problems.insert(problems.end(), refs.problems.begin(), refs.problems.end());
  if (refs.user_truncated) problems.push_back("user DSQ hash walk incomplete");
  for (const DsqRef& ref : refs.refs) {
    absl::StatusOr<kfreeze::v1::DsqState> d = WalkDsq(reader, ctx, ref, jiffies);
    if (!d.ok()) {
      problems.push_back(absl::StrCat(ref.origin, ": ", d.status().message()));
      continue;
    }
    tasks.AddDsq(*d);
    *report.add_dsq_states() = *std::move(d);
    ++walked;
  }
  return walked;
}

std::string ProblemsReason(const std::vector<std::string>& problems) {
  std::vector<std::string> shown(problems.begin(),
                                 problems.begin() + std::min(problems.size(), kMaxListedProblems));
  std::string out =
      absl::StrCat(std::string(kReasonScxReadErrorsPrefix), absl::StrJoin(shown, "; "));
  if (problems.size() > shown.size()) {
    absl::StrAppend(&out, " (+", problems.size() - shown.size(), " more)");
  }
  return out;
}

}  // namespace

ScxTaskRefs CaptureScx(Reader& reader, const ScxContext& ctx,
                       kfreeze::v1::FailureDumpReport& report) {
  ScxTaskRefs tasks;
  if (ctx.layout == ScxLayout::kNone && !ctx.off.scx_rq) {
    report.set_scx_walker_unavailable(std::string(kReasonNoSchedExt));
    return tasks;
  }
  *report.mutable_scx_features() = ctx.features;  // described at attach
  std::vector<std::string> problems;
  std::optional<uint64_t> jiffies;
  if (absl::StatusOr<uint64_t> j = ReadJiffies(reader, ctx); j.ok()) {
    jiffies = *j;
  } else {
    problems.push_back(absl::StrCat("jiffies: ", j.status().message()));
  }

  // Per-CPU state survives scheduler teardown, so it is captured first and unconditionally.
  int rqs = 0, dsqs = 0;
  bool sched_read = false;
  if (ctx.percpu != nullptr && ctx.off.rq && ctx.off.scx_rq) {
    for (CpuId cpu : ctx.percpu->PossibleCpus()) {
      absl::StatusOr<kfreeze::v1::RqScxState> rq = ReadRqScx(reader, ctx, cpu);
      if (rq.ok()) {
        tasks.AddRq(*rq);
        *report.add_rq_scx_states() = *std::move(rq);
        ++rqs;
      } else {
        problems.push_back(absl::StrCat("rq->scx of cpu ", cpu, ": ", rq.status().message()));
      }
    }
  }
  dsqs += WalkRefs(reader, ctx, LocalDsqs(ctx), jiffies, report, tasks, problems);

  bool root_null = false;
  if (ctx.layout != ScxLayout::kNone) {
    absl::StatusOr<std::optional<SchedLocation>> sched = LocateSched(reader, ctx);
    if (!sched.ok()) {
      problems.push_back(absl::StrCat("scheduler: ", sched.status().message()));
    } else if (!*sched) {
      root_null = true;
    } else {
      kfreeze::v1::ScxSchedState state;
      absl::Status s = ReadSchedState(reader, ctx, **sched, &state);
      if (s.ok()) {
        *report.mutable_scx_sched_state() = std::move(state);
        sched_read = true;
      } else {
        problems.push_back(absl::StrCat(std::string(kReasonScxSchedUnreadable), ": ", s.message()));
      }
      dsqs +=
          WalkRefs(reader, ctx, SchedDsqs(reader, ctx, **sched), jiffies, report, tasks, problems);
    }
  }

  const bool no_state = rqs == 0 && dsqs == 0 && !sched_read;
  if (!ctx.off.report.all_ok()) {
    report.set_scx_walker_unavailable(absl::StrCat(std::string(kReasonScxWalkerPartialPrefix), "[",
                                                   absl::StrJoin(ctx.off.report.missing(), ", "),
                                                   "]"));
  } else if (root_null) {
    // ktstr's wire string for 6.16+; the globals layout says what it saw instead.
    report.set_scx_walker_unavailable(std::string(
        ctx.layout == ScxLayout::kScxRoot ? kReasonScxRootNull : kReasonScxOpsDisabled));
  } else if (no_state) {
    report.set_scx_walker_unavailable(std::string(kReasonScxWalkerNoState));
  } else if (!problems.empty()) {
    report.set_scx_walker_unavailable(ProblemsReason(problems));
  }
  return tasks;
}

}  // namespace kfreeze::walkers::scx
