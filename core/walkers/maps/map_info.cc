#include "core/walkers/maps/map_info.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/guest_text.h"
#include "core/base/status.h"

namespace kfreeze::walkers::maps {

absl::StatusOr<uint64_t> LoadField(std::span<const uint8_t> bytes, const Field& field) {
  if (field.size == 0 || field.size > 8 || field.offset > bytes.size() ||
      bytes.size() - field.offset < field.size) {
    return BadData(absl::StrCat("field at ", field.offset, " of ", field.size, " bytes outside a ",
                                bytes.size(), "-byte object"));
  }
  uint64_t v = 0;
  for (uint32_t i = 0; i < field.size; ++i) v |= uint64_t{bytes[field.offset + i]} << (8 * i);
  return v;
}

absl::StatusOr<uint64_t> ReadField(Reader& reader, Kva base, const Field& field) {
  if (field.size == 0 || field.size > 8) return BadData("field width not 1..8 bytes");
  uint8_t buf[8] = {};
  absl::Status st = reader.ReadVirt(base + field.offset, std::span<uint8_t>(buf, field.size));
  if (!st.ok()) return st;
  return LoadField(std::span<const uint8_t>(buf, field.size), Field{0, field.size});
}

absl::StatusOr<BpfMapInfo> ReadBpfMap(Reader& reader, Kva kva, const BpfMapOffsets& off) {
  if (off.struct_size == 0 || off.struct_size > 4096) {
    return BadData(absl::StrCat("implausible sizeof(struct bpf_map) ", off.struct_size));
  }
  std::vector<uint8_t> raw(off.struct_size);
  if (absl::Status st = reader.ReadVirt(kva, raw); !st.ok()) return st;
  std::span<const uint8_t> bytes(raw);
  BpfMapInfo m;
  m.kva = kva;
  auto u32 = [&](const Field& f, uint32_t* out) -> absl::Status {
    absl::StatusOr<uint64_t> v = LoadField(bytes, f);
    if (!v.ok()) return v.status();
    *out = static_cast<uint32_t>(*v);
    return absl::OkStatus();
  };
  for (auto [field, out] : {std::pair{&off.map_type, &m.type},
                            {&off.map_flags, &m.flags},
                            {&off.key_size, &m.key_size},
                            {&off.value_size, &m.value_size},
                            {&off.max_entries, &m.max_entries},
                            {&off.btf_key_type_id, &m.btf_key_type_id},
                            {&off.btf_value_type_id, &m.btf_value_type_id}}) {
    if (absl::Status st = u32(*field, out); !st.ok()) return st;
  }
  if (off.btf_vmlinux_value_type_id) {
    if (absl::Status st = u32(*off.btf_vmlinux_value_type_id, &m.btf_vmlinux_value_type_id);
        !st.ok()) {
      return st;
    }
  }
  if (off.id) {
    uint32_t id = 0;
    if (absl::Status st = u32(*off.id, &id); !st.ok()) return st;
    m.id = id;
  }
  if (off.map_extra) {
    absl::StatusOr<uint64_t> extra = LoadField(bytes, *off.map_extra);
    if (!extra.ok()) return extra.status();
    m.map_extra = *extra;
  }
  absl::StatusOr<uint64_t> btf = LoadField(bytes, off.btf);
  if (!btf.ok()) return btf.status();
  m.btf = Kva(*btf);
  if (off.name.offset + off.name.size > bytes.size()) return BadData("bpf_map.name out of range");
  const char* name = reinterpret_cast<const char*>(bytes.data() + off.name.offset);
  size_t len = 0;
  while (len < off.name.size && name[len] != '\0') ++len;
  m.name = GuestText(absl::string_view(name, len));
  return m;
}

}  // namespace kfreeze::walkers::maps
