// kfreezed configuration: the Config proto from a JSON file, defaults, and the flag forms.
#pragma once

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "kfreeze/v1/config.pb.h"

namespace kfreeze::server {

inline constexpr char kDefaultListen[] = "unix:/run/kfreeze/kfreezed.sock";
inline constexpr char kDefaultArchiveDir[] = "/var/lib/kfreeze/archive";
inline constexpr char kDefaultSocketMode[] = "0660";
inline constexpr uint32_t kDefaultWatchQueueDepth = 64;
inline constexpr uint32_t kDefaultArchiveMaxCount = 1000;

// Parses a JSON Config (protobuf JSON mapping; unknown keys are an error naming the key).
absl::StatusOr<kfreeze::v1::Config> ParseConfigJson(absl::string_view json);
absl::StatusOr<kfreeze::v1::Config> LoadConfigFile(const std::string& path);

// Fills what the file left empty (listen, archive dir and bounds, socket mode, queue depth).
void ApplyDefaults(kfreeze::v1::Config& config);

// `--target name=NAME,ram=PATH[,qmp=SOCK][,pid=N][,layout=SPEC][,btf=PATH][,deadline_ms=N]
// [,late=1][,early=1]`. A comma-separated piece without '=' continues the previous value, so
// layout=0:2G@0,0x100000000:1G@2G works.
absl::StatusOr<kfreeze::v1::TargetConfig> ParseTargetFlag(absl::string_view spec);

// Rejects listeners and targets that cannot work (bad names, duplicate targets, TCP without TLS
// or insecure_tcp, insecure TCP on a non-loopback address, bad socket mode), targets over the
// limits (labels, deadline, count), unknown roles and relative rpc_attach directories.
absl::Status ValidateConfig(const kfreeze::v1::Config& config);

// Whether two target configs mean the same thing (a reload keeps the target attached). Compared
// field by field: serialized bytes differ for equal maps (labels) in another insertion order.
bool SameTargetConfig(const kfreeze::v1::TargetConfig& a, const kfreeze::v1::TargetConfig& b);

// Removes every `--NAME VALUE` / `--NAME=VALUE` from argv and returns the values in order: absl
// flags keep only the last occurrence, these flags accumulate.
std::vector<std::string> ExtractRepeatedFlag(int* argc, char** argv, absl::string_view name);

// Rewrites "--archive-dir=x" to "--archive_dir=x" (absl flag names use underscores; the
// documented spellings use dashes). The rewritten strings live as long as the process.
void NormalizeFlagDashes(int argc, char** argv);

}  // namespace kfreeze::server
