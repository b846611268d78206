// Serialize and parse a large report (10,000 struct-valued hash entries, 64 CPUs, 4,096 tasks)
// as binary protobuf, proto3 JSON and ktstr JSON.
#include <string>

#include "benchmark/benchmark.h"
#include "core/report/report_json.h"
#include "tests/report/sample_reports.h"

namespace {

using kfreeze::report::JsonDialect;
using kfreeze::v1::FailureDumpReport;

const FailureDumpReport& Large() {
  static const FailureDumpReport* report =
      new FailureDumpReport(kfreeze::testing::LargeReport(10000, 64, 4096));
  return *report;
}

void SetBytes(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
}

void BM_SerializeBinary(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    Large().SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state, out.size());
}

void BM_ParseBinary(benchmark::State& state) {
  const std::string bytes = Large().SerializeAsString();
  for (auto _ : state) {
    FailureDumpReport r;
    benchmark::DoNotOptimize(r.ParseFromString(bytes));
  }
  SetBytes(state, bytes.size());
}

void BM_SerializeJson(benchmark::State& state, JsonDialect dialect) {
  std::string out;
  for (auto _ : state) {
    out = kfreeze::report::ToJson(Large(), dialect).value();
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state, out.size());
}

void BM_ParseJson(benchmark::State& state, JsonDialect dialect) {
  const std::string text = kfreeze::report::ToJson(Large(), dialect).value();
  for (auto _ : state) {
    auto parsed = kfreeze::report::ParseAnyReport(text);
    if (!parsed.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parsed);
  }
  SetBytes(state, text.size());
}

BENCHMARK(BM_SerializeBinary)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseBinary)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SerializeJson, proto3, JsonDialect::kProto3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SerializeJson, ktstr, JsonDialect::kKtstr)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParseJson, proto3, JsonDialect::kProto3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParseJson, ktstr, JsonDialect::kKtstr)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
