#include "core/base/safe_open.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kfreeze {
namespace {

const char* KindName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

absl::Status OpenError(absl::string_view what, const std::string& path, int err, bool no_follow) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == ELOOP && no_follow) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is a symlink (not followed for this caller)"));
  }
  return absl::InvalidArgumentError(message);
}

// Opens `path` with `flags` (plus O_CLOEXEC, and O_NOFOLLOW when asked) and requires the opened
// fd to be of file type `type` (an S_IFMT value), named `type_name` in the error.
absl::StatusOr<UniqueFd> OpenOfType(const std::string& path, int flags, mode_t type,
                                    absl::string_view type_name, absl::string_view what,
                                    OpenOptions options) {
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC | (options.no_follow ? O_NOFOLLOW : 0)));
  if (fd.get() < 0) return OpenError(what, path, errno, options.no_follow);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & S_IFMT) != type) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " is ", KindName(st.st_mode), ", not ", type_name));
  }
  return fd;
}

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

absl::StatusOr<UniqueFd> OpenRegularFile(const std::string& path, absl::string_view what,
                                         OpenOptions options) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
  return OpenOfType(path, O_RDONLY | O_NONBLOCK, S_IFREG, "a regular file", what, options);
}

absl::Status CheckUnixSocket(const std::string& path, absl::string_view what, OpenOptions options) {
  // O_PATH: the socket is only inspected, never connected.
  return OpenOfType(path, O_PATH, S_IFSOCK, "a unix socket", what, options).status();
}

absl::StatusOr<std::vector<uint8_t>> ReadWholeFile(int fd, uint64_t max_bytes,
                                                   absl::string_view what) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", what, ": ", std::strerror(errno)));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::OutOfRangeError(
        absl::StrCat(what, " has ", st.st_size, " bytes; at most ", max_bytes, " are read"));
  }
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == data.size()) {
      // The file may have grown since fstat: read on, within the cap.
      if (data.size() >= max_bytes) {
        uint8_t probe;
        ssize_t n = pread(fd, &probe, 1, static_cast<off_t>(done));
        if (n > 0) {
          return absl::OutOfRangeError(
              absl::StrCat(what, " grew past ", max_bytes, " bytes while being read"));
        }
        break;
      }
      data.resize(std::min<uint64_t>(max_bytes, data.size() + 65536));
    }
    ssize_t n = pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read ", what, ": ", std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

absl::StatusOr<std::string> ResolveInside(const std::string& path,
                                          const std::vector<std::string>& dirs,
                                          absl::string_view what) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return OpenError(what, path, errno, /*no_follow=*/false);
  }
  std::string real = resolved;
  for (const std::string& dir : dirs) {
    char dir_resolved[PATH_MAX];
    if (realpath(dir.c_str(), dir_resolved) == nullptr) continue;
    std::string prefix = dir_resolved;
    if (prefix != "/") prefix += "/";
    if (absl::StartsWith(real, prefix)) return real;
  }
  return absl::PermissionDeniedError(absl::StrCat(what, " ", path, " (", real,
                                                  ") is outside the allowed directories [",
                                                  absl::StrJoin(dirs, ", "), "]"));
}

}  // namespace kfreeze
