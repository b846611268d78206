// kfreeze freeze TARGET: ask kfreezed for a dump now and print it; with --nats, HOST/TARGET of
// any kfreezed of the fleet (request-reply on kfreeze.freeze.<host>.<target>).
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "clients/kfreeze/fleet_client.h"
#include "fleet/headers.h"
#include "fleet/subjects.h"

namespace kfreeze::cli {
namespace {

struct FreezeArgs {
  std::string target;
  int deadline_ms = 0;
  std::string label;
  std::string sections;
  bool keep_paused = false;
  bool json = false;
  int64_t max_map_entries = -1;  // -1: the daemon's default
  int decode_deadline_ms = 0;
  FleetFlags fleet;
};

int RunFleetFreeze(const FreezeArgs& a, const DaemonFlags& daemon,
                   kfreeze::v1::FreezeRequest request) {
  std::optional<kfreeze::fleet::HostTarget> ht = kfreeze::fleet::SplitHostSlashName(a.target);
  if (!ht) return Fail(kExitInvalidInput, "with --nats the target is HOST/TARGET");
  request.set_target(ht->target);
  auto conn = ConnectFleet(a.fleet);
  if (!conn.ok()) return FleetFail(conn.status());
  const std::string subject = kfreeze::fleet::FreezeSubject(ht->host, ht->target);
  const std::string body = request.SerializeAsString();
  natsMsg* m = nullptr;
  natsStatus s =
      natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  kfreeze::fleet::MsgPtr msg(m);
  if (s != NATS_OK) return FleetFail(kfreeze::fleet::NatsError(s, "request"));
  const absl::Duration timeout = FleetTimeout(daemon);
  absl::StatusOr<kfreeze::fleet::MsgPtr> reply = (*conn)->Request(m, timeout);
  if (!reply.ok()) {
    if (absl::IsNotFound(reply.status())) {
      return FleetFail(absl::NotFoundError("no kfreezed answers for host '" + ht->host + "'"));
    }
    return FleetFail(reply.status());
  }
  natsMsg* r = reply->get();
  if (absl::Status st = kfreeze::fleet::StatusFromHeaders(r); !st.ok()) {
    return FleetFail(absl::Status(st.code(), ht->host + ": " + std::string(st.message())));
  }
  kfreeze::v1::FreezeResponse response;
  if (!response.ParseFromArray(natsMsg_GetData(r), natsMsg_GetDataLength(r))) {
    return Fail(kExitFailure, "nats: the reply is not a FreezeResponse");
  }
  if (std::string(kfreeze::fleet::HeaderOr(r, kfreeze::fleet::kEnvelopeHeader)) == "object") {
    absl::StatusOr<std::string> envelope =
        FetchDumpBody(conn->get(), a.fleet,
                      kfreeze::fleet::DumpObjectName(ht->host, response.dump_id()), timeout);
    if (!envelope.ok()) return FleetFail(envelope.status());
    if (!response.mutable_envelope()->ParseFromString(*envelope)) {
      return Fail(kExitFailure, "nats: the dump body is not a DumpEnvelope");
    }
  }
  if (a.json) return PrintMessageJson(response) ? kExitOk : kExitFailure;
  PrintEnvelope(response.envelope(), /*json=*/false);
  return kExitOk;
}

int RunFreeze(const FreezeArgs& a, const DaemonFlags& daemon) {
  kfreeze::v1::FreezeRequest request;
  request.set_target(a.target);
  if (a.deadline_ms < 0) return Fail(kExitInvalidInput, "--deadline-ms < 0");
  request.set_deadline_ms(static_cast<uint32_t>(a.deadline_ms));
  if (!ParseLabels(a.label, request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  for (absl::string_view s : absl::StrSplit(a.sections, ',', absl::SkipEmpty())) {
    request.add_sections(std::string(s));
  }
  request.set_keep_paused(a.keep_paused);
  if (a.max_map_entries > UINT32_MAX) return Fail(kExitInvalidInput, "--max-map-entries too large");
  if (a.max_map_entries >= 0) request.set_max_map_entries(static_cast<uint32_t>(a.max_map_entries));
  if (a.decode_deadline_ms < 0) return Fail(kExitInvalidInput, "--decode-deadline-ms < 0");
  request.set_decode_deadline_ms(static_cast<uint32_t>(a.decode_deadline_ms));
  if (a.fleet.enabled()) return RunFleetFreeze(a, daemon, std::move(request));
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::FreezeResponse response;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->Freeze(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(daemon, status);
  if (a.json) {
    if (!PrintMessageJson(response)) return kExitFailure;
  } else {
    PrintEnvelope(response.envelope(), /*json=*/false);
  }
  return kExitOk;
}

RunFn SetupFreeze(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<FreezeArgs>();
  app.add_option("TARGET", a->target, "target name in kfreezed (HOST/TARGET with --nats)")
      ->required();
  AddValueFlag(app, "--deadline-ms", a->deadline_ms,
               "soft deadline of the walk (0 = the daemon's)");
  AddValueFlag(app, "--label", a->label, "caller labels k=v[,k2=v2] stored with the dump");
  AddValueFlag(
      app, "--sections", a->sections,
      "sections to run, comma separated: the phases and \"regs\" (vCPU registers) (default: all)");
  AddBoolFlag(app, "--keep-paused", a->keep_paused,
              "leave the VM paused after the dump (resume with `kfreeze resume`)");
  AddValueFlag(app, "--max-map-entries", a->max_map_entries,
               "entries rendered per map (0 = no cap; default: 4096)");
  AddValueFlag(app, "--decode-deadline-ms", a->decode_deadline_ms,
               "budget of the decode stage after the resume (0 = the daemon's)");
  AddJsonFlag(app, a->json);
  AddFleetFlags(app, a->fleet);
  return [a, &daemon] { return RunFreeze(*a, daemon); };
}

const bool registered =
    RegisterCommand({"freeze", "pause, dump and resume a VM through kfreezed", &SetupFreeze});

}  // namespace
}  // namespace kfreeze::cli
