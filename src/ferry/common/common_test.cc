#include <mutex>
#include <set>
#include <thread>
#include <vector>

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

TEST(IdsTest, RequestIdsAreUniqueAcrossThreadsAndWellFormed) {
  std::mutex mu;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = NewRequestId();
        ASSERT_EQ(id.size(), 32u);
        ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
        std::lock_guard lock(mu);
        seen.insert(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), 8000u);
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

#include "ferry/common/url.h"

namespace ferry {
namespace {

TEST(UrlTest, PercentDecodeOnce) {
  EXPECT_EQ(PercentDecode("a%20b").value(), "a b");
  EXPECT_EQ(PercentDecode("%252e").value(), "%2e");  // exactly once
  EXPECT_EQ(PercentDecode("a+b").value(), "a+b");
  EXPECT_EQ(PercentDecode("a+b", PlusHandling::kSpace).value(), "a b");
  EXPECT_FALSE(PercentDecode("%").ok());
  EXPECT_FALSE(PercentDecode("%4").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
  EXPECT_EQ(PercentEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(PercentEncode("a b/c", false), "a%20b%2Fc");
}

TEST(UrlTest, ParseQueryKeepsOrderAndRepeats) {
  auto q = ParseQuery("a=1&b=x%20y&a=2&flag&&c=").value();
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], std::make_pair(std::string("a"), std::string("1")));
  EXPECT_EQ(q[1].second, "x y");
  EXPECT_EQ(q[2].second, "2");
  EXPECT_EQ(q[3].first, "flag");
  EXPECT_EQ(q[4].first, "c");
  EXPECT_FALSE(ParseQuery("a=%G0").ok());
}

}  // namespace
}  // namespace ferry
