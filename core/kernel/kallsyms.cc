// kallsyms decoding: token table expansion, names, and the address encodings.
#include "core/kernel/kallsyms.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/checked.h"
#include "core/base/guest_text.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

constexpr int kTokens = 256;

// kallsyms_names has no stored length: copy it from the guest in chunks as decoding advances.
class NamesCursor {
 public:
  NamesCursor(Reader& reader, Kva base) : reader_(reader), base_(base) {}

  // Makes bytes [pos, pos + n) available; returns a pointer to them.
  absl::StatusOr<const uint8_t*> Need(uint64_t pos, uint64_t n) {
    while (pos + n > buf_.size()) {
      if (buf_.size() >= caps::kMaxKallsymsNamesBytes) {
        return BadData(
            absl::StrCat("kallsyms_names exceeds ", caps::kMaxKallsymsNamesBytes, " bytes"));
      }
      // Grow to a chunk boundary, but never read past the page the data is known to need.
      // Chunks grow geometrically: small tables cost one small read, big ones few reads.
      uint64_t want =
          std::min<uint64_t>({std::max<uint64_t>(caps::kKallsymsNamesChunkBytes, buf_.size()),
                              caps::kMaxKallsymsNamesBytes - buf_.size(), 4 * caps::kMiB});
      size_t old = buf_.size();
      buf_.resize(old + want);
      absl::Status s = reader_.ReadVirt(base_ + old, std::span<uint8_t>(buf_.data() + old, want));
      if (!s.ok()) {
        // The table may end right before unmapped memory: fall back to whole pages.
        buf_.resize(old);
        uint64_t page = kPageSize - ((base_.value + old) & (kPageSize - 1));
        buf_.resize(old + page);
        KF_RETURN_IF_ERROR(
            reader_.ReadVirt(base_ + old, std::span<uint8_t>(buf_.data() + old, page)));
      }
    }
    return buf_.data() + pos;
  }

 private:
  Reader& reader_;
  Kva base_;
  std::vector<uint8_t> buf_;
};

// The 256 expanded tokens back to back; token t spans [start[t], start[t] + length[t]).
// Tokens up to this long are copied with one fixed-size memcpy (no call per token); almost all are.
constexpr size_t kShortToken = 16;

struct TokenTable {
  std::string bytes;
  uint32_t start[kTokens] = {};
  uint16_t length[kTokens] = {};
  bool ascii = true;  // then every decoded name is ASCII, hence UTF-8, with no check per name
};

absl::StatusOr<TokenTable> ReadTokens(Reader& reader, const KallsymsLocations& loc) {
  uint16_t index[kTokens];
  KF_RETURN_IF_ERROR(reader.ReadVirt(
      loc.token_index, std::span<uint8_t>(reinterpret_cast<uint8_t*>(index), sizeof(index))));
  const uint16_t max_index = *std::max_element(index, index + kTokens);
  KF_ASSIGN_OR_RETURN(std::vector<uint8_t> table, reader.ReadBytes(loc.token_table, max_index));
  KF_ASSIGN_OR_RETURN(std::string last, reader.ReadCString(loc.token_table + max_index,
                                                           caps::kMaxKallsymsTokenLength));
  table.insert(table.end(), last.begin(), last.end());
  table.push_back(0);
  TokenTable out;
  for (int i = 0; i < kTokens; ++i) {
    const char* start = reinterpret_cast<const char*>(table.data()) + index[i];
    size_t len = strnlen(start, table.size() - index[i]);
    if (len > caps::kMaxKallsymsTokenLength) return BadData("kallsyms token longer than a name");
    out.start[i] = static_cast<uint32_t>(out.bytes.size());
    out.length[i] = static_cast<uint16_t>(len);
    out.bytes.append(start, len);
  }
  for (unsigned char c : out.bytes) out.ascii = out.ascii && c < 0x80;
  // Slack after the last token: short tokens are copied as one fixed-size block.
  out.bytes.append(kShortToken, '\0');
  return out;
}

