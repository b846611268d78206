#include "clients/kfreeze/daemon_client.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "clients/kfreeze/command.h"
#include "core/report/render_text.h"
#include "core/report/report_json.h"

namespace kfreeze::cli {
namespace {

// Dumps are a few MiB; a full map render can be far more. gRPC's default receive bound is 4 MiB.
constexpr int kMaxDumpBytes = 1 << 30;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

std::unique_ptr<kfreeze::v1::FreezeService::Stub> ConnectDaemon(const DaemonFlags& daemon,
                                                                std::string* error) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!daemon.tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    if (!ReadFile(daemon.tls_ca, &tls.pem_root_certs)) {
      *error = absl::StrCat("cannot read --tls-ca ", daemon.tls_ca);
      return nullptr;
    }
    if (!daemon.tls_cert.empty() && (!ReadFile(daemon.tls_cert, &tls.pem_cert_chain) ||
                                     !ReadFile(daemon.tls_key, &tls.pem_private_key))) {
      *error = "cannot read --tls-cert / --tls-key";
      return nullptr;
    }
    creds = grpc::SslCredentials(tls);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxDumpBytes);
  return kfreeze::v1::FreezeService::NewStub(grpc::CreateCustomChannel(daemon.server, creds, args));
}

std::unique_ptr<grpc::ClientContext> NewContext(const DaemonFlags& daemon) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  int ms = daemon.rpc_timeout_ms;
  if (ms > 0) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

int RpcFail(const DaemonFlags& daemon, const grpc::Status& status) {
  static const char* kCodes[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  int code = static_cast<int>(status.error_code());
  const char* name = code >= 0 && code <= 16 ? kCodes[code] : "UNKNOWN";
  std::string message = status.error_message();
  // gRPC's connect failures are long multi-line strings; the first line says it.
  message = message.substr(0, message.find('\n'));
  return Fail(
      status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitInvalidInput : kExitFailure,
      absl::StrCat(daemon.server, ": ", name, ": ", message));
}

bool PrintMessageJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = report::ToJson(message, report::JsonDialect::kProto3);
  if (!json.ok()) {
    Fail(kExitFailure, json.status().message());
    return false;
  }
  std::fwrite(json->data(), 1, json->size(), stdout);
  return true;
}

bool PrintEnvelope(const kfreeze::v1::DumpEnvelope& envelope, bool json) {
  if (json) return PrintMessageJson(envelope);
  std::string text = report::RenderEnvelopeText(envelope);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return true;
}

bool ParseLabels(const std::string& text, google::protobuf::Map<std::string, std::string>* out) {
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    size_t eq = piece.find('=');
    if (eq == absl::string_view::npos || eq == 0) return false;
    (*out)[std::string(piece.substr(0, eq))] = std::string(piece.substr(eq + 1));
  }
  return true;
}

std::string SummaryRow(const kfreeze::v1::DumpSummary& s) {
  absl::Time t = absl::FromUnixSeconds(s.captured_at().seconds());
  return absl::StrFormat("%-20s %-12s %s %-8s %s%7.1fms  %s", s.dump_id(), s.target(),
                         absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::LocalTimeZone()),
                         s.schema(), s.live() ? "live " : "", s.freeze_window_us() / 1000.0,
                         s.summary());
}

}  // namespace kfreeze::cli
