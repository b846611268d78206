// NATS subject and object names of the fleet (docs/design/fleet.md §1). A host or target name
// becomes one subject token by escaping every byte outside [A-Za-z0-9_-] as %XX, so no name can
// add a token, a wildcard or whitespace, and the token maps back to exactly one name.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace kfreeze::fleet {

inline constexpr char kDumpSubjectPrefix[] = "kfreeze.dumps";
inline constexpr char kFreezeSubjectPrefix[] = "kfreeze.freeze";
inline constexpr char kTargetsSubject[] = "kfreeze.targets";

// "ci-07.lab" -> "ci-07%2Elab". Callers refuse empty names first (an empty token is no subject).
std::string EscapeToken(absl::string_view name);
// The inverse; nullopt for a token EscapeToken cannot have produced.
std::optional<std::string> UnescapeToken(absl::string_view token);

// kfreeze.dumps.<host>.<target>
std::string DumpSubject(absl::string_view host, absl::string_view target);
// kfreeze.dumps.<host|*>.<target|*>: an empty host or target matches any.
std::string DumpFilterSubject(absl::string_view host, absl::string_view target);
// kfreeze.freeze.<host>.<target>
std::string FreezeSubject(absl::string_view host, absl::string_view target);
// kfreeze.freeze.<host>.* : what one daemon answers.
std::string FreezeWildcard(absl::string_view host);
// kfreeze.targets.<host>
std::string TargetsSubject(absl::string_view host);

// The host and target of a subject `DumpSubject` or `FreezeSubject` built; nullopt otherwise.
struct HostTarget {
  std::string host;
  std::string target;
};
std::optional<HostTarget> ParseHostTargetSubject(absl::string_view prefix,
                                                 absl::string_view subject);

// The object store name of a dump: "<host>/<dump_id>" (dump ids are unique per host only).
std::string DumpObjectName(absl::string_view host, absl::string_view dump_id);
// "HOST/ID" split at its first '/' (host names have none); nullopt when either part is empty.
std::optional<HostTarget> SplitHostSlashName(absl::string_view name);

// What `--host` defaults to: gethostname(), or "localhost" when that fails.
std::string DefaultHostName();

}  // namespace kfreeze::fleet
