// What the scx walker tests share: one capture of a synthetic world, and a DSQ lookup.
#pragma once

#include <cstdint>
#include <string>

#include "core/walkers/scx/scx_capture.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::scx {

inline kfreeze::v1::FailureDumpReport CaptureWorld(kfreeze::testing::ScxWorld& w) {
  Reader reader = w.guest().MakeReader();
  const ScxContext ctx = BuildScxContext(w.view(), reader);
  kfreeze::v1::FailureDumpReport report;
  CaptureScx(reader, ctx, report);
  return report;
}

// The DSQ with this origin (and id, when non-zero), or nullptr.
inline const kfreeze::v1::DsqState* FindDsq(const kfreeze::v1::FailureDumpReport& r,
                                            const std::string& origin, uint64_t id = 0) {
  for (const kfreeze::v1::DsqState& d : r.dsq_states()) {
    if (d.origin() == origin && (id == 0 || d.id() == id)) return &d;
  }
  return nullptr;
}

}  // namespace kfreeze::walkers::scx
