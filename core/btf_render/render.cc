// The kind switch of the BTF value renderer: peel, size-check, dispatch (see render.h).
#include "core/btf_render/render.h"

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/guest_text.h"
#include "core/btf_render/hex.h"
#include "core/btf_render/renderer.h"

namespace kfreeze::btf_render {

void RenderNotes::Add(std::string message) {
  for (auto& [text, count] : entries_) {
    if (text == message) {
      ++count;
      return;
    }
  }
  if (entries_.size() >= kMaxDistinct) {
    ++dropped_;
    return;
  }
  entries_.emplace_back(std::move(message), 1);
}

std::string RenderNotes::Summary() const {
  std::string out;
  for (const auto& [text, count] : entries_) {
    if (!out.empty()) out += "; ";
    out += text;
    if (count > 1) absl::StrAppend(&out, " (x", count, ")");
  }
  if (dropped_ > 0) absl::StrAppend(&out, "; ", dropped_, " more notes dropped");
  return out;
}

namespace internal {

uint64_t LoadLe(Bytes bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) v |= uint64_t{bytes[i]} << (8 * i);
  return v;
}

int64_t SignExtend(uint64_t v, uint32_t bits) {
  if (bits == 0 || bits >= 64) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  v &= (uint64_t{1} << bits) - 1;
  return static_cast<int64_t>((v ^ sign) - sign);
}

bool IsCharInt(const struct btf* btf, const btf_type* t) {
  if (btf_kind(t) != BTF_KIND_INT || t->size != 1) return false;
  if (btf_int_encoding(t) & BTF_INT_CHAR) return true;
  const char* name = btf__name_by_offset(btf, t->name_off);
  return name != nullptr && std::strcmp(name, "char") == 0;
}

std::string Renderer::Name(uint32_t name_off) const {
  const char* name = btf__name_by_offset(btf_, name_off);
  return name != nullptr ? GuestText(name) : std::string();
}

const btf_type* Renderer::Peel(uint32_t* id, std::string* reason) const {
  for (uint32_t hops = 0; hops <= options_.caps.max_modifier_chain; ++hops) {
    const btf_type* t = btf__type_by_id(btf_, *id);
    if (t == nullptr) {
      *reason = absl::StrCat("type id ", *id, " not in BTF");
      return nullptr;
    }
    switch (btf_kind(t)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
      case BTF_KIND_DECL_TAG:
      case BTF_KIND_VAR:
        *id = t->type;
        continue;
      default:
        return t;
    }
  }
  *reason = std::string(kRenderReasonModifierLoop);
  return nullptr;
}

bool Renderer::SizeOf(uint32_t id, const btf_type* t, uint64_t* size, std::string* reason) const {
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_FLOAT:
    case BTF_KIND_DATASEC:
      *size = t->size;
      return true;
    case BTF_KIND_PTR:
      *size = PointerSize();
      return true;
    case BTF_KIND_ARRAY: {
      // libbpf checks nelems * elem_size for overflow and bounds the element chain depth.
      const long long s = btf__resolve_size(btf_, id);
      if (s < 0) {
        *reason = absl::StrCat("array type ", id, " has no resolvable size (errno ", -s, ")");
        return false;
      }
      *size = static_cast<uint64_t>(s);
      return true;
    }
    case BTF_KIND_FWD:
      *reason = std::string(kRenderReasonFwd);
      return false;
    case BTF_KIND_UNKN:
      *reason = std::string(kRenderReasonVoid);
      return false;
    case BTF_KIND_FUNC:
    case BTF_KIND_FUNC_PROTO:
      *reason = std::string(kRenderReasonFuncType);
      return false;
    default:
      *reason = absl::StrCat(kRenderReasonUnsupportedKindPrefix, btf_kind(t));
      return false;
  }
}

uint32_t Renderer::PointerSize() const {
  // Program and vmlinux BTF of a 64-bit guest; libbpf guesses 0 when the BTF has no `long`.
  const size_t size = btf__pointer_size(btf_);
  return size == 4 ? 4 : 8;
}

bool Renderer::ChargeNode(RenderedValue* out) {
  if (++nodes_ <= options_.caps.max_nodes) return true;
  Unsupported(std::string(kRenderReasonNodeBudget), out);
  if (!budget_noted_) {
    budget_noted_ = true;
    Note(absl::StrCat(kRenderReasonNodeBudget, " (", options_.caps.max_nodes, " nodes)"));
  }
  return false;
}

