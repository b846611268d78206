// Shared helpers of the map walker tests.
#pragma once

#include <cstring>
#include <vector>

#include "core/dump/deadline.h"
#include "core/mem/read_budget.h"
#include "core/walkers/maps/map_info.h"
#include "core/walkers/maps/map_walker.h"
#include "gtest/gtest.h"
#include "kfreeze/v1/report.pb.h"
#include "tests/walkers/maps/fake_bpf.h"

namespace kfreeze::walkers::maps {

inline kfreeze::v1::FailureDumpReport DumpAll(testing::FakeBpfKernel& k, MapCaps caps = {},
                                              dump::Deadline deadline = dump::Deadline()) {
  k.BuildIdr();
  MapWalker walker({.resolver = &k.resolver(),
                    .vmlinux = k.vmlinux(),
                    .percpu = &k.percpu(),
                    .map_idr = k.map_idr(),
                    .caps = caps});
  Reader reader = k.guest().MakeReader();
  // As a dump phase does: the budget carries the deadline to the walker.
  ReadBudget budget({}, [&deadline] { return deadline.Expired(); });
  reader.SetBudget(&budget);
  kfreeze::v1::FailureDumpReport report;
  absl::Status st = walker.Dump(reader, report);
  EXPECT_TRUE(st.ok()) << st;
  return report;
}

template <typename T>
std::vector<uint8_t> Bytes(T v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

inline std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

}  // namespace kfreeze::walkers::maps
