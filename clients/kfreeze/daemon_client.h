// What the daemon-facing subcommands (freeze, watch, get, list, targets, attach, detach, resume)
// share: the --server connection (unix socket or TLS TCP), one-line errors, output of dumps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clients/kfreeze/command.h"
#include "google/protobuf/map.h"
#include "grpcpp/grpcpp.h"
#include "kfreeze/v1/service.grpc.pb.h"

namespace kfreeze::cli {

// A stub on --server; TLS when --tls-ca is given (with --tls-cert/--tls-key as the client cert).
// nullptr + `error` when the TLS files cannot be read.
std::unique_ptr<kfreeze::v1::FreezeService::Stub> ConnectDaemon(const DaemonFlags& daemon,
                                                                std::string* error);

// A context with the --rpc-timeout-ms deadline (0 = none).
std::unique_ptr<grpc::ClientContext> NewContext(const DaemonFlags& daemon);

// "kfreeze: <server>: NOT_FOUND: no target 'x'" on stderr; returns the exit status.
int RpcFail(const DaemonFlags& daemon, const grpc::Status& status);

// Text rendering, or proto3 JSON with `json` (--json). False (after saying why on stderr) when the
// message cannot be printed as JSON.
bool PrintEnvelope(const kfreeze::v1::DumpEnvelope& envelope, bool json);
bool PrintMessageJson(const google::protobuf::Message& message);

// "k=v,k2=v2" -> labels; false on a piece without '='.
bool ParseLabels(const std::string& text, google::protobuf::Map<std::string, std::string>* out);

// One line per dump: id, target, time, schema, window, summary.
std::string SummaryRow(const kfreeze::v1::DumpSummary& s);

}  // namespace kfreeze::cli
