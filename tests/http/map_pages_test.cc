// Map entries paged for the dashboard: the page view drops them, the rows render each entry as one
// line, a dual report's late rows say which values changed.
#include "server/http/map_pages.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::server::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = kfreeze::v1;

void AddEntry(v1::FailureDumpMap* m, uint8_t key, uint64_t value) {
  v1::FailureDumpEntry* e = m->add_entries();
  e->set_key_hex(std::string(1, static_cast<char>(key)));
  e->set_value_hex(absl::StrCat("v", value));
  e->mutable_key()->mutable_uint()->set_bits(8);
  e->mutable_key()->mutable_uint()->set_value(key);
  e->mutable_value()->mutable_uint()->set_bits(64);
  e->mutable_value()->mutable_uint()->set_value(value);
}

v1::DumpEnvelope Dual() {
  v1::DumpEnvelope env;
  v1::FailureDumpMap* early = env.mutable_dual()->mutable_early()->add_maps();
  early->set_name("counts");
  AddEntry(early, 1, 10);
  AddEntry(early, 2, 20);
  v1::FailureDumpMap* late = env.mutable_dual()->mutable_late()->add_maps();
  late->set_name("counts");
  AddEntry(late, 1, 10);
  AddEntry(late, 2, 21);
  AddEntry(late, 3, 30);
  late->add_array_entries()->set_key(7);
  return env;
}

TEST(MapPages, LateRowsRenderOneLineEachAndMarkWhatChangedSinceEarly) {
  absl::StatusOr<MapRows> rows = RenderMapRows(Dual(), "late", "counts");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->keys.size(), 4u);
  EXPECT_THAT(rows->values[1], HasSubstr("21"));
  EXPECT_EQ(rows->values[1].find('\n'), std::string::npos);
  EXPECT_THAT(rows->changed, ElementsAre(false, true, false, false));  // 3 is new, not changed
  EXPECT_EQ(rows->keys[3], "7");

  absl::StatusOr<MapRows> early = RenderMapRows(Dual(), "early", "counts");
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->keys.size(), 2u);
  EXPECT_TRUE(absl::IsNotFound(RenderMapRows(Dual(), "late", "nope").status()));
  EXPECT_TRUE(absl::IsNotFound(RenderMapRows(Dual(), "middle", "counts").status()));
  v1::DumpEnvelope single;
  single.mutable_single()->add_maps()->set_name("m");
  EXPECT_TRUE(RenderMapRows(single, "", "m").ok());
  EXPECT_TRUE(absl::IsNotFound(RenderMapRows(single, "early", "m").status()));
}

TEST(MapPages, ThePageViewKeepsTheMapsButNotTheirEntries) {
  v1::DumpEnvelope env = Dual();
  StripMapEntries(env);
  ASSERT_EQ(env.dual().late().maps_size(), 1);
  EXPECT_EQ(env.dual().late().maps(0).name(), "counts");
  EXPECT_EQ(env.dual().late().maps(0).entries_size(), 0);
  EXPECT_EQ(env.dual().late().maps(0).array_entries_size(), 0);
  EXPECT_EQ(env.dual().early().maps(0).entries_size(), 0);
}

TEST(MapPages, TheCacheRendersOncePerMapAndReloadsForAnother) {
  MapRowCache cache;
  int loads = 0;
  auto load = [&]() -> absl::StatusOr<v1::DumpEnvelope> {
    ++loads;
    return Dual();
  };
  ASSERT_TRUE(cache.Get("d1", "late", "counts", load).ok());
  ASSERT_TRUE(cache.Get("d1", "late", "counts", load).ok());
  EXPECT_EQ(loads, 1);
  ASSERT_TRUE(cache.Get("d1", "early", "counts", load).ok());
  EXPECT_EQ(loads, 2);
  auto failing = []() -> absl::StatusOr<v1::DumpEnvelope> { return absl::NotFoundError("gone"); };
  EXPECT_TRUE(absl::IsNotFound(cache.Get("d2", "late", "counts", failing).status()));
}

}  // namespace
}  // namespace kfreeze::server::http
