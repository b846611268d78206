// VMCOREINFO note scan and parse.
#include "core/kernel/vmcoreinfo.h"

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/caps.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// Elf64_Nhdr {n_namesz = 11, n_descsz, n_type = 0} then "VMCOREINFO\0" padded to 4 bytes.
constexpr size_t kNoteHeaderBytes = 12;
constexpr size_t kNoteNameBytes = 12;
constexpr size_t kNoteDescOffset = kNoteHeaderBytes + kNoteNameBytes;
constexpr char kNoteName[] = "VMCOREINFO";

struct NotePattern {
  uint8_t bytes[23] = {};
  uint8_t mask[23] = {};
  NotePattern() {
    const uint32_t namesz = sizeof(kNoteName);  // 11, with the NUL
    std::memcpy(bytes, &namesz, 4);
    std::memset(mask, 0xff, sizeof(mask));
    std::memset(mask + 4, 0, 4);  // n_descsz varies
    std::memcpy(bytes + kNoteHeaderBytes, kNoteName, sizeof(kNoteName));
  }
};

// "NAME(arg)" -> arg if the key has that prefix.
std::optional<absl::string_view> KeyArg(absl::string_view key, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&key, prefix) || !absl::ConsumePrefix(&key, "(") ||
      !absl::ConsumeSuffix(&key, ")")) {
    return std::nullopt;
  }
  return key;
}

// Decimal (possibly negative) or 0x-prefixed hex, as printed by %ld / %lx with 0x.
std::optional<int64_t> ParseNumber(absl::string_view value) {
  int64_t n;
  if (absl::SimpleAtoi(value, &n)) return n;
  uint64_t u;
  if (absl::ConsumePrefix(&value, "0x") && absl::SimpleHexAtoi(value, &u))
    return static_cast<int64_t>(u);
  return std::nullopt;
}

absl::Status Bad(absl::string_view what) { return BadData(absl::StrCat("VMCOREINFO: ", what)); }

std::optional<uint64_t> Number(const VmcoreInfo& info, absl::string_view name) {
  auto it = info.numbers.find(name);
  if (it == info.numbers.end()) return std::nullopt;
  return static_cast<uint64_t>(it->second);
}

// A bit count the kernel prints (VA_BITS, T1SZ): 1..64 or it is not one.
absl::StatusOr<std::optional<uint32_t>> BitCount(const VmcoreInfo& info, absl::string_view name) {
  std::optional<uint64_t> v = Number(info, name);
  if (!v) return std::nullopt;
  if (*v == 0 || *v > 64)
    return Bad(absl::StrCat("NUMBER(", name, ")=", *v, " is not a bit count"));
  return static_cast<uint32_t>(*v);
}

absl::Status ParseArm64(VmcoreInfo& info) {
  info.arch = GuestArch::kArm64;
  Arm64VmcoreInfo& a = info.arm64;
  a.kimage_voffset = *Number(info, "kimage_voffset");
  std::optional<uint64_t> phys_offset = Number(info, "PHYS_OFFSET");
  if (!phys_offset) return Bad("arm64 note without a readable NUMBER(PHYS_OFFSET)");
  a.phys_offset = *phys_offset;
  KF_ASSIGN_OR_RETURN(std::optional<uint32_t> va_bits, BitCount(info, "VA_BITS"));
  if (!va_bits) return Bad("arm64 note without a readable NUMBER(VA_BITS)");
  a.va_bits = *va_bits;
  KF_ASSIGN_OR_RETURN(a.tcr_t1sz, BitCount(info, "TCR_EL1_T1SZ"));
  KF_ASSIGN_OR_RETURN(a.max_physmem_bits, BitCount(info, "MAX_PHYSMEM_BITS"));
  a.pac_mask = Number(info, "KERNELPACMASK").value_or(0);
  return absl::OkStatus();
}

}  // namespace

std::optional<Kva> VmcoreInfo::Symbol(absl::string_view name) const {
  auto it = symbols.find(name);
  if (it == symbols.end()) return std::nullopt;
  return Kva(it->second);
}

absl::StatusOr<Kva> VmcoreInfo::PageTableRoot() const {
  if (arch == GuestArch::kArm64) {
    if (std::optional<Kva> v = Symbol("swapper_pg_dir")) return *v;
    return absl::NotFoundError("VMCOREINFO has no SYMBOL(swapper_pg_dir)");
  }
  for (absl::string_view name : {"init_top_pgt", "swapper_pg_dir"}) {
    if (std::optional<Kva> v = Symbol(name)) return *v;
  }
  return absl::NotFoundError(
      "VMCOREINFO has neither SYMBOL(init_top_pgt) nor SYMBOL(swapper_pg_dir)");
}

absl::StatusOr<KallsymsLocations> VmcoreInfo::Kallsyms() const {
  KallsymsLocations loc;
  struct Required {
    const char* name;
    Kva* out;
  } required[] = {{"kallsyms_names", &loc.names},
                  {"kallsyms_num_syms", &loc.num_syms},
                  {"kallsyms_token_table", &loc.token_table},
                  {"kallsyms_token_index", &loc.token_index}};
  for (const Required& r : required) {
    std::optional<Kva> v = Symbol(r.name);
    if (!v) {
      return absl::NotFoundError(absl::StrCat("VMCOREINFO has no SYMBOL(", r.name,
                                              ") (kernel older than v6.0 or !CONFIG_KALLSYMS)"));
    }
    *r.out = *v;
  }
  loc.offsets = Symbol("kallsyms_offsets");
  loc.relative_base = Symbol("kallsyms_relative_base");
  loc.addresses = Symbol("kallsyms_addresses");
  if (!loc.offsets && !loc.addresses) {
    return absl::NotFoundError(
        "VMCOREINFO has neither SYMBOL(kallsyms_offsets) nor "
        "SYMBOL(kallsyms_addresses)");
  }
  return loc;
}

