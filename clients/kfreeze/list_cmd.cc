// kfreeze list: archived dumps, newest first.
#include <cstdio>
#include <string>
#include <vector>

#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

ABSL_DECLARE_FLAG(std::string, target);  // watch_cmd.cc
ABSL_DECLARE_FLAG(std::string, label);   // freeze_cmd.cc
ABSL_FLAG(int, limit, 50, "at most this many dumps");
ABSL_FLAG(std::string, schema, "", "only single | dual | degraded");

namespace kfreeze::cli {
namespace {

int RunList(const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(kExitInvalidInput, "usage: kfreeze list [--target T]");
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ListDumpsRequest request;
  request.set_target(absl::GetFlag(FLAGS_target));
  request.set_schema(absl::GetFlag(FLAGS_schema));
  if (!ParseLabels(absl::GetFlag(FLAGS_label), request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  int remaining = absl::GetFlag(FLAGS_limit);
  kfreeze::v1::ListDumpsResponse all;
  while (remaining > 0) {
    request.set_page_size(static_cast<uint32_t>(std::min(remaining, 1000)));
    kfreeze::v1::ListDumpsResponse page;
    auto ctx = NewContext();
    grpc::Status status = stub->ListDumps(ctx.get(), request, &page);
    if (!status.ok()) return RpcFail(status);
    for (const auto& d : page.dumps()) *all.add_dumps() = d;
    remaining -= page.dumps_size();
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (absl::GetFlag(FLAGS_json)) {
    PrintMessageJson(all);
    return kExitOk;
  }
  for (const auto& d : all.dumps()) std::printf("%s\n", SummaryRow(d).c_str());
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"list", "list [--target T] [--label k=v] [--schema S] [--limit N] [--json]: archived dumps",
     &RunList});

}  // namespace
}  // namespace kfreeze::cli
