#include "core/walkers/maps/map_context.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/btf_render/hex.h"
#include "core/walkers/maps/read_util.h"

namespace kfreeze::walkers::maps {

uint64_t RoundUp8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

MapContext::MapContext(MapEnv& env, const BpfMapInfo& map, const struct btf* btf,
                       FailureDumpMap* out)
    : env_(env), map_(map), btf_(btf), out_(out) {
  options_.arena = env.arena;
}

void MapContext::Render(uint32_t type_id, std::span<const uint8_t> bytes, RenderedValue* out) {
  // The copy stage only copies: the decode stage renders the same bytes from the snapshot.
  if (env_.reader.copying()) return;
  // Every rendered value is a node of the dump's budget; once it is spent values stay empty.
  if (!env_.reader.ChargeNodes(1)) {
    if (!budget_noted_) {
      budget_noted_ = true;
      Error(std::string(env_.reader.budget()->status().message()));
    }
    return;
  }
  if (type_id == 0 || btf_ == nullptr) {
    out->Clear();
    out->mutable_bytes()->set_hex(btf_render::HexBytes(bytes));
    return;
  }
  btf_render::RenderInto(btf_, type_id, bytes, out, options_, &notes_);
}

bool MapContext::ChargeBytes(uint64_t n) {
  bytes_read_ += n;
  if (bytes_read_ <= env_.caps.max_map_bytes) return true;
  if (!budget_noted_) {
    budget_noted_ = true;
    Error(absl::StrCat("map read budget of ", env_.caps.max_map_bytes, " bytes exhausted"));
  }
  return false;
}

void MapContext::Unreadable(const absl::Status& status) {
  if (unreadable_++ == 0) first_unreadable_ = std::string(status.message());
}

bool MapContext::ReadRaw(Kva kva, uint64_t size, std::vector<uint8_t>* raw) {
  if (size > env_.caps.max_value_bytes) {
    Error(absl::StrCat("value of ", size, " bytes over the ", env_.caps.max_value_bytes,
                       "-byte cap"));
    return false;
  }
  if (!ChargeBytes(size)) return false;
  raw->resize(size);
  absl::Status st = env_.reader.ReadVirt(kva, std::span<uint8_t>(*raw));
  if (!st.ok()) {
    Unreadable(st);
    return false;
  }
  return true;
}

bool MapContext::ReadRendered(Kva kva, uint64_t size, uint32_t type_id, RenderedValue* out,
                              std::vector<uint8_t>* raw) {
  std::vector<uint8_t> local;
  std::vector<uint8_t>& bytes = raw != nullptr ? *raw : local;
  const uint64_t want = std::min<uint64_t>(size, env_.caps.max_value_bytes);
  if (!ChargeBytes(want)) {
    bytes.clear();
    *out = btf_render::RenderUnreadable(btf_, type_id, {}, size, "map read budget exhausted",
                                        options_, nullptr);
    return false;
  }
  absl::Status st = ReadPrefix(env_.reader, kva, want, &bytes);
  if (!st.ok()) {
    Unreadable(st);
    *out = btf_render::RenderUnreadable(type_id != 0 ? btf_ : nullptr, type_id, bytes, size,
                                        st.message(), options_, nullptr);
    return false;
  }
  if (want < size) {
    Error(absl::StrCat("value of ", size, " bytes capped at ", want));
    *out = btf_render::RenderUnreadable(type_id != 0 ? btf_ : nullptr, type_id, bytes, size,
                                        "value size cap", options_, nullptr);
    return false;
  }
  Render(type_id, bytes, out);
  return true;
}

bool MapContext::InnerMapId(Kva inner, uint32_t* id) {
  const auto& field = env_.offsets.map.value.id;
  if (!env_.offsets.map.ok() || !field) {
    Error("bpf_map.id offset unavailable");
    return false;
  }
  absl::StatusOr<uint64_t> v = ReadField(env_.reader, inner, *field);
  if (!v.ok()) {
    Unreadable(v.status());
    return false;
  }
  *id = static_cast<uint32_t>(*v);
  return true;
}

bool MapContext::ProgId(Kva prog, uint32_t* id) {
  const auto& off = env_.offsets.prog_id;
  if (!off.ok()) {
    Error(std::string(off.status.message()));
    return false;
  }
  absl::StatusOr<uint64_t> aux = env_.reader.ReadU64(prog + off.value.aux);
  if (!aux.ok()) {
    Unreadable(aux.status());
    return false;
  }
  absl::StatusOr<uint64_t> v = ReadField(env_.reader, Kva(*aux), off.value.id);
  if (!v.ok()) {
    Unreadable(v.status());
    return false;
  }
  *id = static_cast<uint32_t>(*v);
  return true;
}

void MapContext::Finish() {
  std::vector<std::string> parts;
  if (!errors_.empty()) parts.push_back(errors_.Summary());
  if (unreadable_ > 0) {
    parts.push_back(absl::StrCat(unreadable_, " read(s) failed (first: ", first_unreadable_, ")"));
  }
  if (!notes_.empty()) parts.push_back(absl::StrCat("render: ", notes_.Summary()));
  if (parts.empty()) return;
  std::string error = out_->has_error() ? out_->error() + "; " : std::string();
  out_->set_error(error + absl::StrJoin(parts, "; "));
}

}  // namespace kfreeze::walkers::maps