absl::StatusOr<VmcoreInfo> ParseVmcoreInfo(absl::string_view text) {
  text = text.substr(0, text.find('\0'));
  if (!absl::StartsWith(text, "OSRELEASE=")) return Bad("text does not start with OSRELEASE=");
  VmcoreInfo info;
  info.text = std::string(text);
  bool have_offset = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    absl::string_view key = kv.first, value = kv.second;
    if (key == "OSRELEASE") {
      if (value.empty() || value.size() > caps::kMaxOsReleaseLength) return Bad("bad OSRELEASE");
      info.osrelease = std::string(value);
    } else if (key == "PAGESIZE") {
      if (!absl::SimpleAtoi(value, &info.page_size) || info.page_size == 0 ||
          (info.page_size & (info.page_size - 1)) != 0) {
        return Bad(absl::StrCat("bad PAGESIZE '", value, "'"));
      }
    } else if (key == "KERNELOFFSET") {
      if (!absl::SimpleHexAtoi(value, &info.kernel_offset)) {
        return Bad(absl::StrCat("bad KERNELOFFSET '", value, "'"));
      }
      have_offset = true;
    } else if (std::optional<absl::string_view> sym = KeyArg(key, "SYMBOL")) {
      uint64_t addr;
      if (!absl::SimpleHexAtoi(value, &addr)) {
        return Bad(absl::StrCat("bad SYMBOL(", *sym, ") '", value, "'"));
      }
      info.symbols[std::string(*sym)] = addr;
    } else {
      // NUMBER/OFFSET/SIZE are mostly decimal ("%ld"), but arch code also prints some in hex
      // (7.x: NUMBER(VMALLOC_START)=0xff7f...). Values we cannot read are left out of the
      // tables (the raw text keeps them); required ones are checked below.
      absl::flat_hash_map<std::string, int64_t>* table = nullptr;
      std::optional<absl::string_view> arg;
      if ((arg = KeyArg(key, "NUMBER")))
        table = &info.numbers;
      else if ((arg = KeyArg(key, "OFFSET")))
        table = &info.offsets;
      else if ((arg = KeyArg(key, "SIZE")))
        table = &info.sizes;
      if (table == nullptr) continue;
      if (std::optional<int64_t> n = ParseNumber(value)) (*table)[std::string(*arg)] = *n;
    }
  }
  if (info.osrelease.empty()) return Bad("no OSRELEASE");
  if (!have_offset) return Bad("no KERNELOFFSET");
  if (info.numbers.contains("kimage_voffset")) {
    KF_RETURN_IF_ERROR(ParseArm64(info));
  } else if (auto pb = info.numbers.find("phys_base"); pb != info.numbers.end()) {
    info.arch = GuestArch::kX86_64;
    info.phys_base = static_cast<uint64_t>(pb->second);  // printed with %ld; may be "negative"
    auto l5 = info.numbers.find("pgtable_l5_enabled");
    info.pgtable_l5 = l5 != info.numbers.end() && l5->second != 0;
  } else {
    return Bad(
        "neither a readable NUMBER(phys_base) (x86-64) nor NUMBER(kimage_voffset) (arm64): an "
        "architecture kfreeze does not read");
  }
  return info;
}

absl::StatusOr<VmcoreInfo> ReadVmcoreInfoAt(const GuestRam& ram, Pa pa) {
  uint8_t header[kNoteDescOffset];
  KF_RETURN_IF_ERROR(ram.Read(pa, header));
  NotePattern pattern;
  for (size_t i = 0; i < sizeof(pattern.bytes); ++i) {
    if ((header[i] & pattern.mask[i]) != pattern.bytes[i]) return Bad("no note header here");
  }
  uint32_t descsz;
  std::memcpy(&descsz, header + 4, 4);
  if (descsz == 0 || descsz > caps::kMaxVmcoreInfoBytes) {
    return Bad(absl::StrCat("note size ", descsz, " outside (0, ", caps::kMaxVmcoreInfoBytes, "]"));
  }
  std::string text(descsz, '\0');
  KF_RETURN_IF_ERROR(ram.Read(pa + kNoteDescOffset,
                              std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), descsz)));
  KF_ASSIGN_OR_RETURN(VmcoreInfo info, ParseVmcoreInfo(text));
  info.note_pa = pa;
  return info;
}

absl::StatusOr<VmcoreInfo> FindVmcoreInfo(const GuestRam& ram) {
  static const NotePattern pattern;
  PagePattern page_pattern{pattern.bytes, pattern.mask, 4096};
  absl::Status last_error =
      absl::NotFoundError("no VMCOREINFO note on any page start of guest RAM");
  Pa from(0);
  // Each iteration either returns or moves `from` past a candidate; RAM is finite.
  while (true) {
    KF_ASSIGN_OR_RETURN(std::optional<Pa> hit, ram.FindPage(page_pattern, from));
    if (!hit) return last_error;
    absl::StatusOr<VmcoreInfo> info = ReadVmcoreInfoAt(ram, *hit);
    if (info.ok()) return info;
    if (!IsFault(info.status()) && info.status().code() != absl::StatusCode::kDataLoss) {
      return info.status();
    }
    last_error = absl::NotFoundError(absl::StrCat("VMCOREINFO candidate at ", Hex(*hit),
                                                  " rejected: ", info.status().message()));
    from = *hit + 4096;
  }
}

}  // namespace kfreeze
