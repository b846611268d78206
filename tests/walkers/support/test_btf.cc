#include "tests/walkers/support/test_btf.h"

#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/support/die.h"

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(std::string_view what) { DieInTest("TestBtf", what); }

int Check(int id, const std::string& what) {
  if (id < 0) Die(what);
  return id;
}

}  // namespace

TestBtf::TestBtf() : btf_(btf__new_empty()) {
  if (btf_ == nullptr) Die("btf__new_empty");
  struct IntSpec {
    const char* name;
    int size;
    int enc;
  };
  const IntSpec ints[] = {{"u8", 1, 0},
                          {"u16", 2, 0},
                          {"u32", 4, 0},
                          {"s32", 4, BTF_INT_SIGNED},
                          {"u64", 8, 0},
                          {"s64", 8, BTF_INT_SIGNED},
                          {"bool", 1, BTF_INT_BOOL},
                          {"char", 1, BTF_INT_CHAR}};
  for (const IntSpec& i : ints) {
    named_[i.name] = Check(btf__add_int(btf_.get(), i.name, i.size, i.enc), i.name);
  }
  named_["ptr"] = Check(btf__add_ptr(btf_.get(), 0), "ptr");
}

uint32_t TestBtf::Type(const std::string& spec) {
  if (auto it = named_.find(spec); it != named_.end()) return it->second;
  size_t bracket = spec.find('[');
  if (bracket == std::string::npos || spec.back() != ']') Die("unknown type " + spec);
  uint32_t n = 0;
  if (!absl::SimpleAtoi(spec.substr(bracket + 1, spec.size() - bracket - 2), &n)) {
    Die("bad array " + spec);
  }
  uint32_t elem = Type(spec.substr(0, bracket));
  uint32_t id = Check(btf__add_array(btf_.get(), named_["u32"], elem, n), spec);
  named_[spec] = id;
  return id;
}

uint32_t TestBtf::Composite(bool is_union, const std::string& name, uint32_t size,
                            const std::vector<TestField>& fields) {
  // Field types first: libbpf requires a struct's members to follow it immediately.
  std::vector<uint32_t> types;
  for (const TestField& f : fields) types.push_back(Type(f.type));
  int id = is_union ? btf__add_union(btf_.get(), name.empty() ? nullptr : name.c_str(), size)
                    : btf__add_struct(btf_.get(), name.empty() ? nullptr : name.c_str(), size);
  Check(id, "struct " + name);
  for (size_t i = 0; i < fields.size(); ++i) {
    const TestField& f = fields[i];
    Check(btf__add_field(btf_.get(), f.name.empty() ? nullptr : f.name.c_str(), types[i],
                         f.byte_offset * 8, 0),
          absl::StrCat(name, ".", f.name));
  }
  if (!name.empty()) named_[name] = id;
  return id;
}

uint32_t TestBtf::Struct(const std::string& name, uint32_t size,
                         const std::vector<TestField>& fields) {
  return Composite(false, name, size, fields);
}

uint32_t TestBtf::Union(const std::string& name, uint32_t size,
                        const std::vector<TestField>& fields) {
  return Composite(true, name, size, fields);
}

uint32_t TestBtf::Enum(const std::string& name,
                       const std::vector<std::pair<std::string, int64_t>>& values,
                       uint32_t byte_size) {
  int id = Check(btf__add_enum(btf_.get(), name.empty() ? nullptr : name.c_str(), byte_size),
                 "enum " + name);
  for (const auto& [n, v] : values) {
    Check(btf__add_enum_value(btf_.get(), n.c_str(), v), n);
  }
  if (!name.empty()) named_[name] = id;
  return id;
}

}  // namespace kfreeze::testing
