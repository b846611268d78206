// OffsetResolver: BTF name indexes, member path walking and offset groups.
#include "core/btf/offset_resolver.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/caps.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

absl::string_view NameOf(const struct btf* btf, uint32_t name_off) {
  const char* s = btf__name_by_offset(btf, name_off);
  return s == nullptr ? absl::string_view() : absl::string_view(s);
}

// C spellings of integer types -> the DWARF names BTF carries.
absl::string_view CanonicalIntName(absl::string_view name) {
  static const std::pair<absl::string_view, absl::string_view> kAliases[] = {
      {"unsigned long", "long unsigned int"},
      {"long", "long int"},
      {"unsigned long long", "long long unsigned int"},
      {"long long", "long long int"},
      {"unsigned short", "short unsigned int"},
      {"short", "short int"},
      {"unsigned", "unsigned int"},
      {"signed char", "signed char"}};
  for (const auto& [c, btf_name] : kAliases) {
    if (name == c) return btf_name;
  }
  return name;
}

absl::StatusOr<uint64_t> ResolveSize(const struct btf* btf, uint32_t id) {
  long long size = btf__resolve_size(btf, id);
  if (size < 0) return BadData(absl::StrCat("BTF type ", id, " has no resolvable size"));
  return static_cast<uint64_t>(size);
}

// "slots[3][1]" -> name "slots", indices {3, 1}.
absl::Status SplitIndices(absl::string_view component, absl::string_view* name,
                          std::vector<uint64_t>* indices) {
  size_t bracket = component.find('[');
  *name = component.substr(0, bracket);
  absl::string_view rest = bracket == absl::string_view::npos ? "" : component.substr(bracket);
  while (!rest.empty()) {
    size_t close = rest.find(']');
    uint64_t index;
    if (rest[0] != '[' || close == absl::string_view::npos ||
        !absl::SimpleAtoi(rest.substr(1, close - 1), &index)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad index in path component '", component, "'"));
    }
    indices->push_back(index);
    rest.remove_prefix(close + 1);
  }
  if (name->empty()) return absl::InvalidArgumentError("empty path component");
  return absl::OkStatus();
}

}  // namespace

OffsetResolver::OffsetResolver(const struct btf* btf) : btf_(btf) {
  const uint32_t count = btf__type_cnt(btf);
  for (uint32_t id = 1; id < count; ++id) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    absl::string_view name = NameOf(btf, t->name_off);
    if (btf_is_composite(t)) {
      if (name.empty()) continue;
      auto [it, inserted] = composites_.try_emplace(name, id);
      if (!inserted && btf__type_by_id(btf, it->second)->size < t->size) it->second = id;
    } else if (btf_is_any_enum(t)) {
      if (!name.empty()) others_.try_emplace(name, id);
      const uint16_t vlen = btf_vlen(t);
      for (uint16_t i = 0; i < vlen; ++i) {
        if (btf_is_enum(t)) {
          const struct btf_enum* e = btf_enum(t) + i;
          int64_t v = btf_kflag(t) ? static_cast<int64_t>(e->val)
                                   : static_cast<int64_t>(static_cast<uint32_t>(e->val));
          enumerators_.try_emplace(NameOf(btf, e->name_off), v);
        } else {
          const struct btf_enum64* e = btf_enum64(t) + i;
          enumerators_.try_emplace(NameOf(btf, e->name_off),
                                   static_cast<int64_t>(btf_enum64_value(e)));
        }
      }
    } else if (!name.empty() && (btf_is_typedef(t) || btf_is_int(t) || btf_is_float(t))) {
      others_.try_emplace(name, id);
    }
  }
}

absl::StatusOr<uint32_t> OffsetResolver::FindComposite(absl::string_view name) const {
  absl::ConsumePrefix(&name, "struct ") || absl::ConsumePrefix(&name, "union ");
  auto it = composites_.find(name);
  if (it == composites_.end())
    return absl::NotFoundError(absl::StrCat("no struct/union '", name, "' in BTF"));
  return it->second;
}

absl::StatusOr<uint32_t> OffsetResolver::FindType(absl::string_view name) const {
  if (absl::StartsWith(name, "struct ") || absl::StartsWith(name, "union "))
    return FindComposite(name);
  absl::ConsumePrefix(&name, "enum ");
  if (auto it = composites_.find(name); it != composites_.end()) return it->second;
  if (auto it = others_.find(CanonicalIntName(name)); it != others_.end()) return it->second;
  return absl::NotFoundError(absl::StrCat("no type '", name, "' in BTF"));
}

absl::StatusOr<uint64_t> OffsetResolver::SizeOf(absl::string_view type_name) const {
  KF_ASSIGN_OR_RETURN(uint32_t id, FindType(type_name));
  return ResolveSize(btf_, id);
}

