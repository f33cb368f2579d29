#include "ferry/monitoring/prometheus.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::monitoring {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FormatValueTest, IntegersPlainOtherwiseShortest) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-17), "-17");
  EXPECT_EQ(FormatValue(1e6), "1000000");
  EXPECT_EQ(FormatValue(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(RegistryTest, RendersExactExposition) {
  Registry registry;
  auto requests = registry.AddCounter({.name = "ferry_requests_total",
                                       .help = "Requests by model.\nSecond line, \\ \"quoted\".",
                                       .label_names = {"model", "code"}});
  ASSERT_TRUE(requests.ok()) << requests.status();
  (*requests)->WithLabels({"iris", "200"}).Increment(3);
  (*requests)->WithLabels({"a\"b\\c\nd", "500"}).Increment();
  (*requests)->WithLabels({"iris", "200"}).Increment(1e6);

  auto queue = registry.AddGauge({.name = "ferry_queue_depth"});
  ASSERT_TRUE(queue.ok());
  (*queue)->WithLabels({}).Set(-2.5);

  auto latency = registry.AddHistogram(
      {.name = "ferry_latency_seconds", .help = "Latency.", .label_names = {"model"}},
      {0.25, 1, 2.5});
  ASSERT_TRUE(latency.ok()) << latency.status();
  Histogram& iris = (*latency)->WithLabels({"iris"});
  iris.Observe(0.25);  // le is inclusive
  iris.Observe(0.5);
  iris.Observe(4);

  // A family with no series is not rendered at all.
  ASSERT_TRUE(registry.AddCounter({.name = "ferry_unused_total", .help = "x"}).ok());

  EXPECT_EQ(registry.Render(),
            "# HELP ferry_latency_seconds Latency.\n"
            "# TYPE ferry_latency_seconds histogram\n"
            "ferry_latency_seconds_bucket{model=\"iris\",le=\"0.25\"} 1\n"
            "ferry_latency_seconds_bucket{model=\"iris\",le=\"1\"} 2\n"
            "ferry_latency_seconds_bucket{model=\"iris\",le=\"2.5\"} 2\n"
            "ferry_latency_seconds_bucket{model=\"iris\",le=\"+Inf\"} 3\n"
            "ferry_latency_seconds_sum{model=\"iris\"} 4.75\n"
            "ferry_latency_seconds_count{model=\"iris\"} 3\n"
            "# TYPE ferry_queue_depth gauge\n"
            "ferry_queue_depth -2.5\n"
            "# HELP ferry_requests_total Requests by model.\\nSecond line, \\\\ \"quoted\".\n"
            "# TYPE ferry_requests_total counter\n"
            "ferry_requests_total{model=\"a\\\"b\\\\c\\nd\",code=\"500\"} 1\n"
            "ferry_requests_total{model=\"iris\",code=\"200\"} 1000003\n");
}

TEST(RegistryTest, SeriesReferencesAreStable) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter({.name = "c_total", .label_names = {"k"}});
  Counter& first = family->WithLabels({"a"});
  for (int i = 0; i < 500; ++i) family->WithLabels({absl::StrCat("v", i)}).Increment();
  EXPECT_EQ(&family->WithLabels({"a"}), &first);
  EXPECT_EQ(family->series_count(), 501u);
}

TEST(RegistryTest, CounterIgnoresNegativeAndNan) {
  Registry registry;
  Counter& counter = (*registry.AddCounter({.name = "c_total"}))->WithLabels({});
  counter.Increment(2);
  counter.Increment(-1);
  counter.Increment(std::nan(""));
  EXPECT_EQ(counter.Value(), 2);
}

TEST(RegistryTest, ConcurrentIncrementsAndLookupsAreExact) {
  Registry registry;
  CounterFamily* counters = *registry.AddCounter({.name = "hits_total", .label_names = {"t"}});
  GaugeFamily* gauges = *registry.AddGauge({.name = "level"});
  HistogramFamily* histograms = *registry.AddHistogram({.name = "sizes"}, {1, 2, 4});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shared = counters->WithLabels({"shared"});
      for (int i = 0; i < kPerThread; ++i) {
        shared.Increment();
        // The lookup path, racing with creation of the other threads' series.
        counters->WithLabels({absl::StrCat("own", t)}).Increment();
        gauges->WithLabels({}).Increment();
        histograms->WithLabels({}).Observe(i % 5);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(counters->WithLabels({"shared"}).Value(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(counters->WithLabels({absl::StrCat("own", t)}).Value(), kPerThread);
  }
  EXPECT_EQ(gauges->WithLabels({}).Value(), kThreads * kPerThread);
  Histogram::Snapshot snapshot = histograms->WithLabels({}).Read();
  EXPECT_EQ(snapshot.count, static_cast<uint64_t>(kThreads * kPerThread));
  // i % 5 in {0,1} -> le=1, {2} -> le=2, {3,4} -> le=4.
  const uint64_t fifth = kThreads * kPerThread / 5;
  EXPECT_EQ(snapshot.bucket_counts, (std::vector<uint64_t>{2 * fifth, fifth, 2 * fifth, 0}));
  EXPECT_EQ(snapshot.sum, 10.0 * fifth);
}

TEST(RegistryTest, OverflowSeriesPastMaxSeries) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter(
      {.name = "by_user_total", .label_names = {"user", "model"}, .max_series = 2});
  family->WithLabels({"u1", "m"}).Increment();
  family->WithLabels({"u2", "m"}).Increment();
  Counter& overflow = family->WithLabels({"u3", "m"});
  overflow.Increment();
  EXPECT_EQ(&family->WithLabels({"u4", "m"}), &overflow);
  family->WithLabels({"u4", "m"}).Increment(5);
  // Existing label sets keep their own series.
  family->WithLabels({"u1", "m"}).Increment();
  // Wrong arity is a caller bug: overflow too, visible in the counter.
  EXPECT_EQ(&family->WithLabels({"u5"}), &overflow);
  EXPECT_EQ(family->series_count(), 2u);

  EXPECT_EQ(registry.Render(),
            "# TYPE by_user_total counter\n"
            "by_user_total{user=\"u1\",model=\"m\"} 2\n"
            "by_user_total{user=\"u2\",model=\"m\"} 1\n"
            "by_user_total{user=\"__overflow__\",model=\"__overflow__\"} 6\n"
            "# HELP ferry_metrics_dropped_series_total Lookups of a new label set redirected to "
            "the family's __overflow__ series because the family reached max_series.\n"
            "# TYPE ferry_metrics_dropped_series_total counter\n"
            "ferry_metrics_dropped_series_total{family=\"by_user_total\"} 4\n");
  EXPECT_EQ(registry.dropped_series().WithLabels({"by_user_total"}).Value(), 4);
}

TEST(RegistryTest, OverflowUnderConcurrencyCountsEveryRedirect) {
  Registry registry;
  GaugeFamily* family = *registry.AddGauge({.name = "g", .label_names = {"k"}, .max_series = 10});
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) family->WithLabels({absl::StrCat(t, "-", i)}).Increment();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(family->series_count(), 10u);
  const double overflowed =
      family->WithLabels({std::string_view(kOverflowLabelValue)}).Value();  // itself overflows
  EXPECT_EQ(overflowed, kThreads * 1000 - 10);
  EXPECT_EQ(registry.dropped_series().WithLabels({"g"}).Value(), kThreads * 1000 - 10 + 1);
}

TEST(RegistryTest, AddValidatesAndSharesIdenticalDefinitions) {
  Registry registry;
  auto code = [&](MetricOptions options) { return registry.AddCounter(options).status().code(); };
  EXPECT_EQ(code({.name = ""}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "1abc"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "a-b"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "ok", .label_names = {"__x"}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "ok", .label_names = {"a:b"}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "ok", .label_names = {"a", "a"}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "ok", .max_series = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = std::string(kDroppedSeriesMetric), .label_names = {"family"}}),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddHistogram({.name = "h", .label_names = {"le"}}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram({.name = "h"}, {1, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram({.name = "h"}, {1, std::nan("")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram({.name = "h"}, {1, std::numeric_limits<double>::infinity()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  auto first = registry.AddCounter({.name = "a_total", .label_names = {"x"}});
  auto again = registry.AddCounter({.name = "a_total", .help = "ignored", .label_names = {"x"}});
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_EQ(registry.AddCounter({.name = "a_total", .label_names = {"y"}}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGauge({.name = "a_total", .label_names = {"x"}}).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(registry.AddHistogram({.name = "lat"}, {1, 2}).ok());
  EXPECT_TRUE(registry.AddHistogram({.name = "lat"}, {1, 2}).ok());
  EXPECT_EQ(registry.AddHistogram({.name = "lat"}, {1, 3}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, CollectorsMergeByNameAndCanBeRemoved) {
  Registry registry;
  GaugeFamily* depth = *registry.AddGauge(
      {.name = "ferry_batcher_queue_depth", .help = "Queued.", .label_names = {"model"}});
  depth->WithLabels({"a"}).Set(1);

  int64_t stats = registry.AddCollector([](std::vector<FamilySnapshot>& out) {
    out.push_back({.name = "ferry_batcher_queue_depth",
                   .help = "other help is ignored",
                   .type = MetricType::kGauge,
                   .samples = {{.labels = {{"model", "b"}}, .value = 7}}});
    FamilySnapshot batches{.name = "ferry_batch_size", .type = MetricType::kHistogram};
    AppendHistogramSamples({{"model", "b"}}, std::vector<double>{1, 8},
                           std::vector<uint64_t>{2, 1, 0}, 10, batches);
    out.push_back(std::move(batches));
    // Dropped: type conflicts with the registered family.
    out.push_back({.name = "ferry_batcher_queue_depth",
                   .type = MetricType::kCounter,
                   .samples = {{.value = 99}}});
    // Dropped: invalid name; invalid label name drops that sample only.
    out.push_back({.name = "bad name", .type = MetricType::kGauge, .samples = {{.value = 1}}});
    out.push_back({.name = "ferry_ok",
                   .type = MetricType::kUntyped,
                   .samples = {{.labels = {{"bad-label", "x"}}, .value = 1}, {.value = 2}}});
  });

  EXPECT_EQ(registry.Render(),
            "# TYPE ferry_batch_size histogram\n"
            "ferry_batch_size_bucket{model=\"b\",le=\"1\"} 2\n"
            "ferry_batch_size_bucket{model=\"b\",le=\"8\"} 3\n"
            "ferry_batch_size_bucket{model=\"b\",le=\"+Inf\"} 3\n"
            "ferry_batch_size_sum{model=\"b\"} 10\n"
            "ferry_batch_size_count{model=\"b\"} 3\n"
            "# HELP ferry_batcher_queue_depth Queued.\n"
            "# TYPE ferry_batcher_queue_depth gauge\n"
            "ferry_batcher_queue_depth{model=\"a\"} 1\n"
            "ferry_batcher_queue_depth{model=\"b\"} 7\n"
            "# TYPE ferry_ok untyped\n"
            "ferry_ok 2\n");

  registry.RemoveCollector(stats);
  EXPECT_THAT(registry.Render(), Not(HasSubstr("model=\"b\"")));
}

TEST(RegistryTest, ConcurrentScrapesWithUpdates) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter({.name = "n_total", .label_names = {"k"}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) family->WithLabels({absl::StrCat(i % 50)}).Increment();
    });
  }
  std::string last;
  for (int i = 0; i < 50; ++i) last = registry.Render();
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(registry.Render(), HasSubstr("n_total{k=\"0\"} 80\n"));
}

TEST(BucketsTest, Helpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0.5, 0.5, 3), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_TRUE(ExponentialBuckets(0, 2, 3).empty());
  EXPECT_TRUE(LinearBuckets(1, 0, 3).empty());
}

}  // namespace
}  // namespace ferry::monitoring
