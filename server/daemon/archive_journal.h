// The archive's write-ahead journal: a stored dump is durable once its record (seq + envelope
// bytes) is in the journal and fdatasynced. Concurrent appends share one write and one fdatasync
// (group commit: the first waiter syncs everything queued so far, the others wait for it), so a
// Freeze pays one disk flush however many targets archive at once. The dump file itself is written
// without a sync; the archive's checkpoint syncs those files later and retires the journal.
//
//   <dir>/journal-<gen>.log   records: magic "KFJ1" | u32 length | u32 crc32 | u64 seq | envelope
//                             (little endian; crc32 over seq and envelope; length counts both)
//
// Recovery reads records up to the first torn or corrupt one: a crash mid-append loses only the
// records whose appends had not returned, i.e. dumps never acknowledged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kfreeze::server {

struct JournalRecord {
  uint64_t seq = 0;
  std::string envelope;  // a serialized DumpEnvelope
};

std::string EncodeJournalRecord(uint64_t seq, std::string_view envelope);

// The records of `data` in order, up to the first torn or corrupt one (bounded by the data size);
// `*valid_bytes` = where the good prefix ends.
std::vector<JournalRecord> ParseJournal(std::string_view data, size_t* valid_bytes);

// fsync of a directory (a created, renamed or removed entry survives a crash).
absl::Status SyncDirectory(const std::string& dir);
// fdatasync of an existing file.
absl::Status SyncFileData(const std::string& path);

// "<dir>/journal-<gen>.log".
std::string JournalPath(const std::string& dir, uint64_t gen);
// Generations of the journal files in `dir`, ascending.
std::vector<uint64_t> ListJournalGenerations(const std::string& dir);

class ArchiveJournal {
 public:
  // Creates an empty journal-<gen>.log (replacing one left over) and syncs it and its directory,
  // so records appended later need only an fdatasync of the file.
  static absl::StatusOr<std::unique_ptr<ArchiveJournal>> Create(const std::string& dir,
                                                                uint64_t gen);
  ~ArchiveJournal();
  ArchiveJournal(const ArchiveJournal&) = delete;
  ArchiveJournal& operator=(const ArchiveJournal&) = delete;

  // Returns once the record is on disk (fdatasync). After a failed write the journal refuses
  // further appends: its tail is unknown, so records after it could not be recovered.
  absl::Status Append(uint64_t seq, std::string_view envelope);

  uint64_t gen() const { return gen_; }
  const std::string& path() const { return path_; }
  uint64_t bytes() const;
  uint64_t records() const;
  bool broken() const;
  // fdatasync calls so far (tests: concurrent appends share them).
  uint64_t syncs() const;

 private:
  ArchiveJournal(std::string path, uint64_t gen, int fd)
      : path_(std::move(path)), gen_(gen), fd_(fd) {}

  const std::string path_;
  const uint64_t gen_;
  const int fd_;
  mutable absl::Mutex mu_;
  std::string queued_ ABSL_GUARDED_BY(mu_);     // encoded records not yet written
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;  // records queued or written
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;   // records fdatasynced
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;   // a leader is writing a batch
  absl::CondVar batch_done_;                    // signalled when a leader finishes
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfreeze::server
