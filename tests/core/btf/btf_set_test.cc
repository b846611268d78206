// BtfSet: libbpf parsing, our validation pass, split BTF through a memfd, and hostile blobs.
#include "core/btf/btf_set.h"

#include <algorithm>
#include <cstring>

#include "gtest/gtest.h"
#include "tests/support/btf_builder.h"

namespace kfreeze {
namespace {

using testing::BtfBuilder;

std::vector<uint8_t> SmallBtf() {
  BtfBuilder b;
  b.AddAttachTypes();
  b.AddStruct("bpf_map", {{"name", "char[16]"}, {"max_entries", "u32"}});
  return b.Finish();
}

TEST(BtfSetTest, ParsesAndKeepsRawBytes) {
  std::vector<uint8_t> raw = SmallBtf();
  auto set = BtfSet::FromVmlinuxBytes(raw, "test");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(std::ranges::equal((*set)->raw(), raw));
  EXPECT_EQ((*set)->source(), "test");
  EXPECT_GT((*set)->type_count(), 20u);
  EXPECT_GT(btf__find_by_name_kind((*set)->vmlinux(), "bpf_map", BTF_KIND_STRUCT), 0);
}

TEST(BtfSetTest, RejectsBadMagicTruncationAndOversize) {
  std::vector<uint8_t> raw = SmallBtf();
  std::vector<uint8_t> bad = raw;
  bad[0] = 0;
  EXPECT_EQ(BtfSet::FromVmlinuxBytes(bad, "x").status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> truncated(raw.begin(), raw.begin() + raw.size() / 2);
  EXPECT_FALSE(BtfSet::FromVmlinuxBytes(truncated, "x").ok());
  EXPECT_FALSE(BtfSet::FromVmlinuxBytes(std::vector<uint8_t>(10, 0), "x").ok());
  // Header claims a type section far larger than the blob.
  std::vector<uint8_t> lying = raw;
  const uint32_t huge = 0x7fffffff;
  std::memcpy(lying.data() + 12, &huge, 4);  // btf_header.type_len
  EXPECT_FALSE(BtfSet::FromVmlinuxBytes(lying, "x").ok());
}

TEST(BtfSetTest, ValidationCatchesDanglingTypeIds) {
  BtfBuilder b;
  const uint32_t s = b.AddStruct("victim", {{"a", "u32"}, {"b", "u64"}});
  std::vector<uint8_t> raw = b.Finish();
  // Find the struct's first member record and point it at a type id that does not exist.
  auto parsed = BtfSet::FromVmlinuxBytes(raw, "ok");
  ASSERT_TRUE(parsed.ok());
  const struct btf_type* t = btf__type_by_id((*parsed)->vmlinux(), s);
  const uint8_t* type_section = raw.data() + 24;  // header is 24 bytes; type_off is 0
  uint32_t hdr_len, type_off;
  std::memcpy(&hdr_len, raw.data() + 4, 4);
  std::memcpy(&type_off, raw.data() + 8, 4);
  ASSERT_EQ(hdr_len, 24u);
  // Locate the struct record by matching its bytes in the raw blob.
  const uint8_t* end = raw.data() + raw.size();
  const uint8_t* rec =
      std::search(type_section + type_off, end, reinterpret_cast<const uint8_t*>(t),
                  reinterpret_cast<const uint8_t*>(t) + 12);
  ASSERT_NE(rec, end);
  const size_t member_type_at = (rec - raw.data()) + 12 + 4;  // btf_member{name_off, type, offset}
  const uint32_t dangling = 999999;
  std::memcpy(raw.data() + member_type_at, &dangling, 4);
  absl::StatusOr<std::unique_ptr<BtfSet>> bad = BtfSet::FromVmlinuxBytes(raw, "bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("999999"), absl::string_view::npos);
}

TEST(BtfSetTest, SplitBtfOnTopOfVmlinux) {
  BtfBuilder base_builder;
  base_builder.AddAttachTypes();
  std::vector<uint8_t> base_raw = base_builder.Finish();
  auto set = BtfSet::FromVmlinuxBytes(base_raw, "base");
  ASSERT_TRUE(set.ok());
  // A program BTF that refers to a vmlinux type (list_head) by id.
  struct btf* split = btf__new_empty_split(const_cast<struct btf*>((*set)->vmlinux()));
  ASSERT_NE(split, nullptr);
  const int list_head = btf__find_by_name_kind((*set)->vmlinux(), "list_head", BTF_KIND_STRUCT);
  ASSERT_GT(list_head, 0);
  const int val = btf__add_struct(split, "prog_value", 24);
  ASSERT_GT(val, 0);
  ASSERT_EQ(btf__add_field(split, "node", list_head, 0, 0), 0);
  uint32_t size = 0;
  const uint8_t* data = static_cast<const uint8_t*>(btf__raw_data(split, &size));
  std::vector<uint8_t> split_raw(data, data + size);
  btf__free(split);

  absl::StatusOr<const struct btf*> parsed =
      (*set)->AddSplit(Kva(0xffff888000123000ull), split_raw);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_GT(btf__find_by_name_kind(*parsed, "prog_value", BTF_KIND_STRUCT), list_head);
  EXPECT_EQ(btf__base_btf(*parsed), (*set)->vmlinux());
  // Same key: the cached parse, not a second one.
  EXPECT_EQ(*(*set)->AddSplit(Kva(0xffff888000123000ull), split_raw), *parsed);
  EXPECT_EQ((*set)->FindSplit(Kva(0xffff888000123000ull)), *parsed);
  EXPECT_EQ((*set)->FindSplit(Kva(1)), nullptr);
  std::vector<uint8_t> garbage(split_raw.size(), 0xaa);
  EXPECT_FALSE((*set)->AddSplit(Kva(2), garbage).ok());
}

TEST(BtfSetTest, FromFileAcceptsRawAndRejectsMissing) {
  std::vector<uint8_t> raw = SmallBtf();
  const std::string path = ::testing::TempDir() + "/vmlinux.btf";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(raw.data(), 1, raw.size(), f);
  std::fclose(f);
  auto set = BtfSet::FromFile(path);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(std::ranges::equal((*set)->raw(), raw));
  EXPECT_EQ(BtfSet::FromFile("/nonexistent.btf").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kfreeze
