// kallsyms table encoder for synthetic images (token compression + address encodings).
#include "tests/support/kallsyms_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace kfreeze::testing {
namespace {

[[noreturn]] void Die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "kallsyms writer: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <typename T>
void Append(std::vector<uint8_t>& out, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

KallsymsNameTables EncodeKallsymsNames(const std::vector<KallsymsInput>& symbols) {
  // Every byte that occurs stands for itself; the remaining codes become frequent substrings,
  // as in scripts/kallsyms.c (which also leaves no code unused).
  std::vector<std::string> full;
  full.reserve(symbols.size());
  std::set<uint8_t> used;
  for (const KallsymsInput& s : symbols) {
    full.push_back(std::string(1, s.type) + s.name);
    for (char c : full.back()) used.insert(static_cast<uint8_t>(c));
  }
  // Token choice only affects compression; a sample of names keeps big images fast to build.
  // Sampling from the sorted names keeps the tables independent of symbol order, so the builder
  // can size them before it knows the final (address) order.
  constexpr size_t kTokenSample = 2048;
  std::vector<std::string> sorted = full;
  std::sort(sorted.begin(), sorted.end());
  const size_t stride = std::max<size_t>(1, sorted.size() / kTokenSample);
  std::map<std::string, uint64_t> counts;
  for (size_t n = 0; n < sorted.size(); n += stride) {
    const std::string& f = sorted[n];
    for (size_t len = 2; len <= 6; ++len) {
      for (size_t i = 0; i + len <= f.size(); ++i) counts[f.substr(i, len)] += len - 1;
    }
  }
  std::vector<std::pair<uint64_t, std::string>> ranked;
  for (auto& [sub, score] : counts) ranked.emplace_back(score, sub);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> tokens(256);
  size_t next_rank = 0;
  for (int code = 0; code < 256; ++code) {
    if (used.count(static_cast<uint8_t>(code))) {
      tokens[code] = std::string(1, static_cast<char>(code));
    } else if (code != 0 && next_rank < ranked.size()) {
      tokens[code] = ranked[next_rank++].second;
    }
  }
  KallsymsNameTables out;
  for (int code = 0; code < 256; ++code) {
    Append<uint16_t>(out.token_index, static_cast<uint16_t>(out.token_table.size()));
    out.token_table.insert(out.token_table.end(), tokens[code].begin(), tokens[code].end());
    out.token_table.push_back(0);
  }
  if (out.token_table.size() > 0xffff) Die("token table too large", "");
  // Greedy longest-token encoding; candidates bucketed by first byte, longest first.
  std::vector<std::vector<std::pair<std::string, uint8_t>>> by_first(256);
  for (int code = 0; code < 256; ++code) {
    if (tokens[code].empty()) continue;
    by_first[static_cast<uint8_t>(tokens[code][0])].emplace_back(tokens[code],
                                                                 static_cast<uint8_t>(code));
  }
  for (auto& bucket : by_first) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }
  for (const std::string& f : full) {
    std::vector<uint8_t> codes;
    for (size_t i = 0; i < f.size();) {
      for (const auto& [tok, code] : by_first[static_cast<uint8_t>(f[i])]) {
        if (f.compare(i, tok.size(), tok) == 0) {
          codes.push_back(code);
          i += tok.size();
          break;
        }
      }
    }
    if (codes.size() >= (1u << 14)) Die("symbol too long", f);
    if (codes.size() >= 128) {
      out.names.push_back(static_cast<uint8_t>(0x80 | (codes.size() & 0x7f)));
      out.names.push_back(static_cast<uint8_t>(codes.size() >> 7));
    } else {
      out.names.push_back(static_cast<uint8_t>(codes.size()));
    }
    out.names.insert(out.names.end(), codes.begin(), codes.end());
  }
  return out;
}

uint64_t KallsymsAddressTableBytes(KallsymsEncoding encoding, size_t count) {
  return encoding == KallsymsEncoding::kAbsolute ? 8ull * count : 4ull * count;
}

KallsymsAddressTables EncodeKallsymsAddresses(const std::vector<KallsymsInput>& symbols,
                                              KallsymsEncoding encoding, Kva offsets_kva) {
  KallsymsAddressTables out;
  if (encoding == KallsymsEncoding::kAbsolute) {
    for (const KallsymsInput& s : symbols) Append<uint64_t>(out.values, s.address);
    return out;
  }
  // The kernel's relative base is the lowest non-absolute address.
  uint64_t base = ~0ull;
  for (const KallsymsInput& s : symbols) {
    const bool absolute =
        encoding == KallsymsEncoding::kBaseRelativeAbsolutePercpu && s.address < (1ull << 31);
    if (!absolute) base = std::min(base, s.address);
  }
  out.relative_base = base;
  for (size_t i = 0; i < symbols.size(); ++i) {
    const uint64_t a = symbols[i].address;
    int64_t value = 0;
    switch (encoding) {
      case KallsymsEncoding::kPlaceRelative:
        value = static_cast<int64_t>(a - (offsets_kva.value + 4 * i));
        if (value < INT32_MIN || value > INT32_MAX)
          Die("place-relative offset out of range", symbols[i].name);
        break;
      case KallsymsEncoding::kBaseRelative:
        if (a < base || a - base > UINT32_MAX)
          Die("base-relative offset out of range", symbols[i].name);
        value = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(a - base)));
        break;
      case KallsymsEncoding::kBaseRelativeAbsolutePercpu:
        if (a < (1ull << 31)) {
          value = static_cast<int64_t>(a);
        } else {
          if (a < base || a - base > INT32_MAX)
            Die("absolute-percpu offset out of range", symbols[i].name);
          value = -static_cast<int64_t>(a - base) - 1;
        }
        break;
      case KallsymsEncoding::kAbsolute:
        break;
    }
    Append<int32_t>(out.values, static_cast<int32_t>(value));
  }
  return out;
}

}  // namespace kfreeze::testing
