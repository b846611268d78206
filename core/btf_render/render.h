// BTF value renderer: guest bytes + a BTF type id -> kfreeze.v1.RenderedValue.
//
// One kind switch (libbpf's btf_dump_dump_type_data shape) with per-kind renderers. Input is
// hostile: the BTF may come from a corrupt guest and the bytes may be short. Nothing here fails;
// every shortfall becomes a Truncated/Unsupported node with a reason, and every cap that bites is
// counted in RenderNotes so the caller can report it. Bytes are never padded with zeros.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "kfreeze/v1/report.pb.h"

struct btf;

namespace kfreeze::btf_render {

// Bounds on the work one Render call may do.
struct RenderCaps {
  // Protobuf message levels below the top RenderedValue: a struct member costs 3 (StructValue,
  // StructMember, RenderedValue), an array element, a pointer chase or a truncation wrapper 2.
  // Counted in messages, not types, because protobuf refuses deeper messages: its JSON printer
  // stops at 64 levels and its parser (every gRPC client) at 100, counted from the envelope that
  // holds the value (up to ~10 levels). 44 is 15 nested structs or 22 pointer hops.
  uint32_t max_depth = 44;
  // typedef/const/volatile/restrict/type_tag links peeled for one type; a longer chain is a loop.
  uint32_t max_modifier_chain = 32;
  // Elements rendered per array; `ArrayValue.len` keeps the declared count.
  uint32_t max_array_elements = 4096;
  // Bytes read behind one chased (arena) pointer.
  uint32_t max_pointer_chase_bytes = 4096;
  // RenderedValue nodes per Render call: caps nested arrays of zero-sized or tiny elements that
  // a corrupt BTF could multiply into billions of nodes.
  uint64_t max_nodes = uint64_t{1} << 20;
};

// Arena memory as captured by the map walker. The renderer chases a pointer only when this says
// the address is an arena address; kernel pointers are printed, never dereferenced.
class ArenaMemory {
 public:
  virtual ~ArenaMemory() = default;
  // True when `addr` lies in the arena's user-visible range.
  virtual bool Contains(uint64_t addr) const = 0;
  // Copies out.size() bytes at arena address `addr`, or says why not (e.g. page not captured).
  virtual absl::Status Read(uint64_t addr, absl::Span<uint8_t> out) const = 0;
};

struct RenderOptions {
  RenderCaps caps;
  const ArenaMemory* arena = nullptr;  // null: no pointer is chased
};

// What one or more renders ran into (caps hit, broken BTF), each distinct message with a count.
class RenderNotes {
 public:
  void Add(std::string message);
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<std::string, uint64_t>>& entries() const { return entries_; }
  // "msg; msg (x3)" in first-seen order.
  std::string Summary() const;

 private:
  // Distinct messages kept; beyond this only the overflow counter grows.
  static constexpr size_t kMaxDistinct = 16;
  std::vector<std::pair<std::string, uint64_t>> entries_;
  uint64_t dropped_ = 0;
};

// Renders `bytes` as BTF type `type_id`. If bytes are fewer than the type's size the result is
// Truncated{needed, had, partial} with the readable prefix rendered. `notes` may be null.
kfreeze::v1::RenderedValue Render(const struct btf* btf, uint32_t type_id,
                                  absl::Span<const uint8_t> bytes,
                                  const RenderOptions& options = {}, RenderNotes* notes = nullptr);

// Render() into an existing message (cleared first): no copy of the rendered tree.
void RenderInto(const struct btf* btf, uint32_t type_id, absl::Span<const uint8_t> bytes,
                kfreeze::v1::RenderedValue* out, const RenderOptions& options = {},
                RenderNotes* notes = nullptr);

// For a value that could not be read in full: Truncated{needed, had=prefix.size(), partial}, the
// partial being the render of `prefix`, or Unsupported{"unreadable: <reason>"} when nothing was
// read. `reason` is also added to `notes`.
kfreeze::v1::RenderedValue RenderUnreadable(const struct btf* btf, uint32_t type_id,
                                            absl::Span<const uint8_t> prefix, uint64_t needed,
                                            absl::string_view reason,
                                            const RenderOptions& options = {},
                                            RenderNotes* notes = nullptr);

// Raw bytes as a RenderedValue (Bytes{hex}): the form of untyped keys and values.
kfreeze::v1::RenderedValue RenderHex(absl::Span<const uint8_t> bytes);

}  // namespace kfreeze::btf_render