// Small exact-name matcher for the VMCOREINFO anchors: a length filter first, so the ~200k
// kallsyms names cost a table lookup each rather than a hash.
class AnchorMatcher {
 public:
  explicit AnchorMatcher(const SymbolAnchors& anchors) : anchors_(anchors) {
    for (const auto& [name, addr] : anchors) {
      if (name.size() < kMaxLength) has_length_[name.size()] = true;
    }
  }
  // Index into the anchors of the one named `name`, if any.
  std::optional<size_t> Match(absl::string_view name) const {
    if (name.size() >= kMaxLength || !has_length_[name.size()]) return std::nullopt;
    for (size_t a = 0; a < anchors_.size(); ++a) {
      if (anchors_[a].first == name) return a;
    }
    return std::nullopt;
  }

 private:
  static constexpr size_t kMaxLength = 64;
  const SymbolAnchors& anchors_;
  bool has_length_[kMaxLength] = {};
};

struct DecodedNames {
  SymbolIndex::Packed packed;
  std::vector<std::pair<uint32_t, size_t>> anchor_hits;  // (symbol, anchor) with equal names
  uint64_t names_bytes = 0;
};

absl::StatusOr<DecodedNames> DecodeNames(Reader& reader, const KallsymsLocations& loc,
                                         uint32_t num_syms, const TokenTable& tokens,
                                         const AnchorMatcher& anchors) {
  DecodedNames out;
  SymbolIndex::Packed& packed = out.packed;
  // Grow as names decode: a corrupt count must not allocate before the data backs it up.
  const uint32_t first_reserve = std::min<uint32_t>(num_syms, 1u << 16);
  packed.name_end.reserve(first_reserve);
  packed.types.reserve(first_reserve);
  packed.names.reserve(static_cast<size_t>(first_reserve) * 24);  // ~24 bytes per kernel name
  NamesCursor cursor(reader, loc.names);
  // One name's expansion: at most kMaxSymbolNameLength + 1 bytes plus the token that overran.
  char buf[caps::kMaxSymbolNameLength + 1 + caps::kMaxKallsymsTokenLength + kShortToken];
  uint64_t pos = 0;
  for (uint32_t i = 0; i < num_syms; ++i) {
    KF_ASSIGN_OR_RETURN(const uint8_t* p, cursor.Need(pos, 2));
    // Since v6.1 (73bbb94466fd "kallsyms: support big kernel symbols") a set top bit means a
    // two-byte length. Older kernels never reach 128 tokens (KSYM_NAME_LEN was 128), so reading
    // every table this way is unambiguous.
    uint32_t len = p[0];
    uint64_t header = 1;
    if (len & 0x80) {
      len = (len & 0x7f) | (static_cast<uint32_t>(p[1]) << 7);
      header = 2;
    }
    if (len == 0 || len > caps::kMaxSymbolNameLength) {
      return BadData(absl::StrCat("kallsyms symbol ", i, " has ", len, " tokens"));
    }
    KF_ASSIGN_OR_RETURN(const uint8_t* data, cursor.Need(pos + header, len));
    // The first decoded byte is the type letter; the rest is the name.
    size_t n = 0;
    for (uint32_t t = 0; t < len; ++t) {
      const uint32_t tlen = tokens.length[data[t]];
      const char* token = tokens.bytes.data() + tokens.start[data[t]];
      if (tlen <= kShortToken) {
        std::memcpy(buf + n, token, kShortToken);
      } else {
        std::memcpy(buf + n, token, tlen);
      }
      n += tlen;
      if (n > caps::kMaxSymbolNameLength + 1) {
        return BadData(absl::StrCat("kallsyms symbol ", i, " longer than ",
                                    caps::kMaxSymbolNameLength, " bytes"));
      }
    }
    if (n < 2) return BadData(absl::StrCat("kallsyms symbol ", i, " has no name"));
    absl::string_view name(buf + 1, n - 1);
    // Names end up in reports (symbols, backtraces): a hostile table must not smuggle in bytes
    // that are not UTF-8.
    std::string fixed;
    if (!tokens.ascii && !IsValidUtf8(name)) {
      fixed = GuestText(name);
      name = fixed;
    }
    if (packed.names.size() + name.size() > UINT32_MAX) {
      return BadData("kallsyms names exceed 4 GiB");
    }
    if (std::optional<size_t> a = anchors.Match(name)) out.anchor_hits.emplace_back(i, *a);
    packed.names.append(name.data(), name.size());
    packed.name_end.push_back(static_cast<uint32_t>(packed.names.size()));
    packed.types.push_back(buf[0]);
    pos += header + len;
  }
  out.names_bytes = pos;
  // Growth leaves up to half of each buffer unused: give it back, the index lives for the boot.
  packed.names.shrink_to_fit();
  packed.name_end.shrink_to_fit();
  packed.types.shrink_to_fit();
  return out;
}

