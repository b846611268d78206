#include "core/unwind/orc_table.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status.h"
#include "core/base/types.h"

namespace kfreeze {
namespace {

// Bulk reads in pieces this big: few enough calls to be fast, small enough that the budget's
// deadline check (on every read of 64 KiB or more) runs often.
constexpr uint64_t kReadChunkBytes = 1024 * 1024;

absl::Status ReadChunked(Reader& reader, uint64_t kva, uint8_t* out, uint64_t size) {
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = std::min(kReadChunkBytes, size - done);
    KF_RETURN_IF_ERROR(reader.ReadVirt(Kva(kva + done), std::span<uint8_t>(out + done, n)));
    done += n;
  }
  return absl::OkStatus();
}

std::string SectionName(const OrcSectionRef& ref) {
  return ref.module.empty() ? std::string("vmlinux") : absl::StrCat("module ", ref.module);
}

// A section's tables as read, before the layout is known.
struct RawSection {
  const OrcSectionRef* ref = nullptr;
  std::vector<uint64_t> ips;
  std::vector<RawOrcEntry> raw;
};

absl::StatusOr<RawSection> ReadSection(Reader& reader, const OrcSectionRef& ref,
                                       uint64_t max_entries) {
  if (ref.count == 0) return absl::NotFoundError("its ORC table is empty");
  if (ref.count > max_entries) {
    return BadData(
        absl::StrCat("its ORC table claims ", ref.count, " entries (cap ", max_entries, ")"));
  }
  if (ref.text_begin >= ref.text_end) {
    return BadData(
        absl::StrCat("its text range ", Hex(ref.text_begin), "..", Hex(ref.text_end), " is empty"));
  }
  const uint64_t ip_bytes = ref.count * 4, orc_bytes = ref.count * kOrcEntryBytes;
  constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();
  if (ref.ip_table_kva > kTop - ip_bytes || ref.orc_table_kva > kTop - orc_bytes) {
    return BadData("its ORC table wraps around the address space");
  }
  // Both ends of both tables first: a hostile count over unmapped memory fails here, before
  // megabytes are allocated for it.
  struct End {
    const char* what;
    uint64_t at;
  };
  const End ends[] = {{"its ip table at ", ref.ip_table_kva},
                      {"its ip table at ", ref.ip_table_kva + ip_bytes - 1},
                      {"its ORC entries at ", ref.orc_table_kva},
                      {"its ORC entries at ", ref.orc_table_kva + orc_bytes - 1}};
  for (const End& e : ends) {
    if (absl::StatusOr<uint8_t> b = reader.ReadU8(Kva(e.at)); !b.ok()) {
      return absl::Status(b.status().code(),
                          absl::StrCat(e.what, Hex(e.at), ": unreadable: ", b.status().message()));
    }
  }
  RawSection out;
  out.ref = &ref;
  std::vector<int32_t> rel(ref.count);
  absl::Status s =
      ReadChunked(reader, ref.ip_table_kva, reinterpret_cast<uint8_t*>(rel.data()), ip_bytes);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("its ip table at ", Hex(ref.ip_table_kva),
                                               " is unreadable: ", s.message()));
  }
  out.raw.resize(ref.count);
  s = ReadChunked(reader, ref.orc_table_kva, reinterpret_cast<uint8_t*>(out.raw.data()), orc_bytes);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("its ORC entries at ", Hex(ref.orc_table_kva),
                                               " are unreadable: ", s.message()));
  }
  // Place-relative: each s32 is an offset from its own address (wrapping like the kernel's).
  out.ips.resize(ref.count);
  uint64_t outside = 0;
  for (uint64_t i = 0; i < ref.count; ++i) {
    out.ips[i] = ref.ip_table_kva + 4 * i + static_cast<uint64_t>(static_cast<int64_t>(rel[i]));
    // A table ends with a terminator at its text's end, so the end itself counts as inside.
    if (out.ips[i] < ref.text_begin || out.ips[i] > ref.text_end) ++outside;
  }
  // Wrong table addresses decode to ips all over the address space, not into this text.
  if (outside * 2 > ref.count) {
    return BadData(absl::StrCat(outside, " of its ", ref.count, " ORC ips fall outside its text ",
                                Hex(ref.text_begin), "..", Hex(ref.text_end)));
  }
  // The kernel sorts (modules at load, vmlinux at build); tolerate a table that is not.
  if (!std::is_sorted(out.ips.begin(), out.ips.end())) {
    std::vector<uint32_t> order(ref.count);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return out.ips[a] < out.ips[b]; });
    std::vector<uint64_t> ips(ref.count);
    std::vector<RawOrcEntry> raw(ref.count);
    for (uint64_t i = 0; i < ref.count; ++i) {
      ips[i] = out.ips[order[i]];
      raw[i] = out.raw[order[i]];
    }
    out.ips = std::move(ips);
    out.raw = std::move(raw);
  }
  return out;
}

}  // namespace

