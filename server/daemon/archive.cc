#include "server/daemon/archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "server/daemon/dump_summary.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::DumpSummary;

constexpr char kIndexFile[] = "index.binpb";
constexpr char kDumpsDir[] = "dumps";
constexpr char kDumpSuffix[] = ".binpb";
// A single envelope larger than this is not one of ours (reports are a few MiB at most).
constexpr uint64_t kMaxDumpFileBytes = 1ull << 30;
// A checkpoint starts once the journal holds this much: it bounds the replay after a crash and
// the dump files synced in one go (each fdatasync is a disk flush, off the reply path).
constexpr uint64_t kCheckpointRecords = 512;
constexpr uint64_t kCheckpointBytes = 128ull << 20;

absl::Status ErrnoStatus(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
      return ErrnoStatus(absl::StrCat("mkdir ", partial));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > kMaxDumpFileBytes) {
    return absl::DataLossError(absl::StrCat(path, ": implausible size ", size));
  }
  in.seekg(0);
  std::string data(static_cast<size_t>(size), '\0');
  if (!in.read(data.data(), size)) return absl::DataLossError(absl::StrCat("short read ", path));
  return data;
}

uint64_t TimestampSeconds(const DumpSummary& s) {
  return s.captured_at().seconds() > 0 ? static_cast<uint64_t>(s.captured_at().seconds()) : 0;
}

}  // namespace

bool IsSafeName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool FilterMatches(const DumpFilter& filter, const DumpSummary& s) {
  if (!filter.target.empty() && s.target() != filter.target) return false;
  if (!filter.schema.empty() && s.schema() != filter.schema) return false;
  return LabelsMatch(s.labels(), filter.labels);
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& data, bool durable) {
  std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("open ", tmp));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = ErrnoStatus(absl::StrCat("write ", tmp));
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (durable && fsync(fd) != 0) {
    absl::Status s = ErrnoStatus(absl::StrCat("fsync ", tmp));
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoStatus(absl::StrCat("rename ", tmp));
    unlink(tmp.c_str());
    return s;
  }
  if (!durable) return absl::OkStatus();
  // The rename itself must survive a crash: sync the directory entry.
  std::string dir = path.substr(0, path.rfind('/'));
  int dfd = open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DumpArchive>> DumpArchive::Open(const std::string& dir,
                                                               RetentionPolicy retention) {
  if (dir.empty()) return absl::InvalidArgumentError("archive directory is empty");
  std::unique_ptr<DumpArchive> archive(new DumpArchive(dir, retention));
  if (absl::Status s = archive->Load(); !s.ok()) return s;
  archive->checkpointer_ = std::thread([a = archive.get()] { a->CheckpointLoop(); });
  return archive;
}

DumpArchive::~DumpArchive() {
  {
    absl::MutexLock lock(&gen_mu_);
    stopping_ = true;
    checkpoint_cv_.SignalAll();
  }
  if (checkpointer_.joinable()) checkpointer_.join();
  Checkpoint(/*reopen=*/false);
}

std::string DumpArchive::DumpsDir() const { return absl::StrCat(dir_, "/", kDumpsDir); }

