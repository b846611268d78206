// What the daemon-facing subcommands (freeze, watch, get, list, targets, attach, detach, resume)
// share: the --server connection (unix socket or TLS TCP), one-line errors, output of dumps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "clients/kfreeze/named_flag.h"
#include "google/protobuf/map.h"
#include "grpcpp/grpcpp.h"
#include "kfreeze/v1/service.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(bool, json);  // inspect_cmd.cc

namespace kfreeze::cli {

inline constexpr char kDefaultServer[] = "unix:/run/kfreeze/kfreezed.sock";

// A stub on --server; TLS when --tls-ca is given (with --tls-cert/--tls-key as the client cert).
// nullptr + `error` when the TLS files cannot be read.
std::unique_ptr<kfreeze::v1::FreezeService::Stub> ConnectDaemon(std::string* error);

// A context with the --rpc-timeout-ms deadline (0 = none).
std::unique_ptr<grpc::ClientContext> NewContext();

// "kfreeze: <server>: NOT_FOUND: no target 'x'" on stderr; returns the exit status.
int RpcFail(const grpc::Status& status);

// Text rendering by default, proto3 JSON with --json.
void PrintEnvelope(const kfreeze::v1::DumpEnvelope& envelope);
void PrintMessageJson(const google::protobuf::Message& message);

// "k=v,k2=v2" -> labels; false on a piece without '='.
bool ParseLabels(const std::string& text, google::protobuf::Map<std::string, std::string>* out);

// One line per dump: id, target, time, schema, window, summary.
std::string SummaryRow(const kfreeze::v1::DumpSummary& s);

}  // namespace kfreeze::cli
