// BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): a binary trie of lpm_trie_node {child[2],
// prefixlen, flags, data[]}; nodes without LPM_TREE_NODE_FLAG_IM hold a key (prefixlen +
// data_size bytes of data) and the value right after the data.
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {
constexpr uint64_t kLpmFlagIntermediate = 1;
// struct bpf_lpm_trie_key: u32 prefixlen, then data; the key is at most 256 bytes of data.
constexpr uint64_t kMaxLpmDataSize = 256;
}  // namespace

void RenderLpmTrie(MapContext& ctx) {
  if (!ctx.off().lpm.ok()) return ctx.Error(std::string(ctx.off().lpm.status.message()));
  const LpmOffsets& o = ctx.off().lpm.value;
  const BpfMapInfo& m = ctx.map();
  absl::StatusOr<uint64_t> root = ctx.reader().ReadU64(m.kva + o.root);
  absl::StatusOr<uint64_t> data_size = ReadField(ctx.reader(), m.kva, o.data_size);
  if (!root.ok() || !data_size.ok()) {
    return ctx.Unreadable(!root.ok() ? root.status() : data_size.status());
  }
  if (*data_size == 0 || *data_size > kMaxLpmDataSize || *data_size + 4 != m.key_size) {
    return ctx.Error(
        absl::StrCat("implausible lpm data_size ", *data_size, " for key_size ", m.key_size));
  }
  const uint64_t node_bytes = o.node_data + *data_size + m.value_size;
  std::vector<uint64_t> stack;
  if (*root != 0) stack.push_back(*root);
  absl::flat_hash_set<uint64_t> seen;
  std::vector<uint8_t> node;
  uint32_t visited = 0;
  while (!stack.empty()) {
    const uint64_t at = stack.back();
    stack.pop_back();
    if (!seen.insert(at).second) {
      ctx.Error(absl::StrCat("trie node ", Hex(at), " reached twice (cycle)"));
      continue;
    }
    if (++visited > ctx.caps().max_lpm_nodes) {
      ctx.Error(absl::StrCat("lpm trie walk stopped at ", ctx.caps().max_lpm_nodes, " nodes"));
      break;
    }
    // Intermediate nodes carry no value: read just the header and data for those too, the
    // flags say which kind it is only after the read.
    if (!ctx.ReadRaw(Kva(at), node_bytes, &node)) continue;
    uint64_t child[2];
    std::memcpy(child, node.data() + o.child, sizeof(child));
    absl::StatusOr<uint64_t> flags = LoadField(node, o.flags);
    absl::StatusOr<uint64_t> prefixlen = LoadField(node, o.prefixlen);
    if (!flags.ok() || !prefixlen.ok()) continue;
    if ((*flags & kLpmFlagIntermediate) == 0) {
      if (ctx.out()->lpm_entries_size() >= static_cast<int>(ctx.caps().max_hash_entries)) {
        ctx.Error(absl::StrCat("lpm trie truncated at ", ctx.caps().max_hash_entries, " entries"));
        break;
      }
      auto* e = ctx.out()->add_lpm_entries();
      e->set_prefixlen(static_cast<uint32_t>(*prefixlen));
      e->set_data_hex(node.data() + o.node_data, *data_size);
      std::span<const uint8_t> value(node.data() + o.node_data + *data_size, m.value_size);
      e->set_value_hex(value.data(), value.size());
      if (m.btf_value_type_id != 0) ctx.Render(m.btf_value_type_id, value, e->mutable_value());
    }
    // Right child first onto the stack so the left subtree (shorter/lower keys) comes out first.
    if (child[1] != 0) stack.push_back(child[1]);
    if (child[0] != 0) stack.push_back(child[0]);
  }
}

}  // namespace kfreeze::walkers::maps
