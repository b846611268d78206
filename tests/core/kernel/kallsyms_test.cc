// kallsyms decoding from guest memory: every address encoding, detection from the data, long
// names, lookups, and hostile tables.
#include "core/kernel/kallsyms.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;

// Opens `image` and decodes its kallsyms like attach does (kernel image path only).
struct Decoder {
  explicit Decoder(const GuestImage& image) {
    ram = std::move(*GuestRam::OpenFd(image.fd(), RamLayout::Flat(image.truth().ram_bytes)));
    info = *FindVmcoreInfo(*ram);
    translator.emplace(*ram, X86_64Paging(info.phys_base));
    reader.emplace(*translator);
  }
  absl::StatusOr<KallsymsResult> Decode() {
    KF_ASSIGN_OR_RETURN(KallsymsLocations loc, info.Kallsyms());
    return DecodeKallsyms(*reader, loc, AnchorsFromVmcoreInfo(info));
  }
  std::unique_ptr<GuestRam> ram;
  VmcoreInfo info;
  std::optional<Translator> translator;
  std::optional<Reader> reader;
};

class EncodingTest : public ::testing::TestWithParam<KallsymsEncoding> {};

TEST_P(EncodingTest, DecodesEverySymbolAndDetectsTheEncoding) {
  GuestImageOptions o;
  o.encoding = GetParam();
  o.filler_symbols = 500;
  o.kaslr_offset = GetParam() == KallsymsEncoding::kAbsolute ? 0x20000000 : 0x4000000;
  GuestImageBuilder b(o);
  // A zero-based per-CPU symbol, as kernels before v6.15 had (absolute under ABSOLUTE_PERCPU).
  if (GetParam() == KallsymsEncoding::kBaseRelativeAbsolutePercpu)
    b.AddSymbol("fixed_percpu_data", Kva(0x0), 'D');
  b.AddSymbol(std::string(300, 'x'), b.AddFunction("long_neighbour") + 8, 't');  // > 127 tokens
  GuestImage image = b.Build();
  Decoder d(image);
  absl::StatusOr<KallsymsResult> r = d.Decode();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->encoding, GetParam());
  EXPECT_GT(r->anchors_matched, 3u);
  const SymbolIndex& syms = r->symbols;
  ASSERT_EQ(syms.size(), image.truth().symbols.size());
  for (const auto& [name, kva] : image.truth().symbols) {
    std::optional<Symbol> s = syms.Find(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(s->address, kva) << name;
  }
  std::optional<SymbolAtAddress> at = syms.Lookup(image.symbol("start_kernel") + 3);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->symbol.name, "start_kernel");
  EXPECT_EQ(at->offset, 3u);
  EXPECT_EQ(syms.Find("init_top_pgt")->type, 'D');
  EXPECT_EQ(syms.Require("no_such_symbol").status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Encodings, EncodingTest,
                         ::testing::Values(KallsymsEncoding::kPlaceRelative,
                                           KallsymsEncoding::kBaseRelative,
                                           KallsymsEncoding::kBaseRelativeAbsolutePercpu,
                                           KallsymsEncoding::kAbsolute),
                         [](const auto& info) {
                           std::string n = KallsymsEncodingName(info.param);
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(KallsymsTest, PointerValuedSymbolLinesAreNotAnchors) {
  // 7.x VMCOREINFO prints SYMBOL(mem_section) and SYMBOL(vmemmap) with VMCOREINFO_SYMBOL_ARRAY:
  // the pointer's value, not the symbol's address. Such lines must not veto the encoding.
  GuestImageBuilder b;
  b.AddGlobal("mem_section", 8);
  b.AddVmcoreInfoLine("SYMBOL(mem_section)=ff2af7503f9bb6c0");
  b.AddVmcoreInfoLine("SYMBOL(swapper_pg_dir)=ffffffff83a0e000");
  b.AddVmcoreInfoLine("NUMBER(VMALLOC_START)=0xff7fe59300000000");
  GuestImage image = b.Build();
  Decoder d(image);
  absl::StatusOr<KallsymsResult> r = d.Decode();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->symbols.Find("mem_section")->address, image.symbol("mem_section"));
}

TEST(KallsymsTest, AddressesThatContradictVmcoreInfoAreRejected) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  Decoder d(image);
  // VMCOREINFO says _stext is elsewhere: no encoding explains the table, so nothing is guessed.
  d.info.symbols["_stext"] += 0x1000;
  absl::StatusOr<KallsymsResult> r = d.Decode();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("place-relative"), absl::string_view::npos);
}