absl::StatusOr<std::vector<uint32_t>> ReadU32Array(Reader& reader, Kva at, uint32_t count) {
  std::optional<uint64_t> bytes = CheckedMul(count, 4);
  if (!bytes) return BadData("kallsyms array size overflows");
  std::vector<uint32_t> out(count);
  KF_RETURN_IF_ERROR(
      reader.ReadVirt(at, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), *bytes)));
  return out;
}

uint64_t AddressOf(KallsymsEncoding e, const std::vector<uint32_t>& off, Kva offsets_kva,
                   uint64_t relative_base, uint32_t i) {
  const int32_t s = static_cast<int32_t>(off[i]);
  switch (e) {
    case KallsymsEncoding::kPlaceRelative:
      return offsets_kva.value + 4ull * i + static_cast<uint64_t>(static_cast<int64_t>(s));
    case KallsymsEncoding::kBaseRelative:
      return relative_base + off[i];
    case KallsymsEncoding::kBaseRelativeAbsolutePercpu:
      return s >= 0 ? static_cast<uint64_t>(s)
                    : relative_base - 1 - static_cast<uint64_t>(static_cast<int64_t>(s));
    case KallsymsEncoding::kAbsolute:
      break;
  }
  return 0;  // kAbsolute never reaches here (addresses are read directly)
}

}  // namespace

const char* KallsymsEncodingName(KallsymsEncoding e) {
  switch (e) {
    case KallsymsEncoding::kAbsolute:
      return "absolute";
    case KallsymsEncoding::kBaseRelative:
      return "base-relative";
    case KallsymsEncoding::kBaseRelativeAbsolutePercpu:
      return "base-relative-absolute-percpu";
    case KallsymsEncoding::kPlaceRelative:
      return "place-relative";
  }
  return "?";
}

SymbolAnchors AnchorsFromVmcoreInfo(const VmcoreInfo& info) {
  // Only SYMBOL() lines that print &name. VMCOREINFO_SYMBOL_ARRAY prints the *value* of a pointer
  // (SYMBOL(mem_section), SYMBOL(vmemmap) in 7.x), and on x86-64 SYMBOL(swapper_pg_dir) names a
  // macro.
  static constexpr absl::string_view kAddressOf[] = {"_stext",
                                                     "init_uts_ns",
                                                     "init_top_pgt",
                                                     "node_online_map",
                                                     "node_data",
                                                     "prb",
                                                     "printk_rb_static",
                                                     "clear_seq",
                                                     "kallsyms_names",
                                                     "kallsyms_num_syms",
                                                     "kallsyms_token_table",
                                                     "kallsyms_token_index",
                                                     "kallsyms_offsets",
                                                     "kallsyms_relative_base",
                                                     "kallsyms_addresses"};
  SymbolAnchors anchors;
  for (absl::string_view name : kAddressOf) {
    if (std::optional<Kva> addr = info.Symbol(name)) anchors.emplace_back(std::string(name), *addr);
  }
  // arm64 prints &swapper_pg_dir, a real array (arch/arm64/kernel/vmcore_info.c).
  if (info.arch == GuestArch::kArm64) {
    if (std::optional<Kva> addr = info.Symbol("swapper_pg_dir"))
      anchors.emplace_back("swapper_pg_dir", *addr);
  }
  std::sort(anchors.begin(), anchors.end());
  return anchors;
}

