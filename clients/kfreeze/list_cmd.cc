// kfreeze list: archived dumps, newest first.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct ListArgs {
  std::string target;
  std::string label;
  std::string schema;
  int limit = 50;
  bool json = false;
};

int RunList(const ListArgs& a, const DaemonFlags& daemon) {
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ListDumpsRequest request;
  request.set_target(a.target);
  request.set_schema(a.schema);
  if (!ParseLabels(a.label, request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  int remaining = a.limit;
  kfreeze::v1::ListDumpsResponse all;
  while (remaining > 0) {
    request.set_page_size(static_cast<uint32_t>(std::min(remaining, 1000)));
    kfreeze::v1::ListDumpsResponse page;
    auto ctx = NewContext(daemon);
    grpc::Status status = stub->ListDumps(ctx.get(), request, &page);
    if (!status.ok()) return RpcFail(daemon, status);
    for (const auto& d : page.dumps()) *all.add_dumps() = d;
    remaining -= page.dumps_size();
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (a.json) {
    return PrintMessageJson(all) ? kExitOk : kExitFailure;
  }
  for (const auto& d : all.dumps()) std::printf("%s\n", SummaryRow(d).c_str());
  return kExitOk;
}

RunFn SetupList(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<ListArgs>();
  AddValueFlag(app, "--target", a->target, "only this target");
  AddValueFlag(app, "--label", a->label, "only dumps with these labels k=v[,k2=v2]");
  AddValueFlag(app, "--schema", a->schema, "only single | dual | degraded");
  AddValueFlag(app, "--limit", a->limit, "at most this many dumps");
  AddJsonFlag(app, a->json);
  return [a, &daemon] { return RunList(*a, daemon); };
}

const bool registered = RegisterCommand({"list", "archived dumps, newest first", &SetupList});

}  // namespace
}  // namespace kfreeze::cli
