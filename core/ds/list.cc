// ListForEach: one 16-byte read per node gives both links, so the back-link check is free.
#include "core/ds/list.h"

#include <array>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze::ds {
namespace {

struct Links {
  uint64_t next = 0;
  uint64_t prev = 0;
};

absl::StatusOr<Links> ReadLinks(Reader& reader, Kva node) {
  std::array<uint8_t, 16> raw;
  absl::Status s = reader.ReadVirt(node, raw);
  if (!s.ok()) return s;
  Links links;
  std::memcpy(&links.next, raw.data() + kListNextOffset, 8);
  std::memcpy(&links.prev, raw.data() + kListPrevOffset, 8);
  return links;
}

}  // namespace

ListWalk ListForEach(Reader& reader, Kva head, size_t max_nodes) {
  ListWalk walk;
  absl::StatusOr<Links> head_links = ReadLinks(reader, head);
  if (!head_links.ok()) {
    walk.error = head_links.status();
    return walk;
  }
  absl::flat_hash_set<uint64_t> visited;
  Kva prev = head;
  Kva node(head_links->next);
  while (node != head) {
    if (node.IsNull()) {
      walk.error = BadData(absl::StrCat("NULL next pointer after ", Hex(prev)));
      return walk;
    }
    if (reader.BudgetExhausted()) {
      walk.error = reader.budget()->status();
      return walk;
    }
    if (walk.nodes.size() >= max_nodes) {
      walk.truncated = true;
      return walk;
    }
    if (!visited.insert(node.value).second) {
      walk.cycle = true;
      return walk;
    }
    absl::StatusOr<Links> links = ReadLinks(reader, node);
    if (!links.ok()) {
      walk.error = links.status();
      return walk;
    }
    if (links->prev != prev.value) ++walk.broken_back_links;
    walk.nodes.push_back(node);
    prev = node;
    node = Kva(links->next);
  }
  return walk;
}

}  // namespace kfreeze::ds
