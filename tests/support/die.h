// How test scaffolding gives up on a set-up it cannot build: one line naming the scaffolding and
// the problem, then abort. Scaffolding runs outside test bodies (fixtures, fuzzer and benchmark
// set-up), where gtest assertions cannot stop it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kfreeze::testing {

[[noreturn]] inline void DieInTest(std::string_view who, std::string_view what) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(who.size()), who.data(),
               static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace kfreeze::testing
