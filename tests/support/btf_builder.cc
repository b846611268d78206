// BtfBuilder: C spellings -> libbpf BTF writer calls, with natural struct layout.
#include "tests/support/btf_builder.h"

#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/support/die.h"
#include "tests/support/image_layout.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(std::string_view what) { DieInTest("BtfBuilder", what); }

int Check(int id, const std::string& what) {
  if (id < 0) Die(absl::StrCat(what, " failed: ", id));
  return id;
}

}  // namespace

BtfBuilder::BtfBuilder() : btf_(btf__new_empty()) {
  if (btf_ == nullptr) Die("btf__new_empty");
  struct IntSpec {
    const char* name;
    uint32_t bytes;
    bool is_signed;
  };
  for (const IntSpec& s : {IntSpec{"char", 1, true},
                           {"unsigned char", 1, false},
                           {"short int", 2, true},
                           {"short unsigned int", 2, false},
                           {"int", 4, true},
                           {"unsigned int", 4, false},
                           {"long int", 8, true},
                           {"long unsigned int", 8, false},
                           {"long long int", 8, true},
                           {"long long unsigned int", 8, false},
                           {"_Bool", 1, false}}) {
    AddInt(s.name, s.bytes, s.is_signed);
  }
  for (const auto& [name, type] :
       std::vector<std::pair<const char*, const char*>>{{"u8", "unsigned char"},
                                                        {"s8", "char"},
                                                        {"u16", "short unsigned int"},
                                                        {"s16", "short int"},
                                                        {"u32", "unsigned int"},
                                                        {"s32", "int"},
                                                        {"u64", "long long unsigned int"},
                                                        {"s64", "long long int"},
                                                        {"bool", "_Bool"}}) {
    AddTypedef(name, type);
  }
}

BtfBuilder::~BtfBuilder() { btf__free(btf_); }

std::string BtfBuilder::Ref(uint32_t id) { return absl::StrCat("#", id); }

uint32_t BtfBuilder::type_count() const { return btf__type_cnt(btf_) - 1; }

uint32_t BtfBuilder::AddInt(absl::string_view name, uint32_t bytes, bool is_signed) {
  return Check(btf__add_int(btf_, std::string(name).c_str(), bytes, is_signed ? BTF_INT_SIGNED : 0),
               absl::StrCat("add int ", name));
}

uint32_t BtfBuilder::AddTypedef(absl::string_view name, absl::string_view type) {
  const uint32_t target = TypeId(type);
  return Check(btf__add_typedef(btf_, std::string(name).c_str(), target),
               absl::StrCat("add typedef ", name));
}

uint32_t BtfBuilder::TypeId(absl::string_view spelling) {
  absl::string_view s = absl::StripAsciiWhitespace(spelling);
  if (s == "void") return 0;
  if (absl::ConsumePrefix(&s, "#")) {
    uint32_t id;
    if (!absl::SimpleAtoi(s, &id)) Die(absl::StrCat("bad type ref ", spelling));
    return id;
  }
  // Arrays: "T[N]" (outermost dimension last in the spelling, as in C declarators).
  if (absl::EndsWith(s, "]")) {
    const size_t open = s.rfind('[');
    uint32_t n = 0;
    if (open == absl::string_view::npos ||
        !absl::SimpleAtoi(s.substr(open + 1, s.size() - open - 2), &n)) {
      Die(absl::StrCat("bad array type ", spelling));
    }
    const uint32_t elem = TypeId(s.substr(0, open));
    return Check(btf__add_array(btf_, TypeId("unsigned int"), elem, n), "add array");
  }
  if (absl::ConsumeSuffix(&s, "*")) {
    absl::string_view target = absl::StripAsciiWhitespace(s);
    const bool composite =
        absl::StartsWith(target, "struct ") || absl::StartsWith(target, "union ");
    const int found =
        composite ? btf__find_by_name_kind(
                        btf_, std::string(target.substr(target.find(' ') + 1)).c_str(),
                        absl::StartsWith(target, "struct ") ? BTF_KIND_STRUCT : BTF_KIND_UNION)
                  : 0;
    if (composite && found <= 0) {
      const uint32_t ptr = Check(btf__add_ptr(btf_, 0), "add ptr");
      pending_ptrs_.emplace_back(ptr, std::string(target));
      return ptr;
    }
    return Check(btf__add_ptr(btf_, composite ? found : TypeId(target)), "add ptr");
  }
  int kind = 0;
  if (absl::ConsumePrefix(&s, "struct "))
    kind = BTF_KIND_STRUCT;
  else if (absl::ConsumePrefix(&s, "union "))
    kind = BTF_KIND_UNION;
  else if (absl::ConsumePrefix(&s, "enum "))
    kind = BTF_KIND_ENUM;
  const std::string name(absl::StripAsciiWhitespace(s));
  if (kind != 0) {
    const int id = btf__find_by_name_kind(btf_, name.c_str(), kind);
    if (id <= 0) Die(absl::StrCat("type '", spelling, "' not defined yet"));
    return id;
  }
  static const std::pair<const char*, const char*> kAliases[] = {
      {"unsigned long", "long unsigned int"},
      {"long", "long int"},
      {"unsigned long long", "long long unsigned int"},
      {"unsigned short", "short unsigned int"},
      {"unsigned", "unsigned int"}};
  std::string canonical = name;
  for (const auto& [c, b] : kAliases) {
    if (canonical == c) canonical = b;
  }
  for (int k : {BTF_KIND_TYPEDEF, BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_STRUCT, BTF_KIND_UNION}) {
    const int id = btf__find_by_name_kind(btf_, canonical.c_str(), k);
    if (id > 0) return id;
  }
  Die(absl::StrCat("unknown type '", spelling, "'"));
}

