// By hand, not a test: reads .orc_unwind_ip/.orc_unwind from real vmlinux ELF files and reports
// the entry count, how each layout scores, and the detected layout, so detection can be checked
// against every kernel in the cache:
//   build/tests/unwind/unwind_orc_check /root/.cache/kfreeze/vm/kernel/*/vmlinux
#include <elf.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/unwind/orc_entry.h"
#include "core/unwind/orc_table.h"
#include "tests/walkers/support/fake_guest.h"

namespace {

struct ElfSection {
  uint64_t addr = 0;
  std::vector<uint8_t> bytes;
};

std::optional<ElfSection> FindSection(const std::vector<uint8_t>& file, const char* want) {
  if (file.size() < sizeof(Elf64_Ehdr)) return std::nullopt;
  Elf64_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof(eh));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > file.size() ||
      eh.e_shstrndx >= eh.e_shnum) {
    return std::nullopt;
  }
  auto shdr = [&](size_t i) {
    Elf64_Shdr s;
    std::memcpy(&s, file.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof(s));
    return s;
  };
  const Elf64_Shdr strtab = shdr(eh.e_shstrndx);
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr s = shdr(i);
    if (strtab.sh_offset + s.sh_name >= file.size()) continue;
    const char* name = reinterpret_cast<const char*>(file.data() + strtab.sh_offset + s.sh_name);
    if (std::strncmp(name, want, file.size() - strtab.sh_offset - s.sh_name) != 0) continue;
    if (s.sh_type == SHT_NOBITS || s.sh_offset + s.sh_size > file.size()) return std::nullopt;
    ElfSection out;
    out.addr = s.sh_addr;
    out.bytes.assign(file.begin() + static_cast<long>(s.sh_offset),
                     file.begin() + static_cast<long>(s.sh_offset + s.sh_size));
    return out;
  }
  return std::nullopt;
}

// The same tables through OrcTables::Load from a FakeGuest (text moved next to the fake direct
// map so the place-relative ips still fit in s32), timed, then every ip looked up.
int LoadThroughGuest(const std::vector<uint64_t>& abs_ips, const std::vector<uint8_t>& orc,
                     uint64_t lo, uint64_t hi) {
  if (abs_ips.size() * kfreeze::kOrcEntryBytes != orc.size()) {
    std::printf("  ip and entry tables differ in length\n");
    return 1;
  }
  kfreeze::testing::FakeGuest guest(64ull << 20);
  const uint64_t text = kfreeze::testing::kFakeDirectMapBase + (128ull << 20);
  kfreeze::OrcSectionRef ref;
  ref.count = abs_ips.size();
  ref.text_begin = text;
  ref.text_end = text + (hi - lo) + 1;
  ref.ip_table_kva = guest.Alloc(4 * ref.count, 4).value;
  ref.orc_table_kva = guest.Alloc(orc.size(), 2).value;
  for (size_t i = 0; i < ref.count; ++i) {
    const uint64_t slot = ref.ip_table_kva + 4 * i;
    guest.Put<int32_t>(kfreeze::Kva(slot), static_cast<int32_t>(abs_ips[i] - lo + text - slot));
  }
  guest.Write(kfreeze::Kva(ref.orc_table_kva), orc);
  kfreeze::Reader reader = guest.MakeReader();
  const auto t0 = std::chrono::steady_clock::now();
  auto tables = kfreeze::OrcTables::Load(reader, {ref});
  const auto t1 = std::chrono::steady_clock::now();
  if (!tables.ok()) {
    std::printf("  Load failed: %s\n", std::string(tables.status().message()).c_str());
    return 1;
  }
  size_t found = 0;
  for (uint64_t ip : abs_ips) found += (*tables)->Find(ip - lo + text).has_value();
  const auto t2 = std::chrono::steady_clock::now();
  using ms = std::chrono::duration<double, std::milli>;
  std::printf("  Load: %zu entries in %.1f ms, layout %s; Find: %zu/%zu ips in %.1f ms\n",
              (*tables)->entries(), ms(t1 - t0).count(),
              std::string(kfreeze::OrcLayoutName((*tables)->layout())).c_str(), found,
              abs_ips.size(), ms(t2 - t1).count());
  return 0;
}

int Check(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::optional<ElfSection> ips = FindSection(file, ".orc_unwind_ip");
  std::optional<ElfSection> orc = FindSection(file, ".orc_unwind");
  if (!ips || !orc) {
    std::printf("%s: no ORC sections\n", path);
    return 1;
  }
  const size_t n = orc->bytes.size() / kfreeze::kOrcEntryBytes;
  std::vector<kfreeze::RawOrcEntry> raw(n);
  std::memcpy(raw.data(), orc->bytes.data(), n * kfreeze::kOrcEntryBytes);
  size_t unsorted = 0;
  uint64_t prev = 0, lo = ~0ull, hi = 0;
  std::vector<uint64_t> abs_ips(ips->bytes.size() / 4);
  for (size_t i = 0; i < abs_ips.size(); ++i) {
    int32_t rel;
    std::memcpy(&rel, ips->bytes.data() + 4 * i, 4);
    const uint64_t ip = ips->addr + 4 * i + static_cast<uint64_t>(int64_t{rel});
    abs_ips[i] = ip;
    if (i > 0 && ip < prev) ++unsorted;
    prev = ip;
    lo = std::min(lo, ip);
    hi = std::max(hi, ip);
  }
  std::printf("%s\n  entries %zu (ip table %zu), ips 0x%lx..0x%lx, %zu out of order\n", path, n,
              ips->bytes.size() / 4, lo, hi, unsorted);
  for (kfreeze::OrcLayout l :
       {kfreeze::OrcLayout::kPre6_4, kfreeze::OrcLayout::kV6_4, kfreeze::OrcLayout::kV7_1}) {
    kfreeze::OrcLayoutScore s = kfreeze::ScoreOrcLayout(raw, l);
    std::printf("  %-46s plausible %6.2f%%  undecodable %6.2f%%\n",
                std::string(kfreeze::OrcLayoutName(l)).c_str(), 100.0 * s.plausible / n,
                100.0 * s.invalid / n);
  }
  absl::StatusOr<kfreeze::OrcLayout> layout = kfreeze::DetectOrcLayout(raw);
  if (!layout.ok()) {
    std::printf("  detected: none: %s\n", std::string(layout.status().message()).c_str());
    return 1;
  }
  std::map<std::string, size_t> kinds;
  for (const kfreeze::RawOrcEntry& r : raw) {
    kfreeze::OrcEntry e = kfreeze::DecodeOrcEntry(r, *layout);
    ++kinds[std::string(kfreeze::OrcTypeName(e.type)) + "/" +
            std::string(kfreeze::OrcRegName(e.sp_reg))];
  }
  std::printf("  detected: %s\n  type/sp_reg:",
              std::string(kfreeze::OrcLayoutName(*layout)).c_str());
  for (const auto& [k, v] : kinds) std::printf(" %s=%zu", k.c_str(), v);
  std::printf("\n");
  return LoadThroughGuest(abs_ips, orc->bytes, lo, hi);
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 0;
  for (int i = 1; i < argc; ++i) rc |= Check(argv[i]);
  return rc;
}