absl::StatusOr<OrcSectionRef> VmlinuxOrcSection(const SymbolIndex& symbols) {
  OrcSectionRef ref;
  KF_ASSIGN_OR_RETURN(Kva ip_start, symbols.Require("__start_orc_unwind_ip"));
  KF_ASSIGN_OR_RETURN(Kva ip_stop, symbols.Require("__stop_orc_unwind_ip"));
  KF_ASSIGN_OR_RETURN(Kva orc_start, symbols.Require("__start_orc_unwind"));
  KF_ASSIGN_OR_RETURN(Kva stext, symbols.Require("_stext"));
  KF_ASSIGN_OR_RETURN(Kva etext, symbols.Require("_etext"));
  if (ip_stop < ip_start || (ip_stop - ip_start) % 4 != 0) {
    return BadData(absl::StrCat("vmlinux ORC ip table bounds ", Hex(ip_start), "..", Hex(ip_stop),
                                " are not a whole number of entries"));
  }
  ref.ip_table_kva = ip_start.value;
  ref.orc_table_kva = orc_start.value;
  ref.count = (ip_stop - ip_start) / 4;
  ref.text_begin = stext.value;
  ref.text_end = etext.value;
  // Init text lies after _etext; its ORC entries are in the same table.
  std::optional<Kva> sinit = symbols.Address("_sinittext");
  std::optional<Kva> einit = symbols.Address("_einittext");
  if (sinit && einit && *sinit < *einit) {
    ref.text_begin = std::min(ref.text_begin, sinit->value);
    ref.text_end = std::max(ref.text_end, einit->value);
  }
  return ref;
}

absl::StatusOr<std::shared_ptr<const OrcTables>> OrcTables::Load(
    Reader& reader, const std::vector<OrcSectionRef>& sections, const Limits& limits) {
  std::shared_ptr<OrcTables> tables(new OrcTables());
  std::vector<RawSection> loaded;
  uint64_t total = 0;
  for (const OrcSectionRef& ref : sections) {
    const uint64_t room = limits.max_entries_total - std::min(total, limits.max_entries_total);
    absl::StatusOr<RawSection> raw =
        ref.count <= limits.max_entries_per_section && ref.count > room
            ? absl::StatusOr<RawSection>(BadData(
                  absl::StrCat("its ", ref.count, " ORC entries would pass the total cap of ",
                               limits.max_entries_total)))
            : ReadSection(reader, ref, limits.max_entries_per_section);
    if (!raw.ok()) {
      tables->skipped_.push_back(
          absl::StrCat(SectionName(ref), " skipped: ", raw.status().message()));
      // A spent budget (deadline, bytes) fails every later read too: stop trying.
      if (reader.BudgetExhausted()) break;
      continue;
    }
    total += raw->raw.size();
    loaded.push_back(std::move(*raw));
  }
  if (loaded.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no ORC table could be loaded",
                                                      tables->skipped_.empty() ? "" : ": ",
                                                      absl::StrJoin(tables->skipped_, "; ")));
  }
  // vmlinux decides; modules are built by the same objtool.
  const RawSection* primary = nullptr;
  for (const RawSection& s : loaded) {
    if (s.ref->module.empty()) {
      primary = &s;
      break;
    }
    if (primary == nullptr || s.raw.size() > primary->raw.size()) primary = &s;
  }
  absl::StatusOr<OrcLayout> layout = DetectOrcLayout(primary->raw);
  if (!layout.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(SectionName(*primary->ref), ": ", layout.status().message()));
  }
  tables->layout_ = *layout;
  for (RawSection& raw : loaded) {
    Section s;
    s.module = raw.ref->module;
    s.text_begin = raw.ref->text_begin;
    s.text_end = raw.ref->text_end;
    s.ips = std::move(raw.ips);
    s.entries.reserve(raw.raw.size());
    for (const RawOrcEntry& r : raw.raw) s.entries.push_back(DecodeOrcEntry(r, *layout));
    tables->entries_ += s.entries.size();
    tables->sections_.push_back(std::move(s));
  }
  std::sort(tables->sections_.begin(), tables->sections_.end(),
            [](const Section& a, const Section& b) { return a.text_begin < b.text_begin; });
  uint64_t max_end = 0;
  for (const Section& s : tables->sections_) {
    max_end = std::max(max_end, s.text_end);
    tables->max_end_.push_back(max_end);
  }
  return std::shared_ptr<const OrcTables>(std::move(tables));
}

std::optional<OrcLookup> OrcTables::Find(uint64_t ip) const {
  auto it = std::upper_bound(sections_.begin(), sections_.end(), ip,
                             [](uint64_t v, const Section& s) { return v < s.text_begin; });
  // Back through the sections starting at or below ip, while any of them still reaches ip.
  for (size_t i = static_cast<size_t>(it - sections_.begin()); i-- > 0;) {
    if (max_end_[i] <= ip) break;
    const Section& s = sections_[i];
    if (ip >= s.text_end) continue;
    auto e = std::upper_bound(s.ips.begin(), s.ips.end(), ip);
    if (e == s.ips.begin()) continue;
    return OrcLookup{s.entries[static_cast<size_t>(e - s.ips.begin()) - 1], &s.module};
  }
  return std::nullopt;
}

}  // namespace kfreeze
