// xa_node traversal: depth-first, ascending index, cycle- and shift-checked.
#include "core/ds/xarray.h"

#include <bit>

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze::ds {

Group<IdrOffsets> ResolveIdrOffsets(const OffsetResolver& resolver, OffsetGroupReport* report) {
  Group<IdrOffsets> g =
      ResolveGroup<IdrOffsets>(resolver, "idr", [](OffsetGroup& g, IdrOffsets& v) {
        v.xa_head = g.Offset("idr.idr_rt.xa_head");
        v.idr_base = g.OptionalOffset("idr.idr_base");
        v.node_shift = g.Offset("xa_node.shift");
        const MemberLocation slots = g.Member("xa_node.slots");
        v.node_slots = slots.ByteOffset();
        v.chunk_size = slots.array_len.value_or(0);
      });
  const uint32_t n = g->chunk_size;
  if (g.ok() && (n < 2 || n > kMaxXaChunkSize || !std::has_single_bit(n))) {
    g.status =
        absl::NotFoundError(absl::StrCat("offset group 'idr': xa_node.slots length ", n,
                                         " is not a power of 2 in [2, ", kMaxXaChunkSize, "]"));
  }
  g->chunk_shift = g.ok() ? std::countr_zero(n) : 0;
  if (report != nullptr) report->Add("idr", g.status);
  return g;
}

namespace {

// Internal entries have the low two bits 10; node pointers are the internal entries above 4096
// (xa_is_node); below that are sibling, retry and zero entries.
bool IsInternal(uint64_t e) { return (e & 3) == 2; }
bool IsNode(uint64_t e) { return IsInternal(e) && e > 4096; }
bool IsValue(uint64_t e) { return (e & 1) != 0; }

class Walker {
 public:
  Walker(Reader& reader, const IdrOffsets& off, size_t max_entries, XaWalk& out)
      : reader_(reader), off_(off), max_entries_(max_entries), out_(out) {}

  // `expected_shift` < 0 for the root, whose shift is taken as read (but bounded).
  void Node(Kva node, uint64_t base, int expected_shift) {
    if (Stopped()) return;
    if (!visited_.insert(node.value).second) {
      return Error(BadData(absl::StrCat("xa_node ", Hex(node), " reached twice (cycle)")));
    }
    if (++out_.nodes_visited > kMaxXaNodes) {
      out_.truncated = true;
      return;
    }
    absl::StatusOr<uint8_t> shift = reader_.ReadU8(node + off_.node_shift);
    if (!shift.ok()) return Error(shift.status());
    if (*shift >= 64 || *shift % off_.chunk_shift != 0 ||
        (expected_shift >= 0 && *shift != expected_shift)) {
      return Error(BadData(absl::StrCat("xa_node ", Hex(node), " has shift ", *shift)));
    }
    slots_.resize(off_.chunk_size);
    absl::Status st = reader_.ReadVirt(
        node + off_.node_slots,
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(slots_.data()), slots_.size() * 8));
    if (!st.ok()) return Error(st);
    // Recursion reuses slots_, so keep this node's copy.
    const std::vector<uint64_t> slots = slots_;
    for (uint32_t i = 0; i < off_.chunk_size && !Stopped(); ++i) {
      const uint64_t e = slots[i];
      if (e == 0) continue;
      const uint64_t index = base + (uint64_t{i} << *shift);
      if (IsNode(e)) {
        if (*shift == 0) {
          Error(BadData(absl::StrCat("xa_node ", Hex(node), " at shift 0 points to a node")));
          continue;
        }
        Node(Kva(e - 2), index, *shift - static_cast<int>(off_.chunk_shift));
      } else {
        Leaf(index, e);
      }
    }
  }

  void Leaf(uint64_t index, uint64_t e) {
    if (IsInternal(e) || IsValue(e)) {
      ++out_.skipped_internal;
      return;
    }
    if (out_.entries.size() >= max_entries_) {
      out_.truncated = true;
      return;
    }
    out_.entries.push_back({index, Kva(e)});
  }

  // A cap or the dump's budget (deadline included) ends the walk.
  bool Stopped() {
    if (!out_.truncated && reader_.BudgetExhausted()) {
      out_.truncated = true;
      Error(reader_.budget()->status());
    }
    return out_.truncated;
  }

 private:
  void Error(absl::Status st) {
    if (out_.errors++ == 0) out_.first_error = std::move(st);
  }

  Reader& reader_;
  const IdrOffsets& off_;
  size_t max_entries_;
  XaWalk& out_;
  absl::flat_hash_set<uint64_t> visited_;
  std::vector<uint64_t> slots_;
};

}  // namespace

XaWalk XaForEach(Reader& reader, Kva xa_head_field, const IdrOffsets& offsets, size_t max_entries) {
  XaWalk out;
  absl::StatusOr<uint64_t> head = reader.ReadU64(xa_head_field);
  if (!head.ok()) {
    out.root_lost = true;
    out.errors = 1;
    out.first_error = head.status();
    return out;
  }
  // The slot count sizes a per-node buffer: whoever built `offsets`, it must be one the kernel
  // can have (ResolveIdrOffsets says the same), never a guest-BTF 2^31.
  const uint32_t n = offsets.chunk_size;
  if (n < 2 || n > kMaxXaChunkSize || !std::has_single_bit(n) ||
      offsets.chunk_shift != static_cast<uint32_t>(std::countr_zero(n))) {
    out.root_lost = true;
    out.errors = 1;
    out.first_error = BadData(absl::StrCat("xa_node.slots length ", n,
                                           " is not a power of 2 in [2, ", kMaxXaChunkSize, "]"));
    return out;
  }
  Walker walker(reader, offsets, max_entries, out);
  if (*head == 0) return out;
  if (IsNode(*head)) {
    walker.Node(Kva(*head - 2), 0, -1);
  } else {
    walker.Leaf(0, *head);  // a single entry at index 0 lives in xa_head itself
  }
  return out;
}

}  // namespace kfreeze::ds
