// OffsetResolver: member offsets, sizes and enum values by name from BTF, computed at attach time.
// Paths are "struct.member.member[index]...", descending through anonymous structs/unions,
// typedefs and modifiers; a path never crosses a pointer. OffsetGroup makes a family of offsets
// all-or-nothing so a walker either has every offset it needs or a precise reason why not.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kfreeze {

struct MemberLocation {
  uint64_t bit_offset = 0;            // from the start of the root type
  uint32_t bitfield_bits = 0;         // 0 unless the member is a bitfield
  uint32_t type_id = 0;               // the member's declared type (may be a typedef)
  uint64_t byte_size = 0;             // size of the member's type after resolving typedefs
  std::optional<uint32_t> array_len;  // element count when the member is an array
  uint64_t ByteOffset() const { return bit_offset / 8; }
};

class OffsetResolver {
 public:
  // Indexes struct/union/typedef/enum names of `btf` (borrowed; must outlive the resolver).
  explicit OffsetResolver(const struct btf* btf);

  // Type id of the named struct or union; the largest wins when a name is duplicated (several
  // kernel units define a private `struct rq`-like type; the real one is the biggest).
  absl::StatusOr<uint32_t> FindComposite(absl::string_view name) const;
  // Any named type: struct/union first, then typedef, enum, int, float.
  absl::StatusOr<uint32_t> FindType(absl::string_view name) const;
  // sizeof(type); "struct rq" / "rq" / "u64" / "unsigned long" all work.
  absl::StatusOr<uint64_t> SizeOf(absl::string_view type_name) const;

  // "rq.scx.local_dsq.nr", "xa_node.slots", "kernel_cpustat.cpustat[2]".
  absl::StatusOr<MemberLocation> Member(absl::string_view path) const;
  // Byte offset; an error for bitfields or members not on a byte boundary.
  absl::StatusOr<uint64_t> Offset(absl::string_view path) const;
  // Value of an enumerator searched in every enum ("SCX_EXIT_ERROR_STALL").
  absl::StatusOr<int64_t> EnumValue(absl::string_view enumerator) const;

  // Strips typedefs and cv/type-tag modifiers (depth-capped); returns the underlying id.
  absl::StatusOr<uint32_t> SkipModsAndTypedefs(uint32_t type_id) const;
  const struct btf* btf() const { return btf_; }

 private:
  absl::StatusOr<MemberLocation> FindMember(uint32_t composite_id, absl::string_view name,
                                            int depth) const;
  // Member `index` of `t` (offset + size) lies inside sizeof(*t).
  absl::Status MemberWithin(const struct btf_type* t, uint16_t index,
                            absl::string_view looked_up) const;

  const struct btf* btf_;
  absl::flat_hash_map<absl::string_view, uint32_t> composites_;  // largest struct/union per name
  absl::flat_hash_map<absl::string_view, uint32_t> others_;      // typedef/enum/int/float names
  absl::flat_hash_map<absl::string_view, int64_t> enumerators_;  // keys view BTF strings
};

// One all-or-nothing family of offsets. Lookups record the first failure; a failed group reports
// itself through status(), and the values it returned must not be used.
class OffsetGroup {
 public:
  OffsetGroup(const OffsetResolver& resolver, std::string name);

  uint64_t Offset(absl::string_view path);
  MemberLocation Member(absl::string_view path);
  uint64_t SizeOf(absl::string_view type_name);
  int64_t EnumValue(absl::string_view enumerator);
  // Missing member -> nullopt without failing the group (version-gated fields); any other error
  // (e.g. asking a byte offset of a bitfield) still fails it.
  std::optional<uint64_t> OptionalOffset(absl::string_view path);

  const std::string& name() const { return name_; }
  // OK, or NotFound "offset group 'name': <first error>" (+ how many other lookups failed).
  absl::Status status() const;

 private:
  void Record(const absl::Status& s);

  const OffsetResolver& resolver_;
  std::string name_;
  absl::Status first_error_;
  int failures_ = 0;
};

// Collects group outcomes and phrases the one reason a section gives when groups are missing.
class OffsetGroupReport {
 public:
  void Add(const std::string& group, const absl::Status& status);
  bool all_ok() const { return missing_.empty(); }
  const std::vector<std::string>& missing() const { return missing_; }
  // "missing offset groups [rq, scx_rq]"; empty when every group resolved.
  std::string MissingReason() const;
  // Each missing group's error, for logs ("scx_rq: no member 'kick_sync' in struct scx_rq").
  std::string Details() const;

 private:
  std::vector<std::string> missing_;
  std::vector<std::string> details_;
};

// The outcome of one offset group: its offsets, or why they are missing. It reads like
// std::optional (`if (g)`, `g->member`, `*g`) so a walker checks a group before using it; `status`
// carries the reason a section prints.
template <typename T>
struct Group {
  T value{};
  absl::Status status = absl::NotFoundError("offset group not resolved");

  static Group Of(T v) { return Group{std::move(v), absl::OkStatus()}; }
  static Group Missing(absl::Status why) { return Group{T{}, std::move(why)}; }

  bool ok() const { return status.ok(); }
  explicit operator bool() const { return ok(); }
  const T* operator->() const { return &value; }
  T* operator->() { return &value; }
  const T& operator*() const { return value; }
  T& operator*() { return value; }
};

// The one way to resolve an offset group: `fill(OffsetGroup&, T&)` looks the members up; the group
// fails as a whole if any required lookup failed. With `report`, the outcome is recorded under the
// group's name.
template <typename T, typename Fill>
Group<T> ResolveGroup(const OffsetResolver& resolver, std::string name, Fill&& fill,
                      OffsetGroupReport* report = nullptr) {
  OffsetGroup g(resolver, std::move(name));
  Group<T> out;
  fill(g, out.value);
  out.status = g.status();
  if (report != nullptr) report->Add(g.name(), out.status);
  return out;
}

}  // namespace kfreeze
