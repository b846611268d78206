// kfreeze watch: stream dumps as kfreezed archives them; with --nats, as every kfreezed of the
// fleet publishes them (the JetStream dump stream, bodies from the bucket).
#include <cstdio>
#include <memory>
#include <string>

#include <algorithm>
#include <vector>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "clients/kfreeze/fleet_client.h"
#include "fleet/dump_feed.h"
#include "fleet/subjects.h"

namespace kfreeze::cli {
namespace {

struct WatchArgs {
  std::string target;
  std::string label;
  std::string since;
  bool summary_only = false;
  int count = 0;
  bool json = false;
  FleetFlags fleet;
  std::string host;  // --nats: only this host's dumps
  bool all = false;  // --nats: every event the stream keeps first
};

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& want,
                 const kfreeze::v1::DumpSummary& s) {
  for (const auto& [k, v] : want) {
    auto it = s.labels().find(k);
    if (it == s.labels().end() || it->second != v) return false;
  }
  return true;
}

int RunFleetWatch(const WatchArgs& a, const DaemonFlags& daemon) {
  if (!a.since.empty())
    return Fail(kExitInvalidInput, "--since is for one kfreezed; with --nats use --all");
  std::vector<std::string> targets = absl::StrSplit(a.target, ',', absl::SkipEmpty());
  google::protobuf::Map<std::string, std::string> labels;
  if (!ParseLabels(a.label, &labels)) return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  // A watch outlives a cluster restart: libnats reconnects and the ordered consumer resumes.
  auto conn = ConnectFleet(a.fleet, /*keep_reconnecting=*/true);
  if (!conn.ok()) return FleetFail(conn.status());
  kfreeze::fleet::FeedStart start;
  start.all = a.all;
  auto reader = kfreeze::fleet::DumpFeedReader::Open(conn->get(), a.fleet.stream, a.host,
                                                     targets.size() == 1 ? targets[0] : "", start);
  if (!reader.ok()) return FleetFail(reader.status());
  const absl::Duration body_timeout = FleetTimeout(daemon);
  int seen = 0;
  for (;;) {
    auto next = (*reader)->Next(absl::Seconds(1));
    if (!next.ok()) {
      if (!absl::IsDataLoss(next.status())) return FleetFail(next.status());
      std::fprintf(stderr, "kfreeze: %s\n", std::string(next.status().message()).c_str());
      continue;  // one bad message does not end the watch
    }
    if (!next->has_value()) continue;
    kfreeze::v1::DumpEvent& event = (*next)->event;
    const kfreeze::v1::DumpSummary& s = event.summary();
    if (targets.size() > 1 &&
        std::find(targets.begin(), targets.end(), s.target()) == targets.end()) {
      continue;
    }
    if (!LabelsMatch(labels, s)) continue;
    if (!a.summary_only) {
      absl::StatusOr<std::string> body =
          FetchDumpBody(conn->get(), a.fleet, kfreeze::fleet::DumpObjectName(s.host(), s.dump_id()),
                        body_timeout);
      if (!body.ok() || !event.mutable_envelope()->ParseFromString(*body)) {
        std::fprintf(
            stderr, "kfreeze: %s/%s: no body: %s\n", s.host().c_str(), s.dump_id().c_str(),
            body.ok() ? "not a DumpEnvelope" : std::string(body.status().message()).c_str());
        event.clear_envelope();
      }
    }
    if (a.json) {
      if (!PrintMessageJson(event)) return kExitFailure;
    } else if (a.summary_only || !event.has_envelope()) {
      std::printf("%-16s %s\n", s.host().c_str(), SummaryRow(s).c_str());
    } else {
      PrintEnvelope(event.envelope(), /*json=*/false);
    }
    std::fflush(stdout);
    if (a.count > 0 && ++seen >= a.count) return kExitOk;
  }
}

int RunWatch(const WatchArgs& a, const DaemonFlags& daemon) {
  if (a.fleet.enabled()) return RunFleetWatch(a, daemon);
  if (!a.host.empty() || a.all) return Fail(kExitInvalidInput, "--host and --all need --nats");
  kfreeze::v1::WatchRequest request;
  for (absl::string_view t : absl::StrSplit(a.target, ',', absl::SkipEmpty())) {
    request.add_targets(std::string(t));
  }
  if (!ParseLabels(a.label, request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  request.set_since_dump_id(a.since);
  request.set_summary_only(a.summary_only);
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  grpc::ClientContext ctx;  // no deadline: a watch runs until stopped
  auto reader = stub->WatchDumps(&ctx, request);
  kfreeze::v1::DumpEvent event;
  int seen = 0;
  while (reader->Read(&event)) {
    if (event.dropped_before() > 0) {
      std::fprintf(stderr, "kfreeze: %llu dump(s) dropped (this watcher was too slow)\n",
                   static_cast<unsigned long long>(event.dropped_before()));
    }
    if (a.json) {
      if (!PrintMessageJson(event)) return kExitFailure;
    } else if (request.summary_only()) {
      std::printf("%s\n", SummaryRow(event.summary()).c_str());
    } else {
      PrintEnvelope(event.envelope(), /*json=*/false);
    }
    std::fflush(stdout);
    if (a.count > 0 && ++seen >= a.count) {
      ctx.TryCancel();
      return kExitOk;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return RpcFail(daemon, status);
  return kExitOk;
}

RunFn SetupWatch(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<WatchArgs>();
  AddValueFlag(app, "--target", a->target, "only this target (comma separated for several)");
  AddValueFlag(app, "--label", a->label, "only dumps with these labels k=v[,k2=v2]");
  AddValueFlag(app, "--since", a->since, "replay archived dumps newer than this dump id first");
  AddBoolFlag(app, "--summary-only", a->summary_only, "one line per dump instead of the dump");
  AddValueFlag(app, "--count", a->count, "exit after this many dumps (0 = run until interrupted)");
  AddJsonFlag(app, a->json);
  AddFleetFlags(app, a->fleet);
  AddValueFlag(app, "--host", a->host, "with --nats: only this host's dumps");
  AddBoolFlag(app, "--all", a->all, "with --nats: every dump the stream keeps, then live ones");
  return [a, &daemon] { return RunWatch(*a, daemon); };
}

const bool registered = RegisterCommand({"watch", "stream dumps as they are taken", &SetupWatch});

}  // namespace
}  // namespace kfreeze::cli
