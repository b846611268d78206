// Scalar kinds: INT (incl. bool, char, 128-bit), FLOAT, ENUM/ENUM64 and bitfields of either.
#include <bpf/btf.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/btf_render/hex.h"
#include "core/btf_render/renderer.h"

namespace kfreeze::btf_render::internal {
namespace {

// Value of enumerator `i` of ENUM/ENUM64 `t`, widened the way the kernel stores it.
uint64_t EnumeratorValue(const btf_type* t, uint32_t i) {
  if (btf_kind(t) == BTF_KIND_ENUM64) return btf_enum64_value(btf_enum64(t) + i);
  const int32_t v = btf_enum(t)[i].val;
  // A signed enum's negative enumerators sign-extend; unsigned ones zero-extend.
  return btf_kflag(t) ? static_cast<uint64_t>(static_cast<int64_t>(v)) : static_cast<uint32_t>(v);
}

uint32_t EnumeratorNameOff(const btf_type* t, uint32_t i) {
  if (btf_kind(t) == BTF_KIND_ENUM64) return btf_enum64(t)[i].name_off;
  return btf_enum(t)[i].name_off;
}

double HalfToDouble(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant ? NAN : sign * INFINITY;
  return sign * std::ldexp(mant + 1024, exp - 25);
}

}  // namespace

void Renderer::RenderInt(const btf_type* t, Bytes bytes, RenderedValue* out) {
  const uint32_t bits = btf_int_bits(t);
  const uint32_t offset = btf_int_offset(t);
  // Legacy (pre-kflag) bitfield ints carry their window in the INT encoding itself.
  if ((offset != 0 || bits != t->size * 8) && bits <= 64 && bits > 0 && t->size <= 8) {
    return RenderBitfield(t, bytes, offset, bits, out);
  }
  const uint8_t encoding = btf_int_encoding(t);
  if (encoding & BTF_INT_BOOL) {
    bool any = false;
    for (uint8_t b : bytes) any |= b != 0;
    out->mutable_bool_()->set_value(any);
    return;
  }
  if (IsCharInt(btf_, t)) {
    out->mutable_char_()->set_value(bytes[0]);
    return;
  }
  const uint32_t size = t->size;
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    // __int128 and odd widths: memory-order hex, never a lossy number.
    out->mutable_bytes()->set_hex(HexBytes(bytes.first(size)));
    return;
  }
  const uint64_t raw = LoadLe(bytes.first(size));
  if (encoding & BTF_INT_SIGNED) {
    auto* v = out->mutable_int_();
    v->set_bits(size * 8);
    v->set_value(SignExtend(raw, size * 8));
  } else {
    auto* v = out->mutable_uint();
    v->set_bits(size * 8);
    v->set_value(raw);
  }
}

void Renderer::RenderFloat(const btf_type* t, Bytes bytes, RenderedValue* out) {
  auto* v = out->mutable_float_();
  v->set_bits(t->size * 8);
  switch (t->size) {
    case 2:
      v->set_value(HalfToDouble(static_cast<uint16_t>(LoadLe(bytes.first(2)))));
      return;
    case 4: {
      float f;
      std::memcpy(&f, bytes.data(), 4);
      v->set_value(f);
      return;
    }
    case 8: {
      double d;
      std::memcpy(&d, bytes.data(), 8);
      v->set_value(d);
      return;
    }
    case 16:
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
    {
      // x86-64 long double: 80-bit extended in a 16-byte slot, same as the guest's.
      long double ld;
      std::memcpy(&ld, bytes.data(), sizeof(ld));
      v->set_value(static_cast<double>(ld));
      return;
    }
#endif
    default:
      out->mutable_bytes()->set_hex(HexBytes(bytes.first(t->size)));
      Note(absl::StrCat("float of ", t->size, " bytes rendered as hex"));
  }
}

void Renderer::RenderEnum(const btf_type* t, Bytes bytes, RenderedValue* out) {
  const uint32_t size = t->size;
  if (size != 1 && size != 2 && size != 4 && size != 8) {
    out->mutable_bytes()->set_hex(HexBytes(bytes.first(size)));
    Note(absl::StrCat("enum of ", size, " bytes rendered as hex"));
    return;
  }
  FillEnum(t, LoadLe(bytes.first(size)), size * 8, out);
}

void Renderer::FillEnum(const btf_type* t, uint64_t raw, uint32_t bits, RenderedValue* out) {
  auto* v = out->mutable_enum_();
  v->set_bits(bits);
  v->set_is_signed(btf_kflag(t));
  v->set_value(btf_kflag(t) ? SignExtend(raw, bits) : static_cast<int64_t>(raw));
  // Enumerators are compared at the value's width, so a signed -1 in 8 bits matches 0xff.
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const uint32_t vlen = btf_vlen(t);
  for (uint32_t i = 0; i < vlen; ++i) {
    if ((EnumeratorValue(t, i) & mask) == (raw & mask)) {
      v->set_variant(Name(EnumeratorNameOff(t, i)));
      return;
    }
  }
}

void Renderer::RenderBitfield(const btf_type* t, Bytes bytes, uint32_t bit_offset, uint32_t bits,
                              RenderedValue* out) {
  const uint16_t kind = btf_kind(t);
  if (kind != BTF_KIND_INT && kind != BTF_KIND_ENUM && kind != BTF_KIND_ENUM64) {
    return Unsupported(absl::StrCat("bitfield of BTF kind ", kind), out);
  }
  if (bits == 0 || bits > 64) {
    return Unsupported(absl::StrCat("bitfield of ", bits, " bits"), out);
  }
  const uint64_t first = bit_offset / 8;
  const uint64_t end = (uint64_t{bit_offset} + bits + 7) / 8;
  if (end > bytes.size()) {
    auto* truncated = out->mutable_truncated();
    truncated->set_needed(end - first);
    truncated->set_had(bytes.size() > first ? bytes.size() - first : 0);
    truncated->mutable_partial()->mutable_bytes()->set_hex(
        HexBytes(bytes.size() > first ? bytes.subspan(first) : Bytes()));
    Note("bitfield truncated");
    return;
  }
  unsigned __int128 window = 0;  // at most 9 bytes: 7 bits of skew + 64 bits of field
  for (uint64_t i = first; i < end; ++i) {
    window |= static_cast<unsigned __int128>(bytes[i]) << (8 * (i - first));
  }
  uint64_t raw = static_cast<uint64_t>(window >> (bit_offset % 8));
  if (bits < 64) raw &= (uint64_t{1} << bits) - 1;

  if (kind != BTF_KIND_INT) return FillEnum(t, raw, bits, out);
  const uint8_t encoding = btf_int_encoding(t);
  if (encoding & BTF_INT_BOOL) {
    out->mutable_bool_()->set_value(raw != 0);
  } else if (encoding & BTF_INT_SIGNED) {
    auto* v = out->mutable_int_();
    v->set_bits(bits);
    v->set_value(SignExtend(raw, bits));
  } else {
    auto* v = out->mutable_uint();
    v->set_bits(bits);
    v->set_value(raw);
  }
}

}  // namespace kfreeze::btf_render::internal
