#include "core/gdb/stub_watch.h"

#include <stdlib.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/qmp/qmp_client.h"

namespace kfreeze::gdb {
namespace {

// Bounds the packets one exchange reads (stop replies before the answer).
constexpr int kMaxPacketsPerExchange = 16;

// The gdbstub chardev QEMU lists as label "gdb", if any: its filename ("disconnected:unix:..."
// while nobody is attached).
absl::StatusOr<std::optional<std::string>> GdbChardev(QmpClient& qmp, absl::Duration timeout) {
  absl::StatusOr<nlohmann::json> list = qmp.Execute("query-chardev", nullptr, timeout);
  if (!list.ok()) return list.status();
  if (!list->is_array()) return std::nullopt;
  for (const nlohmann::json& c : *list) {
    if (c.is_object() && c.value("label", "") == "gdb") {
      return c.value("filename", std::string("?"));
    }
  }
  return std::nullopt;
}

// Stops the stub kfreeze started (HMP `gdbserver none`) and removes its private directory.
void StopOwnStub(const std::string& qmp_socket, const std::string& dir, absl::Duration timeout) {
  if (absl::StatusOr<std::unique_ptr<QmpClient>> qmp = QmpClient::Connect(qmp_socket, timeout);
      qmp.ok()) {
    (void)(*qmp)->HumanMonitorCommand("gdbserver none", timeout);
  }
  unlink(absl::StrCat(dir, "/gdb.sock").c_str());
  rmdir(dir.c_str());
}

absl::Status Precondition(absl::string_view what, const absl::Status& s) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", s.message()));
}

}  // namespace

StubWatch::StubWatch(std::unique_ptr<RspClient> rsp, StubWatchOptions options)
    : rsp_(std::move(rsp)), options_(std::move(options)) {}

std::unique_ptr<StubWatch> StubWatch::ForTesting(std::unique_ptr<RspClient> rsp,
                                                 std::string qmp_socket, bool step_past_write) {
  StubWatchOptions o;
  o.qmp_socket = std::move(qmp_socket);
  o.step_past_write = step_past_write;
  return std::unique_ptr<StubWatch>(new StubWatch(std::move(rsp), std::move(o)));
}

absl::StatusOr<std::unique_ptr<StubWatch>> StubWatch::Open(const StubWatchOptions& options) {
  if (options.qmp_socket.empty()) {
    return absl::FailedPreconditionError("no qmp_socket: the VM's run state cannot be checked");
  }
  std::string address = options.gdbstub;
  std::string own_dir;
  {
    absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
        QmpClient::Connect(options.qmp_socket, options.timeout);
    if (!qmp.ok()) return Precondition("QMP", qmp.status());
    absl::StatusOr<std::optional<std::string>> chardev = GdbChardev(**qmp, options.timeout);
    if (!chardev.ok()) return Precondition("query-chardev", chardev.status());
    if (address.empty() && *chardev) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the VMM already serves a gdbstub (", **chardev,
          "); starting another would replace it: set the target's gdbstub to share it"));
    }
    if (!address.empty() && *chardev && !absl::StartsWith(**chardev, "disconnected:")) {
      // Connecting now would queue behind the other client and stop the VM when it leaves.
      return absl::FailedPreconditionError(
          absl::StrCat("the gdbstub is in use by another client (", **chardev, ")"));
    }
    absl::StatusOr<VmRunState> state = (*qmp)->QueryStatus(options.timeout);
    if (!state.ok()) return Precondition("query-status", state.status());
    if (!state->running) {
      // Connecting stops the VM; a pause that is not kfreeze's must not be continued.
      return absl::FailedPreconditionError(absl::StrCat(
          "the VM is ", state->status, ", not running: not connecting to its gdbstub"));
    }
    if (address.empty()) {
      const char* base = getenv("XDG_RUNTIME_DIR");
      std::string tmpl = absl::StrCat(base && *base ? base : "/tmp", "/kfreezed-gdb-XXXXXX");
      if (mkdtemp(tmpl.data()) == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("mkdtemp ", tmpl, " failed"));
      }
      own_dir = tmpl;
      address = absl::StrCat("unix:", own_dir, "/gdb.sock");
      absl::StatusOr<std::string> out = (*qmp)->HumanMonitorCommand(
          absl::StrCat("gdbserver ", address, ",server=on,wait=off"), options.timeout);
      if (!out.ok() || !absl::StrContains(*out, "Waiting for gdb connection")) {
        rmdir(own_dir.c_str());
        return absl::FailedPreconditionError(
            absl::StrCat("HMP gdbserver refused: ", out.ok() ? *out : out.status().ToString()));
      }
    }
  }  // QMP closed: QEMU serves one QMP client at a time
  absl::StatusOr<std::unique_ptr<RspClient>> rsp = RspClient::Connect(address, options.timeout);
  if (!rsp.ok()) {
    if (!own_dir.empty()) StopOwnStub(options.qmp_socket, own_dir, options.timeout);
    return Precondition(absl::StrCat("connect ", address), rsp.status());
  }
  std::unique_ptr<StubWatch> watch(new StubWatch(*std::move(rsp), options));
  watch->address_ = address;
  watch->own_dir_ = own_dir;
  if (absl::Status s = watch->AfterConnect(); !s.ok()) {
    return Precondition(absl::StrCat("gdbstub ", address), s);
  }
  return watch;
}

