// Builds BTF blobs with libbpf's writer API (btf__add_*) from C-like type spellings, laying
// structs out naturally (or at explicit offsets) so fixtures read like the kernel headers.
//
//   BtfBuilder b;                       // C integer types and u8..u64/s8..s64 typedefs included
//   b.AddStruct("list_head", {{"next", "struct list_head *"}, {"prev", "struct list_head *"}});
//   b.AddStruct("rq", {{"nr_running", "unsigned int"}, {"flags", "u32", /*bits=*/3}, ...});
//   std::vector<uint8_t> raw = b.Finish();
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace kfreeze::testing {

struct BtfField {
  BtfField(std::string n, std::string t, uint32_t b = 0, std::optional<uint64_t> off = {})
      : name(std::move(n)), type(std::move(t)), bits(b), offset(off) {}
  std::string name;   // "" for an anonymous struct/union member
  std::string type;   // "u64", "struct rq", "struct task_struct *", "char[16]", "#<id>"
  uint32_t bits = 0;  // bitfield width; 0 for a plain member
  std::optional<uint64_t> offset;  // byte offset; natural layout when absent
};

class BtfBuilder {
 public:
  BtfBuilder();
  ~BtfBuilder();
  BtfBuilder(const BtfBuilder&) = delete;
  BtfBuilder& operator=(const BtfBuilder&) = delete;

  // Type id for a C spelling; pointers and arrays are created on demand. A pointer to a struct
  // not defined yet is patched once it is (or becomes a FWD at Finish()). "#12" means id 12.
  uint32_t TypeId(absl::string_view spelling);
  // "#<id>" spelling for anonymous types (AddStruct with an empty name returns an id).
  static std::string Ref(uint32_t id);

  uint32_t AddInt(absl::string_view name, uint32_t bytes, bool is_signed);
  uint32_t AddTypedef(absl::string_view name, absl::string_view type);
  // `size` 0 = natural size (rounded up to the alignment).
  uint32_t AddStruct(absl::string_view name, const std::vector<BtfField>& fields,
                     uint64_t size = 0);
  uint32_t AddUnion(absl::string_view name, const std::vector<BtfField>& fields, uint64_t size = 0);
  uint32_t AddEnum(absl::string_view name,
                   const std::vector<std::pair<std::string, int64_t>>& values, uint32_t bytes = 4);

  // Adds the types the attach path relies on (new_utsname, uts_namespace, list_head, cpumask).
  void AddAttachTypes();

  uint32_t type_count() const;  // excluding void
  const struct btf* btf() const { return btf_; }
  // Raw BTF bytes (header + types + strings), as the kernel embeds them.
  std::vector<uint8_t> Finish();

 private:
  uint32_t AddComposite(bool is_union, absl::string_view name, const std::vector<BtfField>& fields,
                        uint64_t size);
  void ResolvePendingPointers(absl::string_view struct_name, uint32_t id);

  struct btf* btf_;
  std::vector<std::pair<uint32_t, std::string>> pending_ptrs_;  // ptr id -> "struct foo"
};

}  // namespace kfreeze::testing
