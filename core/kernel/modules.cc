// ModuleMap: one list walk; per module a few small reads, then its symtab, typetab and the part of
// its strtab the kept symbols name, each in bulk.
#include "core/kernel/modules.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/guest_text.h"
#include "core/base/status.h"
#include "core/ds/list.h"

namespace kfreeze {
namespace {

constexpr uint64_t kElfSymBytes = 24;  // Elf64_Sym: name u32, info u8, other u8, shndx u16,
                                       // value u64, size u64
constexpr uint64_t kPageBytes = 4096;
constexpr uint16_t kShnUndef = 0;

// Where one text range's base and size live inside struct module.
struct TextSlot {
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t size_bytes = 4;  // module_memory.size / module_layout.text_size are unsigned int
};

struct ModuleOffsets {
  uint64_t list = 0, state = 0, name = 0, name_len = 0;
  TextSlot text, init_text;
  bool has_init_text = false;
  std::optional<uint64_t> kallsyms;
  uint64_t ks_symtab = 0, ks_num = 0, ks_strtab = 0, ks_typetab = 0;
  std::optional<uint64_t> orc_num, orc_ip, orc_table;
  int64_t state_live = 0, state_coming = 1, state_going = 2, state_unformed = 3;
};

int64_t EnumOr(const OffsetResolver& btf, absl::string_view name, int64_t fallback) {
  absl::StatusOr<int64_t> v = btf.EnumValue(name);
  return v.ok() ? *v : fallback;
}

// struct module_memory mem[MOD_MEM_NUM_TYPES] (6.4+) or module_layout core_layout/init_layout.
void ResolveText(const OffsetResolver& btf, OffsetGroup& g, ModuleOffsets& o) {
  if (std::optional<uint64_t> mem = g.OptionalOffset("module.mem")) {
    const MemberLocation arr = g.Member("module.mem");
    const uint64_t elem = g.SizeOf("module_memory");
    const uint64_t base = g.Offset("module_memory.base");
    const MemberLocation size = g.Member("module_memory.size");
    const int64_t text = EnumOr(btf, "MOD_TEXT", 0);
    const int64_t init = EnumOr(btf, "MOD_INIT_TEXT", 4);
    const uint64_t len = arr.array_len.value_or(0);
    auto slot = [&](int64_t index) {
      const uint64_t at = *mem + static_cast<uint64_t>(index) * elem;
      return TextSlot{at + base, at + size.ByteOffset(), size.byte_size};
    };
    // MOD_TEXT has been 0 since mem[] replaced the layouts; an odd enum cannot move it outside.
    o.text = slot(text >= 0 && (len == 0 || static_cast<uint64_t>(text) < len) ? text : 0);
    if (init >= 0 && static_cast<uint64_t>(init) < len) {
      o.init_text = slot(init);
      o.has_init_text = true;
    }
    return;
  }
  const uint64_t core = g.Offset("module.core_layout");
  const uint64_t base = g.Offset("module_layout.base");
  const MemberLocation text_size = g.Member("module_layout.text_size");
  o.text = TextSlot{core + base, core + text_size.ByteOffset(), text_size.byte_size};
  if (std::optional<uint64_t> init = g.OptionalOffset("module.init_layout")) {
    o.init_text = TextSlot{*init + base, *init + text_size.ByteOffset(), text_size.byte_size};
    o.has_init_text = true;
  }
}

Group<ModuleOffsets> ResolveModuleOffsets(const OffsetResolver& btf) {
  return ResolveGroup<ModuleOffsets>(btf, "module", [&btf](OffsetGroup& g, ModuleOffsets& o) {
    o.list = g.Offset("module.list");
    o.state = g.Offset("module.state");
    o.name = g.Offset("module.name");
    // MODULE_NAME_LEN (64 - sizeof(long)) when BTF does not say.
    o.name_len = g.Member("module.name").array_len.value_or(0);
    if (o.name_len == 0) o.name_len = 56;
    ResolveText(btf, g, o);
    o.kallsyms = g.OptionalOffset("module.kallsyms");
    if (o.kallsyms) {
      o.ks_symtab = g.Offset("mod_kallsyms.symtab");
      o.ks_num = g.Offset("mod_kallsyms.num_symtab");
      o.ks_strtab = g.Offset("mod_kallsyms.strtab");
      o.ks_typetab = g.Offset("mod_kallsyms.typetab");
    }
    o.orc_num = g.OptionalOffset("module.arch.num_orcs");
    o.orc_ip = g.OptionalOffset("module.arch.orc_unwind_ip");
    o.orc_table = g.OptionalOffset("module.arch.orc_unwind");
    o.state_live = EnumOr(btf, "MODULE_STATE_LIVE", 0);
    o.state_coming = EnumOr(btf, "MODULE_STATE_COMING", 1);
    o.state_going = EnumOr(btf, "MODULE_STATE_GOING", 2);
    o.state_unformed = EnumOr(btf, "MODULE_STATE_UNFORMED", 3);
  });
}

absl::StatusOr<uint64_t> ReadUnsigned(Reader& reader, Kva at, uint64_t bytes) {
  switch (bytes) {
    case 4: {
      KF_ASSIGN_OR_RETURN(uint32_t v, reader.ReadU32(at));
      return v;
    }
    case 8:
      return reader.ReadU64(at);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unsupported field size ", bytes));
  }
}

// 64-bit FNV-1a: stable across processes, so a fingerprint can be logged and compared.
class Fnv {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ull;
  }
  void AddU64(uint64_t v) { Add(&v, sizeof v); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

// The fields the fingerprint covers, read the same way by the fingerprint and by Read.
struct ModuleHead {
  int64_t state = -1;
  std::string raw_name;  // bytes up to the first NUL
  uint64_t text_base = 0;
  uint64_t kallsyms = 0;
};

absl::StatusOr<ModuleHead> ReadHead(Reader& reader, const ModuleOffsets& o, Kva mod) {
  ModuleHead h;
  KF_ASSIGN_OR_RETURN(int32_t state, reader.ReadS32(mod + o.state));
  h.state = state;
  KF_ASSIGN_OR_RETURN(h.raw_name, reader.ReadCharArray(mod + o.name, o.name_len));
  KF_ASSIGN_OR_RETURN(h.text_base, reader.ReadU64(mod + o.text.base));
  if (o.kallsyms) {
    KF_ASSIGN_OR_RETURN(h.kallsyms, reader.ReadU64(mod + *o.kallsyms));
  }
  return h;
}

void AddToFingerprint(Fnv& fp, Kva mod, const ModuleHead& h) {
  fp.AddU64(mod.value);
  fp.AddU64(static_cast<uint64_t>(h.state));
  fp.AddU64(h.raw_name.size());
  fp.Add(h.raw_name.data(), h.raw_name.size());
  fp.AddU64(h.text_base);
  fp.AddU64(h.kallsyms);
}

struct ModuleList {
  Kva head;
  ModuleOffsets off;
};

absl::StatusOr<ModuleList> Locate(const SymbolIndex& symbols, const OffsetResolver& btf) {
  std::optional<Kva> head = symbols.Address("modules");
  if (!head) return absl::NotFoundError("no 'modules' symbol (kernel without CONFIG_MODULES?)");
  Group<ModuleOffsets> off = ResolveModuleOffsets(btf);
  if (!off) return off.status;
  return ModuleList{*head, *off};
}

std::string StateName(const ModuleOffsets& o, int64_t state) {
  if (state == o.state_live) return "live";
  if (state == o.state_coming) return "coming";
  if (state == o.state_going) return "going";
  if (state == o.state_unformed) return "unformed";
  return absl::StrCat(state);
}

void ListProblems(const ds::ListWalk& walk, std::vector<std::string>& out) {
  if (walk.truncated) out.push_back(absl::StrCat("module list cut at ", kMaxGuestModules));
  if (walk.cycle) out.push_back("module list has a cycle; walk stopped at the repeat");
  if (!walk.error.ok()) out.push_back(absl::StrCat("module list broken: ", walk.error.message()));
  if (walk.broken_back_links != 0) {
    out.push_back(absl::StrCat(walk.broken_back_links, " torn module list links"));
  }
}

// Validated [base, base + size) of one text slot; {0, 0} for an empty (freed) range.
absl::StatusOr<std::pair<uint64_t, uint64_t>> ReadRange(Reader& reader, Kva mod,
                                                        const TextSlot& slot,
                                                        absl::string_view what) {
  KF_ASSIGN_OR_RETURN(uint64_t base, reader.ReadU64(mod + slot.base));
  KF_ASSIGN_OR_RETURN(uint64_t size, ReadUnsigned(reader, mod + slot.size, slot.size_bytes));
  if (base == 0 || size == 0) return std::pair<uint64_t, uint64_t>{0, 0};
  std::optional<uint64_t> end = CheckedAdd(base, size);
  if (size > kMaxModuleTextBytes || !end) {
    return BadData(absl::StrCat(what, " range ", Hex(base), "+", Hex(size), " is implausible"));
  }
  return std::pair<uint64_t, uint64_t>{base, *end};
}

void ReadOrc(Reader& reader, const ModuleOffsets& o, Kva mod, GuestModule& m) {
  if (!o.orc_num || !o.orc_ip || !o.orc_table) {
    m.orc_unavailable =
        "no mod_arch_specific.num_orcs/orc_unwind_ip/orc_unwind in BTF "
        "(kernel without CONFIG_UNWINDER_ORC)";
    return;
  }
  absl::StatusOr<uint32_t> num = reader.ReadU32(mod + *o.orc_num);
  absl::StatusOr<uint64_t> ip = reader.ReadU64(mod + *o.orc_ip);
  absl::StatusOr<uint64_t> table = reader.ReadU64(mod + *o.orc_table);
  for (const absl::Status& s : {num.status(), ip.status(), table.status()}) {
    if (!s.ok()) {
      m.orc_unavailable = absl::StrCat("module ORC fields unreadable: ", s.message());
      return;
    }
  }
  if (*num == 0 || *ip == 0 || *table == 0) {
    m.orc_unavailable = "module has no ORC tables";
    return;
  }
  if (*num > kMaxModuleOrcEntries) {
    m.orc_unavailable = absl::StrCat("num_orcs ", *num, " exceeds ", kMaxModuleOrcEntries);
    return;
  }
  m.orc = ModuleOrcRef{*ip, *table, *num};
}

// A guest byte range copied page by page: a string table may end right before an unmapped page,
// so one unreadable page loses only the names that touch it.
class PagedCopy {
 public:
  PagedCopy(Reader& reader, Kva base, uint64_t size) : bytes_(size, 0) {
    uint64_t done = 0;
    while (done < size) {
      const uint64_t to_page_end = kPageBytes - ((base.value + done) & (kPageBytes - 1));
      const uint64_t n = std::min(to_page_end, size - done);
      absl::Status s = reader.ReadVirt(base + done, std::span<uint8_t>(bytes_.data() + done, n));
      if (!s.ok()) {
        holes_.push_back({done, done + n});
        if (first_error_.ok()) first_error_ = s;
      }
      done += n;
    }
  }
  // The NUL-terminated string at `offset`, at most max_len bytes (without NUL: the first
  // max_len - 1 bytes, as strscpy would copy); nullopt if it touches an unreadable page.
  std::optional<absl::string_view> StringAt(uint64_t offset, size_t max_len) const {
    if (offset >= bytes_.size()) return std::nullopt;
    const uint64_t avail = std::min<uint64_t>(max_len, bytes_.size() - offset);
    const char* p = reinterpret_cast<const char*>(bytes_.data() + offset);
    const void* nul = std::memchr(p, 0, avail);
    const uint64_t len =
        nul != nullptr ? static_cast<const char*>(nul) - p : std::min<uint64_t>(avail, max_len - 1);
    for (const auto& [lo, hi] : holes_) {
      if (offset < hi && offset + len + 1 > lo) return std::nullopt;
    }
    return absl::string_view(p, len);
  }
  const absl::Status& first_error() const { return first_error_; }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<std::pair<uint64_t, uint64_t>> holes_;
  absl::Status first_error_;
};

bool IsMappingSymbol(absl::string_view name) {
  return absl::StartsWith(name, ".L") || absl::StartsWith(name, "L0") ||
         absl::StartsWith(name, "$");
}

struct RawSym {
  uint32_t name = 0;
  uint16_t shndx = 0;
  uint64_t value = 0;
  uint64_t size = 0;
  uint32_t index = 0;
};

RawSym DecodeSym(const uint8_t* p, uint32_t index) {
  RawSym s;
  std::memcpy(&s.name, p, 4);
  std::memcpy(&s.shndx, p + 6, 2);
  std::memcpy(&s.value, p + 8, 8);
  std::memcpy(&s.size, p + 16, 8);
  s.index = index;
  return s;
}

// The module's kallsyms symbols in its text ranges. Sets skip_reason when the tables themselves
// are unusable, symbols_unavailable when only some names were lost. `*budget` is what is left of
// kMaxModuleMapReadBytes.
void ReadSymbols(Reader& reader, const ModuleOffsets& o, Kva kallsyms, GuestModule& m,
                 uint64_t* budget) {
  if (!o.kallsyms) {
    m.symbols_unavailable = "no module.kallsyms in BTF (kernel without CONFIG_KALLSYMS)";
    return;
  }
  if (kallsyms.IsNull()) {
    m.symbols_unavailable = "mod->kallsyms is NULL";
    return;
  }
  absl::StatusOr<uint64_t> symtab = reader.ReadU64(kallsyms + o.ks_symtab);
  absl::StatusOr<uint32_t> num = reader.ReadU32(kallsyms + o.ks_num);
  absl::StatusOr<uint64_t> strtab = reader.ReadU64(kallsyms + o.ks_strtab);
  absl::StatusOr<uint64_t> typetab = reader.ReadU64(kallsyms + o.ks_typetab);
  for (const absl::Status& s : {symtab.status(), num.status(), strtab.status()}) {
    if (!s.ok()) {
      m.skip_reason = absl::StrCat("mod_kallsyms at ", Hex(kallsyms), " unreadable: ", s.message());
      return;
    }
  }
  if (*num > kMaxModuleSymbols) {
    m.skip_reason = absl::StrCat("num_symtab ", *num, " exceeds ", kMaxModuleSymbols);
    return;
  }
  if (*num == 0) {
    m.symbols_unavailable = "module has no symbols";
    return;
  }
  if (*symtab == 0 || *strtab == 0) {
    m.skip_reason = "mod_kallsyms symtab or strtab is NULL";
    return;
  }
  const uint64_t symtab_bytes = uint64_t{*num} * kElfSymBytes;
  if (symtab_bytes + *num > *budget) {
    m.skip_reason = "module map read budget spent";
    return;
  }
  *budget -= symtab_bytes + *num;
  absl::StatusOr<std::vector<uint8_t>> table = reader.ReadBytes(Kva(*symtab), symtab_bytes);
  if (!table.ok()) {
    m.skip_reason =
        absl::StrCat("symtab at ", Hex(*symtab), " unreadable: ", table.status().message());
    return;
  }
  std::vector<uint8_t> types;
  if (typetab.ok() && *typetab != 0) {
    if (auto t = reader.ReadBytes(Kva(*typetab), *num); t.ok()) types = *std::move(t);
  }

  // The kernel's candidates: defined, above symtab[0]'s value (its initial "best"), and here
  // also inside a text range (what a code address can resolve to).
  const RawSym zero = DecodeSym(table->data(), 0);
  std::vector<RawSym> kept;
  uint64_t max_name = 0;
  for (uint32_t i = 1; i < *num; ++i) {
    const RawSym s = DecodeSym(table->data() + uint64_t{i} * kElfSymBytes, i);
    if (s.shndx == kShnUndef || s.value <= zero.value) continue;
    if (!m.InCoreText(s.value) && !m.InInitText(s.value)) continue;
    kept.push_back(s);
    max_name = std::max<uint64_t>(max_name, s.name);
  }
  if (kept.empty()) {
    m.symbols_unavailable = "no symbol lies in the module's text";
    return;
  }
  uint64_t strtab_bytes = max_name + kModuleSymbolNameLen;
  if (strtab_bytes > kMaxModuleStrtabBytes) {
    strtab_bytes = kMaxModuleStrtabBytes;
    m.symbols_unavailable = absl::StrCat("strtab cut at ", kMaxModuleStrtabBytes, " bytes");
  }
  if (strtab_bytes > *budget) {
    m.skip_reason = "module map read budget spent";
    return;
  }
  *budget -= strtab_bytes;
  const PagedCopy strings(reader, Kva(*strtab), strtab_bytes);

  std::stable_sort(kept.begin(), kept.end(),
                   [](const RawSym& a, const RawSym& b) { return a.value < b.value; });
  uint32_t lost = 0;
  for (const RawSym& s : kept) {
    std::optional<absl::string_view> name = strings.StringAt(s.name, kModuleSymbolNameLen);
    if (!name) {
      ++lost;
      continue;
    }
    // The kernel skips unnamed and mapping symbols ("uninformative").
    if (name->empty() || IsMappingSymbol(*name)) continue;
    const std::string text = GuestText(*name);
    ModuleSymbol out;
    out.address = s.value;
    out.elf_size = s.size;
    out.name_offset = static_cast<uint32_t>(m.symbol_names.size());
    out.name_length = static_cast<uint32_t>(text.size());
    out.type = s.index < types.size() ? static_cast<char>(types[s.index]) : '?';
    m.symbol_names += text;
    m.symbols.push_back(out);
  }
  if (lost != 0) {
    m.symbols_unavailable = absl::StrCat(lost, " symbol names unreadable (strtab at ", Hex(*strtab),
                                         ": ", strings.first_error().message(), ")");
  }
}

GuestModule ReadModule(Reader& reader, const ModuleOffsets& o, Kva mod, const ModuleHead& head,
                       uint64_t* budget) {
  GuestModule m;
  m.kva = mod.value;
  m.name = GuestText(head.raw_name);
  m.state = head.state;
  m.state_name = StateName(o, head.state);
  absl::StatusOr<std::pair<uint64_t, uint64_t>> text = ReadRange(reader, mod, o.text, "text");
  if (!text.ok()) {
    m.skip_reason = std::string(text.status().message());
    return m;
  }
  std::tie(m.text_begin, m.text_end) = *text;
  if (o.has_init_text) {
    absl::StatusOr<std::pair<uint64_t, uint64_t>> init =
        ReadRange(reader, mod, o.init_text, "init text");
    if (init.ok()) std::tie(m.init_text_begin, m.init_text_end) = *init;
  }
  if (head.state == o.state_unformed) {
    // The kernel's __module_address ignores modules still being set up; their ORC tables may
    // still be being sorted.
    m.skip_reason = "module is still being loaded (MODULE_STATE_UNFORMED)";
    m.orc_unavailable = m.skip_reason;
    return m;
  }
  ReadOrc(reader, o, mod, m);
  if (m.text_begin == 0 && m.init_text_begin == 0) {
    m.skip_reason = "module has no text";
    return m;
  }
  ReadSymbols(reader, o, Kva(head.kallsyms), m, budget);
  return m;
}

}  // namespace

absl::StatusOr<ModuleMap> ModuleMap::Read(Reader& reader, const SymbolIndex& symbols,
                                          const OffsetResolver& btf) {
  KF_ASSIGN_OR_RETURN(ModuleList list, Locate(symbols, btf));
  ds::ListWalk walk = ds::ListForEach(reader, list.head, kMaxGuestModules);
  if (walk.nodes.empty() && !walk.error.ok()) return walk.error;
  ModuleMap map;
  ListProblems(walk, map.problems_);
  Fnv fp;
  uint64_t budget = kMaxModuleMapReadBytes;
  for (Kva node : walk.nodes) {
    const Kva mod = ds::ContainerOf(node, list.off.list);
    absl::StatusOr<ModuleHead> head = ReadHead(reader, list.off, mod);
    if (!head.ok()) {
      GuestModule bad;
      bad.kva = mod.value;
      bad.skip_reason = absl::StrCat("struct module unreadable: ", head.status().message());
      map.modules_.push_back(std::move(bad));
      fp.AddU64(mod.value);
      continue;
    }
    AddToFingerprint(fp, mod, *head);
    map.modules_.push_back(ReadModule(reader, list.off, mod, *head, &budget));
  }
  fp.AddU64(walk.nodes.size());
  map.fingerprint_ = fp.value();
  map.IndexRanges();
  return map;
}

absl::StatusOr<uint64_t> ModuleListFingerprint(Reader& reader, const SymbolIndex& symbols,
                                               const OffsetResolver& btf) {
  KF_ASSIGN_OR_RETURN(ModuleList list, Locate(symbols, btf));
  ds::ListWalk walk = ds::ListForEach(reader, list.head, kMaxGuestModules);
  if (walk.nodes.empty() && !walk.error.ok()) return walk.error;
  Fnv fp;
  for (Kva node : walk.nodes) {
    const Kva mod = ds::ContainerOf(node, list.off.list);
    absl::StatusOr<ModuleHead> head = ReadHead(reader, list.off, mod);
    if (head.ok()) {
      AddToFingerprint(fp, mod, *head);
    } else {
      fp.AddU64(mod.value);
    }
  }
  fp.AddU64(walk.nodes.size());
  return fp.value();
}

void ModuleMap::IndexRanges() {
  ranges_.clear();
  for (size_t i = 0; i < modules_.size(); ++i) {
    const GuestModule& m = modules_[i];
    if (!m.usable()) continue;
    if (m.text_end > m.text_begin) ranges_.push_back({m.text_begin, m.text_end, i});
    if (m.init_text_end > m.init_text_begin) {
      ranges_.push_back({m.init_text_begin, m.init_text_end, i});
    }
  }
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
}

const GuestModule* ModuleMap::Find(uint64_t ip) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), ip,
                             [](uint64_t v, const Range& r) { return v < r.begin; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (ip >= it->end) return nullptr;
  return &modules_[it->module];
}

std::optional<ModuleSymbolHit> ModuleMap::Symbolize(const GuestModule& module, uint64_t ip) {
  const bool init = module.InInitText(ip);
  if (!init && !module.InCoreText(ip)) return std::nullopt;
  const std::vector<ModuleSymbol>& syms = module.symbols;
  auto above = std::upper_bound(syms.begin(), syms.end(), ip,
                                [](uint64_t v, const ModuleSymbol& s) { return v < s.address; });
  if (above == syms.begin()) return std::nullopt;
  const uint64_t best = std::prev(above)->address;
  // The first alias at `best` in symtab order, as the kernel's strict `thisval > bestval` keeps.
  auto first = std::lower_bound(syms.begin(), above, best,
                                [](const ModuleSymbol& s, uint64_t v) { return s.address < v; });
  uint64_t next = init ? module.init_text_end : module.text_end;
  if (above != syms.end()) next = std::min(next, above->address);
  return ModuleSymbolHit{module.SymbolName(*first), best, ip - best, next - best};
}

}  // namespace kfreeze
