#include "ferry/serving/routing/traffic.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::serving {
namespace {

using ::testing::HasSubstr;

TrafficPolicy Split(std::vector<TrafficSplit> splits,
                    std::optional<std::string> shadow = std::nullopt) {
  return TrafficPolicy{.splits = std::move(splits), .shadow_version = std::move(shadow)};
}

std::unique_ptr<TrafficRouter> MakeRouter(TrafficPolicy policy) {
  auto router = TrafficRouter::Create(std::move(policy));
  EXPECT_TRUE(router.ok()) << router.status();
  return *std::move(router);
}

TEST(StableRouteHashTest, ValuesArePinned) {
  // Computed independently (Python) from the documented definition: FNV-1a
  // 64 then fmix64. Changing these reassigns every sticky client.
  EXPECT_EQ(StableRouteHash(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableRouteHash("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableRouteHash("user-42"), 0xa39532c7ab051e8dULL);
}

TEST(TrafficRouterTest, NinetyTenSplitSpreadsDistinctKeysByWeight) {
  auto router = MakeRouter(Split({{"champion", 90}, {"challenger", 10}}));
  constexpr int kKeys = 100000;
  int challenger = 0;
  for (int i = 0; i < kKeys; ++i) {
    Route route = router->Choose(absl::StrCat("req-", i));
    if (route.version == "challenger") {
      ++challenger;
    } else {
      ASSERT_EQ(route.version, "champion");
    }
  }
  // Expected 10000; binomial sd is ~95, so this bound only fails for a
  // broken mapping.
  EXPECT_GE(challenger, 8500);
  EXPECT_LE(challenger, 11500);
}

TEST(TrafficRouterTest, ThreeWaySplitAndZeroWeight) {
  auto router = MakeRouter(Split({{"a", 50}, {"idle", 0}, {"b", 30}, {"c", 20}}));
  std::map<std::string, int> counts;
  for (int i = 0; i < 100000; ++i) ++counts[router->Choose(absl::StrCat("id/", i)).version];
  EXPECT_EQ(counts.count("idle"), 0u);
  EXPECT_NEAR(counts["a"], 50000, 1500);
  EXPECT_NEAR(counts["b"], 30000, 1500);
  EXPECT_NEAR(counts["c"], 20000, 1500);
}

TEST(TrafficRouterTest, SameKeyKeepsItsVersionAcrossCallsAndRouters) {
  TrafficPolicy policy = Split({{"champion", 50}, {"challenger", 50}});
  auto first = MakeRouter(policy);
  auto second = MakeRouter(policy);  // another replica / process
  int on_challenger = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string key = absl::StrCat("user-", i);
    std::string version = first->Choose(key).version;
    on_challenger += version == "challenger";
    for (int repeat = 0; repeat < 3; ++repeat) ASSERT_EQ(first->Choose(key).version, version);
    ASSERT_EQ(second->Choose(key).version, version);
  }
  // Both versions are really in use, so stickiness is not trivially true.
  EXPECT_GT(on_challenger, 300);
  EXPECT_LT(on_challenger, 700);
}

TEST(TrafficRouterTest, RampingTheCanaryKeepsItsExistingKeys) {
  auto router = MakeRouter(Split({{"champion", 90}, {"canary", 10}}));
  std::vector<std::string> on_canary;
  for (int i = 0; i < 20000; ++i) {
    std::string key = absl::StrCat("k", i);
    if (router->Choose(key).version == "canary") on_canary.push_back(key);
  }
  ASSERT_FALSE(on_canary.empty());
  ASSERT_TRUE(router->Set(Split({{"champion", 80}, {"canary", 20}})).ok());
  for (const std::string& key : on_canary) ASSERT_EQ(router->Choose(key).version, "canary") << key;
}

TEST(TrafficRouterTest, SetSwapsPolicyAndRejectsInvalidOnes) {
  auto router = MakeRouter(Split({{"1", 1}}));
  EXPECT_EQ(router->Choose("x").version, "1");

  ASSERT_TRUE(router->Set(Split({{"1", 0}, {"2", 5}})).ok());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(router->Choose(absl::StrCat(i)).version, "2");
  EXPECT_EQ(router->policy()->splits[1], (TrafficSplit{"2", 5}));

  absl::Status bad = router->Set(Split({{"3", 0}}));
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router->Choose("x").version, "2");  // old policy kept
}

TEST(TrafficRouterTest, ShadowIsReportedWithEveryRoute) {
  auto router = MakeRouter(Split({{"champion", 1}}, "challenger"));
  for (int i = 0; i < 50; ++i) {
    Route route = router->Choose(absl::StrCat("r", i));
    EXPECT_EQ(route.version, "champion");
    EXPECT_EQ(route.shadow_version, "challenger");
  }
  ASSERT_TRUE(router->Set(Split({{"champion", 1}})).ok());
  EXPECT_EQ(router->Choose("r").shadow_version, std::nullopt);
}

TEST(TrafficRouterTest, ChooseRacesWithSet) {
  auto router = MakeRouter(Split({{"a", 1}}));
  std::atomic<bool> done{false};
  std::atomic<int> unexpected{0};
  std::thread reader([&] {
    int i = 0;
    while (!done.load()) {
      Route route = router->Choose(absl::StrCat(i++));
      if (route.version != "a" && route.version != "b") ++unexpected;
      // A shadow comes only with policy b's primary.
      if (route.shadow_version.has_value() && route.version != "b") ++unexpected;
    }
  });
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(router->Set(i % 2 ? Split({{"a", 1}}) : Split({{"b", 1}}, "s")).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(unexpected.load(), 0);
}

TEST(ValidateTrafficPolicyTest, Rules) {
  auto message = [](TrafficPolicy policy) {
    absl::Status status = ValidateTrafficPolicy(policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  EXPECT_TRUE(ValidateTrafficPolicy(Split({{"a", 0}, {"b", 100000}}, "a")).ok());
  EXPECT_THAT(message(Split({})), HasSubstr("no splits"));
  EXPECT_THAT(message(Split({{"", 1}})), HasSubstr("split 1 has an empty version"));
  EXPECT_THAT(message(Split({{"a", 100001}})), HasSubstr("weight 100001; weights are 0..100000"));
  EXPECT_THAT(message(Split({{"a", 1}, {"a", 2}})),
              HasSubstr("version \"a\" twice (splits 1 and 2)"));
  EXPECT_THAT(message(Split({{"a", 0}, {"b", 0}})), HasSubstr("no positive weight"));
  EXPECT_THAT(message(Split({{"a", 1}}, "")), HasSubstr("shadow version is empty"));
  EXPECT_THAT(message(Split({{"a", 1}, {"b", 3}}, "b")),
              HasSubstr("shadow version \"b\" also receives primary traffic"));
}

TEST(ParseTrafficSpecTest, ParsesAndFormats) {
  auto splits = ParseTrafficSpec("champion:90,challenger:10");
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(*splits, (std::vector<TrafficSplit>{{"champion", 90}, {"challenger", 10}}));
  EXPECT_EQ(FormatTrafficSpec(*splits), "champion:90,challenger:10");

  auto spaced = ParseTrafficSpec(" a : 0 , models:/m@v2:100000 ");
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(*spaced, (std::vector<TrafficSplit>{{"a", 0}, {"models:/m@v2", 100000}}));
}

TEST(ParseTrafficSpecTest, ErrorsNameTheEntryAndRule) {
  auto message = [](std::string_view spec) {
    auto parsed = ParseTrafficSpec(spec);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    return std::string(parsed.status().message());
  };
  EXPECT_THAT(message(""), HasSubstr("traffic spec is empty"));
  EXPECT_THAT(message("  "), HasSubstr("traffic spec is empty"));
  EXPECT_THAT(message("a:1,,b:2"), HasSubstr("entry 2 is empty"));
  EXPECT_THAT(message("a:1,b"), HasSubstr("entry 2 \"b\" has no \":weight\""));
  EXPECT_THAT(message(":5"), HasSubstr("entry 1 \":5\" has an empty version"));
  EXPECT_THAT(message("a:x"), HasSubstr("weight \"x\"; expected an integer 0..100000"));
  EXPECT_THAT(message("a:"), HasSubstr("weight \"\""));
  EXPECT_THAT(message("a:-1"), HasSubstr("weight \"-1\""));
  EXPECT_THAT(message("a:1.5"), HasSubstr("weight \"1.5\""));
  EXPECT_THAT(message("a:100001"), HasSubstr("weight \"100001\""));
  EXPECT_THAT(message("a:99999999999999999999"), HasSubstr("expected an integer 0..100000"));
  EXPECT_THAT(message("a:1,b:2,a:3"), HasSubstr("version \"a\" twice (entries 1 and 3)"));
  EXPECT_THAT(message("a:0,b:0"), HasSubstr("no positive weight"));
}

}  // namespace
}  // namespace ferry::serving
