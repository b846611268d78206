// The late trigger's watchpoint over QEMU's gdbstub (dump::WatchSource): a 4-byte write
// watchpoint (`Z2`) on the exit-kind word, so the VM stops at the very write.
//
// QEMU's stub (7.2) stops the VM when a client connects and whenever it receives a byte while the
// VM runs (the byte is dropped), and sends a stop reply for every stop, ours or not. So:
//   - Open connects only when QMP query-status says "running", and continues at once;
//   - every command exchange first sends 0x03 followed by a `qAttached` probe: a stop reply before
//     the probe's answer means the VM ran and this client stopped it (continued afterwards with
//     `c`); none means someone else had it paused (left paused: kfreeze never resumes a pause
//     that is not its own);
//   - a watch hit leaves the VM in RunState "debug", which only this client's watchpoint can cause:
//     ResumeAfterHit resumes with QMP `cont` only while the VM is still in "debug".
// Known race: an operator's pause landing between query-status and connect (or between the 0x03
// and its stop) is taken for kfreeze's and continued. The window is one local round trip.
//
// Without a configured stub, Open starts one over HMP `gdbserver` on a unix socket in a private
// directory (0700), unless the VMM already serves one (it would be replaced); the destructor
// removes the watchpoint, stops that stub and removes the directory.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/dump/trigger_probes.h"
#include "core/gdb/rsp_client.h"

namespace kfreeze::gdb {

struct StubWatchOptions {
  // "unix:PATH" / "tcp:HOST:PORT" of a stub the VMM serves; empty = start one over QMP.
  std::string gdbstub;
  std::string qmp_socket;
  absl::Duration timeout = absl::Seconds(1);
  // The target stops *before* a watched store (QEMU's arm targets): resuming would run the store
  // into the same watchpoint again. A hit is then handed out only after the writing vCPU has
  // been single-stepped past the store with the watchpoint lifted (and set again), as gdb does
  // for such targets, so the trigger reads the value written with the VM still stopped.
  bool step_past_write = false;
};

class StubWatch : public dump::WatchSource {
 public:
  // FailedPrecondition says why no stub can be had (VM not running, stub in use, ...).
  static absl::StatusOr<std::unique_ptr<StubWatch>> Open(const StubWatchOptions& options);
  // Over an already connected stub (tests); `qmp_socket` may be empty (then ResumeAfterHit
  // continues through the stub).
  static std::unique_ptr<StubWatch> ForTesting(std::unique_ptr<RspClient> rsp,
                                               std::string qmp_socket,
                                               bool step_past_write = false);
  // As Open does after its connect (the stub may have stopped the VM for it), over `rsp` (tests).
  static absl::StatusOr<std::unique_ptr<StubWatch>> JustConnectedForTesting(
      std::unique_ptr<RspClient> rsp);
  ~StubWatch() override;

  absl::Status Arm(uint64_t kva) override;
  absl::StatusOr<std::optional<dump::WatchHit>> PollHit() override;
  absl::Status ResumeAfterHit() override;

  // Readable when the stub sent something (a hit): the runner waits on it.
  int fd() const { return rsp_->fd(); }
  const std::string& address() const { return address_; }

 private:
  StubWatch(std::unique_ptr<RspClient> rsp, StubWatchOptions options);
  // Gets the VM stopped for packets; *we_stopped: this client stopped it (continue afterwards).
  // `just_connected`: a stop reply already received is the connect's own stop.
  absl::Status Hold(bool* we_stopped, bool just_connected = false);
  // Right after the connect: continue the VM if the connect stopped it; clear stale watchpoints.
  absl::Status AfterConnect();
  // One command and its reply; stop replies meanwhile are noted.
  absl::StatusOr<std::string> Exchange(const std::string& packet);
  void NoteStop(const StopReply& stop);
  absl::Status Continue();
  // step_past_write: lift the watchpoint, single-step the stopped vCPU (QEMU steps the CPU that
  // reported the stop), set the watchpoint again.
  absl::Status StepPastWrite(std::optional<uint32_t> vcpu);
  absl::Status InsertOrRemove(char op, uint64_t kva);

  std::unique_ptr<RspClient> rsp_;
  StubWatchOptions options_;
  std::string address_;
  std::string own_dir_;  // the private directory of a stub we started
  uint64_t armed_ = 0;
  std::optional<dump::WatchHit> pending_hit_;  // seen, not yet handed out
  bool hit_held_ = false;  // the VM stands at a hit handed out (packets flow without a Hold)
};

}  // namespace kfreeze::gdb
