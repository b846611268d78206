// Subject and object names of the fleet, the object store's meta and digest, and the status a
// reply's headers carry: everything of fleet/ that needs no NATS server.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fleet/headers.h"
#include "fleet/nats_connection.h"
#include "fleet/object_store.h"
#include "fleet/subjects.h"

namespace kfreeze::fleet {
namespace {

TEST(FleetSubjects, NamesBecomeOneTokenAndComeBack) {
  EXPECT_EQ(EscapeToken("vm0"), "vm0");
  EXPECT_EQ(EscapeToken("ci-07.lab"), "ci-07%2Elab");
  EXPECT_EQ(EscapeToken("a b*>%"), "a%20b%2A%3E%25");
  for (const std::string& name :
       std::vector<std::string>{"vm0", "ci-07.lab.example", "a.b.*.>", "100%", "tab\there",
                                std::string("nul\0x", 5), "\xff\xfe", "ünï"}) {
    const std::string token = EscapeToken(name);
    EXPECT_EQ(token.find_first_of(".*> \t"), std::string::npos) << token;
    std::optional<std::string> back = UnescapeToken(token);
    ASSERT_TRUE(back.has_value()) << token;
    EXPECT_EQ(*back, name);
  }
}

TEST(FleetSubjects, TokensEscapeTokenCannotProduceAreRefused) {
  for (const char* bad : {"", "%", "%4", "%zz", "%2e", "%41", "a.b", "a*", "a%2"}) {
    EXPECT_FALSE(UnescapeToken(bad).has_value()) << bad;
  }
}

TEST(FleetSubjects, SubjectsParseBackToHostAndTarget) {
  EXPECT_EQ(DumpSubject("h.x", "vm.0"), "kfreeze.dumps.h%2Ex.vm%2E0");
  EXPECT_EQ(FreezeSubject("h", "t"), "kfreeze.freeze.h.t");
  EXPECT_EQ(FreezeWildcard("h.x"), "kfreeze.freeze.h%2Ex.*");
  EXPECT_EQ(TargetsSubject("h"), "kfreeze.targets.h");
  EXPECT_EQ(DumpFilterSubject("", ""), "kfreeze.dumps.*.*");
  EXPECT_EQ(DumpFilterSubject("h", ""), "kfreeze.dumps.h.*");
  std::optional<HostTarget> ht =
      ParseHostTargetSubject(kFreezeSubjectPrefix, FreezeSubject("ci.lab", "vm 1"));
  ASSERT_TRUE(ht.has_value());
  EXPECT_EQ(ht->host, "ci.lab");
  EXPECT_EQ(ht->target, "vm 1");
  EXPECT_FALSE(ParseHostTargetSubject(kFreezeSubjectPrefix, "kfreeze.freeze.h").has_value());
  EXPECT_FALSE(ParseHostTargetSubject(kFreezeSubjectPrefix, "kfreeze.freeze.h.t.u").has_value());
  EXPECT_FALSE(ParseHostTargetSubject(kFreezeSubjectPrefix, "kfreeze.dumps.h.t").has_value());
  EXPECT_FALSE(ParseHostTargetSubject(kFreezeSubjectPrefix, "kfreeze.freezeX.h.t").has_value());
}

TEST(FleetSubjects, ObjectNamesSplitAtTheFirstSlash) {
  EXPECT_EQ(DumpObjectName("h1", "vm0-7"), "h1/vm0-7");
  std::optional<HostTarget> s = SplitHostSlashName("h1/vm0-7");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->host, "h1");
  EXPECT_EQ(s->target, "vm0-7");
  for (const char* bad : {"", "h1", "/x", "h1/"}) EXPECT_FALSE(SplitHostSlashName(bad)) << bad;
}

// The values nats.go computes for the same inputs (base64.URLEncoding, sha256).
TEST(FleetObjectStore, DigestAndNameEncodingMatchTheGoClient) {
  EXPECT_EQ(ObjectDigest(""), "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(ObjectDigest("abc"), "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
  EXPECT_EQ(EncodeObjectName("h1/vm0-7"), "aDEvdm0wLTc=");
  EXPECT_EQ(EncodeObjectName("a?>"), "YT8-");
}

TEST(FleetObjectStore, MetaParsesAndRefusesJunk) {
  absl::StatusOr<ObjectInfo> info = ParseObjectMeta(
      R"({"name":"h/d","bucket":"b","nuid":"N","size":300000,"chunks":3,)"
      R"("mtime":"2026-12-01T00:00:00Z","digest":"SHA-256=x","options":{"max_chunk_size":131072}})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "h/d");
  EXPECT_EQ(info->nuid, "N");
  EXPECT_EQ(info->size, 300000u);
  EXPECT_EQ(info->chunks, 3u);
  EXPECT_FALSE(info->deleted);
  // A nuid becomes a subject token (the chunks', a purge's): no wildcard, no dot, not empty.
  for (const char* bad :
       {"", "null", "[]", "{", R"({"size":1})", R"({"name":"x","nuid":"N","chunks":99999999999})",
        R"({"name":"x"})", R"({"name":"x","nuid":">"})", R"({"name":"x","nuid":"a.b"})",
        R"({"name":"x","nuid":"*"})"}) {
    EXPECT_FALSE(ParseObjectMeta(bad).ok()) << bad;
  }
  absl::StatusOr<ObjectInfo> wrong_types =
      ParseObjectMeta(R"({"name":"x","nuid":"N","size":"big","chunks":-1})");
  ASSERT_TRUE(wrong_types.ok());
  EXPECT_EQ(wrong_types->size, 0u);
  EXPECT_EQ(wrong_types->chunks, 0u);
}

TEST(FleetHeaders, AStatusTravelsInAReplysHeaders) {
  ASSERT_TRUE(OpenNatsLibrary().ok());
  natsMsg* m = nullptr;
  ASSERT_EQ(natsMsg_Create(&m, "x", nullptr, nullptr, 0), NATS_OK);
  EXPECT_TRUE(StatusFromHeaders(m).ok());
  ASSERT_EQ(SetStatusHeaders(m, absl::NotFoundError("no target vm9")), NATS_OK);
  absl::Status back = StatusFromHeaders(m);
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(back.message(), "no target vm9");
  EXPECT_STREQ(HeaderOr(m, kStatusHeader), "NOT_FOUND");
  ASSERT_EQ(natsMsgHeader_Set(m, kServiceErrorCodeHeader, "999"), NATS_OK);
  EXPECT_EQ(StatusFromHeaders(m).code(), absl::StatusCode::kUnknown);
  ASSERT_EQ(natsMsgHeader_Set(m, kServiceErrorCodeHeader, "junk"), NATS_OK);
  EXPECT_EQ(StatusFromHeaders(m).code(), absl::StatusCode::kUnknown);
  natsMsg_Destroy(m);
}

}  // namespace
}  // namespace kfreeze::fleet