uint64_t DumpArchive::ReplayJournals(kfreeze::v1::ArchiveIndex& index, bool* all_synced) {
  *all_synced = true;
  std::vector<uint64_t> gens = ListJournalGenerations(dir_);
  if (gens.empty()) return 0;
  std::set<std::string> indexed;
  for (const DumpSummary& s : index.entries()) indexed.insert(s.dump_id());
  size_t replayed = 0, restored = 0;
  for (uint64_t gen : gens) {
    std::string path = JournalPath(dir_, gen);
    absl::StatusOr<std::string> data = ReadFile(path);
    if (!data.ok()) {
      spdlog::error("archive: cannot read journal {}: {}", path, data.status().ToString());
      *all_synced = false;  // keep it: the next Open tries again
      continue;
    }
    size_t valid = 0;
    std::vector<JournalRecord> records = ParseJournal(*data, &valid);
    if (valid < data->size()) {
      spdlog::warn("archive: journal {}: {} bytes after the last whole record dropped (torn tail)",
                   path, data->size() - valid);
    }
    for (const JournalRecord& r : records) {
      // Never reuse a seq the journal named, even one whose record is not usable.
      index.set_next_seq(std::max(index.next_seq(), r.seq + 1));
      DumpEnvelope e;
      if (!e.ParseFromString(r.envelope) || !IsSafeName(e.dump_id())) {
        spdlog::warn("archive: journal {}: skipping a record that is not a dump (seq {})", path,
                     r.seq);
        continue;
      }
      const std::string file = DumpPath(e.dump_id());
      absl::StatusOr<std::string> on_disk = ReadFile(file);
      absl::Status s;
      if (on_disk.ok() && *on_disk == r.envelope) {
        s = SyncFileData(file);  // it may sit in the page cache only (kfreezed died, not the host)
      } else {
        s = WriteFileAtomically(file, r.envelope);
        ++restored;
      }
      if (!s.ok()) {
        spdlog::error("archive: cannot restore {} from the journal: {}", e.dump_id(), s.ToString());
        *all_synced = false;
        continue;
      }
      ++replayed;
      // Retention evicted some of these before the crash: Load's prune evicts them again.
      if (indexed.insert(e.dump_id()).second) {
        *index.add_entries() = MakeSummary(e, r.envelope.size(), r.seq);
      }
    }
  }
  if (absl::Status s = SyncDirectory(DumpsDir()); !s.ok()) {
    spdlog::error("archive: {}", s.ToString());
    *all_synced = false;
  }
  spdlog::info("archive: replayed {} journal(s): {} dump(s), {} rewritten", gens.size(), replayed,
               restored);
  return gens.back();
}

std::string DumpArchive::DumpPath(const std::string& dump_id) const {
  return absl::StrCat(dir_, "/", kDumpsDir, "/", dump_id, kDumpSuffix);
}

absl::Status DumpArchive::Load() {
  if (absl::Status s = MakeDirs(absl::StrCat(dir_, "/", kDumpsDir)); !s.ok()) return s;
  uint64_t last_gen = 0;
  bool replay_synced = true;
  if (absl::Status s = LoadIndex(&last_gen, &replay_synced); !s.ok()) return s;
  // A new generation first; then the replayed journals can go (their dumps are durable again).
  absl::StatusOr<std::unique_ptr<ArchiveJournal>> journal =
      ArchiveJournal::Create(dir_, last_gen + 1);
  absl::MutexLock lock(&gen_mu_);
  if (!journal.ok()) {
    spdlog::error("archive: no journal ({}); every dump file is synced on its own",
                  journal.status().ToString());
    return absl::OkStatus();
  }
  active_ = std::make_shared<Generation>();
  active_->journal = std::move(*journal);
  if (!replay_synced) return absl::OkStatus();
  for (uint64_t gen : ListJournalGenerations(dir_)) {
    if (gen <= last_gen) unlink(JournalPath(dir_, gen).c_str());
  }
  return absl::OkStatus();
}

