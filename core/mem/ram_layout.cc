// RamLayout: named QEMU defaults, the --ram-layout syntax and HMP `info mtree -f` parsing.
#include "core/mem/ram_layout.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/caps.h"
#include "core/base/checked.h"

namespace kfreeze {
namespace {

constexpr uint64_t k4GiB = 4 * caps::kGiB;

RamLayout SplitAt4G(uint64_t ram_bytes, uint64_t lowmem_limit) {
  std::vector<RamRegion> regions;
  uint64_t below = std::min(ram_bytes, lowmem_limit);
  if (below > 0) regions.push_back({Pa(0), below, 0});
  if (ram_bytes > below) regions.push_back({Pa(k4GiB), ram_bytes - below, below});
  // Cannot fail for ram_bytes > 0 (Q35/Pc handle 0): the ranges are disjoint and non-empty.
  return RamLayout::FromRegions(std::move(regions)).value();
}

// Parses "0x1000", "4096", "2G", "512M", "64K".
absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  uint64_t mult = 1;
  if (!text.empty()) {
    char last = absl::ascii_toupper(text.back());
    if (last == 'K' || last == 'M' || last == 'G') {
      mult = last == 'K' ? caps::kKiB : last == 'M' ? caps::kMiB : caps::kGiB;
      text.remove_suffix(1);
    }
  }
  uint64_t value = 0;
  bool ok = absl::ConsumePrefix(&text, "0x") ? absl::SimpleHexAtoi(text, &value)
                                             : absl::SimpleAtoi(text, &value);
  if (!ok || text.empty())
    return absl::InvalidArgumentError(absl::StrCat("bad number '", text, "'"));
  std::optional<uint64_t> r = CheckedMul(value, mult);
  if (!r) return absl::InvalidArgumentError(absl::StrCat("number overflows: '", text, "'"));
  return *r;
}

struct MtreeRange {
  uint64_t start = 0;
  uint64_t last = 0;  // inclusive
  std::string kind;
  std::string name;
  uint64_t offset = 0;
};

// "  0000000000000000-000000000009ffff (prio 0, ram): mem0 @0000000000000000 KVM"
std::optional<MtreeRange> ParseMtreeLine(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);  // HMP text ends lines with "\r\n"
  size_t dash = line.find('-');
  size_t paren = line.find(" (");
  size_t close = line.find("): ");
  if (dash == absl::string_view::npos || paren == absl::string_view::npos ||
      close == absl::string_view::npos || !(dash < paren && paren < close)) {
    return std::nullopt;
  }
  MtreeRange r;
  if (!absl::SimpleHexAtoi(line.substr(0, dash), &r.start) ||
      !absl::SimpleHexAtoi(line.substr(dash + 1, paren - dash - 1), &r.last)) {
    return std::nullopt;
  }
  absl::string_view attrs = line.substr(paren + 2, close - paren - 2);  // "prio 0, ram"
  size_t comma = attrs.find(", ");
  if (comma == absl::string_view::npos) return std::nullopt;
  r.kind = std::string(attrs.substr(comma + 2));
  std::vector<absl::string_view> words =
      absl::StrSplit(line.substr(close + 3), ' ', absl::SkipEmpty());
  if (words.empty()) return std::nullopt;
  r.name = std::string(words[0]);
  for (size_t i = 1; i < words.size(); ++i) {
    absl::string_view w = words[i];
    if (absl::ConsumePrefix(&w, "@") && !absl::SimpleHexAtoi(w, &r.offset)) return std::nullopt;
  }
  if (r.last < r.start) return std::nullopt;
  return r;
}

}  // namespace

// An empty RAM file (e.g. /dev/zero, whose size is 0) gives an empty layout, as Flat(0) does;
// GuestRam then refuses it with a status instead of the split failing.
RamLayout RamLayout::Q35(uint64_t ram_bytes) {
  if (ram_bytes == 0) return Flat(0);
  return SplitAt4G(ram_bytes, ram_bytes >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull);
}

RamLayout RamLayout::Pc(uint64_t ram_bytes) {
  if (ram_bytes == 0) return Flat(0);
  return SplitAt4G(ram_bytes, ram_bytes >= 0xe0000000ull ? 0xc0000000ull : 0xe0000000ull);
}

RamLayout RamLayout::Flat(uint64_t ram_bytes) {
  RamLayout layout;
  if (ram_bytes > 0) layout.regions_.push_back({Pa(0), ram_bytes, 0});
  return layout;
}

RamLayout RamLayout::Virt(uint64_t ram_bytes) {
  if (ram_bytes == 0) return Flat(0);
  absl::StatusOr<RamLayout> layout = FromRegions({{Pa(kVirtRamBase), ram_bytes, 0}});
  return layout.ok() ? *layout : Flat(0);  // only a size past the address space fails
}