absl::StatusOr<std::unique_ptr<StubWatch>> StubWatch::JustConnectedForTesting(
    std::unique_ptr<RspClient> rsp) {
  std::unique_ptr<StubWatch> watch = ForTesting(std::move(rsp), "");
  if (absl::Status s = watch->AfterConnect(); !s.ok()) return s;
  return watch;
}

absl::Status StubWatch::AfterConnect() {
  // The connect stopped the VM (if it ran): find out, drop stale watchpoints (`?` clears them),
  // continue what we stopped.
  bool we_stopped = false;
  absl::Status held = Hold(&we_stopped, /*just_connected=*/true);
  if (held.ok()) {
    absl::StatusOr<std::string> r = Exchange("?");
    // `?` answers with a stop reply, which Exchange returns as the answer.
    if (!r.ok()) held = r.status();
  }
  if (we_stopped) {
    if (absl::Status s = Continue(); !s.ok() && held.ok()) held = s;
  }
  pending_hit_.reset();
  return held;
}

StubWatch::~StubWatch() {
  if (hit_held_) (void)ResumeAfterHit();
  if (armed_ != 0) {
    bool we_stopped = false;
    if (Hold(&we_stopped).ok()) (void)InsertOrRemove('z', armed_);
    if (we_stopped) (void)Continue();
  }
  if (!own_dir_.empty()) {
    rsp_.reset();
    StopOwnStub(options_.qmp_socket, own_dir_, options_.timeout);
  }
}

void StubWatch::NoteStop(const StopReply& stop) {
  if (!stop.watch_addr) return;  // our own `stop`s, an operator's pause: nothing to do
  dump::WatchHit hit;
  hit.addr = *stop.watch_addr;
  if (stop.thread && *stop.thread >= 1 && *stop.thread <= 4096) {
    hit.vcpu = static_cast<uint32_t>(*stop.thread - 1);  // QEMU: thread id = CPU index + 1
  }
  pending_hit_ = hit;
}

absl::Status StubWatch::Hold(bool* we_stopped, bool just_connected) {
  *we_stopped = false;
  if (hit_held_) return absl::OkStatus();
  bool saw_stop = false;
  // Stop replies already here: stale ones (kfreeze's freezes, pauses since the last look), or,
  // right after the connect, the stop the connect itself made (ours).
  for (int i = 0; i < kMaxPacketsPerExchange; ++i) {
    absl::StatusOr<std::optional<std::string>> p = rsp_->PollPacket();
    if (!p.ok()) return p.status();
    if (!*p) break;
    if (std::optional<StopReply> stop = ParseStopReply(**p)) {
      NoteStop(*stop);
      saw_stop = saw_stop || just_connected;
    }
  }
  if (pending_hit_) return absl::OkStatus();  // the VM stands at a hit: the engine handles it
  if (absl::Status s =
          rsp_->SendRaw(absl::StrCat("\x03", FramePacket("qAttached")), options_.timeout);
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < kMaxPacketsPerExchange; ++i) {
    absl::StatusOr<std::string> p = rsp_->ReadPacket(options_.timeout);
    if (!p.ok()) {
      // We may have stopped it and lost the answer: continue only what we know we stopped.
      *we_stopped = saw_stop && !pending_hit_;
      return p.status();
    }
    if (std::optional<StopReply> stop = ParseStopReply(*p)) {
      saw_stop = true;
      NoteStop(*stop);
      continue;
    }
    *we_stopped = saw_stop && !pending_hit_;
    return absl::OkStatus();
  }
  *we_stopped = saw_stop && !pending_hit_;
  return absl::DataLossError("the gdbstub sends stop replies without end");
}

absl::StatusOr<std::string> StubWatch::Exchange(const std::string& packet) {
  if (absl::Status s = rsp_->SendPacket(packet, options_.timeout); !s.ok()) return s;
  for (int i = 0; i < kMaxPacketsPerExchange; ++i) {
    absl::StatusOr<std::string> p = rsp_->ReadPacket(options_.timeout);
    if (!p.ok()) return p.status();
    if (std::optional<StopReply> stop = ParseStopReply(*p)) {
      NoteStop(*stop);
      if (packet == "?") return *p;
      continue;
    }
    return p;
  }
  return absl::DataLossError("the gdbstub sends stop replies without end");
}

absl::Status StubWatch::Continue() {
  // `c` has no reply until the next stop.
  return rsp_->SendPacket("c", options_.timeout);
}

