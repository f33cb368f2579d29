#include <set>

#include "ferry/common/clock.h"
#include "ferry/common/config.h"
#include "ferry/common/ids.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.NowMillis(), 1000);
  clock.AdvanceMillis(5);
  EXPECT_EQ(clock.NowMillis(), 1005);
  clock.AdvanceMicros(500);
  EXPECT_EQ(clock.MonotonicMicros(), 1'005'500);
}

TEST(IdsTest, HexIdsAreUniqueAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewHexId();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  std::string uuid = NewUuid();
  ASSERT_EQ(uuid.size(), 36u);
  EXPECT_EQ(uuid[14], '4');
}

TEST(ConfigTest, EnvNameAndLoopback) {
  EXPECT_EQ(EnvName("backend-store-uri"), "FERRY_BACKEND_STORE_URI");
  setenv("FERRY_TEST_FLAG", "x", 1);
  EXPECT_EQ(EnvValue("test-flag").value_or(""), "x");
  EXPECT_FALSE(EnvValue("unset-flag-name").has_value());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("127.evil.com"));
}

}  // namespace
}  // namespace ferry
