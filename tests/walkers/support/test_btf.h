// Writes BTF for walker tests with libbpf's btf__add_* API: structs at layouts the test chooses,
// so a walker that hard-codes a kernel offset instead of resolving it fails its test.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/btf/btf_set.h"
#include "core/btf/offset_resolver.h"

namespace kfreeze::testing {

struct TestField {
  std::string name;
  // "u8" "u16" "u32" "s32" "u64" "s64" "bool" "char" "ptr", a struct/union/enum name given
  // earlier, or any of those with an array suffix: "char[16]", "u64[10]", "scx_dispatch_q[2]".
  std::string type;
  uint32_t byte_offset = 0;
};

class TestBtf {
 public:
  TestBtf();

  uint32_t Struct(const std::string& name, uint32_t size, const std::vector<TestField>& fields);
  uint32_t Union(const std::string& name, uint32_t size, const std::vector<TestField>& fields);
  uint32_t Enum(const std::string& name, const std::vector<std::pair<std::string, int64_t>>& values,
                uint32_t byte_size = 4);
  // Type id of a spec as in TestField::type.
  uint32_t Type(const std::string& spec);

  const struct btf* btf() const { return btf_.get(); }
  // A resolver over what was added so far (rebuild after adding more types).
  std::unique_ptr<OffsetResolver> MakeResolver() const {
    return std::make_unique<OffsetResolver>(btf_.get());
  }

 private:
  uint32_t Composite(bool is_union, const std::string& name, uint32_t size,
                     const std::vector<TestField>& fields);

  BtfPtr btf_;
  absl::flat_hash_map<std::string, uint32_t> named_;
};

}  // namespace kfreeze::testing
