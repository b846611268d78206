// System.map / ELF .symtab loading and the cross-check against guest kallsyms.
#include "core/kernel/host_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/caps.h"
#include "core/mem/translator.h"

namespace kfreeze {
namespace {

constexpr size_t kMaxExamples = 5;

char ElfTypeLetter(const GElf_Sym& sym) {
  const bool global = GELF_ST_BIND(sym.st_info) != STB_LOCAL;
  char c = '?';
  switch (GELF_ST_TYPE(sym.st_info)) {
    case STT_FUNC:
      c = 't';
      break;
    case STT_OBJECT:
      c = 'd';
      break;
    default:
      c = sym.st_shndx == SHN_ABS ? 'a' : 't';
      break;
  }
  return global ? static_cast<char>(c - 'a' + 'A') : c;
}

}  // namespace

absl::StatusOr<std::vector<HostSymbol>> LoadSystemMap(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open System.map ", path));
  std::vector<HostSymbol> out;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    HostSymbol s;
    if (f.size() < 3 || f[1].size() != 1 || !absl::SimpleHexAtoi(f[0], &s.address)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": not a System.map line"));
    }
    s.type = f[1][0];
    s.name = std::string(f[2]);
    out.push_back(std::move(s));
    if (out.size() > caps::kMaxKallsymsSymbols)
      return absl::InvalidArgumentError("System.map too large");
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no symbols"));
  return out;
}

absl::StatusOr<std::vector<HostSymbol>> LoadElfSymbols(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE)
    return absl::InternalError("libelf initialisation failed");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ELF ", path));
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  std::vector<HostSymbol> out;
  absl::Status status = absl::OkStatus();
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    status = absl::InvalidArgumentError(absl::StrCat(path, " is not an ELF file"));
  } else {
    Elf_Scn* scn = nullptr;
    bool found = false;
    while ((scn = elf_nextscn(elf, scn)) != nullptr && !found) {
      GElf_Shdr shdr;
      if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB) continue;
      found = true;
      Elf_Data* data = elf_getdata(scn, nullptr);
      const size_t count = shdr.sh_entsize ? shdr.sh_size / shdr.sh_entsize : 0;
      for (size_t i = 0; data != nullptr && i < count && i < caps::kMaxKallsymsSymbols * 4ull;
           ++i) {
        GElf_Sym sym;
        if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) break;
        if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0) continue;
        const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
        if (name == nullptr || name[0] == '\0') continue;
        out.push_back(HostSymbol{name, sym.st_value, ElfTypeLetter(sym)});
      }
    }
    if (!found) status = absl::NotFoundError(absl::StrCat(path, " has no .symtab"));
  }
  if (elf != nullptr) elf_end(elf);
  close(fd);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<HostSymbolCheck> CrossCheckSymbols(const SymbolIndex& guest,
                                                  const std::vector<HostSymbol>& host,
                                                  uint64_t kaslr_offset, std::string source,
                                                  uint64_t image_from) {
  absl::flat_hash_map<absl::string_view, int> host_count;
  for (const HostSymbol& h : host) ++host_count[h.name];
  absl::flat_hash_map<absl::string_view, int> guest_count;
  for (size_t i = 0; i < guest.size(); ++i) ++guest_count[guest.at(i).name];
  HostSymbolCheck check;
  check.source = std::move(source);
  for (const HostSymbol& h : host) {
    if (host_count[h.name] != 1) continue;
    auto g = guest_count.find(h.name);
    if (g == guest_count.end() || g->second != 1) continue;
    const Symbol in_guest = *guest.Find(h.name);
    const uint64_t expected = h.address >= image_from ? h.address + kaslr_offset : h.address;
    ++check.compared;
    if (in_guest.address.value == expected) continue;
    ++check.mismatched;
    if (check.examples.size() < kMaxExamples) {
      check.examples.push_back(absl::StrCat(h.name, ": guest ", Hex(in_guest.address), ", ",
                                            check.source, " ", Hex(h.address), " (+slide ",
                                            Hex(expected), ")"));
    }
  }
  if (check.compared == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(check.source, " shares no uniquely named symbol with the guest kernel"));
  }
  if (check.mismatched != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(check.source, " does not match the guest kernel: ", check.mismatched, " of ",
                     check.compared, " symbols differ, e.g. ", check.examples.front()));
  }
  return check;
}

}  // namespace kfreeze