absl::Status DumpArchive::LoadIndex(uint64_t* last_gen, bool* replay_synced) {
  absl::MutexLock lock(&mu_);
  kfreeze::v1::ArchiveIndex stored;
  std::string index_path = absl::StrCat(dir_, "/", kIndexFile);
  if (absl::StatusOr<std::string> data = ReadFile(index_path); data.ok()) {
    if (!stored.ParseFromString(*data)) {
      spdlog::warn("archive: index {} is corrupt; rebuilding it from the dump files", index_path);
      stored.Clear();
    }
  }
  // Before the files are listed: the journals may bring dump files back.
  *last_gen = ReplayJournals(stored, replay_synced);
  // What is on disk decides; the index only saves parsing every file.
  std::set<std::string> files;
  std::string dumps_dir = absl::StrCat(dir_, "/", kDumpsDir);
  if (DIR* d = opendir(dumps_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (absl::StrContains(name, ".tmp-")) {
        unlink(absl::StrCat(dumps_dir, "/", name).c_str());  // an interrupted write
        continue;
      }
      if (!absl::EndsWith(name, kDumpSuffix)) continue;
      files.insert(std::string(absl::StripSuffix(name, kDumpSuffix)));
    }
    closedir(d);
  } else {
    return ErrnoStatus(absl::StrCat("opendir ", dumps_dir));
  }
  uint64_t max_seq = 0;
  std::set<std::string> indexed;
  for (const DumpSummary& s : stored.entries()) {
    if (!files.count(s.dump_id())) {
      spdlog::warn("archive: {} is indexed but its file is gone; dropping it", s.dump_id());
      continue;
    }
    if (!indexed.insert(s.dump_id()).second) continue;
    *index_.add_entries() = s;
    total_bytes_ += s.size_bytes();
    max_seq = std::max(max_seq, s.seq());
  }
  for (const std::string& id : files) {
    if (indexed.count(id)) continue;
    std::string path = DumpPath(id);
    absl::StatusOr<std::string> data = ReadFile(path);
    DumpEnvelope envelope;
    if (!data.ok() || !envelope.ParseFromString(*data) || envelope.dump_id() != id) {
      spdlog::warn("archive: skipping corrupt dump file {}", path);
      continue;
    }
    // Re-indexed dumps keep their relative order by id suffix; their seq follows the index's.
    DumpSummary s = MakeSummary(envelope, data->size(), 0);
    *index_.add_entries() = std::move(s);
    total_bytes_ += data->size();
    spdlog::info("archive: re-indexed {}", id);
  }
  // Assign seqs to re-indexed rows (seq 0) after every known one, in capture order.
  auto* entries = index_.mutable_entries();
  std::stable_sort(entries->begin(), entries->end(),
                   [](const DumpSummary& a, const DumpSummary& b) {
                     if ((a.seq() == 0) != (b.seq() == 0)) return a.seq() != 0;
                     if (a.seq() != b.seq()) return a.seq() < b.seq();
                     return TimestampSeconds(a) < TimestampSeconds(b);
                   });
  uint64_t next = std::max(stored.next_seq(), max_seq + 1);
  for (DumpSummary& s : *entries) {
    if (s.seq() == 0) s.set_seq(next++);
  }
  index_.set_next_seq(std::max<uint64_t>(next, 1));
  PruneLocked(absl::Now());
  if (absl::Status s = WriteIndexLocked(); !s.ok()) {
    spdlog::error("archive: cannot write index: {}", s.ToString());
  }
  spdlog::info("archive: {} dumps, {} bytes in {}", index_.entries_size(), total_bytes_, dir_);
  return absl::OkStatus();
}

absl::Status DumpArchive::WriteIndexLocked(bool durable) {
  return WriteFileAtomically(absl::StrCat(dir_, "/", kIndexFile), index_.SerializeAsString(),
                             durable);
}

