// OffsetResolver: member paths through anonymous members, typedefs, arrays and bitfields; the
// duplicate-name rule; all-or-nothing groups and their "missing offset groups" reason.
#include "core/btf/offset_resolver.h"

#include <set>
#include "core/btf/btf_set.h"
#include "core/btf/kernel_globals.h"

#include "gtest/gtest.h"
#include "tests/support/btf_builder.h"

namespace kfreeze {
namespace {

using testing::BtfBuilder;
using testing::BtfField;

class OffsetResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BtfBuilder b;
    b.AddAttachTypes();
    b.AddStruct("scx_dispatch_q",
                {{"lock", "u32"}, {"list", "struct list_head"}, {"nr", "u32"}, {"id", "u64"}});
    // struct scx_rq { struct scx_dispatch_q local_dsq; union { u64 a; struct { u32 flags:3,
    // cpu_released:1; }; }; }
    const uint32_t bits =
        b.AddStruct("", {{"flags", "u32", 3}, {"cpu_released", "u32", 1}, {"nr_immed", "u32", 12}});
    const uint32_t anon_union = b.AddUnion("", {{"raw", "u64"}, {"", BtfBuilder::Ref(bits)}});
    b.AddStruct("scx_rq", {{"local_dsq", "struct scx_dispatch_q"},
                           {"", BtfBuilder::Ref(anon_union)},
                           {"ops_qseq", "unsigned long"}});
    b.AddTypedef("scx_rq_t", "struct scx_rq");
    b.AddStruct("rq", {{"nr_running", "unsigned int"},
                       {"scx", "scx_rq_t"},
                       {"curr", "void *"},
                       {"cpu_load", "unsigned long[5]"}});
    // A smaller, private struct rq elsewhere in the kernel: the largest one must win.
    b.AddStruct("rq", {{"tiny", "u8"}});
    b.AddEnum("scx_exit_kind", {{"SCX_EXIT_NONE", 0}, {"SCX_EXIT_ERROR_STALL", 1026}});
    raw_ = b.Finish();
    auto set = BtfSet::FromVmlinuxBytes(raw_, "t");
    ASSERT_TRUE(set.ok()) << set.status();
    set_ = std::move(*set);
    resolver_ = std::make_unique<OffsetResolver>(set_->vmlinux());
  }
  std::vector<uint8_t> raw_;
  std::unique_ptr<BtfSet> set_;
  std::unique_ptr<OffsetResolver> resolver_;
};

TEST_F(OffsetResolverTest, NestedPathsThroughTypedefsAndAnonymousMembers) {
  // rq: nr_running@0, scx@8 (scx_rq: local_dsq(40 bytes)@0, anon union@40, ops_qseq@48)
  EXPECT_EQ(*resolver_->Offset("rq.scx"), 8u);
  EXPECT_EQ(*resolver_->Offset("rq.scx.local_dsq.nr"), 8u + 24u);
  EXPECT_EQ(*resolver_->Offset("scx_rq.raw"), 40u);
  EXPECT_EQ(*resolver_->Offset("scx_rq.ops_qseq"), 48u);
  EXPECT_EQ(*resolver_->Offset("rq.curr"), 64u);
  absl::StatusOr<MemberLocation> list = resolver_->Member("rq.scx.local_dsq.list");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->byte_size, 16u);
  EXPECT_EQ(*resolver_->SizeOf("struct rq"), 112u);
  EXPECT_EQ(*resolver_->SizeOf("unsigned long"), 8u);
  EXPECT_EQ(*resolver_->SizeOf("u32"), 4u);
}

