// The embedded dump archive: a directory of binary DumpEnvelopes plus an index.
//
//   <dir>/journal-<gen>.log       write-ahead journal (archive_journal.h): Store() returns once
//                                 the envelope's record is fdatasynced there; concurrent stores
//                                 share one fdatasync
//   <dir>/dumps/<dump_id>.binpb   one envelope each, written (temp file + rename) only after its
//                                 journal record is durable, without a sync of its own
//   <dir>/index.binpb             ArchiveIndex (summaries + next_seq), replaced by rename at
//                                 each checkpoint (synced, before the journal it replaces goes)
//                                 and when retention removes dumps; a store with a journal does
//                                 not rewrite it: the dump files and the journal are the truth
//
// A background checkpoint (every kCheckpointRecords stores or kCheckpointBytes of journal, and at
// close) starts a new journal generation, fdatasyncs the dump files the old one covered, syncs the
// dumps directory and deletes the old journal. Open() first replays every journal left (a crash):
// a dump file missing or different from its record is rewritten durably, a torn tail ends the
// replay of that journal; then it reconciles index and files: a dump file missing from the index
// is parsed and re-indexed; an index row without a file is dropped; a corrupt file (or index) is
// skipped with a log line and never stops the daemon. Retention (count, bytes, age) removes the
// oldest dumps first. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kfreeze/v1/archive.pb.h"
#include "kfreeze/v1/report.pb.h"
#include "server/daemon/archive_journal.h"

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
  // Checkpoints the journal, so the next Open() has nothing to replay.
  ~DumpArchive();
  DumpArchive(const DumpArchive&) = delete;
  DumpArchive& operator=(const DumpArchive&) = delete;

  // Gives the envelope its archive id ("<target>-<seq>") and seq, writes it durably, indexes it
  // and applies retention. Returns its summary.
  absl::StatusOr<kfreeze::v1::DumpSummary> Store(kfreeze::v1::DumpEnvelope& envelope);

  // NotFound for an unknown id; DataLoss (logged) for a file that no longer parses.
  absl::StatusOr<kfreeze::v1::DumpEnvelope> Get(const std::string& dump_id) const;
  // The dump's stored bytes (a binary DumpEnvelope), checked to parse (into `parsed` when given);
  // the same errors as Get.
  absl::StatusOr<std::string> GetBytes(const std::string& dump_id,
                                       kfreeze::v1::DumpEnvelope* parsed = nullptr) const;
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
  // Dumps retention (age, count, bytes, per-target quota) removed since this archive opened.
  uint64_t evicted_total() const;
  const std::string& dir() const { return dir_; }
  // Journal fdatasyncs and checkpoints so far (tests and benchmarks).
  uint64_t journal_syncs() const;
  uint64_t checkpoints() const;

 private:
  // One journal file and the dump files it alone keeps durable.
  struct Generation {
    std::shared_ptr<ArchiveJournal> journal;
    std::vector<std::string> unsynced_ids;  // written without a sync of their own
    int stores_in_flight = 0;               // appended or appending, file not written yet
  };

  DumpArchive(std::string dir, RetentionPolicy retention)
      : dir_(std::move(dir)), retention_(retention) {}
  absl::Status Load();
  // The index part of Load: reads index.binpb, replays the journals, reconciles with the files.
  absl::Status LoadIndex(uint64_t* last_gen, bool* replay_synced);
  // Replays journals left by a crash into `index` (rows for restored dumps) and the dump files;
  // returns the highest generation found (0: none).
  // `*all_synced`: every replayed dump is durable again, so those journals may go.
  uint64_t ReplayJournals(kfreeze::v1::ArchiveIndex& index, bool* all_synced);
  // Makes the envelope durable (journal, or a synced file when the journal fails) and writes its
  // dump file. `*journaled`: its journal record holds it (else the file was synced on its own).
  absl::Status WriteDump(const std::string& dump_id, uint64_t seq, const std::string& data,
                         bool* journaled);
  // Syncs the dump files `gen` covered and the dumps directory, then deletes its journal.
  void Retire(Generation& gen);
  // Switches to a new generation and retires the old one; `reopen` = false at close.
  void Checkpoint(bool reopen);
  void CheckpointLoop();
  std::string DumpsDir() const;
  size_t PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The per-target quota part of PruneLocked.
  size_t PruneTargetQuotasLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveDumpFile(const kfreeze::v1::DumpSummary& summary) const;
  absl::Status WriteIndexLocked(bool durable = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string DumpPath(const std::string& dump_id) const;

  const std::string dir_;
  const RetentionPolicy retention_;
  mutable absl::Mutex mu_;
  kfreeze::v1::ArchiveIndex index_ ABSL_GUARDED_BY(mu_);  // entries ascending by seq
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_total_ ABSL_GUARDED_BY(mu_) = 0;

  // Journal state; never held together with mu_.
  mutable absl::Mutex gen_mu_;
  std::shared_ptr<Generation> active_ ABSL_GUARDED_BY(gen_mu_);  // null: no journal, sync files
  bool checkpoint_due_ ABSL_GUARDED_BY(gen_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(gen_mu_) = false;
  uint64_t checkpoints_ ABSL_GUARDED_BY(gen_mu_) = 0;
  uint64_t retired_syncs_ ABSL_GUARDED_BY(gen_mu_) = 0;  // of journals already retired
  absl::CondVar checkpoint_cv_;                          // checkpoint_due_ or stopping_ set
  absl::CondVar flight_done_;  // a generation's stores_in_flight dropped to 0
  std::thread checkpointer_;
};

// Dump ids and target names: [A-Za-z0-9._-], 1..64 chars, not starting with '.'.
bool IsSafeName(const std::string& name);

// Writes `data` to `path` through `path.tmp-*` and a rename, so readers see the old or the new
// file, never a torn one. `durable` adds fsync of the file and of the directory (the rename
// survives a crash); the index skips it: Open() rebuilds it from the dump files.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data,
                                 bool durable = true);

}  // namespace kfreeze::server
