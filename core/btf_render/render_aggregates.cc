// Aggregate kinds: STRUCT/UNION (with bitfields), ARRAY (capped; char arrays also as text) and
// DATASEC (a global section such as .bss rendered as a struct of its variables).
#include <bpf/btf.h>

#include "absl/strings/str_cat.h"
#include "core/btf_render/renderer.h"

namespace kfreeze::btf_render::internal {
namespace {

// bpftool's string rule, so our text matches its `formatted` output: an array of (modifier-
// peeled, typedefs kept) 1-byte chars whose bytes are printable up to a NUL inside the array.
bool AsText(const struct btf* btf, const btf_type* array, Bytes bytes, std::string* text) {
  const struct btf_array* arr = btf_array(array);
  if (arr->nelems == 0) return false;
  const btf_type* elem = btf__type_by_id(btf, arr->type);
  for (int hops = 0; elem != nullptr && btf_is_mod(elem) && hops < 32; ++hops) {
    elem = btf__type_by_id(btf, elem->type);
  }
  if (elem == nullptr || !IsCharInt(btf, elem)) return false;
  const size_t n = std::min<size_t>(arr->nelems, bytes.size());
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] == 0) {
      text->assign(reinterpret_cast<const char*>(bytes.data()), i);
      return true;
    }
    if (bytes[i] < 0x20 || bytes[i] >= 0x7f) return false;
  }
  return false;
}

Bytes From(Bytes bytes, uint64_t offset) {
  return offset >= bytes.size() ? Bytes() : bytes.subspan(offset);
}

}  // namespace

void Renderer::RenderComposite(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out) {
  auto* sv = out->mutable_struct_();
  if (t->name_off != 0) {
    if (std::string name = Name(t->name_off); !name.empty()) sv->set_type_name(std::move(name));
  }
  const bool short_bytes = bytes.size() < t->size;
  const struct btf_member* members = btf_members(t);
  const uint32_t vlen = btf_vlen(t);
  for (uint32_t i = 0; i < vlen; ++i) {
    uint32_t bit_offset = btf_member_bit_offset(t, i);
    uint32_t bitfield_bits = btf_member_bitfield_size(t, i);
    // Members entirely past a short (truncated) prefix are left out; the Truncated wrapper says so.
    if (short_bytes && bit_offset / 8 >= bytes.size()) continue;
    auto* member = sv->add_members();
    member->set_name(Name(members[i].name_off));
    uint32_t member_id = members[i].type;
    std::string reason;
    const btf_type* mt = Peel(&member_id, &reason);
    if (mt == nullptr) {
      Note(reason);
      Unsupported(std::move(reason), member->mutable_value());
      continue;
    }
    // Without kflag a bitfield is described by the INT's own offset/bits.
    if (!btf_kflag(t) && btf_kind(mt) == BTF_KIND_INT &&
        (btf_int_offset(mt) != 0 || btf_int_bits(mt) != mt->size * 8)) {
      bitfield_bits = btf_int_bits(mt);
      bit_offset += btf_int_offset(mt);
    }
    if (bitfield_bits == 0 && bit_offset % 8 != 0) bitfield_bits = mt->size * 8;
    if (bitfield_bits != 0) {
      RenderBitfield(mt, bytes, bit_offset, bitfield_bits, member->mutable_value());
    } else {
      RenderType(members[i].type, From(bytes, bit_offset / 8), depth + kMemberLevels,
                 member->mutable_value());
    }
  }
}

void Renderer::RenderArray(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out) {
  const struct btf_array* arr = btf_array(t);
  auto* av = out->mutable_array();
  av->set_len(arr->nelems);
  uint32_t elem_id = arr->type;
  std::string reason;
  const btf_type* et = Peel(&elem_id, &reason);
  uint64_t elem_size = 0;
  if (et == nullptr || !SizeOf(elem_id, et, &elem_size, &reason)) {
    Note(reason);
    if (arr->nelems > 0) Unsupported(std::move(reason), av->add_elements());
    return;
  }
  uint64_t limit = arr->nelems;
  if (limit > options_.caps.max_array_elements) {
    limit = options_.caps.max_array_elements;
    Note(absl::StrCat("array of ", arr->nelems, " elements capped at ", limit));
  }
  for (uint64_t i = 0; i < limit; ++i) {
    const uint64_t offset = i * elem_size;  // < 2^32 * 2^32 / ...: resolve_size checked the product
    if (elem_size > 0 && offset >= bytes.size()) break;  // past a truncated prefix
    RenderType(arr->type, From(bytes, offset), depth + kElementLevels, av->add_elements());
    if (nodes_ > options_.caps.max_nodes) break;
  }
  std::string text;
  if (AsText(btf_, t, bytes, &text)) av->set_text(std::move(text));
}

void Renderer::RenderDatasec(const btf_type* t, Bytes bytes, uint32_t depth, RenderedValue* out) {
  auto* sv = out->mutable_struct_();
  sv->set_type_name(Name(t->name_off));
  const struct btf_var_secinfo* vars = btf_var_secinfos(t);
  const uint32_t vlen = btf_vlen(t);
  for (uint32_t i = 0; i < vlen; ++i) {
    const btf_type* var = btf__type_by_id(btf_, vars[i].type);
    auto* member = sv->add_members();
    if (var == nullptr || btf_kind(var) != BTF_KIND_VAR) {
      member->set_name(absl::StrCat("<secinfo ", i, ">"));
      Unsupported(absl::StrCat("datasec entry ", i, " is not a variable (type ", vars[i].type, ")"),
                  member->mutable_value());
      Note("datasec entry is not a variable");
      continue;
    }
    member->set_name(Name(var->name_off));
    Bytes slice = From(bytes, vars[i].offset);
    if (slice.size() > vars[i].size) slice = slice.first(vars[i].size);
    RenderType(var->type, slice, depth + kMemberLevels, member->mutable_value());
  }
}

}  // namespace kfreeze::btf_render::internal
