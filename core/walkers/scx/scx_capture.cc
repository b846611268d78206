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

void WalkRefs(Reader& reader, const ScxContext& ctx, const DsqRefs& refs,
              std::optional<uint64_t> jiffies, kfreeze::v1::FailureDumpReport& report,
              std::vector<std::string>& problems) {
  problems.insert(problems.end(), refs.problems.begin(), refs.problems.end());
  if (refs.user_truncated) problems.push_back("user DSQ hash walk incomplete");
  for (const DsqRef& ref : refs.refs) {
    absl::StatusOr<kfreeze::v1::DsqState> d = WalkDsq(reader, ctx, ref, jiffies);
    if (!d.ok()) {
      problems.push_back(absl::StrCat(ref.origin, ": ", d.status().message()));
      continue;
    }
    *report.add_dsq_states() = *std::move(d);
  }
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

void CaptureScx(Reader& reader, const ScxContext& ctx, kfreeze::v1::FailureDumpReport& report) {
  if (ctx.layout == ScxLayout::kNone && !ctx.off.scx_rq) {
    report.set_scx_walker_unavailable(std::string(kReasonNoSchedExt));
    return;
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
  if (ctx.percpu != nullptr && ctx.off.rq && ctx.off.scx_rq) {
    for (CpuId cpu : ctx.percpu->PossibleCpus()) {
      absl::StatusOr<kfreeze::v1::RqScxState> rq = ReadRqScx(reader, ctx, cpu);
      if (rq.ok()) {
        *report.add_rq_scx_states() = *std::move(rq);
      } else {
        problems.push_back(absl::StrCat("rq->scx of cpu ", cpu, ": ", rq.status().message()));
      }
    }
  }
  WalkRefs(reader, ctx, LocalDsqs(ctx), jiffies, report, problems);

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
      } else {
        problems.push_back(absl::StrCat(std::string(kReasonScxSchedUnreadable), ": ", s.message()));
      }
      WalkRefs(reader, ctx, SchedDsqs(reader, ctx, **sched), jiffies, report, problems);
    }
  }

  const bool no_state = report.rq_scx_states_size() == 0 && report.dsq_states_size() == 0 &&
                        !report.has_scx_sched_state();
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
}

}  // namespace kfreeze::walkers::scx