absl::StatusOr<uint32_t> OffsetResolver::SkipModsAndTypedefs(uint32_t id) const {
  for (int depth = 0; depth < caps::kBtfMaxResolveDepth; ++depth) {
    const struct btf_type* t = btf__type_by_id(btf_, id);
    if (t == nullptr) return BadData(absl::StrCat("BTF type id ", id, " out of range"));
    if (!btf_is_mod(t) && !btf_is_typedef(t)) return id;
    id = t->type;
  }
  return BadData(
      absl::StrCat("BTF typedef/modifier chain deeper than ", caps::kBtfMaxResolveDepth));
}

absl::Status OffsetResolver::MemberWithin(const struct btf_type* t, uint16_t index,
                                          absl::string_view looked_up) const {
  const struct btf_member* m = btf_members(t) + index;
  const uint64_t bit_offset = btf_member_bit_offset(t, index);
  uint64_t bits = btf_member_bitfield_size(t, index);
  if (bits == 0) {
    absl::StatusOr<uint64_t> bytes = ResolveSize(btf_, m->type);
    if (!bytes.ok()) {
      return BadData(absl::StrCat("BTF member '", NameOf(btf_, m->name_off), "' of ",
                                  NameOf(btf_, t->name_off), ": ", bytes.status().message()));
    }
    bits = *bytes * 8;
  }
  // A guest BTF member past its struct would send every read of it into the next object.
  if (bit_offset + bits > uint64_t{t->size} * 8) {
    return BadData(absl::StrCat("BTF member '", NameOf(btf_, m->name_off), "' (looking up '",
                                looked_up, "') at bit ", bit_offset, " + ", bits,
                                " bits lies past the end of ", NameOf(btf_, t->name_off), " (",
                                t->size, " bytes)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MemberLocation> OffsetResolver::FindMember(uint32_t composite_id,
                                                          absl::string_view name, int depth) const {
  if (depth >= caps::kBtfMaxResolveDepth) return BadData("anonymous members nested too deeply");
  const struct btf_type* t = btf__type_by_id(btf_, composite_id);
  const struct btf_member* m = btf_members(t);
  const uint16_t vlen = btf_vlen(t);
  for (uint16_t i = 0; i < vlen; ++i, ++m) {
    absl::string_view member_name = NameOf(btf_, m->name_off);
    const uint32_t bit_offset = btf_member_bit_offset(t, i);
    if (member_name == name) {
      KF_RETURN_IF_ERROR(MemberWithin(t, i, name));
      MemberLocation loc;
      loc.bit_offset = bit_offset;
      loc.bitfield_bits = btf_member_bitfield_size(t, i);
      loc.type_id = m->type;
      return loc;
    }
    if (!member_name.empty()) continue;
    // Anonymous struct/union: its members belong to the enclosing type.
    KF_ASSIGN_OR_RETURN(uint32_t inner, SkipModsAndTypedefs(m->type));
    if (!btf_is_composite(btf__type_by_id(btf_, inner))) continue;
    KF_RETURN_IF_ERROR(MemberWithin(t, i, name));
    absl::StatusOr<MemberLocation> found = FindMember(inner, name, depth + 1);
    if (found.ok()) {
      found->bit_offset += bit_offset;
      return found;
    }
    if (found.status().code() != absl::StatusCode::kNotFound) return found.status();
  }
  return absl::NotFoundError(absl::StrCat(btf_is_union(t) ? "union " : "struct ",
                                          NameOf(btf_, t->name_off), " has no member '", name,
                                          "'"));
}

absl::StatusOr<MemberLocation> OffsetResolver::Member(absl::string_view path) const {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  if (parts.size() < 2 || parts.size() > caps::kMaxMemberPathComponents) {
    return absl::InvalidArgumentError(absl::StrCat("member path '", path, "' needs type.member"));
  }
  KF_ASSIGN_OR_RETURN(uint32_t current, FindComposite(parts[0]));
  MemberLocation loc;
  for (size_t p = 1; p < parts.size(); ++p) {
    KF_ASSIGN_OR_RETURN(uint32_t composite, SkipModsAndTypedefs(current));
    if (!btf_is_composite(btf__type_by_id(btf_, composite))) {
      return absl::InvalidArgumentError(
          absl::StrCat("member path '", path, "': '", parts[p - 1],
                       "' is not a struct or union (pointers are not followed)"));
    }
    absl::string_view name;
    std::vector<uint64_t> indices;
    KF_RETURN_IF_ERROR(SplitIndices(parts[p], &name, &indices));
    KF_ASSIGN_OR_RETURN(MemberLocation step, FindMember(composite, name, 0));
    if (loc.bitfield_bits != 0) return absl::InvalidArgumentError("path descends into a bitfield");
    std::optional<uint64_t> sum = CheckedAdd(loc.bit_offset, step.bit_offset);
    if (!sum) return BadData("member offset overflows");
    loc.bit_offset = *sum;
    loc.bitfield_bits = step.bitfield_bits;
    current = step.type_id;
    for (uint64_t index : indices) {
      KF_ASSIGN_OR_RETURN(uint32_t array_id, SkipModsAndTypedefs(current));
      const struct btf_type* at = btf__type_by_id(btf_, array_id);
      if (!btf_is_array(at)) {
        return absl::InvalidArgumentError(
            absl::StrCat("member path '", path, "': '", name, "' is not an array"));
      }
      const struct btf_array* arr = btf_array(at);
      if (arr->nelems != 0 && index >= arr->nelems) {
        return absl::InvalidArgumentError(absl::StrCat("member path '", path, "': index ", index,
                                                       " >= array length ", arr->nelems));
      }
      KF_ASSIGN_OR_RETURN(uint64_t elem_size, ResolveSize(btf_, arr->type));
      std::optional<uint64_t> bits = CheckedMul(index, elem_size);
      if (bits) bits = CheckedMul(*bits, 8);
      if (bits) bits = CheckedAdd(loc.bit_offset, *bits);
      if (!bits) return BadData("array index offset overflows");
      loc.bit_offset = *bits;
      current = arr->type;
    }
  }
  loc.type_id = current;
  KF_ASSIGN_OR_RETURN(loc.byte_size, ResolveSize(btf_, current));
  KF_ASSIGN_OR_RETURN(uint32_t resolved, SkipModsAndTypedefs(current));
  const struct btf_type* rt = btf__type_by_id(btf_, resolved);
  if (btf_is_array(rt)) loc.array_len = btf_array(rt)->nelems;
  // Without kflag, old-style bitfields live in the int type's own offset/bits encoding.
  if (loc.bitfield_bits == 0 && btf_is_int(rt) &&
      (btf_int_offset(rt) != 0 || btf_int_bits(rt) != rt->size * 8)) {
    loc.bit_offset += btf_int_offset(rt);
    loc.bitfield_bits = btf_int_bits(rt);
  }
  return loc;
}

absl::StatusOr<uint64_t> OffsetResolver::Offset(absl::string_view path) const {
  KF_ASSIGN_OR_RETURN(MemberLocation loc, Member(path));
  if (loc.bitfield_bits != 0 || loc.bit_offset % 8 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is a bitfield; it has no byte offset"));
  }
  return loc.ByteOffset();
}

absl::StatusOr<int64_t> OffsetResolver::EnumValue(absl::string_view enumerator) const {
  auto it = enumerators_.find(enumerator);
  if (it == enumerators_.end())
    return absl::NotFoundError(absl::StrCat("no enumerator '", enumerator, "' in BTF"));
  return it->second;
}

OffsetGroup::OffsetGroup(const OffsetResolver& resolver, std::string name)
    : resolver_(resolver), name_(std::move(name)) {}

void OffsetGroup::Record(const absl::Status& s) {
  if (s.ok()) return;
  if (failures_++ == 0) first_error_ = s;
}

uint64_t OffsetGroup::Offset(absl::string_view path) {
  absl::StatusOr<uint64_t> r = resolver_.Offset(path);
  Record(r.status());
  return r.value_or(0);
}

MemberLocation OffsetGroup::Member(absl::string_view path) {
  absl::StatusOr<MemberLocation> r = resolver_.Member(path);
  Record(r.status());
  return r.value_or(MemberLocation{});
}

uint64_t OffsetGroup::SizeOf(absl::string_view type_name) {
  absl::StatusOr<uint64_t> r = resolver_.SizeOf(type_name);
  Record(r.status());
  return r.value_or(0);
}

int64_t OffsetGroup::EnumValue(absl::string_view enumerator) {
  absl::StatusOr<int64_t> r = resolver_.EnumValue(enumerator);
  Record(r.status());
  return r.value_or(0);
}

std::optional<uint64_t> OffsetGroup::OptionalOffset(absl::string_view path) {
  absl::StatusOr<uint64_t> r = resolver_.Offset(path);
  if (r.ok()) return *r;
  if (r.status().code() != absl::StatusCode::kNotFound) Record(r.status());
  return std::nullopt;
}

absl::Status OffsetGroup::status() const {
  if (failures_ == 0) return absl::OkStatus();
  std::string more = failures_ > 1 ? absl::StrCat(" (+", failures_ - 1, " more)") : "";
  return absl::Status(first_error_.code(),
                      absl::StrCat("offset group '", name_, "': ", first_error_.message(), more));
}

void OffsetGroupReport::Add(const std::string& group, const absl::Status& status) {
  if (status.ok()) return;
  missing_.push_back(group);
  details_.push_back(std::string(status.message()));
}

std::string OffsetGroupReport::MissingReason() const {
  if (missing_.empty()) return "";
  return absl::StrCat("missing offset groups [", absl::StrJoin(missing_, ", "), "]");
}

std::string OffsetGroupReport::Details() const { return absl::StrJoin(details_, "; "); }

}  // namespace kfreeze
