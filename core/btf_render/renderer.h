// Internal: the per-call rendering state shared by the kind renderers (render_*.cc).
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/base/reasons.h"
#include "core/btf_render/render.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::btf_render::internal {

using Bytes = absl::Span<const uint8_t>;
using kfreeze::v1::RenderedValue;

class Renderer {
 public:
  Renderer(const struct btf* btf, const RenderOptions& options, RenderNotes* notes)
      : btf_(btf), options_(options), notes_(notes) {}

  // Message levels each nesting adds below a RenderedValue (RenderCaps::max_depth counts them).
  static constexpr uint32_t kMemberLevels = 3;   // StructValue, StructMember, RenderedValue
  static constexpr uint32_t kElementLevels = 2;  // ArrayValue, RenderedValue
  static constexpr uint32_t kDerefLevels = 2;    // PtrValue, RenderedValue
  static constexpr uint32_t kPartialLevels = 2;  // TruncatedValue, RenderedValue

  // Renders type `id` over `bytes`; wraps in Truncated when bytes are short of the type's size.
  // `depth` is the message nesting of `out` below the top value.
  void RenderType(uint32_t id, Bytes bytes, uint32_t depth, RenderedValue* out);

  // Kind renderers; `t` is already peeled and `bytes` holds at least its size (except composites,
  // arrays and datasecs, which render whatever prefix they get).
  void RenderInt(const btf_type* t, Bytes bytes, RenderedValue* out);
  void RenderFloat(const btf_type* t, Bytes bytes, RenderedValue* out);
  void RenderEnum(const btf_type* t, Bytes bytes, RenderedValue* out);
  void RenderComposite(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out);
  void RenderArray(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out);
  void RenderDatasec(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out);
  void RenderPtr(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out);

  // A bitfield member of a struct: `bits` bits at `bit_offset` of `bytes` as int/enum type `t`.
  void RenderBitfield(const btf_type* t, Bytes bytes, uint32_t bit_offset, uint32_t bits,
                      RenderedValue* out);
  // An enum value `raw` of width `bits` with its variant name when one matches.
  void FillEnum(const btf_type* t, uint64_t raw, uint32_t bits, RenderedValue* out);

  // Follows typedef/modifier links from `*id`; null (with `*reason`) on a bad id or a loop.
  const btf_type* Peel(uint32_t* id, std::string* reason) const;
  // Size in bytes of peeled type `t` (id `id`), or an error reason.
  bool SizeOf(uint32_t id, const btf_type* t, uint64_t* size, std::string* reason) const;
  // Name of a string offset; "" when absent or out of range.
  // A BTF name as valid UTF-8 (program BTF comes from guest memory).
  std::string Name(uint32_t name_off) const;
  uint32_t PointerSize() const;

  void Unsupported(std::string reason, RenderedValue* out) {
    out->mutable_unsupported()->set_reason(std::move(reason));
  }
  void Note(std::string message) {
    if (notes_ != nullptr) notes_->Add(std::move(message));
  }
  const RenderOptions& options() const { return options_; }

 private:
  void RenderKind(uint32_t id, const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out);
  bool ChargeNode(RenderedValue* out);

  const struct btf* btf_;
  const RenderOptions& options_;
  RenderNotes* notes_;
  uint64_t nodes_ = 0;
  bool budget_noted_ = false;
  std::vector<uint64_t> chase_stack_;  // arena addresses being chased, for cycle detection

  friend class PtrChase;
};

// Little-endian unsigned read of bytes.size() <= 8 bytes.
uint64_t LoadLe(Bytes bytes);
// Sign-extends the low `bits` bits of `v`.
int64_t SignExtend(uint64_t v, uint32_t bits);
// True for a 1-byte int that is a C char (BTF_INT_CHAR encoding or named "char"): bpftool's rule.
bool IsCharInt(const struct btf* btf, const btf_type* t);

}  // namespace kfreeze::btf_render::internal
