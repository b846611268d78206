// A synthetic guest for the code map tests: a `modules` list of struct module in either text
// layout (6.4+ mem[] or the older core_layout), each with a kallsyms symtab/strtab/typetab, and a
// `bpf_kallsyms` list of struct bpf_ksym. Struct layouts differ between the two module layouts
// so code that hard-codes an offset fails.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/btf/offset_resolver.h"
#include "core/kernel/symbols.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::testing {

struct ModSym {
  std::string name;
  uint64_t address = 0;  // absolute
  uint64_t size = 0;
  char type = 't';
  uint16_t shndx = 1;  // 0 = SHN_UNDEF
};

struct ModSpec {
  std::string name;
  uint64_t text_base = 0, text_size = 0;
  uint64_t init_base = 0, init_size = 0;
  int32_t state = 0;  // MODULE_STATE_LIVE
  std::vector<ModSym> syms;
  uint32_t num_orcs = 0;  // 0: no ORC tables (mem layout only)
};

class CodeMapWorld {
 public:
  enum class Layout { kMem, kCoreLayout };

  explicit CodeMapWorld(Layout layout) : layout_(layout) {
    btf.Struct("list_head", 16, {{"next", "ptr", 0}, {"prev", "ptr", 8}});
    btf.Enum("module_state", {{"MODULE_STATE_LIVE", 0},
                              {"MODULE_STATE_COMING", 1},
                              {"MODULE_STATE_GOING", 2},
                              {"MODULE_STATE_UNFORMED", 3}});
    btf.Struct("mod_kallsyms", 32,
               {{"symtab", "ptr", 0},
                {"num_symtab", "u32", 8},
                {"strtab", "ptr", 16},
                {"typetab", "ptr", 24}});
    if (layout == Layout::kMem) {
      btf.Enum("mod_mem_type", {{"MOD_TEXT", 0},
                                {"MOD_DATA", 1},
                                {"MOD_RODATA", 2},
                                {"MOD_RO_AFTER_INIT", 3},
                                {"MOD_INIT_TEXT", 4},
                                {"MOD_INIT_DATA", 5},
                                {"MOD_INIT_RODATA", 6},
                                {"MOD_MEM_NUM_TYPES", 7}});
      // 7.x: base, is_rox, size.
      btf.Struct("module_memory", kMemBytes,
                 {{"base", "ptr", 0}, {"is_rox", "bool", 8}, {"size", "u32", 12}});
      btf.Struct("mod_arch_specific", 24,
                 {{"num_orcs", "u32", 0}, {"orc_unwind_ip", "ptr", 8}, {"orc_unwind", "ptr", 16}});
      btf.Struct("module", kModuleBytes,
                 {{"state", "module_state", 0},
                  {"list", "list_head", kList},
                  {"name", "char[56]", kName},
                  {"mem", "module_memory[7]", kMem},
                  {"arch", "mod_arch_specific", kArch},
                  {"kallsyms", "ptr", kKallsyms},
                  {"core_kallsyms", "mod_kallsyms", kKallsyms + 8}});
    } else {
      btf.Struct("module_layout", 48,
                 {{"base", "ptr", 0},
                  {"size", "u32", 8},
                  {"text_size", "u32", 12},
                  {"ro_size", "u32", 16}});
      btf.Struct("module", kModuleBytes,
                 {{"state", "module_state", 0},
                  {"list", "list_head", kOldList},
                  {"name", "char[56]", kOldName},
                  {"core_layout", "module_layout", kOldCore},
                  {"init_layout", "module_layout", kOldInit},
                  {"kallsyms", "ptr", kOldKallsyms}});
    }
    btf.Struct("bpf_ksym", 600,
               {{"start", "u64", 0},
                {"end", "u64", 8},
                {"name", "char[512]", 16},
                {"lnode", "list_head", 528},
                {"prog", "bool", 592}});
    modules_head = g.Alloc(16);
    bpf_head = g.Alloc(16);
    Relink(modules_head, {});
    Relink(bpf_head, {});
    resolver = btf.MakeResolver();
    symbols = std::make_unique<SymbolIndex>(std::vector<SymbolIndex::Entry>{
        {"modules", modules_head.value, 'd'}, {"bpf_kallsyms", bpf_head.value, 'd'}});
  }

