// Query strings as requests: repeated and comma-separated values, typos refused by name.
#include "server/http/query_params.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::server::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(QueryParams, WatchFiltersComeFromRepeatedOrCommaSeparatedParameters) {
  QueryParams q = {{"target", "vm0,vm1"},
                   {"target", "vm2"},
                   {"exit_kind", "error_stall"},
                   {"scheduler", "scx_simple"},
                   {"trigger", "late"},
                   {"trigger", "TRIGGER_RPC,3"},
                   {"label", "test=a=b"},
                   {"summary_only", "true"},
                   {"fields", "summary,envelope.dump_id"}};
  absl::StatusOr<kfreeze::v1::WatchRequest> r = WatchRequestFromQuery(q);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->targets(), ElementsAre("vm0", "vm1", "vm2"));
  EXPECT_THAT(r->exit_kinds(), ElementsAre("error_stall"));
  EXPECT_THAT(r->schedulers(), ElementsAre("scx_simple"));
  EXPECT_THAT(r->triggers(), ElementsAre(kfreeze::v1::TRIGGER_LATE, kfreeze::v1::TRIGGER_RPC,
                                         kfreeze::v1::TRIGGER_LATE));
  EXPECT_EQ(r->labels().at("test"), "a=b");
  EXPECT_TRUE(r->summary_only());
  EXPECT_THAT(r->field_mask().paths(), ElementsAre("summary", "envelope.dump_id"));
}

TEST(QueryParams, TyposAndUnreadableValuesAreRefusedByName) {
  auto message = [](QueryParams q) {
    return std::string(WatchRequestFromQuery(q).status().message());
  };
  EXPECT_THAT(message({{"tragets", "vm0"}}), HasSubstr("tragets"));
  EXPECT_THAT(message({{"trigger", "sometimes"}}), HasSubstr("trigger"));
  EXPECT_THAT(message({{"summary_only", "perhaps"}}), HasSubstr("summary_only"));
  EXPECT_THAT(message({{"label", "novalue"}}), HasSubstr("label"));
  EXPECT_THAT(message({{"target\xff", "x"}}), HasSubstr("\\xff"));
  EXPECT_THAT(std::string(ListDumpsRequestFromQuery({{"page_size", "-1"}}).status().message()),
              HasSubstr("page_size"));
  absl::StatusOr<kfreeze::v1::ListDumpsRequest> list =
      ListDumpsRequestFromQuery({{"target", "vm0"}, {"page_size", "5"}, {"label", "k=v"}});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->target(), "vm0");
  EXPECT_EQ(list->page_size(), 5u);
  EXPECT_EQ(list->labels().at("k"), "v");
}

}  // namespace
}  // namespace kfreeze::server::http
