// Listen addresses: "unix:/path" (default; socket mode 0660) or "host:port" (TCP: TLS with
// required client certificates, or plaintext on loopback only with --insecure-tcp).
#pragma once

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "kfreeze/v1/config.pb.h"

namespace kfreeze::server {

struct ListenAddress {
  bool is_unix = false;
  std::string path;  // unix
  std::string host;  // tcp, without brackets
  int port = 0;
  bool loopback = false;
  std::string grpc_uri;  // what grpc::ServerBuilder::AddListeningPort takes
};

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

// Credentials for one listener, per the rules above (InvalidArgument when they forbid it).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CredentialsFor(
    const ListenAddress& address, const kfreeze::v1::Config& config);

// Prepares a unix socket path: creates the parent directory (0750), removes a stale socket file
// nobody listens on; AlreadyExists when a live server answers there.
absl::Status PrepareUnixSocket(const std::string& path);

// "0660" -> 0660.
absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text);

}  // namespace kfreeze::server
