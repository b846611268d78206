// Unit tests of the BTF value renderer on BTF built with libbpf's writer API.
#include "core/btf_render/render.h"

#include <bpf/btf.h>

#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace kfreeze::btf_render {
namespace {

using kfreeze::v1::RenderedValue;

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

class RenderTest : public ::testing::Test {
 protected:
  RenderTest() : btf_(btf__new_empty()) {
    u8_ = btf__add_int(b(), "unsigned char", 1, 0);
    s8_ = btf__add_int(b(), "signed char", 1, BTF_INT_SIGNED);
    char_ = btf__add_int(b(), "char", 1, BTF_INT_SIGNED);
    u16_ = btf__add_int(b(), "unsigned short", 2, 0);
    s16_ = btf__add_int(b(), "short", 2, BTF_INT_SIGNED);
    u32_ = btf__add_int(b(), "unsigned int", 4, 0);
    s32_ = btf__add_int(b(), "int", 4, BTF_INT_SIGNED);
    u64_ = btf__add_int(b(), "unsigned long long", 8, 0);
    s64_ = btf__add_int(b(), "long long", 8, BTF_INT_SIGNED);
    bool_ = btf__add_int(b(), "_Bool", 1, BTF_INT_BOOL);
    u128_ = btf__add_int(b(), "unsigned __int128", 16, 0);
  }

  struct btf* b() {
    return btf_.get();
  }

  RenderedValue R(int id, const std::vector<uint8_t>& bytes, RenderNotes* notes = nullptr,
                  const RenderOptions& options = {}) {
    return Render(b(), id, bytes, options, notes);
  }

  template <typename T>
  static std::vector<uint8_t> Le(T v) {
    std::vector<uint8_t> out(sizeof(T));
    std::memcpy(out.data(), &v, sizeof(T));
    return out;
  }

