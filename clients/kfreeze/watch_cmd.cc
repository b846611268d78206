// kfreeze watch: stream dumps as kfreezed archives them.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct WatchArgs {
  std::string target;
  std::string label;
  std::string since;
  bool summary_only = false;
  int count = 0;
  bool json = false;
};

int RunWatch(const WatchArgs& a, const DaemonFlags& daemon) {
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
  return [a, &daemon] { return RunWatch(*a, daemon); };
}

const bool registered = RegisterCommand({"watch", "stream dumps as they are taken", &SetupWatch});

}  // namespace
}  // namespace kfreeze::cli