void Renderer::RenderType(uint32_t id, Bytes bytes, uint32_t depth, RenderedValue* out) {
  if (!ChargeNode(out)) return;
  if (depth > options_.caps.max_depth) {
    Unsupported(std::string(kRenderReasonDepthCap), out);
    Note(absl::StrCat(kRenderReasonDepthCap, " (", options_.caps.max_depth, ")"));
    return;
  }
  std::string reason;
  uint32_t peeled_id = id;
  const btf_type* t = Peel(&peeled_id, &reason);
  uint64_t size = 0;
  if (t == nullptr || !SizeOf(peeled_id, t, &size, &reason)) {
    Note(reason);
    Unsupported(std::move(reason), out);
    return;
  }
  if (bytes.size() < size) {
    auto* truncated = out->mutable_truncated();
    truncated->set_needed(size);
    truncated->set_had(bytes.size());
    const uint16_t kind = btf_kind(t);
    const bool aggregate = kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION ||
                           kind == BTF_KIND_ARRAY || kind == BTF_KIND_DATASEC;
    if (aggregate) {
      RenderKind(peeled_id, t, bytes, depth + kPartialLevels, truncated->mutable_partial());
    } else {
      truncated->mutable_partial()->mutable_bytes()->set_hex(HexBytes(bytes));
    }
    Note(absl::StrCat("value truncated: ", bytes.size(), " of ", size, " bytes"));
    return;
  }
  RenderKind(peeled_id, t, bytes.first(size), depth, out);
}

void Renderer::RenderKind(uint32_t id, const btf_type* t, Bytes bytes, uint32_t depth,
                          RenderedValue* out) {
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
      return RenderInt(t, bytes, out);
    case BTF_KIND_FLOAT:
      return RenderFloat(t, bytes, out);
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return RenderEnum(t, bytes, out);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      return RenderComposite(t, bytes, depth, out);
    case BTF_KIND_ARRAY:
      return RenderArray(t, bytes, depth, out);
    case BTF_KIND_DATASEC:
      return RenderDatasec(t, bytes, depth, out);
    case BTF_KIND_PTR:
      return RenderPtr(t, bytes, depth, out);
    default:
      // SizeOf admits only the kinds above; reaching here means a kind was added there only.
      return Unsupported(
          absl::StrCat(kRenderReasonUnsupportedKindPrefix, btf_kind(t), " (type ", id, ")"), out);
  }
}

}  // namespace internal

void RenderInto(const struct btf* btf, uint32_t type_id, absl::Span<const uint8_t> bytes,
                kfreeze::v1::RenderedValue* out, const RenderOptions& options, RenderNotes* notes) {
  out->Clear();
  if (btf == nullptr) {
    out->mutable_unsupported()->set_reason(std::string(kRenderReasonNoBtf));
    return;
  }
  internal::Renderer renderer(btf, options, notes);
  renderer.RenderType(type_id, bytes, 0, out);
}

kfreeze::v1::RenderedValue Render(const struct btf* btf, uint32_t type_id,
                                  absl::Span<const uint8_t> bytes, const RenderOptions& options,
                                  RenderNotes* notes) {
  kfreeze::v1::RenderedValue out;
  RenderInto(btf, type_id, bytes, &out, options, notes);
  return out;
}

kfreeze::v1::RenderedValue RenderUnreadable(const struct btf* btf, uint32_t type_id,
                                            absl::Span<const uint8_t> prefix, uint64_t needed,
                                            absl::string_view reason, const RenderOptions& options,
                                            RenderNotes* notes) {
  if (notes != nullptr) notes->Add(std::string(reason));
  kfreeze::v1::RenderedValue out;
  if (!prefix.empty() && prefix.size() < needed) {
    out = Render(btf, type_id, prefix, options, notes);
    if (out.has_truncated()) return out;  // the usual case: the prefix is short of the type
  }
  auto* truncated = out.mutable_truncated();
  truncated->set_needed(needed);
  truncated->set_had(prefix.size());
  if (prefix.empty()) {
    truncated->mutable_partial()->mutable_unsupported()->set_reason(
        absl::StrCat(kRenderReasonUnreadablePrefix, reason));
  } else {
    truncated->mutable_partial()->mutable_bytes()->set_hex(HexBytes(prefix));
  }
  return out;
}

kfreeze::v1::RenderedValue RenderHex(absl::Span<const uint8_t> bytes) {
  kfreeze::v1::RenderedValue out;
  out.mutable_bytes()->set_hex(HexBytes(bytes));
  return out;
}

}  // namespace kfreeze::btf_render
