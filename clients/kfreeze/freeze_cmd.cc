// kfreeze freeze TARGET: ask kfreezed for a dump now and print it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

KF_NAMED_FLAG(int, deadline_ms, "deadline-ms", 0, "soft deadline of the walk (0 = the daemon's)");
ABSL_FLAG(std::string, label, "", "caller labels k=v[,k2=v2] stored with the dump");
ABSL_FLAG(std::string, sections, "", "phases to run, comma separated (default: all)");
KF_NAMED_FLAG(bool, keep_paused, "keep-paused", false,
              "leave the VM paused after the dump (resume with `kfreeze resume`)");

namespace kfreeze::cli {
namespace {

int RunFreeze(const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail(kExitInvalidInput, "usage: kfreeze freeze TARGET");
  kfreeze::v1::FreezeRequest request;
  request.set_target(args[0]);
  if (absl::GetFlag(FLAGS_deadline_ms) < 0) return Fail(kExitInvalidInput, "--deadline-ms < 0");
  request.set_deadline_ms(static_cast<uint32_t>(absl::GetFlag(FLAGS_deadline_ms)));
  if (!ParseLabels(absl::GetFlag(FLAGS_label), request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_sections), ',', absl::SkipEmpty())) {
    request.add_sections(std::string(s));
  }
  request.set_keep_paused(absl::GetFlag(FLAGS_keep_paused));
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::FreezeResponse response;
  auto ctx = NewContext();
  grpc::Status status = stub->Freeze(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintMessageJson(response);
  } else {
    PrintEnvelope(response.envelope());
  }
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"freeze",
     "freeze TARGET [--deadline-ms N] [--label k=v,...] [--sections a,b] [--keep-paused] "
     "[--json] [--server ADDR]: pause, dump and resume a VM through kfreezed",
     &RunFreeze});

}  // namespace
}  // namespace kfreeze::cli
