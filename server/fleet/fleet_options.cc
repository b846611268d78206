#include "server/fleet/fleet_options.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fleet/subjects.h"

namespace kfreeze::server::fleet {
namespace {

// JetStream stream names: no whitespace, '.', '*', '>', path separators; we keep to the plain set.
bool ValidStreamName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<FleetOptions> FleetOptionsFromConfig(const kfreeze::v1::NatsConfig& config) {
  FleetOptions o;
  if (config.servers().empty()) return absl::InvalidArgumentError("nats: no servers");
  for (const std::string& s : config.servers()) {
    if (s.empty()) return absl::InvalidArgumentError("nats: an empty server URL");
    o.nats.servers.push_back(s);
  }
  o.nats.credentials_file = config.credentials_file();
  o.nats.ca_file = config.tls().ca_file();
  o.nats.cert_file = config.tls().cert_file();
  o.nats.key_file = config.tls().key_file();
  if (o.nats.cert_file.empty() != o.nats.key_file.empty()) {
    return absl::InvalidArgumentError("nats.tls: cert_file and key_file go together");
  }
  o.nats.keep_trying = true;
  o.host = config.host().empty() ? kfreeze::fleet::DefaultHostName() : config.host();
  // A host name: it goes into subjects (escaped), object names (before the '/') and headers.
  const bool host_ok = !o.host.empty() && o.host.size() <= 255 &&
                       std::all_of(o.host.begin(), o.host.end(), [](char c) {
                         return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                c == '_' || c == '-' || c == ':';
                       });
  if (!host_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("nats.host '", o.host, "' must match [A-Za-z0-9._:-]{1,255}"));
  }
  o.nats.client_name = absl::StrCat("kfreezed ", o.host);
  o.stream.name = config.stream().empty() ? kDefaultStream : config.stream();
  o.bucket.name = config.bucket().empty() ? kDefaultBucket : config.bucket();
  if (!ValidStreamName(o.stream.name) || !ValidStreamName(o.bucket.name)) {
    return absl::InvalidArgumentError(
        "nats.stream and nats.bucket: 1-64 characters of [A-Za-z0-9_-]");
  }
  const uint32_t replicas = config.replicas() == 0 ? 1 : config.replicas();
  if (replicas > 5) return absl::InvalidArgumentError("nats.replicas: at most 5");
  o.stream.replicas = o.bucket.replicas = static_cast<int>(replicas);
  const absl::Duration max_age =
      config.max_age_seconds() == 0
          ? kDefaultMaxAge
          : absl::Seconds(std::min<uint64_t>(config.max_age_seconds(), uint64_t{1} << 40));
  o.stream.max_age = o.bucket.max_age = max_age;
  if (config.max_bytes() > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("nats.max_bytes too large");
  }
  o.stream.max_bytes = o.bucket.max_bytes = static_cast<int64_t>(config.max_bytes());
  if (config.duplicate_window_seconds() > 0) {
    o.stream.duplicate_window =
        absl::Seconds(std::min<uint64_t>(config.duplicate_window_seconds(), uint64_t{1} << 32));
  }
  if (o.stream.duplicate_window > max_age) o.stream.duplicate_window = max_age;
  return o;
}

}  // namespace kfreeze::server::fleet