absl::StatusOr<RamLayout> RamLayout::Parse(absl::string_view spec, uint64_t ram_bytes) {
  spec = absl::StripAsciiWhitespace(spec);
  if (spec == "q35") return Q35(ram_bytes);
  if (spec == "pc") return Pc(ram_bytes);
  if (spec == "flat") return Flat(ram_bytes);
  if (spec == "virt") return Virt(ram_bytes);
  std::vector<RamRegion> regions;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> gpa_rest = absl::StrSplit(item, ':');
    std::pair<absl::string_view, absl::string_view> size_off = absl::StrSplit(gpa_rest.second, '@');
    if (gpa_rest.second.empty() || size_off.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ram layout item '", item, "' is not GPA:SIZE@FILEOFFSET"));
    }
    absl::StatusOr<uint64_t> gpa = ParseSize(gpa_rest.first);
    absl::StatusOr<uint64_t> size = ParseSize(size_off.first);
    absl::StatusOr<uint64_t> off = ParseSize(size_off.second);
    for (const absl::StatusOr<uint64_t>* v : {&gpa, &size, &off}) {
      if (!v->ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ram layout item '", item, "': ", v->status().message()));
      }
    }
    regions.push_back({Pa(*gpa), *size, *off});
  }
  if (regions.empty()) return absl::InvalidArgumentError("empty ram layout");
  return FromRegions(std::move(regions));
}

absl::StatusOr<RamLayout> RamLayout::FromMtree(absl::string_view text) {
  // Collect the ranges of the flat view that address space "memory" uses.
  bool in_memory_view = false;
  bool seen_memory_view = false;
  std::vector<MtreeRange> ranges;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(trimmed, "FlatView #")) {
      if (seen_memory_view && in_memory_view) break;
      in_memory_view = false;
      continue;
    }
    if (absl::StartsWith(trimmed, "AS \"memory\"")) {
      in_memory_view = seen_memory_view = true;
      continue;
    }
    if (!in_memory_view) continue;
    if (std::optional<MtreeRange> r = ParseMtreeLine(line)) ranges.push_back(std::move(*r));
  }
  if (!seen_memory_view) {
    return absl::NotFoundError("info mtree -f: no flat view for address space \"memory\"");
  }
  // The guest's main RAM is the RAM-kind region with the most bytes mapped.
  std::map<std::string, uint64_t> ram_bytes_by_name;
  for (const MtreeRange& r : ranges) {
    if (r.kind == "ram") ram_bytes_by_name[r.name] += r.last - r.start + 1;
  }
  if (ram_bytes_by_name.empty()) return absl::NotFoundError("info mtree -f: no RAM ranges");
  auto main = std::max_element(ram_bytes_by_name.begin(), ram_bytes_by_name.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<RamRegion> regions;
  for (const MtreeRange& r : ranges) {
    // PAM-controlled BIOS shadow ranges show the same region as "rom"; they are still RAM bytes.
    if (r.name != main->first || (r.kind != "ram" && r.kind != "rom")) continue;
    regions.push_back({Pa(r.start), r.last - r.start + 1, r.offset});
  }
  return FromRegions(std::move(regions));
}

absl::StatusOr<RamLayout> RamLayout::FromRegions(std::vector<RamRegion> regions) {
  if (regions.size() > caps::kMaxRamRegions * 16) {
    return absl::InvalidArgumentError("too many RAM ranges");
  }
  std::sort(regions.begin(), regions.end(),
            [](const RamRegion& a, const RamRegion& b) { return a.gpa < b.gpa; });
  RamLayout layout;
  for (const RamRegion& r : regions) {
    if (r.size == 0) return absl::InvalidArgumentError("empty RAM range");
    if (!CheckedAdd(r.gpa.value, r.size) || !CheckedAdd(r.file_offset, r.size)) {
      return absl::InvalidArgumentError(absl::StrCat("RAM range at ", Hex(r.gpa), " overflows"));
    }
    if (!layout.regions_.empty()) {
      RamRegion& prev = layout.regions_.back();
      uint64_t prev_end = prev.gpa.value + prev.size;
      if (r.gpa.value < prev_end) {
        return absl::InvalidArgumentError(absl::StrCat("RAM ranges overlap at ", Hex(r.gpa)));
      }
      if (r.gpa.value == prev_end && r.file_offset == prev.file_offset + prev.size) {
        prev.size += r.size;  // merge contiguous pieces (mtree splits RAM around holes)
        continue;
      }
    }
    layout.regions_.push_back(r);
  }
  if (layout.regions_.size() > caps::kMaxRamRegions) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", caps::kMaxRamRegions, " RAM ranges after merging"));
  }
  if (layout.regions_.empty()) return absl::InvalidArgumentError("no RAM ranges");
  return layout;
}

uint64_t RamLayout::EndPa() const {
  return regions_.empty() ? 0 : regions_.back().gpa.value + regions_.back().size;
}

uint64_t RamLayout::FileBytesNeeded() const {
  uint64_t end = 0;
  for (const RamRegion& r : regions_) end = std::max(end, r.file_offset + r.size);
  return end;
}

std::string RamLayout::ToString() const {
  return absl::StrJoin(regions_, ",", [](std::string* out, const RamRegion& r) {
    absl::StrAppend(out, Hex(r.gpa), ":", Hex(r.size), "@", Hex(r.file_offset));
  });
}

}  // namespace kfreeze
