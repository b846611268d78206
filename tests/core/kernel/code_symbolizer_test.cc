// CodeSymbolizer: the kernel's %pS and %pB strings for vmlinux, module, BPF and unknown pcs, and
// SymbolIndex::LookupExtent (kallsyms_lookup_size_offset) beneath it.
#include "core/kernel/code_symbolizer.h"

#include "gtest/gtest.h"
#include "tests/core/kernel/code_map_world.h"

namespace kfreeze {
namespace {

using testing::CodeMapWorld;

constexpr uint64_t kStext = 0xffffffff81000000ull;
constexpr uint64_t kNanosleep = 0xffffffff81100000ull;
constexpr uint64_t kLastFn = 0xffffffff811ff000ull;
constexpr uint64_t kEtext = 0xffffffff81200000ull;
constexpr uint64_t kData = 0xffffffff82000000ull;
constexpr uint64_t kExt4 = 0xffffffffc0a00000ull;
constexpr uint64_t kProg = 0xffffffffa0001000ull;

std::vector<SymbolIndex::Entry> VmlinuxSymbols(bool with_bounds) {
  std::vector<SymbolIndex::Entry> e = {
      {"__per_cpu_start", 0, 'D'},  // per-CPU symbols sit at small addresses
      {"hrtimer_nanosleep", kNanosleep, 'T'},
      {"hrtimer_nanosleep_alias", kNanosleep, 't'},  // later alias: the first one names it
      {"do_nanosleep", kNanosleep + 0x1b0, 't'},
      {"last_fn", kLastFn, 'T'},
      {"jiffies", kData, 'D'},
      {"jiffies_64", kData + 0x40, 'D'},
  };
  if (with_bounds) {
    e.push_back({"_stext", kStext, 'T'});
    e.push_back({"_etext", kEtext, 'T'});
  }
  return e;  // not address-sorted: exercises the index's own ordering
}

class CodeSymbolizerTest : public ::testing::Test {
 protected:
  CodeSymbolizerTest() : w(CodeMapWorld::Layout::kMem), kernel(VmlinuxSymbols(true)) {
    testing::ModSpec ext4;
    ext4.name = "ext4";
    ext4.text_base = kExt4;
    ext4.text_size = 0x10000;
    ext4.syms = {{"ext4_map_blocks", kExt4 + 0x100, 0x5f0, 't'},
                 {"ext4_next", kExt4 + 0x6f0, 0x10, 't'}};
    w.AddModule(ext4);
    testing::ModSpec bare;
    bare.name = "bare";
    bare.text_base = kExt4 + 0x100000;
    bare.text_size = 0x1000;
    w.AddModule(bare);
    w.AddBpfKsym(kProg, kProg + 0x90, "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue", true);
    Reader r = w.reader();
    modules = *ModuleMap::Read(r, *w.symbols, *w.resolver);
    bpf = *BpfKsyms::Read(r, *w.symbols, *w.resolver);
  }

