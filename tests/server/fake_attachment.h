// A KernelAttachment for daemon tests: fixed release, a caller-built phase table, optional probes.
#pragma once

#include <string>
#include <utility>

#include "core/dump/attachment.h"

namespace kfreeze::testing {

class FakeAttachment : public dump::KernelAttachment {
 public:
  FakeAttachment(std::string release, dump::PhaseTable phases,
                 dump::TriggerProbes* probes = nullptr)
      : release_(std::move(release)), phases_(std::move(phases)), probes_(probes) {}
  std::string kernel_release() const override { return release_; }
  const dump::PhaseTable& phases() const override { return phases_; }
  std::optional<std::string> SymbolizeIp(uint64_t ip) const override {
    return "fake_sym+0x" + std::to_string(ip & 0xff);
  }
  dump::TriggerProbes* probes() const override { return probes_; }

 private:
  std::string release_;
  dump::PhaseTable phases_;
  dump::TriggerProbes* probes_;
};

// A "maps" phase that reports one map named `map_name`.
inline std::shared_ptr<dump::DumpPhase> OneMapPhase(std::string map_name,
                                                    dump::PhaseRunFn before = nullptr) {
  return dump::MakePhase(
      "maps",
      [map_name, before](dump::PhaseContext& ctx) {
        if (before) {
          if (absl::Status s = before(ctx); !s.ok()) return s;
        }
        ctx.report().add_maps()->set_name(map_name);
        return absl::OkStatus();
      },
      [](kfreeze::v1::FailureDumpReport& r, absl::string_view reason) {
        r.set_maps_unavailable(std::string(reason));
      });
}

}  // namespace kfreeze::testing