  // Lays out a module and appends it to the list; returns its struct module.
  Kva AddModule(const ModSpec& spec) {
    const Kva mod = g.Alloc(kModuleBytes);
    g.Put<int32_t>(mod, spec.state);
    g.PutString(mod + (mem() ? kName : kOldName), spec.name);
    if (mem()) {
      PutMem(mod, 0, spec.text_base, spec.text_size);
      PutMem(mod, 4, spec.init_base, spec.init_size);
      if (spec.num_orcs != 0) {
        g.Put<uint32_t>(mod + kArch, spec.num_orcs);
        g.PutPtr(mod + kArch + 8, g.Alloc(4 * spec.num_orcs));
        g.PutPtr(mod + kArch + 16, g.Alloc(6 * spec.num_orcs));
      }
    } else {
      g.PutPtr(mod + kOldCore, Kva(spec.text_base));
      g.Put<uint32_t>(mod + kOldCore + 8, static_cast<uint32_t>(spec.text_size + 0x1000));
      g.Put<uint32_t>(mod + kOldCore + 12, static_cast<uint32_t>(spec.text_size));
      g.PutPtr(mod + kOldInit, Kva(spec.init_base));
      g.Put<uint32_t>(mod + kOldInit + 12, static_cast<uint32_t>(spec.init_size));
    }
    g.PutPtr(mod + (mem() ? kKallsyms : kOldKallsyms), Kallsyms(spec.syms));
    module_nodes.push_back(mod + (mem() ? kList : kOldList));
    Relink(modules_head, module_nodes);
    return mod;
  }

  // The module's mod_kallsyms (the one mod->kallsyms points to).
  Kva KallsymsOf(Kva mod) {
    return Kva(*g.MakeReader().ReadU64(mod + (mem() ? kKallsyms : kOldKallsyms)));
  }

  Kva AddBpfKsym(uint64_t start, uint64_t end, const std::string& name, bool prog) {
    const Kva k = g.Alloc(600);
    g.Put<uint64_t>(k, start);
    g.Put<uint64_t>(k + 8, end);
    g.Write(k + 16, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(name.data()),
                                             std::min<size_t>(name.size(), 512)));
    g.Put<uint8_t>(k + 592, prog ? 1 : 0);
    bpf_nodes.push_back(k + 528);
    Relink(bpf_head, bpf_nodes);
    return k;
  }

  // head <-> nodes[0] <-> ... <-> nodes[n-1] <-> head.
  void Relink(Kva head, const std::vector<Kva>& nodes) {
    std::vector<Kva> ring{head};
    ring.insert(ring.end(), nodes.begin(), nodes.end());
    for (size_t i = 0; i < ring.size(); ++i) {
      g.PutPtr(ring[i], ring[(i + 1) % ring.size()]);
      g.PutPtr(ring[i] + 8, ring[(i + ring.size() - 1) % ring.size()]);
    }
  }

  Reader reader() const { return g.MakeReader(); }

  FakeGuest g{32ull << 20};
  TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  std::unique_ptr<SymbolIndex> symbols;
  Kva modules_head, bpf_head;
  std::vector<Kva> module_nodes, bpf_nodes;

 private:
  static constexpr uint32_t kModuleBytes = 1024, kMemBytes = 48;
  // mem[] layout.
  static constexpr uint32_t kList = 8, kName = 24, kMem = 128, kArch = 480, kKallsyms = 520;
  // core_layout layout.
  static constexpr uint32_t kOldList = 16, kOldName = 40, kOldCore = 104, kOldInit = 168,
                            kOldKallsyms = 304;

  bool mem() const { return layout_ == Layout::kMem; }

  void PutMem(Kva mod, uint32_t index, uint64_t base, uint64_t size) {
    const Kva at = mod + kMem + index * kMemBytes;
    g.PutPtr(at, Kva(base));
    g.Put<uint32_t>(at + 12, static_cast<uint32_t>(size));
  }

  // symtab (with ELF's null symbol 0), strtab and typetab for `syms`, and their mod_kallsyms.
  Kva Kallsyms(const std::vector<ModSym>& syms) {
    const uint32_t n = static_cast<uint32_t>(syms.size() + 1);
    std::string strtab(1, '\0');
    const Kva symtab = g.Alloc(24 * n, 8);
    const Kva typetab = g.Alloc(n);
    for (uint32_t i = 1; i < n; ++i) {
      const ModSym& s = syms[i - 1];
      const Kva e = symtab + 24 * i;
      g.Put<uint32_t>(e, static_cast<uint32_t>(strtab.size()));
      g.Put<uint8_t>(e + 4, 0x12);  // STB_GLOBAL, STT_FUNC
      g.Put<uint16_t>(e + 6, s.shndx);
      g.Put<uint64_t>(e + 8, s.address);
      g.Put<uint64_t>(e + 16, s.size);
      g.Put<uint8_t>(typetab + i, static_cast<uint8_t>(s.type));
      strtab += s.name;
      strtab.push_back('\0');
    }
    const Kva str = g.Alloc(strtab.size(), 1);
    g.Write(str, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(strtab.data()),
                                          strtab.size()));
    const Kva ks = g.Alloc(32, 8);
    g.PutPtr(ks, symtab);
    g.Put<uint32_t>(ks + 8, n);
    g.PutPtr(ks + 16, str);
    g.PutPtr(ks + 24, typetab);
    return ks;
  }

  Layout layout_;
};

}  // namespace kfreeze::testing
