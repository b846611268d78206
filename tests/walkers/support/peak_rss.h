// The process's peak resident set (getrusage ru_maxrss), for the hostile-guest memory bounds:
// a test records it before the walk and asserts on the growth after. ru_maxrss only rises, so the
// difference is how far the walk pushed the peak beyond what the process had already touched.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace kfreeze::testing {

inline uint64_t PeakRssBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace kfreeze::testing