TEST(KallsymsTest, NoAnchorsMeansNoValidation) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  Decoder d(image);
  absl::StatusOr<KallsymsResult> r = DecodeKallsyms(*d.reader, *d.info.Kallsyms(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(KallsymsTest, HugeSymbolCountIsRejectedBeforeAllocating) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  image.Put<uint32_t>(image.symbol("kallsyms_num_syms"), 0xfffffff0u);
  Decoder d(image);
  absl::StatusOr<KallsymsResult> r = d.Decode();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("kallsyms_num_syms"), absl::string_view::npos);
  image.Put<uint32_t>(image.symbol("kallsyms_num_syms"), 0);
  EXPECT_FALSE(d.Decode().ok());
}

TEST(KallsymsTest, CorruptNamesAndTokensFailCleanly) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  Decoder d(image);
  // A zero-length name.
  image.Put<uint8_t>(image.symbol("kallsyms_names"), 0);
  EXPECT_EQ(d.Decode().status().code(), absl::StatusCode::kDataLoss);
  // Two-byte length claiming 16383 tokens.
  image.Put<uint16_t>(image.symbol("kallsyms_names"), 0xffff);
  EXPECT_EQ(d.Decode().status().code(), absl::StatusCode::kDataLoss);
}

TEST(KallsymsTest, TokenTableOutsideTheImageFaults) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  Decoder d(image);
  KallsymsLocations loc = *d.info.Kallsyms();
  loc.token_table = Kva(0xffffffffbff00000ull);  // inside the 1 GiB image window, beyond RAM
  absl::StatusOr<KallsymsResult> r = DecodeKallsyms(*d.reader, loc, AnchorsFromVmcoreInfo(d.info));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsFault(r.status()));
}

TEST(KallsymsTest, NamesRunningOffTheEndOfTheMappingFault) {
  GuestImageBuilder b;
  GuestImage image = b.Build();
  Decoder d(image);
  KallsymsLocations loc = *d.info.Kallsyms();
  image.Put<uint32_t>(image.symbol("kallsyms_num_syms"), 4u << 20);  // cap: 4M symbols
  loc.names = Kva(kStartKernelMap + kKernelImageMaxSize - 64);       // last bytes of the window
  absl::StatusOr<KallsymsResult> r = DecodeKallsyms(*d.reader, loc, AnchorsFromVmcoreInfo(d.info));
  ASSERT_FALSE(r.ok());
  // The decoder stopped at the unmapped byte past the window, not at some other check.
  EXPECT_TRUE(IsFault(r.status())) << r.status();
}

// The compact index on its own: by-name lookups (global beats local, first of equals), by-address
// lookups on unsorted input, and packs that do not add up.
TEST(SymbolIndexTest, NameAndAddressLookups) {
  std::vector<SymbolIndex::Entry> e;
  for (int i = 0; i < 5000; ++i) e.push_back({absl::StrCat("sym_", i), 0x1000u + 16u * i, 't'});
  e.push_back({"dup", 0x900, 't'});
  e.push_back({"dup", 0x800, 'T'});
  e.push_back({"dup", 0x700, 'T'});
  e.push_back({"", 0x600, 't'});
  e.push_back({std::string("bad\xff\xfe", 5), 0x500, 'd'});
  const SymbolIndex idx(e);
  ASSERT_EQ(idx.size(), e.size());
  for (int i = 0; i < 5000; i += 7) {
    EXPECT_EQ(idx.Find(absl::StrCat("sym_", i))->address, Kva(0x1000u + 16u * i));
    EXPECT_EQ(idx.Lookup(Kva(0x1000u + 16u * i + 3))->symbol.name, absl::StrCat("sym_", i));
  }
  EXPECT_EQ(idx.Find("dup")->address, Kva(0x800));
  EXPECT_EQ(idx.FindAll("dup").size(), 3u);
  EXPECT_TRUE(idx.FindAll("nope").empty());
  EXPECT_FALSE(idx.Find("sym_5000"));
  EXPECT_EQ(idx.Find(std::string("bad\xff\xfe", 5))->type, 'd');
  EXPECT_EQ(idx.Lookup(Kva(0x905))->symbol.name, "dup");
  EXPECT_FALSE(idx.Lookup(Kva(0x4ff)));
  EXPECT_GT(idx.MemoryBytes(), 0u);
}

TEST(SymbolIndexTest, InconsistentPackIsEmpty) {
  SymbolIndex::Packed p;
  p.names = "ab";
  p.name_end = {1, 5};  // runs past the names
  p.addresses = {1, 2};
  p.types = "tt";
  EXPECT_EQ(SymbolIndex(p).size(), 0u);
  p.name_end = {2, 1};  // goes backwards
  EXPECT_EQ(SymbolIndex(p).size(), 0u);
  p.name_end = {1};  // too few
  EXPECT_EQ(SymbolIndex(p).size(), 0u);
  EXPECT_FALSE(SymbolIndex(p).Find("a"));
  EXPECT_FALSE(SymbolIndex().Find("a"));
  EXPECT_FALSE(SymbolIndex().Lookup(Kva(1)));
}

}  // namespace
}  // namespace kfreeze