absl::StatusOr<KallsymsResult> DecodeKallsyms(Reader& reader, const KallsymsLocations& loc,
                                              const SymbolAnchors& anchors) {
  KF_ASSIGN_OR_RETURN(uint32_t num_syms, reader.ReadU32(loc.num_syms));
  if (num_syms == 0 || num_syms > caps::kMaxKallsymsSymbols) {
    return BadData(absl::StrCat("kallsyms_num_syms = ", num_syms, " outside (0, ",
                                caps::kMaxKallsymsSymbols, "]"));
  }
  KF_ASSIGN_OR_RETURN(TokenTable tokens, ReadTokens(reader, loc));
  const AnchorMatcher matcher(anchors);
  KF_ASSIGN_OR_RETURN(DecodedNames names, DecodeNames(reader, loc, num_syms, tokens, matcher));
  const std::vector<std::pair<uint32_t, size_t>>& anchor_hits = names.anchor_hits;

  // Which anchors appear in kallsyms at all (several entries for duplicated local names).
  std::vector<bool> anchor_seen(anchors.size(), false);
  size_t seen_count = 0;
  for (const auto& [i, a] : anchor_hits) {
    if (!anchor_seen[a]) ++seen_count;
    anchor_seen[a] = true;
  }
  if (seen_count == 0) {
    return absl::FailedPreconditionError(
        "no VMCOREINFO symbol appears in kallsyms: cannot validate the address encoding");
  }

  KallsymsResult result;
  result.names_bytes = names.names_bytes;
  // An encoding is right when every anchor name has at least one kallsyms entry at its address.
  auto accepts = [&](auto address_of) {
    std::vector<bool> matched(anchors.size(), false);
    size_t matched_count = 0;
    for (const auto& [i, a] : anchor_hits) {
      if (address_of(i) != anchors[a].second.value || matched[a]) continue;
      matched[a] = true;
      ++matched_count;
    }
    result.anchors_matched = matched_count;
    return matched_count == seen_count;
  };

  std::vector<uint64_t>& addresses = names.packed.addresses;
  std::string tried;
  bool found = false;
  if (loc.addresses) {
    std::optional<uint64_t> bytes = CheckedMul(num_syms, 8);
    if (!bytes) return BadData("kallsyms_addresses size overflows");
    addresses.resize(num_syms);
    KF_RETURN_IF_ERROR(reader.ReadVirt(
        *loc.addresses, std::span<uint8_t>(reinterpret_cast<uint8_t*>(addresses.data()), *bytes)));
    found = accepts([&](uint32_t i) { return addresses[i]; });
    if (found)
      result.encoding = KallsymsEncoding::kAbsolute;
    else
      tried = KallsymsEncodingName(KallsymsEncoding::kAbsolute);
  }
  if (!found && loc.offsets) {
    KF_ASSIGN_OR_RETURN(std::vector<uint32_t> off, ReadU32Array(reader, *loc.offsets, num_syms));
    std::optional<uint64_t> relative_base;
    if (loc.relative_base) {
      KF_ASSIGN_OR_RETURN(uint64_t rb, reader.ReadU64(*loc.relative_base));
      relative_base = rb;
    }
    std::vector<KallsymsEncoding> candidates = {KallsymsEncoding::kPlaceRelative};
    if (relative_base) {
      candidates.push_back(KallsymsEncoding::kBaseRelative);
      candidates.push_back(KallsymsEncoding::kBaseRelativeAbsolutePercpu);
    }
    for (KallsymsEncoding e : candidates) {
      auto address_of = [&](uint32_t i) {
        return AddressOf(e, off, *loc.offsets, relative_base.value_or(0), i);
      };
      if (!accepts(address_of)) {
        absl::StrAppend(&tried, tried.empty() ? "" : ", ", KallsymsEncodingName(e));
        continue;
      }
      addresses.resize(num_syms);
      for (uint32_t i = 0; i < num_syms; ++i) addresses[i] = address_of(i);
      result.encoding = e;
      found = true;
      break;
    }
  }
  if (!found) {
    return BadData(absl::StrCat(
        "kallsyms addresses match VMCOREINFO under no known encoding (tried ", tried, ")"));
  }
  result.symbols = SymbolIndex(std::move(names.packed));
  return result;
}

}  // namespace kfreeze
