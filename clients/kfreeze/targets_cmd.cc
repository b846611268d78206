// kfreeze targets: what kfreezed is attached to, and why not when it is not; with --nats, what
// every kfreezed of the fleet (or one HOST) answers.
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "clients/kfreeze/fleet_client.h"
#include "fleet/headers.h"
#include "fleet/subjects.h"

namespace kfreeze::cli {
namespace {

struct TargetsArgs {
  std::string name;  // empty: every target
  bool json = false;
  FleetFlags fleet;
  int gather_ms = 1000;
};

std::string StateName(kfreeze::v1::TargetState s) {
  std::string name = kfreeze::v1::TargetState_Name(s);
  const std::string prefix = "TARGET_STATE_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

void PrintTargetRows(const google::protobuf::RepeatedPtrField<kfreeze::v1::Target>& targets,
                     const std::string& host);

// Every host's answer within --gather-ms (or the one HOST's within the RPC timeout).
int RunFleetTargets(const TargetsArgs& a, const DaemonFlags& daemon) {
  auto conn = ConnectFleet(a.fleet);
  if (!conn.ok()) return FleetFail(conn.status());
  constexpr size_t kMaxHosts = 100000;
  absl::StatusOr<std::vector<kfreeze::fleet::MsgPtr>> replies =
      a.name.empty()
          ? (*conn)->Gather(kfreeze::fleet::kTargetsSubject, absl::Milliseconds(a.gather_ms),
                            kMaxHosts)
          : (*conn)->Gather(kfreeze::fleet::TargetsSubject(a.name), FleetTimeout(daemon), 1);
  if (!replies.ok()) return FleetFail(replies.status());
  if (!a.name.empty() && replies->empty()) {
    return FleetFail(absl::NotFoundError("no kfreezed answers for host '" + a.name + "'"));
  }
  kfreeze::v1::FleetTargets fleet;
  for (const kfreeze::fleet::MsgPtr& r : *replies) {
    kfreeze::v1::HostTargets* h = fleet.add_hosts();
    h->set_host(kfreeze::fleet::HeaderOr(r.get(), kfreeze::fleet::kHostHeader, "?"));
    kfreeze::v1::ListTargetsResponse list;
    if (absl::Status st = kfreeze::fleet::StatusFromHeaders(r.get()); !st.ok()) {
      h->set_error(st.ToString());
    } else if (!list.ParseFromArray(natsMsg_GetData(r.get()), natsMsg_GetDataLength(r.get()))) {
      h->set_error("the reply is not a ListTargetsResponse");
    } else {
      *h->mutable_targets() = std::move(*list.mutable_targets());
    }
  }
  std::sort(fleet.mutable_hosts()->begin(), fleet.mutable_hosts()->end(),
            [](const auto& x, const auto& y) { return x.host() < y.host(); });
  if (a.json) return PrintMessageJson(fleet) ? kExitOk : kExitFailure;
  for (const kfreeze::v1::HostTargets& h : fleet.hosts()) {
    if (!h.error().empty()) std::printf("%-16s error: %s\n", h.host().c_str(), h.error().c_str());
    PrintTargetRows(h.targets(), h.host());
  }
  return kExitOk;
}

void PrintTargetRows(const google::protobuf::RepeatedPtrField<kfreeze::v1::Target>& targets,
                     const std::string& host) {
  for (const auto& t : targets) {
    std::printf("%s\n",
                absl::StrFormat("%s%-12s %-9s %-28s dumps=%d last=%s%s%s",
                                host.empty() ? "" : absl::StrFormat("%-16s ", host), t.name(),
                                StateName(t.state()), t.kernel_release(), t.dumps_taken(),
                                t.last_dump_id().empty() ? "-" : t.last_dump_id(),
                                t.config().qmp_socket().empty() ? " (live: no qmp)" : "",
                                t.last_error().empty() ? "" : "  error: " + t.last_error())
                    .c_str());
  }
}

int RunTargets(const TargetsArgs& a, const DaemonFlags& daemon) {
  if (a.fleet.enabled()) return RunFleetTargets(a, daemon);
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ListTargetsResponse response;
  if (!a.name.empty()) {  // one target in detail
    kfreeze::v1::GetTargetRequest request;
    request.set_name(a.name);
    auto ctx = NewContext(daemon);
    grpc::Status status = stub->GetTarget(ctx.get(), request, response.add_targets());
    if (!status.ok()) return RpcFail(daemon, status);
  } else {
    auto ctx = NewContext(daemon);
    grpc::Status status =
        stub->ListTargets(ctx.get(), kfreeze::v1::ListTargetsRequest(), &response);
    if (!status.ok()) return RpcFail(daemon, status);
  }
  if (a.json) {
    return PrintMessageJson(response) ? kExitOk : kExitFailure;
  }
  PrintTargetRows(response.targets(), "");
  return kExitOk;
}

RunFn SetupTargets(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<TargetsArgs>();
  app.add_option("NAME", a->name, "show only this target (with --nats: only this HOST)");
  AddJsonFlag(app, a->json);
  AddFleetFlags(app, a->fleet);
  AddValueFlag(app, "--gather-ms", a->gather_ms,
               "with --nats: how long to collect the hosts' answers (default 1000)");
  return [a, &daemon] { return RunTargets(*a, daemon); };
}

const bool registered =
    RegisterCommand({"targets", "targets of kfreezed, their state and last error", &SetupTargets});

}  // namespace
}  // namespace kfreeze::cli