TEST_F(OffsetResolverTest, Bitfields) {
  absl::StatusOr<MemberLocation> flags = resolver_->Member("scx_rq.flags");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->bit_offset, 40u * 8);
  EXPECT_EQ(flags->bitfield_bits, 3u);
  absl::StatusOr<MemberLocation> released = resolver_->Member("rq.scx.cpu_released");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->bit_offset, (8u + 40u) * 8 + 3);
  EXPECT_EQ(released->bitfield_bits, 1u);
  EXPECT_EQ(resolver_->Member("scx_rq.nr_immed")->bit_offset, 40u * 8 + 4);
  // No byte offset for a bitfield.
  EXPECT_EQ(resolver_->Offset("scx_rq.flags").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(OffsetResolverTest, ArraysByIndex) {
  absl::StatusOr<MemberLocation> arr = resolver_->Member("rq.cpu_load");
  ASSERT_TRUE(arr.ok());
  EXPECT_EQ(arr->array_len, 5u);
  EXPECT_EQ(*resolver_->Offset("rq.cpu_load[3]"), 72u + 24u);
  EXPECT_EQ(resolver_->Member("rq.cpu_load[3]")->byte_size, 8u);
  EXPECT_FALSE(resolver_->Offset("rq.cpu_load[5]").ok());
  EXPECT_FALSE(resolver_->Offset("rq.nr_running[0]").ok());
  EXPECT_FALSE(resolver_->Offset("rq.cpu_load[x]").ok());
}

TEST_F(OffsetResolverTest, ErrorsNameWhatIsMissing) {
  absl::Status s = resolver_->Offset("scx_rq.kick_sync").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("struct scx_rq has no member 'kick_sync'"), absl::string_view::npos);
  EXPECT_EQ(resolver_->Offset("scx_sched.ops").status().code(), absl::StatusCode::kNotFound);
  // Paths never follow pointers.
  EXPECT_EQ(resolver_->Offset("rq.curr.pid").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(resolver_->Offset("rq").ok());
  EXPECT_FALSE(resolver_->Offset("rq..x").ok());
}

TEST_F(OffsetResolverTest, EnumValues) {
  EXPECT_EQ(*resolver_->EnumValue("SCX_EXIT_ERROR_STALL"), 1026);
  EXPECT_EQ(resolver_->EnumValue("SCX_NOPE").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OffsetResolverTest, GroupsAreAllOrNothing) {
  OffsetGroup ok(*resolver_, "scx_dispatch_q");
  const uint64_t nr = ok.Offset("scx_dispatch_q.nr");
  const std::optional<uint64_t> seq = ok.OptionalOffset("scx_dispatch_q.seq");  // absent: fine
  EXPECT_TRUE(ok.status().ok());
  EXPECT_EQ(nr, 24u);
  EXPECT_FALSE(seq.has_value());

  OffsetGroup bad(*resolver_, "scx_rq");
  bad.Offset("scx_rq.local_dsq");
  bad.Offset("scx_rq.kick_sync");
  bad.Offset("scx_rq.pnt_seq");
  bad.OptionalOffset("scx_rq.flags");  // present but a bitfield: still an error
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("offset group 'scx_rq'"), absl::string_view::npos);
  EXPECT_NE(bad.status().message().find("kick_sync"), absl::string_view::npos);
  EXPECT_NE(bad.status().message().find("(+2 more)"), absl::string_view::npos);

  OffsetGroup sched(*resolver_, "scx_sched");
  sched.SizeOf("struct scx_sched");
  OffsetGroupReport report;
  report.Add(ok.name(), ok.status());
  report.Add(bad.name(), bad.status());
  report.Add(sched.name(), sched.status());
  EXPECT_FALSE(report.all_ok());
  EXPECT_EQ(report.MissingReason(), "missing offset groups [scx_rq, scx_sched]");
  EXPECT_NE(report.Details().find("scx_sched"), std::string::npos);
  OffsetGroupReport clean;
  clean.Add("x", absl::OkStatus());
  EXPECT_EQ(clean.MissingReason(), "");
}

TEST_F(OffsetResolverTest, KernelGlobalsTable) {
  const KernelGlobal* rq = FindKernelGlobal("runqueues");
  ASSERT_NE(rq, nullptr);
  EXPECT_EQ(rq->storage, GlobalStorage::kPerCpu);
  absl::StatusOr<GlobalType> t = ResolveGlobalType(*resolver_, *rq);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->base_size, 112u);
  EXPECT_EQ(t->pointer_depth, 0);

  absl::StatusOr<GlobalType> pob =
      ResolveGlobalType(*resolver_, *FindKernelGlobal("page_offset_base"));
  ASSERT_TRUE(pob.ok());
  EXPECT_EQ(pob->ObjectSize(), 8u);
  absl::StatusOr<GlobalType> offs =
      ResolveGlobalType(*resolver_, *FindKernelGlobal("__per_cpu_offset"));
  ASSERT_TRUE(offs.ok());
  EXPECT_TRUE(offs->is_array);
  // scx_sched is not in this BTF: the error names the global.
  absl::StatusOr<GlobalType> root = ResolveGlobalType(*resolver_, *FindKernelGlobal("scx_root"));
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.status().message().find("scx_root"), absl::string_view::npos);
  EXPECT_EQ(FindKernelGlobal("not_a_global"), nullptr);
  // Every entry names a distinct symbol.
  std::set<std::string> names;
  for (const KernelGlobal& g : kKernelGlobals)
    EXPECT_TRUE(names.insert(std::string(g.symbol)).second) << g.symbol;
}

// Guest BTF is outside input: a member whose offset + size lies past its struct's size would send
// every read of it into the next object, so the lookup fails instead (and with it the group).
TEST(OffsetResolverHostile, MembersPastTheirStructAreRejected) {
  BtfBuilder b;
  b.AddStruct("cgroup", {{"kn", "u64", 0, 8}, {"psi", "u64", 0, 4096}}, /*size=*/64);
  b.AddStruct("inner", {{"x", "u64", 0, 0}}, 8);
  // An anonymous member past the end hides a member that is in range within it.
  b.AddStruct("outer", {{"a", "u32", 0, 0}, {"", "struct inner", 0, 32}}, 16);
  b.AddStruct("edge", {{"last", "u64", 0, 56}, {"flex", "u64[0]", 0, 64}}, 64);
  std::vector<uint8_t> raw = b.Finish();
  auto set = BtfSet::FromVmlinuxBytes(raw, "t");
  ASSERT_TRUE(set.ok()) << set.status();
  OffsetResolver r((*set)->vmlinux());
  EXPECT_EQ(r.Offset("cgroup.kn").value_or(~0ull), 8u);
  absl::StatusOr<uint64_t> psi = r.Offset("cgroup.psi");
  ASSERT_FALSE(psi.ok());
  EXPECT_NE(psi.status().message().find("past the end of cgroup"), std::string::npos)
      << psi.status();
  EXPECT_FALSE(r.Offset("outer.x").ok());
  EXPECT_TRUE(r.Offset("outer.a").ok());
  EXPECT_EQ(r.Offset("edge.last").value_or(0), 56u);  // ends exactly at sizeof
  EXPECT_EQ(r.Offset("edge.flex").value_or(0), 64u);  // a flexible array has no size
  Group<uint64_t> g = ResolveGroup<uint64_t>(
      r, "cgroup", [](OffsetGroup& og, uint64_t& v) { v = og.Offset("cgroup.psi"); });
  EXPECT_FALSE(g.ok());
}

}  // namespace
}  // namespace kfreeze