void BtfBuilder::ResolvePendingPointers(absl::string_view name, uint32_t id) {
  for (auto it = pending_ptrs_.begin(); it != pending_ptrs_.end();) {
    absl::string_view target = it->second;
    absl::ConsumePrefix(&target, "struct ") || absl::ConsumePrefix(&target, "union ");
    if (target != name) {
      ++it;
      continue;
    }
    // The writer API cannot retarget a type; its records are plain memory we own until Finish().
    auto* t = const_cast<struct btf_type*>(btf__type_by_id(btf_, it->first));
    t->type = id;
    it = pending_ptrs_.erase(it);
  }
}

uint32_t BtfBuilder::AddComposite(bool is_union, absl::string_view name,
                                  const std::vector<BtfField>& fields, uint64_t size) {
  // Resolve member types first: the writer requires fields right after their struct record.
  struct Laid {
    const BtfField* f;
    uint32_t type;
    uint64_t bit_offset;
  };
  std::vector<Laid> laid;
  uint64_t bit_cursor = 0, max_align = 1, end_bits = 0;
  for (const BtfField& f : fields) {
    const uint32_t type = TypeId(f.type);
    const long long fsize = btf__resolve_size(btf_, type);
    const int align = btf__align_of(btf_, type);
    if (fsize < 0 || align <= 0) Die(absl::StrCat("cannot size member ", f.name));
    max_align = std::max<uint64_t>(max_align, align);
    uint64_t bit_offset;
    if (f.offset) {
      bit_offset = *f.offset * 8;
    } else if (is_union) {
      bit_offset = 0;
    } else if (f.bits != 0) {
      // Pack into the current storage unit of the member's type if it fits, like GCC.
      const uint64_t unit = static_cast<uint64_t>(fsize) * 8;
      bit_offset = (bit_cursor / unit == (bit_cursor + f.bits - 1) / unit)
                       ? bit_cursor
                       : AlignUp(bit_cursor, unit);
    } else {
      bit_offset = AlignUp(bit_cursor, static_cast<uint64_t>(align) * 8);
    }
    const uint64_t width = f.bits != 0 ? f.bits : static_cast<uint64_t>(fsize) * 8;
    bit_cursor = bit_offset + width;
    end_bits = std::max(end_bits, bit_cursor);
    laid.push_back({&f, type, bit_offset});
  }
  if (size == 0) size = AlignUp((end_bits + 7) / 8, max_align);
  const std::string n(name);
  const int id = Check(is_union ? btf__add_union(btf_, n.c_str(), static_cast<uint32_t>(size))
                                : btf__add_struct(btf_, n.c_str(), static_cast<uint32_t>(size)),
                       absl::StrCat("add composite ", name));
  for (const Laid& l : laid) {
    Check(btf__add_field(btf_, l.f->name.c_str(), l.type, static_cast<uint32_t>(l.bit_offset),
                         l.f->bits),
          absl::StrCat("add field ", l.f->name));
  }
  if (!name.empty()) ResolvePendingPointers(name, id);
  return id;
}

uint32_t BtfBuilder::AddStruct(absl::string_view name, const std::vector<BtfField>& fields,
                               uint64_t size) {
  return AddComposite(false, name, fields, size);
}

uint32_t BtfBuilder::AddUnion(absl::string_view name, const std::vector<BtfField>& fields,
                              uint64_t size) {
  return AddComposite(true, name, fields, size);
}

uint32_t BtfBuilder::AddEnum(absl::string_view name,
                             const std::vector<std::pair<std::string, int64_t>>& values,
                             uint32_t bytes) {
  const int id = Check(btf__add_enum(btf_, std::string(name).c_str(), bytes), "add enum");
  for (const auto& [n, v] : values)
    Check(btf__add_enum_value(btf_, n.c_str(), v), "add enum value");
  return id;
}

void BtfBuilder::AddAttachTypes() {
  AddStruct("list_head", {{"next", "struct list_head *"}, {"prev", "struct list_head *"}});
  AddStruct("new_utsname", {{"sysname", "char[65]"},
                            {"nodename", "char[65]"},
                            {"release", "char[65]"},
                            {"version", "char[65]"},
                            {"machine", "char[65]"},
                            {"domainname", "char[65]"}});
  AddStruct("uts_namespace",
            {{"name", "struct new_utsname"}, {"user_ns", "void *"}, {"ucounts", "void *"}});
  AddStruct("cpumask", {{"bits", "long unsigned int[1]"}});
}

std::vector<uint8_t> BtfBuilder::Finish() {
  for (const auto& [ptr, target] : std::vector<std::pair<uint32_t, std::string>>(pending_ptrs_)) {
    absl::string_view t = target;
    const bool is_union = absl::ConsumePrefix(&t, "union ");
    absl::ConsumePrefix(&t, "struct ");
    const int fwd =
        Check(btf__add_fwd(btf_, std::string(t).c_str(), is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT),
              "add fwd");
    auto* pt = const_cast<struct btf_type*>(btf__type_by_id(btf_, ptr));
    pt->type = fwd;
  }
  pending_ptrs_.clear();
  uint32_t size = 0;
  const void* data = btf__raw_data(btf_, &size);
  if (data == nullptr) Die("btf__raw_data");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(p, p + size);
}

}  // namespace kfreeze::testing
