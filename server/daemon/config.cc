#include "server/daemon/config.h"

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/daemon/archive.h"
#include "server/daemon/attach_policy.h"
#include "server/daemon/authz.h"
#include "server/daemon/limits.h"
#include "server/daemon/listeners.h"

namespace kfreeze::server {

absl::StatusOr<kfreeze::v1::Config> ParseConfigJson(absl::string_view json) {
  kfreeze::v1::Config config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", status.message().as_string()));
  }
  return config;
}

absl::StatusOr<kfreeze::v1::Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<kfreeze::v1::Config> config = ParseConfigJson(ss.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

void ApplyDefaults(kfreeze::v1::Config& config) {
  if (config.listen().empty()) config.add_listen(kDefaultListen);
  if (config.unix_socket_mode().empty()) config.set_unix_socket_mode(kDefaultSocketMode);
  if (config.archive().dir().empty()) config.mutable_archive()->set_dir(kDefaultArchiveDir);
  if (config.archive().max_count() == 0 && config.archive().max_bytes() == 0 &&
      config.archive().max_age_seconds() == 0) {
    config.mutable_archive()->set_max_count(kDefaultArchiveMaxCount);
  }
  if (config.watch_queue_depth() == 0) config.set_watch_queue_depth(kDefaultWatchQueueDepth);
}

absl::StatusOr<kfreeze::v1::TargetConfig> ParseTargetFlag(absl::string_view spec_std) {
  absl::string_view spec = spec_std;
  std::vector<std::pair<std::string, std::string>> items;
  for (absl::string_view piece : absl::StrSplit(spec, ',')) {
    size_t eq = piece.find('=');
    if (eq == absl::string_view::npos) {
      if (items.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("--target: '", piece, "' is not key=value"));
      }
      absl::StrAppend(&items.back().second, ",", piece);
      continue;
    }
    items.emplace_back(std::string(piece.substr(0, eq)), std::string(piece.substr(eq + 1)));
  }
  kfreeze::v1::TargetConfig t;
  for (const auto& [key, value] : items) {
    uint32_t n = 0;
    if (key == "name") {
      t.set_name(value);
    } else if (key == "ram") {
      t.set_ram_path(value);
    } else if (key == "qmp") {
      t.set_qmp_socket(value);
    } else if (key == "pid" && absl::SimpleAtoi(value, &n)) {
      t.set_vmm_pid(n);
    } else if (key == "layout") {
      t.set_ram_layout(value);
    } else if (key == "btf") {
      t.set_btf_path(value);
    } else if (key == "deadline_ms" && absl::SimpleAtoi(value, &n)) {
      t.set_deadline_ms(n);
    } else if (key == "late") {
      t.mutable_triggers()->set_late_enabled(value == "1" || value == "true");
    } else if (key == "early") {
      t.mutable_triggers()->set_early_enabled(value == "1" || value == "true");
    } else if (key == "watchdog_ms" && absl::SimpleAtoi(value, &n)) {
      t.mutable_triggers()->set_watchdog_timeout_ms(n);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--target: unknown or malformed '", key, "=", value,
                       "' (keys: name ram qmp pid layout btf deadline_ms late early watchdog_ms)"));
    }
  }
  if (t.name().empty()) return absl::InvalidArgumentError("--target needs name=NAME");
  if (t.ram_path().empty() && t.vmm_pid() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--target ", t.name(), " needs ram= or pid="));
  }
  return t;
}

absl::Status ValidateConfig(const kfreeze::v1::Config& config) {
  if (absl::StatusOr<unsigned> mode = ParseSocketMode(config.unix_socket_mode()); !mode.ok()) {
    return mode.status();
  }
  for (const std::string& l : config.listen()) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(l);
    if (!a.ok()) return a.status();
    if (absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> c = CredentialsFor(*a, config);
        !c.ok()) {
      return c.status();
    }
  }
  if (absl::Status s = ValidateRoleGrants(config.roles()); !s.ok()) return s;
  if (absl::Status s = ValidateRpcAttachConfig(config.rpc_attach()); !s.ok()) return s;
  Limits limits = LimitsFromConfig(config.limits());
  if (static_cast<uint32_t>(config.targets_size()) > limits.max_targets) {
    return absl::InvalidArgumentError(absl::StrCat("the config lists ", config.targets_size(),
                                                   " targets; limits.max_targets is ",
                                                   limits.max_targets));
  }
  std::set<std::string> names;
  for (const kfreeze::v1::TargetConfig& t : config.targets()) {
    if (absl::Status s = CheckTargetConfig(t, limits); !s.ok()) return s;
    if (!IsSafeName(t.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("target name '", t.name(), "' must match [A-Za-z0-9._-]{1,64}"));
    }
    if (!names.insert(t.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("target ", t.name(), " is listed twice"));
    }
    if (t.ram_path().empty() && t.vmm_pid() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", t.name(), " needs ram_path or vmm_pid"));
    }
  }
  return absl::OkStatus();
}

bool SameTargetConfig(const kfreeze::v1::TargetConfig& a, const kfreeze::v1::TargetConfig& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

std::vector<std::string> ExtractRepeatedFlag(int* argc, char** argv, absl::string_view name) {
  std::vector<std::string> values;
  std::string dashed = absl::StrCat("--", std::string(name));
  std::string with_eq = dashed + "=";
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {  // end of flags: keep the rest untouched
      for (; i < *argc; ++i) argv[out++] = argv[i];
      break;
    }
    if (arg == dashed && i + 1 < *argc) {
      values.emplace_back(argv[++i]);
      continue;
    }
    if (arg.rfind(with_eq, 0) == 0) {
      values.push_back(arg.substr(with_eq.size()));
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
  return values;
}

void NormalizeFlagDashes(int argc, char** argv) {
  static std::vector<std::string>* storage = new std::vector<std::string>();
  storage->reserve(static_cast<size_t>(argc));
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-' || arg[1] != '-') continue;
    size_t end = arg.find('=');
    if (end == std::string::npos) end = arg.size();
    bool changed = false;
    for (size_t j = 2; j < end; ++j) {
      if (arg[j] == '-') {
        arg[j] = '_';
        changed = true;
      }
    }
    if (!changed) continue;
    storage->push_back(std::move(arg));
    argv[i] = storage->back().data();
  }
}

}  // namespace kfreeze::server
