#include "core/dump/standard/standard_attachment.h"
#include "core/qmp/qmp_client.h"
#include "core/walkers/stacks/stack_copy.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace kfreeze::dump {
namespace {

// /proc/PID/maps of a VMM is a few hundred lines; a bound keeps a hostile pid from costing much.
constexpr int kMaxMapsLines = 1 << 16;

class StandardAttachment : public KernelAttachment {
 public:
  StandardAttachment(KernelPtr kernel, PhaseTable phases, std::unique_ptr<TriggerProbes> probes,
                     std::optional<kfreeze::v1::ScxKernelFeatures> features)
      : kernel_(std::move(kernel)),
        phases_(std::move(phases)),
        probes_(std::move(probes)),
        features_(std::move(features)) {}

  std::string kernel_release() const override { return kernel_->release(); }
  const PhaseTable& phases() const override { return phases_; }
  std::optional<std::string> SymbolizeIp(uint64_t ip) const override {
    std::optional<SymbolAtAddress> at = kernel_->symbols().Lookup(Kva(ip));
    if (!at) return std::nullopt;
    return absl::StrCat(at->symbol.name, "+0x", absl::Hex(at->offset));
  }
  std::vector<GuestCopy> CopyVcpuMemory(const std::vector<VcpuRegisters>& regs) const override {
    Reader reader = kernel_->NewReader();
    return walkers::stacks::CopyVcpuStacks(reader, regs);
  }
  TriggerProbes* probes() const override { return probes_.get(); }
  std::optional<kfreeze::v1::ScxKernelFeatures> scx_features() const override { return features_; }
  absl::Status Revalidate() const override { return kernel_->Revalidate(); }
  bool watchpoint_stops_after_write() const override {
    return kernel_->arch() != GuestArch::kArm64;  // target/arm: gdb_stop_before_watchpoint
  }
  std::string AttachSummary() const override {
    std::vector<std::string> parts;
    for (const StepTiming& t : kernel_->attach_timings()) {
      parts.push_back(absl::StrCat(t.step, "=", absl::FormatDuration(t.elapsed)));
    }
    return absl::StrJoin(parts, " ");
  }

 private:
  KernelPtr kernel_;
  PhaseTable phases_;
  std::unique_ptr<TriggerProbes> probes_;
  const std::optional<kfreeze::v1::ScxKernelFeatures> features_;
};

// The fd number of `pid` whose link target is `target` ("/memfd:mem0 (deleted)").
std::optional<std::string> FdPathFor(uint32_t pid, const std::string& target) {
  std::string dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  std::optional<std::string> found;
  while (dirent* e = readdir(d)) {
    std::string link = absl::StrCat(dir, "/", e->d_name);
    char buf[4096];
    ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
    if (n <= 0) continue;
    if (std::string(buf, static_cast<size_t>(n)) == target) {
      found = link;
      break;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

absl::StatusOr<std::string> DiscoverRamFile(uint32_t vmm_pid) {
  std::string maps_path = absl::StrCat("/proc/", vmm_pid, "/maps");
  std::ifstream maps(maps_path);
  if (!maps) return absl::NotFoundError(absl::StrCat("cannot read ", maps_path));
  std::string best_path;
  uint64_t best_size = 0;
  std::string line;
  for (int i = 0; i < kMaxMapsLines && std::getline(maps, line); ++i) {
    // "7f0000000000-7f0040000000 rw-s 00000000 00:1a 123 /dev/shm/vm0"
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::MaxSplits(' ', 5), absl::SkipEmpty());
    if (f.size() < 6 || f[1].size() < 4 || f[1][3] != 's') continue;
    std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(f[0], '-');
    uint64_t lo = 0, hi = 0;
    if (!absl::SimpleHexAtoi(range.first, &lo) || !absl::SimpleHexAtoi(range.second, &hi) ||
        hi <= lo) {
      continue;
    }
    std::string path(absl::StripLeadingAsciiWhitespace(f[5]));
    if (path.empty() || path[0] != '/') continue;
    if (hi - lo > best_size) {
      best_size = hi - lo;
      best_path = path;
    }
  }
  if (best_path.empty()) {
    return absl::NotFoundError(absl::StrCat("pid ", vmm_pid, " has no shared file mapping"));
  }
  if (absl::StartsWith(best_path, "/memfd:") || absl::EndsWith(best_path, " (deleted)")) {
    std::optional<std::string> fd = FdPathFor(vmm_pid, best_path);
    if (!fd)
      return absl::NotFoundError(absl::StrCat("no open fd of pid ", vmm_pid, " for ", best_path));
    return *fd;
  }
  return best_path;
}

absl::StatusOr<std::shared_ptr<KernelAttachment>> AttachStandard(const AttachSpec& spec,
                                                                 const PhaseProviders& providers) {
  AttachOptions options;
  options.ram_path = spec.ram_path;
  if (options.ram_path.empty()) {
    if (spec.vmm_pid == 0) return absl::InvalidArgumentError("target has neither ram nor pid");
    absl::StatusOr<std::string> found = DiscoverRamFile(spec.vmm_pid);
    if (!found.ok()) return found.status();
    options.ram_path = *found;
  }
  options.ram_layout = spec.ram_layout;
  if (!spec.qmp_socket.empty()) {
    options.memory_tree = [socket = spec.qmp_socket] { return FetchMemoryTree(socket); };
  }
  options.btf_path = spec.btf_path;
  absl::StatusOr<std::shared_ptr<const KernelContext>> kernel = KernelContext::Attach(options);
  if (!kernel.ok()) return kernel.status();
  PhaseTable phases;
  for (const PhaseProvider& provide : providers.phases) {
    for (auto& phase : provide(*kernel)) phases.push_back(std::move(phase));
  }
  std::unique_ptr<TriggerProbes> probes;
  if (providers.probes) probes = providers.probes(*kernel);
  std::optional<kfreeze::v1::ScxKernelFeatures> features;
  if (providers.features) features = providers.features(*kernel);
  return std::make_shared<StandardAttachment>(*kernel, std::move(phases), std::move(probes),
                                              std::move(features));
}

Attacher StandardAttacher(PhaseProviders providers) {
  return [providers = std::move(providers)](const AttachSpec& spec) {
    return AttachStandard(spec, providers);
  };
}

}  // namespace kfreeze::dump
