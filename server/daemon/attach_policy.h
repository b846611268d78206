// What AttachTarget over RPC may name: off unless the config enables it; the RAM file, QMP
// socket and BTF file must resolve (realpath) into rpc_attach.allowed_dirs, must not be symlinks,
// and must be what they claim (regular file / unix socket, checked on an fd opened without
// blocking), so a FIFO, /dev/zero or another tenant's files fail at once with a clear error.
// Config-file and flag targets are trusted and skip this (core still type-checks their files).
#pragma once

#include "absl/status/status.h"
#include "kfreeze/v1/config.pb.h"

namespace kfreeze::server {

absl::Status CheckRpcAttach(const kfreeze::v1::TargetConfig& target,
                            const kfreeze::v1::RpcAttachConfig& policy);

// Config-time check of the policy itself (absolute directories).
absl::Status ValidateRpcAttachConfig(const kfreeze::v1::RpcAttachConfig& policy);

}  // namespace kfreeze::server
