// Opening paths someone else named (a config file, a flag, an RPC) without being stalled or
// flooded by what they point at: a FIFO must not block the open, a device must not be read as
// a file, /dev/zero must not be read forever. The checks are on the opened fd (fstat), so what
// is checked is what is used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kfreeze {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

struct OpenOptions {
  // O_NOFOLLOW: refuse a symlink as the last path component (untrusted paths).
  bool no_follow = false;
};

// Opens `path` O_RDONLY|O_NONBLOCK|O_CLOEXEC and requires a regular file (memfds are regular
// files). `what` names the path in errors ("RAM file", "BTF file"). InvalidArgument for another
// file type, NotFound / PermissionDenied / InvalidArgument (symlink) from open.
absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, absl::string_view what,
                                         OpenOptions options = {});

// Requires `path` to be a unix socket, inspected through an O_PATH fd (nothing is opened or
// connected, so nothing can block).
absl::Status CheckUnixSocket(const std::string& path, absl::string_view what,
                             OpenOptions options = {});

// Reads the whole regular file behind `fd` from offset 0; OutOfRange when it is larger than
// `max_bytes` (checked with fstat before reading, and again while reading).
absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(int fd, uint64_t max_bytes,
                                                   absl::string_view what);

// realpath(path) when it lies inside one of `dirs` (each resolved with realpath too);
// PermissionDenied otherwise, naming the allowed directories.
absl::StatusOr<std::string> ResolveInside(const std::string& path,
                                          const std::vector<std::string>& dirs,
                                          absl::string_view what);

}  // namespace kfreeze
