// Reader: cached translation + page-chunked copies + bounded string reads.
#include "core/mem/reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze {

namespace {

// Copies [start, start + out.size()) into `out` one snapshot block at a time; `block(done, at)`
// gives the copy of the block holding address `at` (`done` bytes into the read).
template <typename BlockFn>
absl::Status CopyFromBlocks(uint64_t start, std::span<uint8_t> out, BlockFn block) {
  constexpr uint64_t kBlock = GuestSnapshot::kBlockBytes;
  uint64_t done = 0;
  while (done < out.size()) {
    const uint64_t at = start + done;
    const uint64_t in_block = at & (kBlock - 1);
    const uint64_t n = std::min<uint64_t>(out.size() - done, kBlock - in_block);
    absl::StatusOr<const uint8_t*> data = block(done, at);
    if (!data.ok()) return data.status();
    std::memcpy(out.data() + done, *data + in_block, n);
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace

Reader::Reader(const Translator& translator)
    : translator_(translator),
      root_key_(translator.config().root ? translator.config().root->value : 0),
      leaf_shifts_(translator.leaf_shifts()),
      last_table_shift_(translator.config().format ? translator.config().format->last_table_shift()
                                                   : 21) {}

void Reader::UseSnapshot(GuestSnapshot* snapshot, SnapshotMode mode) {
  snapshot_ = snapshot;
  mode_ = snapshot == nullptr ? SnapshotMode::kDirect : mode;
  memo_marked_ = ~0ull;
  memo_va_page_ = ~0ull;
  memo_page_ = nullptr;
  // The decode stage translates through the copy stage's page walks: none may hide in the cache.
  if (mode_ == SnapshotMode::kRecord) ClearCache();
  if (mode_ == SnapshotMode::kReplay) snapshot_->Index();
}

absl::Status Reader::Missing(uint64_t address, absl::string_view what) const {
  const absl::Status& cut = snapshot_->copy_cut();
  if (cut.ok()) {
    return FaultError(Kva(address), absl::StrCat(what, " was not copied in the freeze window"));
  }
  // The copy stage stopped before reaching this page: the walk is cut here, for the same reason.
  if (budget_ != nullptr) {
    budget_->CutByCopyStage(cut);
    return budget_->status();
  }
  return absl::Status(cut.code(),
                      absl::StrCat("cut in the freeze window (copy stage): ", cut.message()));
}

absl::Status Reader::Mark(uint64_t pa, uint64_t size) {
  constexpr uint64_t kBlock = GuestSnapshot::kBlockBytes;
  if (size == 0) return absl::OkStatus();
  const uint64_t last = (pa + size - 1) & ~(kBlock - 1);  // callers read the range: no wrap
  for (uint64_t page = pa & ~(kBlock - 1); page <= last; page += kBlock) {
    if (page == memo_marked_) continue;
    if (absl::Status s = snapshot_->MarkPhys(page, translator_.ram()); !s.ok()) return s;
    memo_marked_ = page;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Reader::ReplayTranslate(uint64_t va) const {
  if (std::optional<Translation> t = translator_.TranslateLinear(Kva(va))) return t->pa.value;
  if (std::optional<uint64_t> pa = snapshot_->FindLeaf(root_key_, va)) return *pa;
  return Missing(va, absl::StrCat("the translation of ", Hex(Kva(va))));
}

absl::Status Reader::ReplayVirt(Kva va, std::span<uint8_t> out) {
  constexpr uint64_t kBlock = GuestSnapshot::kBlockBytes;
  return CopyFromBlocks(
      va.value, out, [&](uint64_t, uint64_t at) -> absl::StatusOr<const uint8_t*> {
        const uint64_t va_page = at / kBlock;
        if (va_page != memo_va_page_) {
          absl::StatusOr<uint64_t> pa = ReplayTranslate(at);
          if (!pa.ok()) return pa.status();
          const uint8_t* page = snapshot_->FindPhys(*pa & ~(kBlock - 1));
          if (page == nullptr)
            return Missing(at, absl::StrCat("page ", Hex(Kva(at & ~(kBlock - 1)))));
          memo_va_page_ = va_page;
          memo_page_ = page;
        }
        return memo_page_;
      });
}

absl::Status Reader::ReplayPhys(Pa pa, std::span<uint8_t> out) const {
  constexpr uint64_t kBlock = GuestSnapshot::kBlockBytes;
  return CopyFromBlocks(
      pa.value, out, [&](uint64_t, uint64_t at) -> absl::StatusOr<const uint8_t*> {
        const uint8_t* page = snapshot_->FindPhys(at & ~(kBlock - 1));
        if (page == nullptr) {
          return Missing(at, absl::StrCat("guest-physical page ", Hex(Pa(at & ~(kBlock - 1)))));
        }
        return page;
      });
}

absl::Status Reader::Prefetch(Kva va, uint64_t size) {
  if (mode_ != SnapshotMode::kRecord || size == 0) return absl::OkStatus();
  if (!CheckedAdd(va.value, size)) return FaultError(va, "prefetch wraps the address space");
  if (absl::Status s = ChargeRead(size); !s.ok()) return s;
  constexpr uint64_t kPage = GuestSnapshot::kBlockBytes;
  for (uint64_t at = va.value & ~(kPage - 1); at < va.value + size; at += kPage) {
    absl::StatusOr<Translation> t = TranslateCached(Kva(at));
    if (!t.ok()) return t.status();
    if (absl::Status s = Mark(t->pa.value, 1); !s.ok()) return s;
    if (budget_ != nullptr && (at / kPage) % 256 == 0 && budget_->Exhausted()) {
      return budget_->status();
    }
  }
  return absl::OkStatus();
}

void Reader::Hint(Kva va) {
  if (mode_ == SnapshotMode::kReplay) return;
  if (absl::StatusOr<Translation> t = TranslateCached(va); t.ok())
    translator_.ram().Prefetch(t->pa);
}

std::optional<uint64_t> Reader::PeekU64(Kva va) {
  if (mode_ == SnapshotMode::kReplay || (va.value & 7) != 0) return std::nullopt;
  absl::StatusOr<Translation> t = TranslateCached(va);
  if (!t.ok()) return std::nullopt;
  absl::StatusOr<uint64_t> v = translator_.ram().ReadU64(t->pa);
  return v.ok() ? std::optional<uint64_t>(*v) : std::nullopt;
}

void Reader::ClearCache() {
  for (auto& kind : cache_) kind.fill(CacheEntry{});
  last_tables_.fill(CacheEntry{});
}

absl::StatusOr<Translation> Reader::TranslateCached(Kva va) {
  // The linear maps are arithmetic: no cache to probe.
  if (std::optional<Translation> t = translator_.TranslateLinear(va)) return *t;
  for (int k = 0; k < leaf_shifts_.count; ++k) {
    const int shift = leaf_shifts_.shift[k];
    const uint64_t tag = va.value >> shift;
    const CacheEntry& e = cache_[k][tag % caps::kTranslationCacheSlots];
    if (e.tag == tag) {
      ++hits_;
      const uint64_t leaf = 1ull << shift;
      const uint64_t off = va.value & (leaf - 1);
      return Translation{Pa(e.pa_base + off), leaf - off, TranslationPath::kPageWalk, leaf};
    }
  }
  const uint64_t region = va.value >> last_table_shift_;
  CacheEntry& table = last_tables_[region % caps::kTranslationCacheSlots];
  uint64_t last_table = 0;
  absl::StatusOr<Translation> t = table.tag == region ? translator_.WalkLastTable(va, table.pa_base)
                                                      : translator_.Walk(va, &last_table);
  if (!t.ok()) return t;
  if (last_table != 0) table = CacheEntry{region, last_table};
  if (t->path == TranslationPath::kPageWalk) {
    ++misses_;
    const uint64_t pa_base = t->pa.value - (va.value & (t->leaf_bytes - 1));
    for (int k = 0; k < leaf_shifts_.count; ++k) {
      if (t->leaf_bytes != (1ull << leaf_shifts_.shift[k])) continue;
      const uint64_t tag = va.value >> leaf_shifts_.shift[k];
      cache_[k][tag % caps::kTranslationCacheSlots] = CacheEntry{tag, pa_base};
    }
    if (mode_ == SnapshotMode::kRecord) {
      snapshot_->NoteLeaf(root_key_, va.value & ~(t->leaf_bytes - 1), t->leaf_bytes, pa_base);
    }
  }
  return t;
}

absl::StatusOr<Pa> Reader::Translate(Kva va) {
  constexpr uint64_t kPage = GuestSnapshot::kBlockBytes;
  if (mode_ == SnapshotMode::kReplay) {
    absl::StatusOr<uint64_t> pa = ReplayTranslate(va.value);
    if (!pa.ok()) return pa.status();
    // As in the copy stage, a translation stands only for a frame that was there to copy.
    if (snapshot_->FindPhys(*pa & ~(kPage - 1)) == nullptr) {
      return Missing(va.value, absl::StrCat("the translation of ", Hex(va)));
    }
    return Pa(*pa);
  }
  absl::StatusOr<Translation> t = TranslateCached(va);
  if (!t.ok()) return t.status();
  if (mode_ == SnapshotMode::kRecord) {
    // The decode stage may translate the same address (then read it physically): keep the page.
    if (absl::Status s = Mark(t->pa.value, 1); !s.ok()) return s;
  }
  return t->pa;
}

absl::Status Reader::ReadPhys(Pa pa, std::span<uint8_t> out) {
  if (absl::Status s = ChargeRead(out.size()); !s.ok()) return s;
  if (mode_ == SnapshotMode::kReplay) return ReplayPhys(pa, out);
  if (absl::Status s = translator_.ram().Read(pa, out); !s.ok()) return s;
  if (mode_ == SnapshotMode::kRecord) return Mark(pa.value, out.size());
  return absl::OkStatus();
}

absl::Status Reader::ReadVirt(Kva va, std::span<uint8_t> out) {
  if (!CheckedAdd(va.value, out.size())) return FaultError(va, "read wraps the address space");
  if (absl::Status s = ChargeRead(out.size()); !s.ok()) return s;
  if (mode_ == SnapshotMode::kReplay) return ReplayVirt(va, out);
  uint64_t done = 0;
  while (done < out.size()) {
    const Kva at = va + done;
    absl::StatusOr<Translation> t = TranslateCached(at);
    if (!t.ok()) return t.status();
    const uint64_t n = std::min<uint64_t>(out.size() - done, t->contiguous);
    absl::Status s = translator_.ram().Read(t->pa, out.subspan(done, n));
    if (!s.ok())
      return FaultError(at, absl::StrCat("maps to unreadable memory (", s.message(), ")"));
    if (mode_ == SnapshotMode::kRecord) {
      if (absl::Status m = Mark(t->pa.value, n); !m.ok()) return m;
    }
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