absl::StatusOr<DumpSummary> DumpArchive::Store(DumpEnvelope& envelope) {
  if (!IsSafeName(envelope.target())) {
    return absl::InvalidArgumentError(absl::StrCat("unsafe target name '", envelope.target(), "'"));
  }
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    seq = index_.next_seq();
    index_.set_next_seq(seq + 1);
  }
  envelope.set_dump_id(absl::StrFormat("%s-%06d", envelope.target(), seq));
  if (!IsSafeName(envelope.dump_id())) {
    // A 60+ character target name: fall back to the seq alone.
    envelope.set_dump_id(absl::StrFormat("dump-%06d", seq));
  }
  std::string data = envelope.SerializeAsString();
  bool journaled = false;
  if (absl::Status s = WriteDump(envelope.dump_id(), seq, data, &journaled); !s.ok()) return s;
  DumpSummary summary = MakeSummary(envelope, data.size(), seq);
  absl::MutexLock lock(&mu_);
  // Concurrent stores may finish out of order: keep the index sorted by seq.
  auto* entries = index_.mutable_entries();
  auto at = std::upper_bound(entries->begin(), entries->end(), seq,
                             [](uint64_t v, const DumpSummary& s) { return v < s.seq(); }) -
            entries->begin();
  entries->Add()->CopyFrom(summary);  // may reallocate: iterators taken before are stale
  std::rotate(entries->begin() + at, entries->end() - 1, entries->end());
  total_bytes_ += data.size();
  const bool pruned = PruneLocked(absl::Now()) > 0;
  // With a journal the index waits for the checkpoint: until then the journal names this dump
  // and its seq (a replacing rename of the index costs a flush on ext4, 0.1-2.6 ms a store).
  if (pruned || !journaled) {
    if (absl::Status s = WriteIndexLocked(); !s.ok()) {
      // The dump is on disk; the next Open re-indexes it.
      spdlog::error("archive: cannot write index: {}", s.ToString());
    }
  }
  return summary;
}

absl::Status DumpArchive::WriteDump(const std::string& dump_id, uint64_t seq,
                                    const std::string& data, bool* journaled) {
  std::shared_ptr<Generation> gen;
  *journaled = false;
  {
    absl::MutexLock lock(&gen_mu_);
    gen = active_;
    if (gen) {
      ++gen->stores_in_flight;
      gen->unsynced_ids.push_back(dump_id);
    }
  }
  if (!gen) return WriteFileAtomically(DumpPath(dump_id), data);
  // The file only appears once its record is durable: a dump file on disk is always either
  // covered by a journal or synced, never a torn leftover of an unacknowledged store.
  absl::Status appended = gen->journal->Append(seq, data);
  if (!appended.ok()) {
    spdlog::error("archive: journal append failed ({}); syncing {} on its own", appended.ToString(),
                  dump_id);
  }
  *journaled = appended.ok();
  absl::Status written = WriteFileAtomically(DumpPath(dump_id), data, /*durable=*/!appended.ok());
  absl::MutexLock lock(&gen_mu_);
  if (--gen->stores_in_flight == 0) flight_done_.SignalAll();
  if (gen == active_ && (gen->journal->broken() || gen->journal->records() >= kCheckpointRecords ||
                         gen->journal->bytes() >= kCheckpointBytes)) {
    checkpoint_due_ = true;
    checkpoint_cv_.SignalAll();
  }
  return written;
}

void DumpArchive::CheckpointLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&gen_mu_);
      while (!checkpoint_due_ && !stopping_) checkpoint_cv_.Wait(&gen_mu_);
      if (stopping_) return;
    }
    Checkpoint(/*reopen=*/true);
  }
}

void DumpArchive::Checkpoint(bool reopen) {
  std::shared_ptr<Generation> fresh;
  if (reopen) {
    uint64_t next_gen = 1;
    {
      absl::MutexLock lock(&gen_mu_);
      if (active_) next_gen = active_->journal->gen() + 1;
    }
    absl::StatusOr<std::unique_ptr<ArchiveJournal>> journal =
        ArchiveJournal::Create(dir_, next_gen);
    if (!journal.ok()) {
      // Keep appending to the old one (or syncing files if it broke); the next store retries.
      spdlog::error("archive: checkpoint: {}", journal.status().ToString());
      absl::MutexLock lock(&gen_mu_);
      checkpoint_due_ = false;
      return;
    }
    fresh = std::make_shared<Generation>();
    fresh->journal = std::move(*journal);
  }
  std::shared_ptr<Generation> old;
  {
    absl::MutexLock lock(&gen_mu_);
    old = std::move(active_);
    active_ = std::move(fresh);
    checkpoint_due_ = false;
    if (!old) return;
    // Stores that took the old generation finish their dump files before those are synced.
    while (old->stores_in_flight > 0) flight_done_.Wait(&gen_mu_);
    retired_syncs_ += old->journal->syncs();
  }
  Retire(*old);
  absl::MutexLock lock(&gen_mu_);
  ++checkpoints_;
}

