// The embedded dump archive: a directory of binary DumpEnvelopes plus an index.
//
//   <dir>/dumps/<dump_id>.binpb   one envelope each, written to a temp file, fsynced, renamed
//   <dir>/index.binpb             ArchiveIndex (summaries + next_seq), replaced by rename; not
//                                 fsynced: the dump files are the truth and Open() reconciles
//
// Open() reconciles index and files: a dump file missing from the index is parsed and re-indexed;
// an index row without a file is dropped; a corrupt file (or index) is skipped with a log line and
// never stops the daemon. Retention (count, bytes, age) removes the oldest dumps first.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kfreeze/v1/archive.pb.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::server {

struct RetentionPolicy {
  uint32_t max_count = 0;  // 0 = unbounded
  uint64_t max_bytes = 0;
  absl::Duration max_age = absl::ZeroDuration();
  // Per-target quota, applied before the global bounds: a target over it loses its own oldest
  // dumps, so a guest flooding auto-triggers cannot push other targets' dumps out.
  uint32_t max_count_per_target = 0;  // 0 = unbounded
  uint64_t max_bytes_per_target = 0;
};

struct DumpFilter {
  std::string target;  // "" = any
  std::string schema;  // "" = any
  google::protobuf::Map<std::string, std::string> labels;
};

bool FilterMatches(const DumpFilter& filter, const kfreeze::v1::DumpSummary& summary);

class DumpArchive {
 public:
  static absl::StatusOr<std::unique_ptr<DumpArchive>> Open(const std::string& dir,
                                                           RetentionPolicy retention);

  // Gives the envelope its archive id ("<target>-<seq>") and seq, writes it durably, indexes it
  // and applies retention. Returns its summary.
  absl::StatusOr<kfreeze::v1::DumpSummary> Store(kfreeze::v1::DumpEnvelope& envelope);

  // NotFound for an unknown id; DataLoss (logged) for a file that no longer parses.
  absl::StatusOr<kfreeze::v1::DumpEnvelope> Get(const std::string& dump_id) const;
  std::optional<kfreeze::v1::DumpSummary> Find(const std::string& dump_id) const;

  // Newest first, seq < before_seq (0 = from the newest), at most `limit` rows; `more` says
  // whether older matching rows remain.
  std::vector<kfreeze::v1::DumpSummary> List(const DumpFilter& filter, uint64_t before_seq,
                                             size_t limit, bool* more) const;
  // Oldest first, seq > after_seq.
  std::vector<kfreeze::v1::DumpSummary> After(uint64_t after_seq) const;

  // Applies retention as of `now` (age bound); returns how many dumps were removed.
  size_t Prune(absl::Time now = absl::Now());

  size_t count() const;
  uint64_t total_bytes() const;
  const std::string& dir() const { return dir_; }

 private:
  DumpArchive(std::string dir, RetentionPolicy retention)
      : dir_(std::move(dir)), retention_(retention) {}
  absl::Status Load();
  size_t PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The per-target quota part of PruneLocked.
  size_t PruneTargetQuotasLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveDumpFile(const kfreeze::v1::DumpSummary& summary) const;
  absl::Status WriteIndexLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string DumpPath(const std::string& dump_id) const;

  const std::string dir_;
  const RetentionPolicy retention_;
  mutable absl::Mutex mu_;
  kfreeze::v1::ArchiveIndex index_ ABSL_GUARDED_BY(mu_);  // entries ascending by seq
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Dump ids and target names: [A-Za-z0-9._-], 1..64 chars, not starting with '.'.
bool IsSafeName(const std::string& name);

// Writes `data` to `path` through `path.tmp-*` and a rename, so readers see the old or the new
// file, never a torn one. `durable` adds fsync of the file and of the directory (the rename
// survives a crash); the index skips it: Open() rebuilds it from the dump files.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data,
                                 bool durable = true);

}  // namespace kfreeze::server
