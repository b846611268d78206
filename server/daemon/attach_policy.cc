#include "server/daemon/attach_policy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/safe_open.h"

namespace kfreeze::server {
namespace {

// Resolves `path` into an allowed directory, then opens it without following a final symlink.
absl::Status CheckPath(const std::string& path, const char* what, bool socket,
                       const std::vector<std::string>& dirs) {
  if (path.empty()) return absl::OkStatus();
  if (path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not an absolute path"));
  }
  absl::StatusOr<std::string> real = ResolveInside(path, dirs, what);
  if (!real.ok()) return real.status();
  OpenOptions options;
  options.no_follow = true;
  if (socket) return CheckUnixSocket(path, what, options);
  return OpenRegularFile(path, what, options).status();
}

}  // namespace

absl::Status CheckRpcAttach(const kfreeze::v1::TargetConfig& t,
                            const kfreeze::v1::RpcAttachConfig& policy) {
  if (!policy.enabled()) {
    return absl::PermissionDeniedError(
        "AttachTarget over RPC is off in this daemon (config: rpc_attach.enabled and "
        "rpc_attach.allowed_dirs); add the target to the config file instead");
  }
  if (t.vmm_pid() != 0 && !policy.allow_vmm_pid()) {
    return absl::PermissionDeniedError(
        "vmm_pid targets are not allowed over RPC (config: rpc_attach.allow_vmm_pid); "
        "name the RAM file with ram_path");
  }
  std::vector<std::string> dirs(policy.allowed_dirs().begin(), policy.allowed_dirs().end());
  if (absl::Status s = CheckPath(t.ram_path(), "RAM file", false, dirs); !s.ok()) return s;
  if (absl::Status s = CheckPath(t.qmp_socket(), "QMP socket", true, dirs); !s.ok()) return s;
  return CheckPath(t.btf_path(), "BTF file", false, dirs);
}

absl::Status ValidateRpcAttachConfig(const kfreeze::v1::RpcAttachConfig& policy) {
  for (const std::string& d : policy.allowed_dirs()) {
    if (d.empty() || d[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("rpc_attach.allowed_dirs: '", d, "' is not an absolute directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kfreeze::server
