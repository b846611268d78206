// scx_watch_dual --server unix:/path [--schema dual] [--timeout_s N]
// Waits on WatchDumps for the first event whose envelope has the schema and prints
// {"event": <DumpEvent as proto3 JSON>} on stdout; exit 1 on timeout or stream error.
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "kfreeze/v1/service.grpc.pb.h"

ABSL_FLAG(std::string, server, "", "kfreezed address (unix:/path)");
ABSL_FLAG(std::string, schema, "dual", "report schema to wait for");
ABSL_FLAG(int, timeout_s, 120, "give up after this long");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto channel =
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials());
  auto stub = kfreeze::v1::FreezeService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s)));
  kfreeze::v1::WatchRequest req;
  req.add_schemas(absl::GetFlag(FLAGS_schema));
  auto reader = stub->WatchDumps(&ctx, req);
  std::fprintf(stderr, "scx_watch_dual: subscribed\n");
  kfreeze::v1::DumpEvent event;
  while (reader->Read(&event)) {
    std::string json;
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(event, &json, o);
    std::printf("%s\n", json.c_str());
    ctx.TryCancel();
    return 0;
  }
  grpc::Status s = reader->Finish();
  std::fprintf(stderr, "scx_watch_dual: stream ended: %s\n", s.error_message().c_str());
  return 1;
}
