// Reader: cached translation + page-chunked copies + bounded string reads.
#include "core/mem/reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze {

Reader::Reader(const Translator& translator) : translator_(translator) {}

void Reader::ClearCache() {
  for (auto& kind : cache_) kind.fill(CacheEntry{});
}

absl::StatusOr<Translation> Reader::TranslateCached(Kva va) {
  for (int k = 0; k < kLeafKinds; ++k) {
    const int shift = kLeafShift[k];
    const uint64_t tag = va.value >> shift;
    const CacheEntry& e = cache_[k][tag % caps::kTranslationCacheSlots];
    if (e.tag == tag) {
      ++hits_;
      const uint64_t leaf = 1ull << shift;
      const uint64_t off = va.value & (leaf - 1);
      return Translation{Pa(e.pa_base + off), leaf - off, TranslationPath::kPageWalk, leaf};
    }
  }
  absl::StatusOr<Translation> t = translator_.Translate(va);
  if (!t.ok()) return t;
  if (t->path == TranslationPath::kPageWalk) {
    ++misses_;
    for (int k = 0; k < kLeafKinds; ++k) {
      if (t->leaf_bytes != (1ull << kLeafShift[k])) continue;
      const uint64_t tag = va.value >> kLeafShift[k];
      cache_[k][tag % caps::kTranslationCacheSlots] =
          CacheEntry{tag, t->pa.value - (va.value & (t->leaf_bytes - 1))};
    }
  }
  return t;
}

absl::StatusOr<Pa> Reader::Translate(Kva va) {
  absl::StatusOr<Translation> t = TranslateCached(va);
  if (!t.ok()) return t.status();
  return t->pa;
}

absl::Status Reader::ReadPhys(Pa pa, std::span<uint8_t> out) const {
  if (absl::Status s = ChargeRead(out.size()); !s.ok()) return s;
  return translator_.ram().Read(pa, out);
}

absl::Status Reader::ReadVirt(Kva va, std::span<uint8_t> out) {
  if (!CheckedAdd(va.value, out.size())) return FaultError(va, "read wraps the address space");
  if (absl::Status s = ChargeRead(out.size()); !s.ok()) return s;
  uint64_t done = 0;
  while (done < out.size()) {
    const Kva at = va + done;
    absl::StatusOr<Translation> t = TranslateCached(at);
    if (!t.ok()) return t.status();
    const uint64_t n = std::min<uint64_t>(out.size() - done, t->contiguous);
    absl::Status s = translator_.ram().Read(t->pa, out.subspan(done, n));
    if (!s.ok())
      return FaultError(at, absl::StrCat("maps to unreadable memory (", s.message(), ")"));
    done += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<Kva> Reader::ReadPtr(Kva va) {
  absl::StatusOr<uint64_t> v = ReadU64(va);
  if (!v.ok()) return v.status();
  return Kva(*v);
}

absl::StatusOr<std::vector<uint8_t>> Reader::ReadBytes(Kva va, uint64_t size) {
  if (size > caps::kMaxSingleReadBytes) {
    return BadData(absl::StrCat("read of ", size, " bytes at ", Hex(va), " exceeds the ",
                                caps::kMaxSingleReadBytes, "-byte cap"));
  }
  std::vector<uint8_t> out(size);
  absl::Status s = ReadVirt(va, out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> Reader::ReadCString(Kva va, size_t max_len) {
  std::string out;
  char chunk[256];
  while (out.size() < max_len) {
    // Never read past the current page: the string may end right before an unmapped one.
    const uint64_t to_page_end = kPageSize - ((va.value + out.size()) & (kPageSize - 1));
    const size_t n = std::min<uint64_t>({sizeof(chunk), to_page_end, max_len - out.size()});
    absl::Status s =
        ReadVirt(va + out.size(), std::span<uint8_t>(reinterpret_cast<uint8_t*>(chunk), n));
    if (!s.ok()) return s;
    const void* nul = std::memchr(chunk, 0, n);
    if (nul != nullptr) {
      out.append(chunk, static_cast<const char*>(nul) - chunk);
      return out;
    }
    out.append(chunk, n);
  }
  return BadData(absl::StrCat("string at ", Hex(va), " has no NUL within ", max_len, " bytes"));
}

absl::StatusOr<std::string> Reader::ReadCharArray(Kva va, size_t size) {
  if (size > caps::kMaxCStringLength) return BadData("char array larger than the string cap");
  std::string buf(size, '\0');
  absl::Status s = ReadVirt(va, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), size));
  if (!s.ok()) return s;
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

}  // namespace kfreeze