void DumpArchive::Retire(Generation& gen) {
  bool synced = true;
  for (const std::string& id : gen.unsynced_ids) {
    const std::string path = DumpPath(id);
    absl::Status s = SyncFileData(path);
    if (!s.ok() && access(path.c_str(), F_OK) == 0) {  // a file gone was removed by retention
      spdlog::error("archive: checkpoint: {}", s.ToString());
      synced = false;
    }
  }
  if (absl::Status s = SyncDirectory(DumpsDir()); !s.ok()) {
    spdlog::error("archive: checkpoint: {}", s.ToString());
    synced = false;
  }
  if (synced) {
    // The journal named the seqs of its dumps: the index takes over before the journal goes.
    absl::MutexLock lock(&mu_);
    if (absl::Status s = WriteIndexLocked(/*durable=*/true); !s.ok()) {
      spdlog::error("archive: checkpoint: {}", s.ToString());
      synced = false;
    }
  }
  if (!synced) {
    spdlog::error("archive: keeping journal {} for the next start to replay", gen.journal->path());
    return;
  }
  unlink(gen.journal->path().c_str());
}

uint64_t DumpArchive::journal_syncs() const {
  absl::MutexLock lock(&gen_mu_);
  return retired_syncs_ + (active_ ? active_->journal->syncs() : 0);
}

uint64_t DumpArchive::checkpoints() const {
  absl::MutexLock lock(&gen_mu_);
  return checkpoints_;
}

size_t DumpArchive::Prune(absl::Time now) {
  absl::MutexLock lock(&mu_);
  size_t removed = PruneLocked(now);
  if (removed > 0) {
    if (absl::Status s = WriteIndexLocked(); !s.ok()) {
      spdlog::error("archive: cannot write index: {}", s.ToString());
    }
  }
  return removed;
}

