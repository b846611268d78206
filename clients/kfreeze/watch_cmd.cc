// kfreeze watch: stream dumps as kfreezed archives them.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

ABSL_DECLARE_FLAG(std::string, label);  // freeze_cmd.cc
ABSL_FLAG(std::string, target, "", "only this target (comma separated for several)");
ABSL_FLAG(std::string, since, "", "replay archived dumps newer than this dump id first");
KF_NAMED_FLAG(bool, summary_only, "summary-only", false, "one line per dump instead of the dump");
ABSL_FLAG(int, count, 0, "exit after this many dumps (0 = run until interrupted)");

namespace kfreeze::cli {
namespace {

int RunWatch(const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(kExitInvalidInput, "usage: kfreeze watch [--target T]");
  kfreeze::v1::WatchRequest request;
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_target), ',', absl::SkipEmpty())) {
    request.add_targets(std::string(t));
  }
  if (!ParseLabels(absl::GetFlag(FLAGS_label), request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  request.set_since_dump_id(absl::GetFlag(FLAGS_since));
  request.set_summary_only(absl::GetFlag(FLAGS_summary_only));
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  grpc::ClientContext ctx;  // no deadline: a watch runs until stopped
  auto reader = stub->WatchDumps(&ctx, request);
  kfreeze::v1::DumpEvent event;
  int seen = 0;
  const int limit = absl::GetFlag(FLAGS_count);
  while (reader->Read(&event)) {
    if (event.dropped_before() > 0) {
      std::fprintf(stderr, "kfreeze: %llu dump(s) dropped (this watcher was too slow)\n",
                   static_cast<unsigned long long>(event.dropped_before()));
    }
    if (absl::GetFlag(FLAGS_json)) {
      PrintMessageJson(event);
    } else if (request.summary_only()) {
      std::printf("%s\n", SummaryRow(event.summary()).c_str());
    } else {
      PrintEnvelope(event.envelope());
    }
    std::fflush(stdout);
    if (limit > 0 && ++seen >= limit) {
      ctx.TryCancel();
      return kExitOk;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return RpcFail(status);
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"watch",
     "watch [--target T] [--label k=v] [--since ID] [--summary-only] [--count N] [--json]: "
     "stream dumps as they are taken",
     &RunWatch});

}  // namespace
}  // namespace kfreeze::cli
