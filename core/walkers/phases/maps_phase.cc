#include "core/walkers/phases/maps_phase.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/walkers/maps/map_walker.h"
#include "core/walkers/sdt/sdt_capture.h"

namespace kfreeze::walkers::maps {
namespace {

class MapsPhase : public dump::DumpPhase {
 public:
  MapsPhase(std::shared_ptr<const KernelContext> kernel, MapCaps caps)
      : kernel_(std::move(kernel)) {
    if (kernel_->offsets() == nullptr) {
      unavailable_ = absl::StrCat("kernel BTF unavailable: ", kernel_->btf_status().message());
      return;
    }
    absl::StatusOr<Kva> map_idr = kernel_->symbols().Require("map_idr");
    if (!map_idr.ok()) {
      unavailable_ = std::string(map_idr.status().message());
      return;
    }
    walker_.emplace(MapWalkerOptions{.resolver = kernel_->offsets(),
                                     .vmlinux = kernel_->btf()->vmlinux(),
                                     .percpu = &kernel_->percpu(),
                                     .map_idr = *map_idr,
                                     .caps = caps});
  }

  absl::string_view name() const override { return "maps"; }

  absl::Status Run(dump::PhaseContext& ctx) override {
    if (!walker_) return absl::FailedPreconditionError(unavailable_);
    // One dump at a time per target: the walker's BTF cache is not thread-safe.
    absl::MutexLock lock(&mu_);
    Reader reader = kernel_->NewReader();
    ctx.Bind(reader);
    return walker_->Dump(reader, ctx.report(), ctx.max_map_entries());
  }

  void MarkUnavailable(kfreeze::v1::FailureDumpReport& report,
                       absl::string_view reason) const override {
    report.set_maps_unavailable(std::string(reason));
    // The allocators are found through the maps: without the walk there is nothing to look at.
    sdt::MarkArenaAllocatorsUnavailable(report, reason);
  }

 private:
  std::shared_ptr<const KernelContext> kernel_;
  std::string unavailable_;
  absl::Mutex mu_;
  std::optional<MapWalker> walker_;
};

}  // namespace

std::shared_ptr<dump::DumpPhase> MakeMapsPhase(std::shared_ptr<const KernelContext> kernel,
                                               MapCaps caps) {
  return std::make_shared<MapsPhase>(std::move(kernel), caps);
}

std::vector<std::shared_ptr<dump::DumpPhase>> MapsPhases(
    const std::shared_ptr<const KernelContext>& kernel) {
  return {MakeMapsPhase(kernel)};
}

}  // namespace kfreeze::walkers::maps
