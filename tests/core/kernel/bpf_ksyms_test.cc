// BpfKsyms on a synthetic bpf_kallsyms list: programs and a trampoline, hostile names, bad
// ranges, a cycle, and the kernel's inclusive `end`.
#include "core/kernel/bpf_ksyms.h"

#include "core/base/guest_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/kernel/code_map_world.h"

namespace kfreeze {
namespace {

using testing::CodeMapWorld;
using ::testing::HasSubstr;

constexpr uint64_t kProgA = 0xffffffffa0001000ull;
constexpr uint64_t kProgB = 0xffffffffa0002000ull;
constexpr uint64_t kTramp = 0xffffffffa0000000ull;

TEST(BpfKsymsTest, ReadsProgramsAndTrampolinesAndFindsByAddress) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddBpfKsym(kProgA, kProgA + 0x90, "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue", true);
  w.AddBpfKsym(kProgB, kProgB + 0x40, "bpf_prog_0123456789abcdef_lab_dispatch", true);
  const Kva tramp = w.AddBpfKsym(kTramp, kTramp + 0x200, "bpf_trampoline_6442451234", false);
  Reader r = w.reader();
  absl::StatusOr<BpfKsyms> ks = BpfKsyms::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(ks.ok()) << ks.status();
  ASSERT_EQ(ks->size(), 3u);
  EXPECT_TRUE(ks->problems().empty());
  EXPECT_EQ(ks->ksyms()[0].kva, tramp.value);  // sorted by start
  EXPECT_FALSE(ks->ksyms()[0].prog);

  const BpfKsym* a = ks->Find(kProgA + 0x2c);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue");
  EXPECT_TRUE(a->prog);
  EXPECT_FALSE(a->name_truncated);
  EXPECT_EQ(ks->Find(kProgA + 0x90), a);  // end is inclusive, as bpf_tree_comp
  EXPECT_EQ(ks->Find(kProgA + 0x91), nullptr);
  EXPECT_EQ(ks->Find(kProgA - 1), nullptr);
  EXPECT_EQ(ks->Find(kTramp)->name, "bpf_trampoline_6442451234");
  EXPECT_EQ(ks->Find(kProgB + 0x10)->name, "bpf_prog_0123456789abcdef_lab_dispatch");
  EXPECT_EQ(ks->Find(0), nullptr);
}

TEST(BpfKsymsTest, HostileNamesBecomeBoundedUtf8) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddBpfKsym(kProgA, kProgA + 0x90, std::string("bad\xff\xfe_name"), true);
  w.AddBpfKsym(kProgB, kProgB + 0x40, std::string(512, 'A'), true);  // no NUL at all
  Reader r = w.reader();
  absl::StatusOr<BpfKsyms> ks = BpfKsyms::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(ks.ok()) << ks.status();
  ASSERT_EQ(ks->size(), 2u);
  EXPECT_EQ(ks->Find(kProgA)->name, "bad\xEF\xBF\xBD\xEF\xBF\xBD_name");
  const BpfKsym* b = ks->Find(kProgB);
  EXPECT_TRUE(b->name_truncated);
  EXPECT_EQ(b->name, std::string(511, 'A'));  // what strscpy into KSYM_NAME_LEN keeps
}

TEST(BpfKsymsTest, BadRangesAreSkippedAndCyclesStop) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddBpfKsym(kProgA, kProgA + 0x90, "good", true);
  w.AddBpfKsym(kProgB + 0x40, kProgB, "backwards", true);
  w.AddBpfKsym(kProgB, kProgB + (1ull << 40), "huge", true);
  w.AddBpfKsym(kTramp, kTramp + 0x10, "tail", false);
  // tail.next -> backwards: a cycle that never returns to the head.
  w.g.PutPtr(w.bpf_nodes[3], w.bpf_nodes[1]);
  Reader r = w.reader();
  absl::StatusOr<BpfKsyms> ks = BpfKsyms::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_EQ(ks->size(), 2u);  // good, tail
  std::string problems;
  for (const std::string& p : ks->problems()) problems += p + "; ";
  EXPECT_THAT(problems, HasSubstr("cycle"));
  EXPECT_THAT(problems, HasSubstr("has range"));
  EXPECT_THAT(problems, HasSubstr("2 bpf_ksyms with bad ranges"));
  EXPECT_EQ(ks->Find(kProgB + 0x10), nullptr);
}

TEST(BpfKsymsTest, UnreadableNodeIsSkippedAndHeadFailureFails) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddBpfKsym(kProgA, kProgA + 0x90, "good", true);
  Reader r = w.reader();
  SymbolIndex bad(
      std::vector<SymbolIndex::Entry>{{"bpf_kallsyms", testing::FakeGuest::Unmapped().value, 'd'}});
  EXPECT_FALSE(BpfKsyms::Read(r, bad, *w.resolver).ok());
  SymbolIndex none(std::vector<SymbolIndex::Entry>{});
  EXPECT_EQ(BpfKsyms::Read(r, none, *w.resolver).status().code(), absl::StatusCode::kNotFound);

  // good.next -> an unmapped node: the walk ends with an error after `good`.
  w.g.PutPtr(w.bpf_nodes[0], testing::FakeGuest::Unmapped());
  absl::StatusOr<BpfKsyms> ks = BpfKsyms::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_EQ(ks->size(), 1u);
  ASSERT_FALSE(ks->problems().empty());
  EXPECT_THAT(ks->problems()[0], HasSubstr("broken"));
}

TEST(BpfKsymsTest, EmptyList) {
  CodeMapWorld w(CodeMapWorld::Layout::kCoreLayout);
  Reader r = w.reader();
  absl::StatusOr<BpfKsyms> ks = BpfKsyms::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_EQ(ks->size(), 0u);
  EXPECT_EQ(ks->Find(kProgA), nullptr);
}

}  // namespace
}  // namespace kfreeze
