#include "server/daemon/listeners.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace kfreeze::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("tls.", what, " is not set"));
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read tls.", what, " ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text_std) {
  absl::string_view text = text_std;
  ListenAddress a;
  if (absl::ConsumePrefix(&text, "unix:")) {
    // gRPC also accepts unix:///abs; keep one spelling: an absolute path.
    absl::ConsumePrefix(&text, "//");
    if (text.empty() || text[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("unix listener needs an absolute path: ", std::string(text_std)));
    }
    if (text.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix socket path too long: ", std::string(text_std)));
    }
    a.is_unix = true;
    a.path = std::string(text);
    a.loopback = true;
    a.grpc_uri = absl::StrCat("unix:", a.path);
    return a;
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("listen address '", std::string(text_std),
                                                   "' is neither unix:/path nor host:port"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad IPv6 address in ", std::string(text_std)));
    }
  }
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in ", std::string(text_std)));
  }
  a.host = std::string(host.empty() ? "0.0.0.0" : host);
  a.port = port;
  a.loopback = IsLoopback(a.host);
  a.grpc_uri = a.host.find(':') != std::string::npos ? absl::StrCat("[", a.host, "]:", port)
                                                     : absl::StrCat(a.host, ":", port);
  return a;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CredentialsFor(
    const ListenAddress& address, const kfreeze::v1::Config& config) {
  if (address.is_unix) return grpc::InsecureServerCredentials();  // file mode guards it
  const kfreeze::v1::TlsConfig& tls = config.tls();
  bool has_tls = !tls.cert_file().empty() || !tls.key_file().empty();
  if (!has_tls) {
    if (!config.insecure_tcp()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TCP listener ", address.grpc_uri,
          " needs tls.cert_file/key_file/client_ca_file (or --insecure-tcp on loopback)"));
    }
    if (!address.loopback) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--insecure-tcp only binds loopback addresses; ", address.grpc_uri, " is not"));
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<std::string> cert = ReadPem(tls.cert_file(), "cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(tls.key_file(), "key_file");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca = ReadPem(tls.client_ca_file(), "client_ca_file");
  if (!ca.ok()) return ca.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

absl::Status PrepareUnixSocket(const std::string& path) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty() && mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  if (live) return absl::AlreadyExistsError(absl::StrCat("a server already listens on ", path));
  if (unlink(path.c_str()) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot remove stale socket ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text) {
  unsigned mode = 0;
  if (text.empty() || text.size() > 4) return absl::InvalidArgumentError("bad socket mode");
  for (char c : text) {
    if (c < '0' || c > '7') {
      return absl::InvalidArgumentError(
          absl::StrCat("socket mode '", std::string(text), "' is not octal"));
    }
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (mode > 0777) return absl::InvalidArgumentError("socket mode above 0777");
  return mode;
}

}  // namespace kfreeze::server
