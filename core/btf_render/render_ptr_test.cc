// Pointer rendering: raw values, arena chases, and the recorded reason for every skipped chase.
#include <bpf/btf.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/btf_render/render.h"
#include "gtest/gtest.h"

namespace kfreeze::btf_render {
namespace {

using kfreeze::v1::RenderedValue;

// An arena of 4 KiB pages at user addresses [base, base + 4 GiB); only pages put in are readable.
class FakeArena : public ArenaMemory {
 public:
  static constexpr uint64_t kBase = 0x100000000000ull;
  bool Contains(uint64_t addr) const override {
    return addr >= kBase && addr < kBase + (uint64_t{1} << 32);
  }
  absl::Status Read(uint64_t addr, absl::Span<uint8_t> out) const override {
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = pages_.find((addr + i) & ~uint64_t{0xfff});
      if (it == pages_.end()) return absl::OutOfRangeError(absl::StrCat("page not captured"));
      out[i] = it->second[(addr + i) & 0xfff];
    }
    return absl::OkStatus();
  }
  void Put(uint64_t addr, const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i) {
      auto& page = pages_[(addr + i) & ~uint64_t{0xfff}];
      page.resize(4096);
      page[(addr + i) & 0xfff] = p[i];
    }
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> pages_;
};

class PtrTest : public ::testing::Test {
 protected:
  PtrTest() : btf_(btf__new_empty(), btf__free) {
    u64_ = btf__add_int(b(), "unsigned long long", 8, 0);
    // struct node { u64 val; struct node *next; }
    node_ = btf__add_struct(b(), "node", 16);
    const int node_ptr_id = node_ + 1;
    btf__add_field(b(), "val", u64_, 0, 0);
    btf__add_field(b(), "next", node_ptr_id, 64, 0);
    node_ptr_ = btf__add_ptr(b(), node_);
    void_ptr_ = btf__add_ptr(b(), 0);
    options_.arena = &arena_;
  }
  struct btf* b() {
    return btf_.get();
  }
  static std::vector<uint8_t> Ptr(uint64_t v) {
    std::vector<uint8_t> out(8);
    std::memcpy(out.data(), &v, 8);
    return out;
  }
  void PutNode(uint64_t addr, uint64_t val, uint64_t next) {
    uint64_t words[2] = {val, next};
    arena_.Put(addr, words, sizeof(words));
  }

  std::unique_ptr<struct btf, void (*)(struct btf*)> btf_;
  int u64_, node_, node_ptr_, void_ptr_;
  FakeArena arena_;
  RenderOptions options_;
};

TEST_F(PtrTest, NullPointerHasNoDerefAndNoReason) {
  const RenderedValue v = Render(b(), node_ptr_, Ptr(0), options_);
  EXPECT_EQ(v.ptr().value(), 0u);
  EXPECT_FALSE(v.ptr().has_deref());
  EXPECT_FALSE(v.ptr().has_deref_skipped_reason());
}

TEST_F(PtrTest, KernelPointerIsNotDereferenced) {
  const RenderedValue v = Render(b(), node_ptr_, Ptr(0xffff888012345678ull), options_);
  EXPECT_EQ(v.ptr().value(), 0xffff888012345678ull);
  EXPECT_FALSE(v.ptr().has_deref());
  EXPECT_EQ(v.ptr().deref_skipped_reason(), "not an arena address: not dereferenced");
  // Without an arena snapshot the reason says so.
  EXPECT_EQ(Render(b(), node_ptr_, Ptr(FakeArena::kBase)).ptr().deref_skipped_reason(),
            "no arena snapshot to chase into");
}

TEST_F(PtrTest, ArenaListIsChasedUntilNull) {
  const uint64_t a = FakeArena::kBase + 0x10, c = FakeArena::kBase + 0x2000;
  PutNode(a, 1, c);
  PutNode(c, 2, 0);
  const RenderedValue v = Render(b(), node_ptr_, Ptr(a), options_);
  ASSERT_TRUE(v.ptr().has_deref());
  const auto& first = v.ptr().deref().struct_();
  EXPECT_EQ(first.members(0).value().uint().value(), 1u);
  const auto& second = first.members(1).value().ptr();
  EXPECT_EQ(second.value(), c);
  EXPECT_EQ(second.deref().struct_().members(0).value().uint().value(), 2u);
  EXPECT_EQ(second.deref().struct_().members(1).value().ptr().value(), 0u);
}

TEST_F(PtrTest, ArenaCycleIsDetected) {
  const uint64_t a = FakeArena::kBase + 0x40, c = FakeArena::kBase + 0x80;
  PutNode(a, 1, c);
  PutNode(c, 2, a);
  const RenderedValue v = Render(b(), node_ptr_, Ptr(a), options_);
  const auto& back =
      v.ptr().deref().struct_().members(1).value().ptr().deref().struct_().members(1).value().ptr();
  EXPECT_EQ(back.value(), a);
  EXPECT_FALSE(back.has_deref());
  EXPECT_EQ(back.deref_skipped_reason(), "pointer cycle");
}

TEST_F(PtrTest, UncapturedPageAndVoidPointeeSayWhy) {
  const RenderedValue missing = Render(b(), node_ptr_, Ptr(FakeArena::kBase + 0x9000), options_);
  EXPECT_EQ(missing.ptr().deref_skipped_reason(), "arena read failed: page not captured");
  PutNode(FakeArena::kBase, 1, 0);
  const RenderedValue vp = Render(b(), void_ptr_, Ptr(FakeArena::kBase), options_);
  EXPECT_EQ(vp.ptr().deref_skipped_reason(), "pointee has no size (void, fwd or func)");
}

TEST_F(PtrTest, FunctionPointerSaysSo) {
  const int proto = btf__add_func_proto(b(), u64_);
  const int fn_ptr = btf__add_ptr(b(), proto);
  EXPECT_EQ(Render(b(), fn_ptr, Ptr(0xffffffff81234567ull), options_).ptr().deref_skipped_reason(),
            "function pointer: not dereferenced");
}

TEST_F(PtrTest, LongListStopsAtDepthCap) {
  // 40 nodes in a chain: the chase stops at the depth cap with a reason, without a cycle.
  for (int i = 0; i < 40; ++i) {
    PutNode(FakeArena::kBase + 0x100 * i, i, i == 39 ? 0 : FakeArena::kBase + 0x100 * (i + 1));
  }
  RenderNotes notes;
  const RenderedValue v = Render(b(), node_ptr_, Ptr(FakeArena::kBase), options_, &notes);
  const RenderedValue* cur = &v;
  int hops = 0;
  while (cur->has_ptr() && cur->ptr().has_deref() && cur->ptr().deref().has_struct_()) {
    cur = &cur->ptr().deref().struct_().members(1).value();
    ++hops;
  }
  EXPECT_LT(hops, 40);
  // The cap bites at a pointer chase or at the member holding the next pointer, whichever reaches
  // the message-level limit first.
  EXPECT_EQ(cur->has_ptr() ? cur->ptr().deref_skipped_reason() : cur->unsupported().reason(),
            "render depth cap reached");
}

}  // namespace
}  // namespace kfreeze::btf_render
