// RhashtableForEach: bucket heads carry a lock bit (bit 0, RHT_PTR_LOCK_BIT); chains end in a
// "nulls" marker, an odd value (RHT_NULLS_MARKER), or NULL for an empty bucket.
#include "core/ds/rhashtable.h"

#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze::ds {
namespace {

constexpr uint64_t kLockBit = 1;  // RHT_PTR_LOCK_BIT
// Nested tables: each level is one page of pointers (lib/rhashtable.c: shift = PAGE_SHIFT -
// ilog2(sizeof(void *))); x86-64 pages are 4 KiB.
constexpr uint32_t kNestedShift = 12 - 3;
constexpr uint32_t kMaxNestedLevels = 4;  // 2^(9*4) buckets is beyond any max_buckets cap

bool IsNullsMarker(uint64_t p) { return (p & 1) != 0; }

class Walker {
 public:
  Walker(Reader& reader, const RhashtableOffsets& off, const RhashtableLimits& limits,
         RhashtableWalk& out)
      : reader_(reader), off_(off), limits_(limits), out_(out) {}

  // The dump's budget (or deadline) is gone: the walk ends here, truncated.
  bool BudgetSpent() {
    if (!reader_.BudgetExhausted()) return false;
    out_.truncated = true;
    Fail(reader_.budget()->status());
    return true;
  }

  void Fail(const absl::Status& s) {
    ++out_.unreadable_buckets;
    if (out_.first_error.ok()) out_.first_error = s;
  }

  // Returns false once a cap stops the whole walk.
  bool WalkChain(uint64_t bucket_value) {
    uint64_t p = bucket_value & ~kLockBit;
    size_t n = 0;
    while (p != 0 && !IsNullsMarker(p)) {
      if (n++ >= limits_.max_chain) {
        out_.truncated = true;
        return true;  // one bad chain does not end the table
      }
      if (seen_.insert(p).second) {
        if (out_.heads.size() >= limits_.max_objects) {
          out_.truncated = true;
          return false;
        }
        out_.heads.push_back(Kva(p));
      } else if (!chain_seen_.insert(p).second) {
        return true;  // a cycle inside this chain
      }
      absl::StatusOr<uint64_t> next = reader_.ReadU64(Kva(p + off_.head_next));
      if (!next.ok()) {
        Fail(next.status());
        return true;
      }
      p = *next;
    }
    return true;
  }

  bool WalkFlat(Kva buckets, uint32_t size) {
    absl::StatusOr<std::vector<uint8_t>> raw = reader_.ReadBytes(buckets, uint64_t{size} * 8);
    if (!raw.ok()) {
      Fail(raw.status());
      return true;
    }
    for (uint32_t i = 0; i < size; ++i) {
      if (BudgetSpent()) return false;
      uint64_t v;
      std::memcpy(&v, raw->data() + uint64_t{i} * 8, 8);
      chain_seen_.clear();
      if (!WalkChain(v)) return false;
    }
    return true;
  }

  // __rht_bucket_nested: the top level has 2^nest slots, lower levels 2^kNestedShift each.
  absl::StatusOr<std::optional<Kva>> NestedBucket(Kva top, uint32_t nest, uint32_t size,
                                                  uint32_t hash) {
    uint32_t index = hash & ((1u << nest) - 1);
    uint32_t level_size = size >> nest;
    uint32_t subhash = hash >> nest;
    absl::StatusOr<uint64_t> ntbl = reader_.ReadU64(top + uint64_t{index} * 8);
    if (!ntbl.ok()) return ntbl.status();
    for (uint32_t level = 0; *ntbl != 0 && level_size > (1u << kNestedShift); ++level) {
      if (level >= kMaxNestedLevels) return BadData("nested bucket table too deep");
      index = subhash & ((1u << kNestedShift) - 1);
      ntbl = reader_.ReadU64(Kva(*ntbl + uint64_t{index} * 8));
      if (!ntbl.ok()) return ntbl.status();
      level_size >>= kNestedShift;
      subhash >>= kNestedShift;
    }
    if (*ntbl == 0) return std::optional<Kva>();
    return std::optional<Kva>(Kva(*ntbl + uint64_t{subhash} * 8));
  }