  BtfPtr btf_;
  int u8_, s8_, char_, u16_, s16_, u32_, s32_, u64_, s64_, bool_, u128_;
};

TEST_F(RenderTest, UnsignedIntsOfEveryWidth) {
  EXPECT_EQ(R(u8_, {0xfe}).uint().value(), 0xfeu);
  EXPECT_EQ(R(u8_, {0xfe}).uint().bits(), 8u);
  EXPECT_EQ(R(u16_, Le<uint16_t>(0xbeef)).uint().value(), 0xbeefu);
  EXPECT_EQ(R(u32_, Le<uint32_t>(0xdeadbeef)).uint().value(), 0xdeadbeefu);
  const RenderedValue v = R(u64_, Le<uint64_t>(0xfedcba9876543210ull));
  ASSERT_TRUE(v.has_uint());
  EXPECT_EQ(v.uint().bits(), 64u);
  EXPECT_EQ(v.uint().value(), 0xfedcba9876543210ull);
}

TEST_F(RenderTest, SignedIntsAreSignExtended) {
  EXPECT_EQ(R(s8_, {0xff}).int_().value(), -1);
  EXPECT_EQ(R(s16_, Le<int16_t>(-300)).int_().value(), -300);
  EXPECT_EQ(R(s32_, Le<int32_t>(-70000)).int_().value(), -70000);
  const RenderedValue v = R(s64_, Le<int64_t>(INT64_MIN));
  EXPECT_EQ(v.int_().bits(), 64u);
  EXPECT_EQ(v.int_().value(), INT64_MIN);
}

TEST_F(RenderTest, BoolCharAnd128BitInts) {
  EXPECT_TRUE(R(bool_, {0x01}).bool_().value());
  EXPECT_FALSE(R(bool_, {0x00}).bool_().value());
  EXPECT_EQ(R(char_, {'A'}).char_().value(), 65u);
  // signed char is a number, not a char (bpftool's rule: only "char" or BTF_INT_CHAR).
  EXPECT_TRUE(R(s8_, {'A'}).has_int_());
  std::vector<uint8_t> wide(16);
  for (int i = 0; i < 16; ++i) wide[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(R(u128_, wide).bytes().hex(), "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
}

TEST_F(RenderTest, FloatAndDouble) {
  const int f32 = btf__add_float(b(), "float", 4);
  const int f64 = btf__add_float(b(), "double", 8);
  const RenderedValue f = R(f32, Le<float>(1.5f));
  EXPECT_EQ(f.float_().bits(), 32u);
  EXPECT_DOUBLE_EQ(f.float_().value(), 1.5);
  EXPECT_DOUBLE_EQ(R(f64, Le<double>(-2.25)).float_().value(), -2.25);
}

TEST_F(RenderTest, EnumWithVariantAndWithout) {
  const int e = btf__add_enum(b(), "color", 4);
  btf__add_enum_value(b(), "RED", 0);
  btf__add_enum_value(b(), "GREEN", 7);
  const RenderedValue green = R(e, Le<uint32_t>(7));
  EXPECT_EQ(green.enum_().variant(), "GREEN");
  EXPECT_EQ(green.enum_().value(), 7);
  EXPECT_EQ(green.enum_().bits(), 32u);
  EXPECT_FALSE(green.enum_().is_signed());
  const RenderedValue unknown = R(e, Le<uint32_t>(9));
  EXPECT_FALSE(unknown.enum_().has_variant());
  EXPECT_EQ(unknown.enum_().value(), 9);
}

TEST_F(RenderTest, SignedEnumAndEnum64) {
  const int e = btf__add_enum(b(), "sgn", 4);
  btf__add_enum_value(b(), "NEG", -2);  // a negative enumerator makes libbpf set kflag (signed)
  const RenderedValue neg = R(e, Le<int32_t>(-2));
  EXPECT_TRUE(neg.enum_().is_signed());
  EXPECT_EQ(neg.enum_().value(), -2);
  EXPECT_EQ(neg.enum_().variant(), "NEG");

  const int e64 = btf__add_enum64(b(), "big", 8, false);
  btf__add_enum64_value(b(), "HUGE", 0xffff000000000001ull);
  const RenderedValue huge = R(e64, Le<uint64_t>(0xffff000000000001ull));
  EXPECT_EQ(huge.enum_().variant(), "HUGE");
  EXPECT_EQ(static_cast<uint64_t>(huge.enum_().value()), 0xffff000000000001ull);
  EXPECT_EQ(huge.enum_().bits(), 64u);
}

TEST_F(RenderTest, StructWithNestedStructAndNames) {
  const int inner = btf__add_struct(b(), "inner", 4);
  btf__add_field(b(), "x", u16_, 0, 0);
  btf__add_field(b(), "y", s16_, 16, 0);
  const int outer = btf__add_struct(b(), "outer", 12);
  btf__add_field(b(), "a", u32_, 0, 0);
  btf__add_field(b(), "in", inner, 32, 0);
  btf__add_field(b(), "c", char_, 64, 0);
  std::vector<uint8_t> bytes = {1, 0, 0, 0, 2, 0, 0xfd, 0xff, 'z', 0, 0, 0};
  const RenderedValue v = R(outer, bytes);
  ASSERT_TRUE(v.has_struct_());
  EXPECT_EQ(v.struct_().type_name(), "outer");
  ASSERT_EQ(v.struct_().members_size(), 3);
  EXPECT_EQ(v.struct_().members(0).name(), "a");
  EXPECT_EQ(v.struct_().members(0).value().uint().value(), 1u);
  const auto& in = v.struct_().members(1).value().struct_();
  EXPECT_EQ(in.type_name(), "inner");
  EXPECT_EQ(in.members(0).value().uint().value(), 2u);
  EXPECT_EQ(in.members(1).value().int_().value(), -3);
  EXPECT_EQ(v.struct_().members(2).value().char_().value(), static_cast<uint32_t>('z'));
}

TEST_F(RenderTest, BitfieldsAreExtractedWithKflag) {
  const int e = btf__add_enum(b(), "mode", 4);
  btf__add_enum_value(b(), "M_A", 1);
  btf__add_enum_value(b(), "M_B", 2);
  const int s = btf__add_struct(b(), "flags", 8);
  btf__add_field(b(), "lo", u32_, 0, 3);      // bits 0..2
  btf__add_field(b(), "neg", s32_, 3, 5);     // bits 3..7, signed
  btf__add_field(b(), "mode", e, 8, 2);       // bits 8..9, enum bitfield
  btf__add_field(b(), "wide", u64_, 10, 40);  // crosses bytes
  btf__add_field(b(), "on", bool_, 50, 1);
  uint64_t word = 0;
  word |= 5ull;                   // lo = 5
  word |= (0x1eull) << 3;         // neg = 0b11110 = -2
  word |= 2ull << 8;              // mode = M_B
  word |= 0xabcdef1234ull << 10;  // wide
  word |= 1ull << 50;             // on
  const RenderedValue v = R(s, Le<uint64_t>(word));
  const auto& m = v.struct_().members();
  ASSERT_EQ(m.size(), 5);
  EXPECT_EQ(m[0].value().uint().value(), 5u);
  EXPECT_EQ(m[0].value().uint().bits(), 3u);
  EXPECT_EQ(m[1].value().int_().value(), -2);
  EXPECT_EQ(m[1].value().int_().bits(), 5u);
  EXPECT_EQ(m[2].value().enum_().variant(), "M_B");
  EXPECT_EQ(m[2].value().enum_().bits(), 2u);
  EXPECT_EQ(m[3].value().uint().value(), 0xabcdef1234ull);
  EXPECT_TRUE(m[4].value().bool_().value());
}

TEST_F(RenderTest, UnionRendersEveryMemberFromOffsetZero) {
  const int u = btf__add_union(b(), "u", 4);
  btf__add_field(b(), "word", u32_, 0, 0);
  btf__add_field(b(), "byte", u8_, 0, 0);
  const RenderedValue v = R(u, Le<uint32_t>(0x11223344));
  EXPECT_EQ(v.struct_().type_name(), "u");
  EXPECT_EQ(v.struct_().members(0).value().uint().value(), 0x11223344u);
  EXPECT_EQ(v.struct_().members(1).value().uint().value(), 0x44u);
}

TEST_F(RenderTest, AnonymousMemberStaysNestedWithEmptyName) {
  const int anon = btf__add_struct(b(), nullptr, 4);
  btf__add_field(b(), "x", u32_, 0, 0);
  const int s = btf__add_struct(b(), "holder", 4);
  btf__add_field(b(), nullptr, anon, 0, 0);
  const RenderedValue v = R(s, Le<uint32_t>(9));
  ASSERT_EQ(v.struct_().members_size(), 1);
  EXPECT_EQ(v.struct_().members(0).name(), "");
  EXPECT_FALSE(v.struct_().members(0).value().struct_().has_type_name());
  EXPECT_EQ(v.struct_().members(0).value().struct_().members(0).value().uint().value(), 9u);
}

TEST_F(RenderTest, ModifiersAndTypedefsArePeeled) {
  const int td = btf__add_typedef(b(), "u32_t", u32_);
  const int c = btf__add_const(b(), td);
  const int vol = btf__add_volatile(b(), c);
  const int tag = btf__add_type_tag(b(), "tagged", vol);
  const int restrict_ptr_target = btf__add_restrict(b(), tag);
  EXPECT_EQ(R(restrict_ptr_target, Le<uint32_t>(42)).uint().value(), 42u);
}

TEST_F(RenderTest, ArraysNestedAndCapped) {
  const int row = btf__add_array(b(), u32_, u16_, 2);
  const int grid = btf__add_array(b(), u32_, row, 2);
  std::vector<uint8_t> bytes = {1, 0, 2, 0, 3, 0, 4, 0};
  const RenderedValue v = R(grid, bytes);
  ASSERT_EQ(v.array().len(), 2u);
  EXPECT_EQ(v.array().elements(1).array().elements(0).uint().value(), 3u);

  const int big = btf__add_array(b(), u32_, u8_, 10);
  RenderOptions options;
  options.caps.max_array_elements = 4;
  RenderNotes notes;
  const RenderedValue capped = R(big, std::vector<uint8_t>(10, 7), &notes, options);
  EXPECT_EQ(capped.array().len(), 10u);
  EXPECT_EQ(capped.array().elements_size(), 4);
  EXPECT_NE(notes.Summary().find("array of 10 elements capped at 4"), std::string::npos);
}

TEST_F(RenderTest, CharArrayAlsoAsTextFollowingBpftoolRule) {
  const int name = btf__add_array(b(), u32_, char_, 8);
  const RenderedValue text = R(name, {'h', 'i', 0, 'x', 0, 0, 0, 0});
  EXPECT_EQ(text.array().text(), "hi");
  EXPECT_EQ(text.array().elements_size(), 8);
  EXPECT_EQ(text.array().elements(1).char_().value(), static_cast<uint32_t>('i'));
  // No NUL inside: not text. Unprintable before NUL: not text.
  EXPECT_FALSE(R(name, std::vector<uint8_t>(8, 'a')).array().has_text());
  EXPECT_FALSE(R(name, {'a', 1, 0, 0, 0, 0, 0, 0}).array().has_text());
  // An unsigned char array is bytes, not text.
  const int raw = btf__add_array(b(), u32_, u8_, 4);
  EXPECT_FALSE(R(raw, {'o', 'k', 0, 0}).array().has_text());
}

TEST_F(RenderTest, DatasecRendersVariablesByOffset) {
  const int v1 = btf__add_var(b(), "counter", BTF_VAR_GLOBAL_ALLOCATED, u64_);
  const int v2 = btf__add_var(b(), "ready", BTF_VAR_GLOBAL_ALLOCATED, bool_);
  const int sec = btf__add_datasec(b(), ".bss", 16);
  btf__add_datasec_var_info(b(), v1, 0, 8);
  btf__add_datasec_var_info(b(), v2, 8, 1);
  std::vector<uint8_t> bytes = Le<uint64_t>(849);
  bytes.resize(16, 0);
  bytes[8] = 1;
  const RenderedValue v = R(sec, bytes);
  EXPECT_EQ(v.struct_().type_name(), ".bss");
  ASSERT_EQ(v.struct_().members_size(), 2);
  EXPECT_EQ(v.struct_().members(0).name(), "counter");
  EXPECT_EQ(v.struct_().members(0).value().uint().value(), 849u);
  EXPECT_EQ(v.struct_().members(1).name(), "ready");
  EXPECT_TRUE(v.struct_().members(1).value().bool_().value());
}

TEST_F(RenderTest, FwdVoidAndFuncAreUnsupportedWithReasons) {
  const int fwd = btf__add_fwd(b(), "opaque", BTF_FWD_STRUCT);
  RenderNotes notes;
  EXPECT_EQ(R(fwd, {1, 2}, &notes).unsupported().reason(),
            "forward declaration: type body not in BTF");
  EXPECT_FALSE(notes.empty());
  EXPECT_EQ(R(0, {1}).unsupported().reason(), "void has no value");
  const int proto = btf__add_func_proto(b(), s32_);
  EXPECT_EQ(R(proto, {1}).unsupported().reason(), "function type has no value");
  EXPECT_NE(R(99999, {1}).unsupported().reason().find("not in BTF"), std::string::npos);
}

TEST_F(RenderTest, ShortBytesBecomeTruncatedNeverZeros) {
  const int s = btf__add_struct(b(), "pair", 16);
  btf__add_field(b(), "a", u64_, 0, 0);
  btf__add_field(b(), "b", u64_, 64, 0);
  RenderNotes notes;
  const RenderedValue v = R(s, {1, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb}, &notes);
  ASSERT_TRUE(v.has_truncated());
  EXPECT_EQ(v.truncated().needed(), 16u);
  EXPECT_EQ(v.truncated().had(), 10u);
  const auto& partial = v.truncated().partial().struct_();
  ASSERT_EQ(partial.members_size(), 2);
  EXPECT_EQ(partial.members(0).value().uint().value(), 1u);
  ASSERT_TRUE(partial.members(1).value().has_truncated());
  EXPECT_EQ(partial.members(1).value().truncated().partial().bytes().hex(), "aa bb");
  EXPECT_NE(notes.Summary().find("value truncated"), std::string::npos);

  // A scalar with no bytes at all.
  const RenderedValue none = R(u32_, {});
  EXPECT_EQ(none.truncated().had(), 0u);
  EXPECT_EQ(none.truncated().partial().bytes().hex(), "");
}

TEST_F(RenderTest, UnreadableValueCarriesTheReason) {
  RenderNotes notes;
  const RenderedValue v =
      RenderUnreadable(b(), u64_, {}, 8, "fault at 0xffff888000001000: unmapped", {}, &notes);
  ASSERT_TRUE(v.has_truncated());
  EXPECT_EQ(v.truncated().needed(), 8u);
  EXPECT_EQ(v.truncated().had(), 0u);
  EXPECT_EQ(v.truncated().partial().unsupported().reason(),
            "unreadable: fault at 0xffff888000001000: unmapped");
  EXPECT_NE(notes.Summary().find("unmapped"), std::string::npos);
}

TEST_F(RenderTest, ModifierLoopIsReportedNotFollowedForever) {
  // A typedef naming itself: only a corrupt BTF does this.
  const int next = btf__type_cnt(b());
  ASSERT_EQ(btf__add_typedef(b(), "loop", next), next);
  RenderNotes notes;
  EXPECT_EQ(R(next, {1, 2, 3, 4}, &notes).unsupported().reason(),
            "modifier chain too long (loop?)");
}

TEST_F(RenderTest, DepthCapStopsDeepNesting) {
  int inner = u8_;
  for (int i = 0; i < 40; ++i) {
    const int s = btf__add_struct(b(), nullptr, 1);
    btf__add_field(b(), "n", inner, 0, 0);
    inner = s;
  }
  RenderNotes notes;
  const RenderedValue v = R(inner, {5}, &notes);
  const RenderedValue* cur = &v;
  int levels = 0;
  while (cur->has_struct_()) {
    cur = &cur->struct_().members(0).value();
    ++levels;
  }
  // Each struct level is 3 messages deep: depths 0, 3, ..., 42 rendered, the 16th level is cut.
  EXPECT_EQ(levels, 15);
  EXPECT_EQ(cur->unsupported().reason(), "render depth cap reached");
  EXPECT_NE(notes.Summary().find("render depth cap"), std::string::npos);
}

TEST_F(RenderTest, NodeBudgetBoundsZeroSizedElementExplosion) {
  const int empty = btf__add_struct(b(), "empty", 0);
  const int a1 = btf__add_array(b(), u32_, empty, 60000);
  const int a2 = btf__add_array(b(), u32_, a1, 60000);
  RenderOptions options;
  options.caps.max_nodes = 10000;
  RenderNotes notes;
  const RenderedValue v = R(a2, {}, &notes, options);
  EXPECT_EQ(v.array().len(), 60000u);
  EXPECT_LT(v.array().elements_size(), 10);
  EXPECT_NE(notes.Summary().find("render node budget exhausted"), std::string::npos);
}

TEST_F(RenderTest, NullBtfIsUnsupported) {
  EXPECT_EQ(Render(nullptr, 1, {}).unsupported().reason(), "no BTF");
}

TEST(RenderNotesTest, CountsRepeatsAndBoundsDistinctMessages) {
  RenderNotes notes;
  notes.Add("a");
  notes.Add("a");
  notes.Add("b");
  EXPECT_EQ(notes.Summary(), "a (x2); b");
  for (int i = 0; i < 40; ++i) notes.Add("m" + std::to_string(i));
  EXPECT_EQ(notes.entries().size(), 16u);
  EXPECT_NE(notes.Summary().find("26 more notes dropped"), std::string::npos);
}

}  // namespace
}  // namespace kfreeze::btf_render
