#include "server/daemon/pause_markers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr char kSuffix[] = ".paused";
// A marker is a few short lines; anything larger is not one.
constexpr size_t kMaxMarkerBytes = 4096;

absl::Status Errno(const std::string& what) {
  int err = errno;
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", std::strerror(err)));
}

// mkdir -p with `mode` for the directories it creates.
absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  std::string partial;
  for (absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&partial, "/", part);
    if (mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) return Errno("mkdir " + partial);
  }
  return absl::OkStatus();
}

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(kMaxMarkerBytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > kMaxMarkerBytes) return std::nullopt;
  return data;
}

// Field 22 of /proc/PID/stat; the comm field before it may hold spaces and parentheses.
std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  std::optional<std::string> stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
  constexpr size_t kStartTimeIndex = 22 - 3;  // fields after ")" start at field 3 (state)
  uint64_t start = 0;
  if (fields.size() <= kStartTimeIndex || !absl::SimpleAtoi(fields[kStartTimeIndex], &start)) {
    return std::nullopt;
  }
  return start;
}

// FNV-1a: a stable file name for a socket path of any length and content.
uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

std::string PauseMarkers::PathOf(const std::string& qmp_socket) const {
  return absl::StrFormat("%s/%016x%s", dir_, Fnv1a(qmp_socket), kSuffix);
}

absl::Status PauseMarkers::Write(const std::string& qmp_socket) const {
  if (qmp_socket.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError("QMP socket path contains a newline");
  }
  if (absl::Status s = MakeDirs(dir_, 0700); !s.ok()) return s;
  std::optional<uint64_t> start = ProcessStartTime(getpid());
  std::string body =
      absl::StrCat("qmp_socket=", qmp_socket, "\npid=", getpid(),
                   "\nstart_time=", start.value_or(0), "\nboot_id=", CurrentBootId(), "\n");
  const std::string path = PathOf(qmp_socket);
  const std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open " + tmp);
  bool written = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  absl::Status status = written ? absl::OkStatus() : Errno("write " + tmp);
  close(fd);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) status = Errno("rename " + path);
  if (!status.ok()) unlink(tmp.c_str());
  return status;
}

void PauseMarkers::Remove(const std::string& qmp_socket) const {
  const std::string path = PathOf(qmp_socket);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("pause marker {}: {}", path, std::strerror(errno));
  }
}

std::vector<PauseMarker> PauseMarkers::List() const {
  std::vector<PauseMarker> out;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (!absl::EndsWith(name, kSuffix) || absl::StartsWith(name, ".")) continue;
    PauseMarker m;
    m.path = absl::StrCat(dir_, "/", name);
    std::optional<std::string> body = ReadSmallFile(m.path);
    if (!body) {
      spdlog::warn("pause marker {}: unreadable", m.path);
      continue;
    }
    for (absl::string_view line : absl::StrSplit(*body, '\n', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(line, absl::MaxSplits('=', 1));
      if (kv.first == "qmp_socket") m.qmp_socket = std::string(kv.second);
      if (kv.first == "pid") (void)absl::SimpleAtoi(kv.second, &m.owner_pid);
      if (kv.first == "start_time") (void)absl::SimpleAtoi(kv.second, &m.owner_start_time);
      if (kv.first == "boot_id") m.boot_id = std::string(kv.second);
    }
    if (m.qmp_socket.empty() || m.owner_pid <= 0) {
      spdlog::warn("pause marker {}: not a marker kfreezed wrote; ignored", m.path);
      continue;
    }
    out.push_back(std::move(m));
  }
  closedir(d);
  return out;
}

bool OwnerAlive(const PauseMarker& marker) {
  std::optional<uint64_t> start = ProcessStartTime(marker.owner_pid);
  return start.has_value() && *start == marker.owner_start_time;
}

std::string CurrentBootId() {
  std::optional<std::string> id = ReadSmallFile("/proc/sys/kernel/random/boot_id");
  return id ? std::string(absl::StripTrailingAsciiWhitespace(*id)) : std::string();
}

std::string DefaultPauseStateDir(const std::string& archive_dir) {
  if (const char* state = std::getenv("STATE_DIRECTORY"); state != nullptr && *state) {
    // systemd lists several StateDirectory= entries separated by ':'; the first is ours.
    std::string first(absl::string_view(state).substr(0, absl::string_view(state).find(':')));
    return first + "/paused-vms";
  }
  const std::string run = "/run/kfreezed/paused-vms";
  if (MakeDirs(run, 0700).ok() && access(run.c_str(), W_OK) == 0) return run;
  return archive_dir + "/paused-vms";
}

}  // namespace kfreeze::server
