// Deterministic mutation sweep over the goldens: ParseAnyReport must return, never crash, on
// every byte flip, truncation and splice; what it rejects it rejects as InvalidArgument with a
// message, and what it accepts survives a write/read round trip unchanged (the libFuzzer target
// explores further where clang exists).
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "core/report/report_json.h"
#include "gtest/gtest.h"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

TEST(HostileJsonTest, MutationsNeverCrash) {
  const std::string base =
      ToJson(kfreeze::testing::SampleSingleReport(), JsonDialect::kKtstr).value();
  std::mt19937 rng(1234);
  const std::string alphabet = "{}[]\",:0123456789-eE.tfn \\u";
  int parsed_ok = 0;
  for (int i = 0; i < 400; ++i) {
    std::string s = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 16);
          break;
        case 2:
          s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 64));
          break;
      }
      if (s.empty()) s = "{";
    }
    auto r = ParseAnyReport(s);
    if (!r.ok()) {
      // Rejections name the problem, so a user can find it in a large dump.
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(r.status().message().empty());
      continue;
    }
    ++parsed_ok;
    // What the reader accepts, the writer reproduces: emitting the parsed mutant and reading it
    // back gives the same report (no half-read field survives a round trip differently).
    const std::string again = ToJson(*ReportOf(r->report), r->dialect).value();
    auto reparsed = ParseAnyReport(again);
    ASSERT_TRUE(reparsed.ok()) << reparsed.status() << "\n" << again;
    EXPECT_EQ(ToJson(*ReportOf(reparsed->report), r->dialect).value(), again);
  }
  // The sweep means something only if some mutants still parse and most do not.
  EXPECT_GT(parsed_ok, 0);
  EXPECT_LT(parsed_ok, 400);
}

TEST(HostileJsonTest, HugeNumbersAndStringsAreRejectedOrBounded) {
  EXPECT_FALSE(ParseAnyReport("{\"schema\":\"single\",\"maps\":[],\"maps_truncated\":1e400}").ok());
  EXPECT_FALSE(
      ParseAnyReport("{\"schema\":\"single\",\"maps\":[],\"maps_truncated\":4294967296}").ok());
  EXPECT_FALSE(ParseAnyReport("{\"schema\":\"single\",\"maps\":[],\"maps_truncated\":1.5}").ok());
  std::string big = "{\"schema\":\"single\",\"maps\":[],\"active_obj_name\":\"" +
                    std::string(1 << 20, 'x') + "\"}";
  auto r = ParseAnyReport(big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->report.single().active_obj_name().size(), size_t{1} << 20);
}

}  // namespace
}  // namespace kfreeze::report