  CodeMapWorld w;
  SymbolIndex kernel;
  ModuleMap modules;
  BpfKsyms bpf;
};

TEST_F(CodeSymbolizerTest, FormatsLikePercentPS) {
  const CodeSymbolizer s(kernel, &modules, &bpf);
  EXPECT_EQ(s.Format(kNanosleep + 0xc5), "hrtimer_nanosleep+0xc5/0x1b0");
  EXPECT_EQ(s.Format(kNanosleep), "hrtimer_nanosleep+0x0/0x1b0");  // the kernel's %#lx of 0
  EXPECT_EQ(s.Format(kLastFn + 0x10), "last_fn+0x10/0x1000");      // up to _etext
  EXPECT_EQ(s.Format(kExt4 + 0x11c), "ext4_map_blocks+0x1c/0x5f0 [ext4]");
  EXPECT_EQ(s.Format(kExt4 + 0x700), "ext4_next+0x10/0xf910 [ext4]");
  EXPECT_EQ(s.Format(kProg + 0x2c), "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue+0x2c/0x90");
  EXPECT_EQ(s.Format(0xffffffffc1234567ull), "0xffffffffc1234567");
  EXPECT_EQ(s.Format(0), "0x0");
}

TEST_F(CodeSymbolizerTest, OnlyTextResolves) {
  const CodeSymbolizer s(kernel, &modules, &bpf);
  EXPECT_EQ(s.Format(kData + 0x10), "0xffffffff82000010");  // data symbol: hex
  EXPECT_EQ(s.Format(kEtext), "0xffffffff81200000");        // _etext is past the text
  EXPECT_EQ(s.Format(kStext - 1), "0xffffffff80ffffff");
  EXPECT_EQ(s.Format(0x10), "0x10");                            // a per-CPU offset, not code
  EXPECT_EQ(s.Format(kExt4 + 0x10), "0xffffffffc0a00010");      // module text before any symbol
  EXPECT_EQ(s.Format(kExt4 + 0x100010), "0xffffffffc0b00010");  // module without symbols
  EXPECT_TRUE(s.IsVmlinuxText(kNanosleep));
  EXPECT_FALSE(s.IsVmlinuxText(kData));
}

TEST_F(CodeSymbolizerTest, ReturnAddressesLikePercentPB) {
  const CodeSymbolizer s(kernel, &modules, &bpf);
  // A call ending hrtimer_nanosleep returns to do_nanosleep's first byte: %pB names the caller.
  EXPECT_EQ(s.FormatReturnAddress(kNanosleep + 0x1b0), "hrtimer_nanosleep+0x1b0/0x1b0");
  EXPECT_EQ(s.Format(kNanosleep + 0x1b0), "do_nanosleep+0x0/0xfee50");
  EXPECT_EQ(s.FormatReturnAddress(kProg + 0x2c), "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue+0x2c/0x90");
  EXPECT_EQ(s.FormatReturnAddress(kStext), "0xffffffff81000000");
}

TEST_F(CodeSymbolizerTest, LookupAndGeneratedCode) {
  const CodeSymbolizer s(kernel, &modules, &bpf);
  CodeLocation loc = s.Lookup(kExt4 + 0x11c);
  EXPECT_EQ(loc.where, CodeLocation::Where::kModule);
  EXPECT_EQ(loc.module, "ext4");
  loc = s.Lookup(kProg + 0x90);  // the inclusive end
  EXPECT_EQ(loc.where, CodeLocation::Where::kBpf);
  EXPECT_EQ(loc.offset, 0x90u);
  EXPECT_EQ(s.Lookup(kData).where, CodeLocation::Where::kNone);
  EXPECT_TRUE(s.IsGeneratedCode(kProg));
  EXPECT_TRUE(s.IsGeneratedCode(kProg + 0x2c));
  EXPECT_FALSE(s.IsGeneratedCode(kProg + 0x91));
  EXPECT_FALSE(s.IsGeneratedCode(kNanosleep));
  EXPECT_FALSE(s.IsGeneratedCode(kExt4 + 0x11c));
}

TEST_F(CodeSymbolizerTest, WorksWithoutModulesOrBpf) {
  const CodeSymbolizer s(kernel, nullptr, nullptr);
  EXPECT_EQ(s.Format(kNanosleep + 0xc5), "hrtimer_nanosleep+0xc5/0x1b0");
  EXPECT_EQ(s.Format(kExt4 + 0x11c), "0xffffffffc0a0011c");
  EXPECT_EQ(s.Format(kProg + 0x2c), "0xffffffffa000102c");
  EXPECT_FALSE(s.IsGeneratedCode(kProg));
}

TEST(CodeSymbolizerNoBoundsTest, TextTypesDecideWithoutStextEtext) {
  const SymbolIndex kernel(VmlinuxSymbols(false));
  const CodeSymbolizer s(kernel, nullptr, nullptr);
  EXPECT_EQ(s.Format(kNanosleep + 0xc5), "hrtimer_nanosleep+0xc5/0x1b0");
  // last_fn's end is the next symbol (jiffies): still text by its type.
  EXPECT_EQ(s.Format(kLastFn + 0x10), "last_fn+0x10/0xe01000");
  EXPECT_EQ(s.Format(kData + 0x10), "0xffffffff82000010");  // 'D'
  EXPECT_EQ(s.Format(kData + 0x50), "0xffffffff82000050");  // past the highest symbol
  EXPECT_EQ(s.Format(0x10), "0x10");
}

TEST(SymbolIndexExtentTest, FirstAliasAndNextSymbol) {
  const SymbolIndex index(VmlinuxSymbols(true));
  std::optional<SymbolExtent> e = index.LookupExtent(Kva(kNanosleep + 4));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->symbol.name, "hrtimer_nanosleep");
  EXPECT_EQ(e->offset, 4u);
  EXPECT_EQ(e->size, 0x1b0u);
  e = index.LookupExtent(Kva(kData + 0x48));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->symbol.name, "jiffies_64");
  EXPECT_FALSE(e->size);  // the highest symbol
  e = index.LookupExtent(Kva(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->symbol.name, "__per_cpu_start");
  EXPECT_FALSE(SymbolIndex(std::vector<SymbolIndex::Entry>{}).LookupExtent(Kva(1)));
  const SymbolIndex high(std::vector<SymbolIndex::Entry>{{"a", 0x1000, 'T'}});
  EXPECT_FALSE(high.LookupExtent(Kva(0xfff)));
}

}  // namespace
}  // namespace kfreeze
