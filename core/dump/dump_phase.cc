#include "core/dump/dump_phase.h"

#include <utility>

namespace kfreeze::dump {

void PhaseContext::NoteTruncated() {
  if (!report_.has_dump_truncated_at_us()) {
    report_.set_dump_truncated_at_us(deadline_.ElapsedUs());
  }
}

namespace {

class FunctionPhase : public DumpPhase {
 public:
  FunctionPhase(std::string name, std::vector<std::string> needs, PhaseRunFn run,
                PhaseUnavailableFn unavailable)
      : name_(std::move(name)),
        needs_(std::move(needs)),
        run_(std::move(run)),
        unavailable_(std::move(unavailable)) {}

  absl::string_view name() const override { return name_; }
  std::vector<std::string> needs() const override { return needs_; }
  absl::Status Run(PhaseContext& ctx) override { return run_(ctx); }
  void MarkUnavailable(kfreeze::v1::FailureDumpReport& report,
                       absl::string_view reason) const override {
    if (unavailable_) unavailable_(report, reason);
  }

 private:
  std::string name_;
  std::vector<std::string> needs_;
  PhaseRunFn run_;
  PhaseUnavailableFn unavailable_;
};

}  // namespace

std::shared_ptr<DumpPhase> MakePhase(std::string name, PhaseRunFn run,
                                     PhaseUnavailableFn unavailable) {
  return MakePhase(std::move(name), {}, std::move(run), std::move(unavailable));
}

std::shared_ptr<DumpPhase> MakePhase(std::string name, std::vector<std::string> needs,
                                     PhaseRunFn run, PhaseUnavailableFn unavailable) {
  return std::make_shared<FunctionPhase>(std::move(name), std::move(needs), std::move(run),
                                         std::move(unavailable));
}

std::vector<std::string> PhaseNames(const PhaseTable& table) {
  std::vector<std::string> names;
  names.reserve(table.size());
  for (const auto& phase : table) names.emplace_back(phase->name());
  return names;
}

}  // namespace kfreeze::dump
