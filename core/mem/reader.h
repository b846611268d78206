// Typed, bounded reads of guest kernel memory by virtual address. Each Reader owns a small
// translation cache (a software TLB) and is meant for one thread; create one per walk or dump.
// Reads crossing a page or mapping boundary translate every piece separately.
// Not checked here: that the object at an address has the type the caller assumes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/caps.h"
#include "core/base/types.h"
#include "core/mem/guest_snapshot.h"
#include "core/mem/read_budget.h"
#include "core/mem/translator.h"

namespace kfreeze {

// Where a Reader's bytes come from: guest RAM (kDirect), guest RAM with every frame read marked in
// a GuestSnapshot for copying (kRecord: the copy stage, VM paused), or that snapshot alone
// (kReplay: the decode stage, VM running again; a page the copy stage never read is a fault).
enum class SnapshotMode : uint8_t { kDirect, kRecord, kReplay };

class Reader {
 public:
  explicit Reader(const Translator& translator);

  absl::StatusOr<Pa> Translate(Kva va);
  absl::Status ReadVirt(Kva va, std::span<uint8_t> out);
  absl::Status ReadPhys(Pa pa, std::span<uint8_t> out);

  template <typename T>
  absl::StatusOr<T> Read(Kva va) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    absl::Status s =
        ReadVirt(va, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), sizeof(T)));
    if (!s.ok()) return s;
    return value;
  }
  absl::StatusOr<uint8_t> ReadU8(Kva va) { return Read<uint8_t>(va); }
  absl::StatusOr<uint16_t> ReadU16(Kva va) { return Read<uint16_t>(va); }
  absl::StatusOr<uint32_t> ReadU32(Kva va) { return Read<uint32_t>(va); }
  absl::StatusOr<int32_t> ReadS32(Kva va) { return Read<int32_t>(va); }
  absl::StatusOr<uint64_t> ReadU64(Kva va) { return Read<uint64_t>(va); }
  absl::StatusOr<Kva> ReadPtr(Kva va);

  // `size` bytes into a new buffer; size is capped by caps::kMaxSingleReadBytes.
  absl::StatusOr<std::vector<uint8_t>> ReadBytes(Kva va, uint64_t size);
  // A NUL-terminated string of at most max_len bytes (DataLoss if no NUL within max_len).
  absl::StatusOr<std::string> ReadCString(Kva va, size_t max_len = caps::kMaxCStringLength);
  // A fixed-size char array (e.g. comm[16]): up to the first NUL, never more than `size`.
  absl::StatusOr<std::string> ReadCharArray(Kva va, size_t size);

  // The dump's budget (borrowed; null = unbounded, as for probes and attach). Every ReadVirt and
  // ReadPhys charges it and fails with its status once it is spent.
  void SetBudget(ReadBudget* budget) { budget_ = budget; }
  ReadBudget* budget() const { return budget_; }
  // Walk containers charge what they hold and the report nodes they make; always true without a
  // budget, false once it is spent.
  bool ChargeHeld(uint64_t bytes) const { return budget_ == nullptr || budget_->ChargeHeld(bytes); }
  void ReleaseHeld(uint64_t bytes) const {
    if (budget_ != nullptr) budget_->ReleaseHeld(bytes);
  }
  bool ChargeNodes(uint64_t n) const { return budget_ == nullptr || budget_->ChargeNodes(n); }
  // The budget is spent (deadline included): long loops stop on it even between reads.
  bool BudgetExhausted() const { return budget_ != nullptr && budget_->Exhausted(); }

  // Reads go through `snapshot` as `mode` says (null snapshot = kDirect). Borrowed. kReplay
  // indexes the snapshot, so its copy stage must have been sealed (GuestSnapshot::Seal).
  void UseSnapshot(GuestSnapshot* snapshot, SnapshotMode mode);
  // The copy stage: every read only has to be copied, so a walk may skip rendering (the decode
  // stage repeats it from the snapshot) and may copy dense regions in bulk with Prefetch.
  bool copying() const { return mode_ == SnapshotMode::kRecord; }
  // Copy stage only (a no-op otherwise): marks every page of [va, va + size) for the snapshot,
  // one translation per page, so the decode stage can read anything inside without the copy stage
  // having followed it. Charged to the budget like a read of `size` bytes.
  absl::Status Prefetch(Kva va, uint64_t size);

  // Memory-latency hints for walks that know their next addresses (the tasks walk, thousands of
  // scattered task_structs): Hint starts loading `va`'s cache line; PeekU64 reads a value only to
  // hint what it points to. Neither charges the budget, marks a page or fails; both do nothing in
  // the decode stage (the snapshot is local memory).
  void Hint(Kva va);
  std::optional<uint64_t> PeekU64(Kva va);

  const Translator& translator() const { return translator_; }
  uint64_t cache_hits() const { return hits_; }
  uint64_t cache_misses() const { return misses_; }
  void ClearCache();

 private:
  struct CacheEntry {
    uint64_t tag = ~0ull;  // va >> leaf shift; ~0 never matches a canonical kernel address
    uint64_t pa_base = 0;
  };

  absl::StatusOr<Translation> TranslateCached(Kva va);
  // Copy stage: marks the frames of [pa, pa + size) for the snapshot.
  absl::Status Mark(uint64_t pa, uint64_t size);
  // Decode stage: what `va` translated to in the copy stage (linear maps by arithmetic).
  absl::StatusOr<uint64_t> ReplayTranslate(uint64_t va) const;
  absl::Status ReplayVirt(Kva va, std::span<uint8_t> out);
  absl::Status ReplayPhys(Pa pa, std::span<uint8_t> out) const;
  // A page the decode stage needs but the copy stage did not copy.
  absl::Status Missing(uint64_t address, absl::string_view what) const;
  absl::Status ChargeRead(uint64_t bytes) const {
    return budget_ == nullptr ? absl::OkStatus() : budget_->ChargeRead(bytes);
  }

  Translator translator_;
  uint64_t root_key_;  // the page-table root: snapshot pages are per address space
  ReadBudget* budget_ = nullptr;
  GuestSnapshot* snapshot_ = nullptr;
  SnapshotMode mode_ = SnapshotMode::kDirect;
  // The last frame marked (copy stage) and snapshot page used (decode stage): most reads fall
  // in the page of the one before.
  uint64_t memo_marked_ = ~0ull;
  uint64_t memo_va_page_ = ~0ull;
  const uint8_t* memo_page_ = nullptr;
  // One cache per leaf size of the guest's page tables (leaf_shifts_).
  LeafShifts leaf_shifts_;
  std::array<std::array<CacheEntry, caps::kTranslationCacheSlots>, LeafShifts::kMax> cache_;
  // Last-level tables by the region one covers (tag va >> last_table_shift_, pa_base = the
  // table; 2 MiB on x86-64): a smallest-page miss next to an earlier walk (vmalloc'd stacks,
  // module data) costs one entry read instead of a full walk.
  int last_table_shift_ = 21;
  std::array<CacheEntry, caps::kTranslationCacheSlots> last_tables_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace kfreeze
