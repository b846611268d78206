// freeze_rpc_loop: Freeze RPC latency measured inside one client process (no process spawn per
// call), for bench/guest/freeze_latency.py and multi_target.py.
//
//   freeze_rpc_loop --server unix:/path/k.sock --targets a[,b,...] --rounds N [--concurrent]
//
// Each round freezes every target: one after the other, or with --concurrent all at once (one
// thread per target, released together). One line per call on stdout:
//
//   call round=R target=T ok=1 rpc_us=U freeze_window_us=W copy_us=C decode_us=D total_us=X
//        window_bytes=B dump_id=ID                       (ok=0: error="message" instead)
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "kfreeze/v1/service.grpc.pb.h"

ABSL_FLAG(std::string, server, "", "kfreezed address (unix:/path or host:port)");
ABSL_FLAG(std::string, targets, "", "comma separated target names");
ABSL_FLAG(int, rounds, 10, "rounds; each freezes every target once");
ABSL_FLAG(bool, concurrent, false, "freeze all targets of a round at once (one thread each)");
ABSL_FLAG(int, rpc_timeout_ms, 60000, "deadline of one Freeze RPC");
ABSL_FLAG(int64_t, max_map_entries, -1,
          "FreezeRequest.max_map_entries (-1: unset, the daemon's default; 0: no cap)");

namespace {

namespace v1 = kfreeze::v1;

std::string FreezeOnce(v1::FreezeService::Stub& stub, const std::string& target, int round) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::GetFlag(FLAGS_rpc_timeout_ms)));
  v1::FreezeRequest req;
  req.set_target(target);
  if (const int64_t cap = absl::GetFlag(FLAGS_max_map_entries); cap >= 0) {
    req.set_max_map_entries(static_cast<uint32_t>(cap));
  }
  v1::FreezeResponse resp;
  auto t0 = std::chrono::steady_clock::now();
  grpc::Status s = stub.Freeze(&ctx, req, &resp);
  auto rpc_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::string line = absl::StrCat("call round=", round, " target=", target);
  if (!s.ok()) {
    std::string msg = absl::StrReplaceAll(s.error_message(), {{"\"", "'"}, {"\n", " "}});
    return absl::StrCat(line, " ok=0 rpc_us=", rpc_us, " error=\"", msg, "\"\n");
  }
  absl::StrAppend(&line, " ok=1 rpc_us=", rpc_us);
  for (const auto& t : resp.timings()) {
    const std::string& p = t.phase();
    if (p == "freeze_window" || p == "copy" || p == "decode" || p == "total" || p == "pause" ||
        p == "resume") {
      absl::StrAppend(&line, " ", p, "_us=", t.duration_us());
    }
  }
  absl::StrAppend(&line, " window_bytes=", resp.envelope().window_bytes(),
                  " bytes=", resp.envelope().ByteSizeLong(),
                  " dump_id=", resp.dump_id().empty() ? "-" : resp.dump_id(), "\n");
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string server = absl::GetFlag(FLAGS_server);
  std::vector<std::string> targets =
      absl::StrSplit(absl::GetFlag(FLAGS_targets), ',', absl::SkipEmpty());
  if (server.empty() || targets.empty()) {
    std::fprintf(stderr, "freeze_rpc_loop: --server and --targets are required\n");
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // a scale dump is tens of MB
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::FreezeService::NewStub(channel);
  absl::Mutex out_mu;
  auto emit = [&out_mu](const std::string& line) {
    absl::MutexLock lock(&out_mu);
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  };
  const int rounds = absl::GetFlag(FLAGS_rounds);
  for (int round = 1; round <= rounds; ++round) {
    if (!absl::GetFlag(FLAGS_concurrent)) {
      for (const std::string& t : targets) emit(FreezeOnce(*stub, t, round));
      continue;
    }
    // All threads start their RPC together; each has its own stub on the shared channel.
    absl::Barrier* start = new absl::Barrier(static_cast<int>(targets.size()));
    std::vector<std::thread> threads;
    for (const std::string& t : targets) {
      threads.emplace_back([&, t, start] {
        auto own = v1::FreezeService::NewStub(channel);
        if (start->Block()) delete start;
        emit(FreezeOnce(*own, t, round));
      });
    }
    for (auto& th : threads) th.join();
  }
  return 0;
}
