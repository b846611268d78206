// What attaching to one target produces, cached for all its freezes: the kernel's identity, the
// phase table bound to it, an IP symbolizer and (optionally) the auto-trigger probes.
//
// The daemon and the CLI only see this interface; core/dump/standard builds the real one from a
// KernelContext and the walkers, tests build fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dump/dump_phase.h"
#include "core/dump/freeze_session.h"
#include "core/dump/trigger_probes.h"
#include "core/dump/vcpu_capture.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// Where a target's kernel lives (mirror of kfreeze.v1.TargetConfig, without the proto).
struct AttachSpec {
  std::string name;
  std::string ram_path;
  uint32_t vmm_pid = 0;  // discover the RAM file from /proc/PID/maps when ram_path is empty
  std::string qmp_socket;
  std::string ram_layout;
  std::string btf_path;
};

class KernelAttachment {
 public:
  virtual ~KernelAttachment() = default;
  // uts release ("7.2.12+deb13-cloud-amd64").
  virtual std::string kernel_release() const = 0;
  // Built once at attach; shared by concurrent freezes (phases must be reentrant).
  virtual const PhaseTable& phases() const = 0;
  // "sym+0xoff" for a kernel address.
  virtual std::optional<std::string> SymbolizeIp(uint64_t ip) const = 0;
  // The guest memory the vCPU registers locate (each vCPU's stack above its SP), copied while the
  // VM is paused (FreezeOptions.copy_vcpu_memory); none by default.
  virtual std::vector<GuestCopy> CopyVcpuMemory(const std::vector<VcpuRegisters>& /*regs*/) const {
    return {};
  }
  // The auto-trigger probes; null when this kernel cannot be probed (no sched_ext...).
  virtual TriggerProbes* probes() const { return nullptr; }
  // OK while the guest still runs the attached kernel; non-OK means attach again.
  virtual absl::Status Revalidate() const { return absl::OkStatus(); }
  // The kernel's sched_ext layout as detected at attach (GetInfo, ListTargets); nullopt = unknown.
  virtual std::optional<kfreeze::v1::ScxKernelFeatures> scx_features() const {
    return std::nullopt;
  }
  // Whether a gdbstub write watchpoint stops the guest after the watched store (x86-64). QEMU's
  // arm targets stop before it (a resume would run the store into the watchpoint again): the late
  // trigger's watch then steps each hit past the store (gdb::StubWatchOptions::step_past_write).
  virtual bool watchpoint_stops_after_write() const { return true; }
  // Per-step attach timings for logs ("vmcoreinfo=2ms kallsyms=40ms ...").
  virtual std::string AttachSummary() const { return ""; }
};

// Binds a freeze to what the attachment knows: IP symbols and the vCPU memory copier.
void UseAttachment(std::shared_ptr<const KernelAttachment> kernel, FreezeOptions& options);

using Attacher =
    std::function<absl::StatusOr<std::shared_ptr<KernelAttachment>>(const AttachSpec& spec)>;

}  // namespace kfreeze::dump