  bool WalkNested(Kva buckets, uint32_t nest, uint32_t size, uint32_t count) {
    if (nest >= 32) {
      Fail(BadData(absl::StrCat("bucket_table.nest ", nest, " out of range")));
      return true;
    }
    absl::StatusOr<uint64_t> top = reader_.ReadU64(buckets);
    if (!top.ok()) {
      Fail(top.status());
      return true;
    }
    for (uint32_t hash = 0; hash < count; ++hash) {
      if (BudgetSpent()) return false;
      absl::StatusOr<std::optional<Kva>> bucket = NestedBucket(Kva(*top), nest, size, hash);
      if (!bucket.ok()) {
        Fail(bucket.status());
        continue;
      }
      if (!bucket->has_value()) continue;
      absl::StatusOr<uint64_t> v = reader_.ReadU64(**bucket);
      if (!v.ok()) {
        Fail(v.status());
        continue;
      }
      chain_seen_.clear();
      if (!WalkChain(*v)) return false;
    }
    return true;
  }

  bool WalkTable(Kva tbl) {
    absl::StatusOr<uint32_t> size = reader_.ReadU32(tbl + off_.tbl_size);
    absl::StatusOr<uint32_t> nest = reader_.ReadU32(tbl + off_.tbl_nest);
    if (!size.ok() || !nest.ok()) {
      Fail(!size.ok() ? size.status() : nest.status());
      return true;
    }
    uint32_t n = *size;
    if (n > limits_.max_buckets) {
      out_.truncated = true;
      n = limits_.max_buckets;
    }
    const Kva buckets = tbl + off_.tbl_buckets;
    return *nest == 0 ? WalkFlat(buckets, n) : WalkNested(buckets, *nest, *size, n);
  }

 private:
  Reader& reader_;
  const RhashtableOffsets& off_;
  const RhashtableLimits& limits_;
  RhashtableWalk& out_;
  absl::flat_hash_set<uint64_t> seen_;        // across tables: dedupe moved entries
  absl::flat_hash_set<uint64_t> chain_seen_;  // within one chain: cycle guard
};

}  // namespace

Group<RhashtableOffsets> ResolveRhashtableOffsets(const OffsetResolver& resolver,
                                                  OffsetGroupReport* report) {
  return ResolveGroup<RhashtableOffsets>(
      resolver, "rhashtable",
      [](OffsetGroup& g, RhashtableOffsets& off) {
        off.ht_tbl = g.Offset("rhashtable.tbl");
        off.ht_nelems = g.Offset("rhashtable.nelems");
        off.tbl_size = g.Offset("bucket_table.size");
        off.tbl_nest = g.Offset("bucket_table.nest");
        off.tbl_future_tbl = g.Offset("bucket_table.future_tbl");
        off.tbl_buckets = g.Offset("bucket_table.buckets");
        off.head_next = g.Offset("rhash_head.next");
      },
      report);
}

RhashtableWalk RhashtableForEach(Reader& reader, Kva table, const RhashtableOffsets& off,
                                 const RhashtableLimits& limits) {
  RhashtableWalk out;
  absl::StatusOr<uint64_t> tbl = reader.ReadU64(table + off.ht_tbl);
  if (!tbl.ok()) {
    out.first_error = tbl.status();
    return out;
  }
  out.root_ok = true;
  if (absl::StatusOr<int32_t> n = reader.ReadS32(table + off.ht_nelems); n.ok()) out.nelems = *n;

  Walker walker(reader, off, limits, out);
  absl::flat_hash_set<uint64_t> tables_seen;
  uint64_t t = *tbl;
  while (t != 0) {
    if (out.tables >= limits.max_tables || !tables_seen.insert(t).second) {
      out.truncated = true;
      break;
    }
    ++out.tables;
    if (!walker.WalkTable(Kva(t))) break;
    absl::StatusOr<uint64_t> future = reader.ReadU64(Kva(t) + off.tbl_future_tbl);
    if (!future.ok()) {
      walker.Fail(future.status());
      break;
    }
    if (*future != 0) out.resizing = true;
    t = *future;
  }
  return out;
}

}  // namespace kfreeze::ds