void DumpArchive::RemoveDumpFile(const DumpSummary& s) const {
  if (unlink(DumpPath(s.dump_id()).c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("archive: cannot remove {}: {}", s.dump_id(), std::strerror(errno));
  }
}

size_t DumpArchive::PruneTargetQuotasLocked() {
  if (retention_.max_count_per_target == 0 && retention_.max_bytes_per_target == 0) return 0;
  struct Usage {
    uint64_t count = 0;
    uint64_t bytes = 0;
  };
  absl::flat_hash_map<std::string, Usage> usage;
  for (const DumpSummary& s : index_.entries()) {
    Usage& u = usage[s.target()];
    ++u.count;
    u.bytes += s.size_bytes();
  }
  auto over = [this](const Usage& u) {
    return (retention_.max_count_per_target > 0 && u.count > retention_.max_count_per_target) ||
           (retention_.max_bytes_per_target > 0 && u.bytes > retention_.max_bytes_per_target);
  };
  // Oldest first: each target over its quota gives up its own oldest dumps.
  auto* entries = index_.mutable_entries();
  int kept = 0;
  size_t dropped = 0;
  for (int i = 0; i < entries->size(); ++i) {
    const DumpSummary& s = entries->Get(i);
    Usage& u = usage[s.target()];
    if (over(u)) {
      --u.count;
      u.bytes -= std::min(u.bytes, s.size_bytes());
      total_bytes_ -= std::min(total_bytes_, s.size_bytes());
      RemoveDumpFile(s);
      ++dropped;
      continue;
    }
    if (kept != i) entries->SwapElements(kept, i);
    ++kept;
  }
  if (dropped > 0) {
    entries->DeleteSubrange(kept, entries->size() - kept);
    spdlog::info("archive: per-target quota removed {} dump(s)", dropped);
  }
  return dropped;
}

size_t DumpArchive::PruneLocked(absl::Time now) {
  size_t quota_drops = PruneTargetQuotasLocked();
  auto* entries = index_.mutable_entries();
  int64_t now_s = absl::ToUnixSeconds(now);
  int64_t max_age_s = absl::ToInt64Seconds(retention_.max_age);
  size_t drop = 0;
  uint64_t bytes = total_bytes_;
  size_t count = static_cast<size_t>(entries->size());
  while (drop < count) {
    const DumpSummary& oldest = entries->Get(static_cast<int>(drop));
    bool over_count = retention_.max_count > 0 && count - drop > retention_.max_count;
    bool over_bytes = retention_.max_bytes > 0 && bytes > retention_.max_bytes;
    bool too_old = max_age_s > 0 && oldest.captured_at().seconds() + max_age_s < now_s;
    if (!over_count && !over_bytes && !too_old) break;
    bytes -= std::min(bytes, oldest.size_bytes());
    RemoveDumpFile(oldest);
    ++drop;
  }
  if (drop > 0) {
    entries->DeleteSubrange(0, static_cast<int>(drop));
    total_bytes_ = bytes;
    spdlog::info("archive: retention removed {} dump(s)", drop);
  }
  evicted_total_ += drop + quota_drops;
  return drop + quota_drops;
}

absl::StatusOr<DumpEnvelope> DumpArchive::Get(const std::string& dump_id) const {
  DumpEnvelope envelope;
  absl::StatusOr<std::string> data = GetBytes(dump_id, &envelope);
  if (!data.ok()) return data.status();
  return envelope;
}

absl::StatusOr<std::string> DumpArchive::GetBytes(const std::string& dump_id,
                                                  DumpEnvelope* parsed) const {
  if (!IsSafeName(dump_id)) return absl::InvalidArgumentError("malformed dump id");
  if (!Find(dump_id)) return absl::NotFoundError(absl::StrCat("no dump ", dump_id));
  std::string path = DumpPath(dump_id);
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) {
      return absl::NotFoundError(absl::StrCat("dump ", dump_id, " was removed"));
    }
    return data.status();
  }
  DumpEnvelope scratch;
  if (!(parsed != nullptr ? parsed : &scratch)->ParseFromString(*data)) {
    spdlog::warn("archive: dump file {} is corrupt", path);
    return absl::DataLossError(absl::StrCat("dump ", dump_id, " is corrupt on disk"));
  }
  return data;
}

std::optional<DumpSummary> DumpArchive::Find(const std::string& dump_id) const {
  absl::MutexLock lock(&mu_);
  for (const DumpSummary& s : index_.entries()) {
    if (s.dump_id() == dump_id) return s;
  }
  return std::nullopt;
}

std::vector<DumpSummary> DumpArchive::List(const DumpFilter& filter, uint64_t before_seq,
                                           size_t limit, bool* more) const {
  absl::MutexLock lock(&mu_);
  std::vector<DumpSummary> out;
  if (more) *more = false;
  for (int i = index_.entries_size() - 1; i >= 0; --i) {
    const DumpSummary& s = index_.entries(i);
    if (before_seq != 0 && s.seq() >= before_seq) continue;
    if (!FilterMatches(filter, s)) continue;
    if (out.size() == limit) {
      if (more) *more = true;
      break;
    }
    out.push_back(s);
  }
  return out;
}

std::vector<DumpSummary> DumpArchive::After(uint64_t after_seq) const {
  absl::MutexLock lock(&mu_);
  std::vector<DumpSummary> out;
  for (const DumpSummary& s : index_.entries()) {
    if (s.seq() > after_seq) out.push_back(s);
  }
  return out;
}

size_t DumpArchive::count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(index_.entries_size());
}

uint64_t DumpArchive::total_bytes() const {
  absl::MutexLock lock(&mu_);
  return total_bytes_;
}

uint64_t DumpArchive::evicted_total() const {
  absl::MutexLock lock(&mu_);
  return evicted_total_;
}

}  // namespace kfreeze::server
