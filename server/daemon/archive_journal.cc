#include "server/daemon/archive_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace kfreeze::server {
namespace {

constexpr char kMagic[4] = {'K', 'F', 'J', '1'};
constexpr size_t kHeaderBytes = 4 + 4 + 4;  // magic, length, crc32
constexpr size_t kSeqBytes = 8;
constexpr char kJournalPrefix[] = "journal-";
constexpr char kJournalSuffix[] = ".log";

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed it in chunks.
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus("write journal");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeJournalRecord(uint64_t seq, std::string_view envelope) {
  std::string body(kSeqBytes, '\0');
  absl::little_endian::Store64(body.data(), seq);
  body.append(envelope);
  std::string out(kHeaderBytes, '\0');
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  absl::little_endian::Store32(out.data() + 4, static_cast<uint32_t>(body.size()));
  absl::little_endian::Store32(out.data() + 8, Crc32(body));
  out.append(body);
  return out;
}

std::vector<JournalRecord> ParseJournal(std::string_view data, size_t* valid_bytes) {
  std::vector<JournalRecord> out;
  size_t pos = 0;
  // Every iteration consumes at least a header, so the loop ends within data.size() / 12 steps.
  while (data.size() - pos >= kHeaderBytes) {
    const char* h = data.data() + pos;
    if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0) break;
    const uint32_t len = absl::little_endian::Load32(h + 4);
    const uint32_t crc = absl::little_endian::Load32(h + 8);
    if (len < kSeqBytes || len > data.size() - pos - kHeaderBytes) break;  // torn tail
    std::string_view body = data.substr(pos + kHeaderBytes, len);
    if (Crc32(body) != crc) break;
    JournalRecord r;
    r.seq = absl::little_endian::Load64(body.data());
    r.envelope = std::string(body.substr(kSeqBytes));
    out.push_back(std::move(r));
    pos += kHeaderBytes + len;
  }
  if (valid_bytes) *valid_bytes = pos;
  return out;
}

absl::Status SyncDirectory(const std::string& dir) {
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return ErrnoStatus(absl::StrCat("open ", dir));
  int rc = fsync(dfd);
  absl::Status s = rc == 0 ? absl::OkStatus() : ErrnoStatus(absl::StrCat("fsync ", dir));
  close(dfd);
  return s;
}

absl::Status SyncFileData(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path));
  int rc = fdatasync(fd);
  absl::Status s = rc == 0 ? absl::OkStatus() : ErrnoStatus(absl::StrCat("fdatasync ", path));
  close(fd);
  return s;
}

std::string JournalPath(const std::string& dir, uint64_t gen) {
  return absl::StrCat(dir, "/", kJournalPrefix, gen, kJournalSuffix);
}

std::vector<uint64_t> ListJournalGenerations(const std::string& dir) {
  std::vector<uint64_t> gens;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return gens;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (!absl::ConsumePrefix(&name, kJournalPrefix) || !absl::ConsumeSuffix(&name, kJournalSuffix))
      continue;
    uint64_t gen = 0;
    if (absl::SimpleAtoi(name, &gen)) gens.push_back(gen);
  }
  closedir(d);
  std::sort(gens.begin(), gens.end());
  return gens;
}

absl::StatusOr<std::unique_ptr<ArchiveJournal>> ArchiveJournal::Create(const std::string& dir,
                                                                       uint64_t gen) {
  std::string path = JournalPath(dir, gen);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", path));
  std::unique_ptr<ArchiveJournal> j(new ArchiveJournal(path, gen, fd));
  // The file's existence must be durable before any record in it counts as durable.
  if (fsync(fd) != 0) return ErrnoStatus(absl::StrCat("fsync ", path));
  if (absl::Status s = SyncDirectory(dir); !s.ok()) return s;
  return j;
}

ArchiveJournal::~ArchiveJournal() { close(fd_); }

absl::Status ArchiveJournal::Append(uint64_t seq, std::string_view envelope) {
  std::string record = EncodeJournalRecord(seq, envelope);
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  queued_.append(record);
  const uint64_t ticket = ++appended_;
  while (durable_ < ticket && error_.ok()) {
    if (syncing_) {
      // A leader is writing an earlier batch; ours goes in the next one.
      batch_done_.Wait(&mu_);
      continue;
    }
    // Lead: write everything queued so far with one write and one fdatasync.
    syncing_ = true;
    std::string batch;
    batch.swap(queued_);
    const uint64_t batch_end = appended_;
    mu_.Unlock();
    absl::Status s = WriteAll(fd_, batch);
    if (s.ok() && fdatasync(fd_) != 0) s = ErrnoStatus(absl::StrCat("fdatasync ", path_));
    mu_.Lock();
    ++syncs_;
    syncing_ = false;
    if (s.ok()) {
      durable_ = batch_end;
      bytes_ += batch.size();
    } else {
      error_ = s;
    }
    batch_done_.SignalAll();
  }
  return durable_ >= ticket ? absl::OkStatus() : error_;
}

uint64_t ArchiveJournal::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

uint64_t ArchiveJournal::records() const {
  absl::MutexLock lock(&mu_);
  return durable_;
}

bool ArchiveJournal::broken() const {
  absl::MutexLock lock(&mu_);
  return !error_.ok();
}

uint64_t ArchiveJournal::syncs() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

}  // namespace kfreeze::server
