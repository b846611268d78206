// kfreezed's NATS settings: defaults, and the configs NATS (or our subjects and headers) cannot
// take.
#include <gtest/gtest.h>

#include "server/fleet/fleet_options.h"

namespace kfreeze::server::fleet {
namespace {

kfreeze::v1::NatsConfig Config(const std::string& host = "ci-07.lab") {
  kfreeze::v1::NatsConfig c;
  c.add_servers("nats://a:4222");
  c.add_servers("nats://b:4222");
  c.set_host(host);
  return c;
}

TEST(FleetOptions, DefaultsFillWhatTheConfigLeavesOut) {
  absl::StatusOr<FleetOptions> o = FleetOptionsFromConfig(Config());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->nats.servers.size(), 2u);
  EXPECT_TRUE(o->nats.keep_trying);
  EXPECT_EQ(o->host, "ci-07.lab");
  EXPECT_EQ(o->stream.name, "KFREEZE_DUMPS");
  EXPECT_EQ(o->bucket.name, "kfreeze-dumps");
  EXPECT_EQ(o->stream.replicas, 1);
  EXPECT_EQ(o->stream.max_age, absl::Hours(24 * 7));
  EXPECT_EQ(o->bucket.max_age, o->stream.max_age);
  EXPECT_EQ(o->stream.duplicate_window, absl::Minutes(2));
  EXPECT_EQ(o->stream.max_bytes, 0);
}

TEST(FleetOptions, RetentionIsSetInOnePlaceForStreamAndBucket) {
  kfreeze::v1::NatsConfig c = Config();
  c.set_replicas(3);
  c.set_max_age_seconds(3600);
  c.set_max_bytes(1 << 30);
  c.set_duplicate_window_seconds(7200);  // longer than max_age: capped to it
  absl::StatusOr<FleetOptions> o = FleetOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->stream.replicas, 3);
  EXPECT_EQ(o->bucket.replicas, 3);
  EXPECT_EQ(o->bucket.max_age, absl::Hours(1));
  EXPECT_EQ(o->bucket.max_bytes, 1 << 30);
  EXPECT_EQ(o->stream.duplicate_window, absl::Hours(1));
}

TEST(FleetOptions, ConfigsNatsOrOurNamesCannotTakeAreRefused) {
  kfreeze::v1::NatsConfig none;
  EXPECT_FALSE(FleetOptionsFromConfig(none).ok());
  for (const std::string& host :
       {std::string("a/b"), std::string("bad host"), std::string("x\r\nInjected: 1"),
        std::string(256, 'h'), std::string("h\xc3\xa9")}) {
    EXPECT_EQ(FleetOptionsFromConfig(Config(host)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << host;
  }
  kfreeze::v1::NatsConfig c = Config();
  c.set_replicas(6);
  EXPECT_FALSE(FleetOptionsFromConfig(c).ok());
  c = Config();
  c.set_stream("a.b");
  EXPECT_FALSE(FleetOptionsFromConfig(c).ok());
  c = Config();
  c.set_bucket("b>");
  EXPECT_FALSE(FleetOptionsFromConfig(c).ok());
  c = Config();
  c.mutable_tls()->set_cert_file("/c.pem");
  EXPECT_FALSE(FleetOptionsFromConfig(c).ok());
  c = Config();
  c.add_servers("");
  EXPECT_FALSE(FleetOptionsFromConfig(c).ok());
}

TEST(FleetOptions, NoHostMeansTheMachinesName) {
  absl::StatusOr<FleetOptions> o = FleetOptionsFromConfig(Config(""));
  // A machine whose hostname our names cannot take refuses to start rather than guess.
  if (o.ok()) {
    EXPECT_FALSE(o->host.empty());
  }
}

}  // namespace
}  // namespace kfreeze::server::fleet