absl::Status StubWatch::InsertOrRemove(char op, uint64_t kva) {
  const std::string packet = absl::StrFormat("%c2,%x,4", op, kva);
  absl::StatusOr<std::string> r = Exchange(packet);
  if (!r.ok()) return r.status();
  if (*r != "OK") {
    return absl::FailedPreconditionError(
        absl::StrCat("the gdbstub answered ", packet, " with '", r->substr(0, 64), "'",
                     r->empty() ? " (watchpoints unsupported)" : ""));
  }
  return absl::OkStatus();
}

absl::Status StubWatch::Arm(uint64_t kva) {
  if (kva == armed_) return absl::OkStatus();
  bool we_stopped = false;
  absl::Status status = Hold(&we_stopped);
  if (status.ok() && armed_ != 0) {
    status = InsertOrRemove('z', armed_);
    if (status.ok()) armed_ = 0;
  }
  if (status.ok() && kva != 0) {
    status = InsertOrRemove('Z', kva);
    if (status.ok()) armed_ = kva;
  }
  if (we_stopped) {
    if (absl::Status s = Continue(); !s.ok() && status.ok()) status = s;
  }
  return status;
}

absl::StatusOr<std::optional<dump::WatchHit>> StubWatch::PollHit() {
  for (int i = 0; i < kMaxPacketsPerExchange && !pending_hit_; ++i) {
    absl::StatusOr<std::optional<std::string>> p = rsp_->PollPacket();
    if (!p.ok()) return p.status();
    if (!*p) break;
    if (std::optional<StopReply> stop = ParseStopReply(**p)) NoteStop(*stop);
  }
  if (!pending_hit_) return std::nullopt;
  hit_held_ = true;
  std::optional<dump::WatchHit> hit = pending_hit_;
  pending_hit_.reset();
  if (options_.step_past_write) {
    if (absl::Status s = StepPastWrite(hit->vcpu); !s.ok()) {
      // Never leave the VM at the store with the watchpoint set: lift it and let the VM go.
      if (armed_ != 0 && InsertOrRemove('z', armed_).ok()) armed_ = 0;
      (void)ResumeAfterHit();
      return absl::Status(s.code(), absl::StrCat("stepping past the watched store: ", s.message()));
    }
  }
  return hit;
}

absl::Status StubWatch::StepPastWrite(std::optional<uint32_t> vcpu) {
  if (armed_ == 0) return absl::OkStatus();
  if (absl::Status s = InsertOrRemove('z', armed_); !s.ok()) return s;
  const uint64_t kva = armed_;
  armed_ = 0;
  // Only the writing vCPU steps (the others stay stopped, and no store of theirs slips past the
  // lifted watchpoint); a stub without vCont answers "" and gets a plain step.
  const uint64_t thread = vcpu ? uint64_t{*vcpu} + 1 : 0;  // 0: not known
  const std::string step = thread != 0 ? absl::StrFormat("vCont;s:%x", thread) : "s";
  if (absl::Status s = rsp_->SendPacket(step, options_.timeout); !s.ok()) return s;
  bool stepped = false;
  for (int i = 0; i < kMaxPacketsPerExchange && !stepped; ++i) {
    absl::StatusOr<std::string> p = rsp_->ReadPacket(options_.timeout);
    if (!p.ok()) {
      // The step may still end later and leave the VM stopped: stop it now, so that the caller's
      // resume (of a VM in "debug") lets it go.
      (void)rsp_->SendRaw("\x03", options_.timeout);
      for (int k = 0; k < kMaxPacketsPerExchange; ++k) {
        absl::StatusOr<std::string> late = rsp_->ReadPacket(options_.timeout);
        if (!late.ok() || ParseStopReply(*late)) break;
      }
      return p.status();
    }
    if (p->empty() && step != "s") {
      if (absl::Status s = rsp_->SendPacket("s", options_.timeout); !s.ok()) return s;
      continue;
    }
    std::optional<StopReply> stop = ParseStopReply(*p);
    // The step ends in SIGTRAP on the stepped thread; another stop (a QMP `stop` of a freeze,
    // T02) is not it.
    stepped = stop && stop->kind == 'T' && stop->signal == 5 &&
              (thread == 0 || !stop->thread || *stop->thread == thread);
  }
  if (!stepped) return absl::DataLossError("the gdbstub never reported the single step");
  if (absl::Status s = InsertOrRemove('Z', kva); !s.ok()) return s;
  armed_ = kva;
  return absl::OkStatus();
}

absl::Status StubWatch::ResumeAfterHit() {
  if (!hit_held_) return absl::OkStatus();
  hit_held_ = false;
  if (options_.qmp_socket.empty()) return Continue();  // tests: the stub is the only control
  absl::StatusOr<std::unique_ptr<QmpClient>> qmp =
      QmpClient::Connect(options_.qmp_socket, options_.timeout);
  if (!qmp.ok()) return qmp.status();
  absl::StatusOr<VmRunState> state = (*qmp)->QueryStatus(options_.timeout);
  if (!state.ok()) return state.status();
  // "debug" is a stop only this client's watchpoint makes; anything else is not ours to resume.
  if (state->status != "debug") return absl::OkStatus();
  return (*qmp)->Cont(options_.timeout);
}

}  // namespace kfreeze::gdb
