// SQLite MetadataStore benchmark: LogBatch throughput and SearchRuns latency
// over a large store.
//
//   ninja -C build/release store_search_bench
//   build/release/src/ferry/store/store_search_bench [runs=100000] [dir=/tmp/ferry-store-bench]
//       [reuse]
//
// "reuse" keeps the database a previous run populated and only searches.
//
// Populates `runs` runs (5 params, 5 metrics, 3 tags each) in one
// experiment, then times SearchRuns (max_results 100) for filter/order
// shapes the MLflow UI issues, and prints p50/p90 per shape.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ferry/store/sqlite/sqlite_store.h"

namespace {

using ferry::search::Comparator;
using ferry::search::KeyType;
using ferry::store::Metric;
using ferry::store::Param;
using ferry::store::RunQuery;
using ferry::store::SqliteStore;
using ferry::store::Tag;

double Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void Die(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, std::string(status.message()).c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int num_runs = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const std::filesystem::path dir = argc > 2 ? argv[2] : "/tmp/ferry-store-bench";
  const bool reuse = argc > 3 && std::string(argv[3]) == "reuse";
  if (!reuse) std::filesystem::remove_all(dir);
  auto opened = SqliteStore::Create({.path = (dir / "bench.db").string()});
  Die(opened.status(), "open");
  SqliteStore& store = **opened;
  absl::StatusOr<std::string> exp =
      reuse ? absl::StatusOr<std::string>(store.GetExperimentByName("bench")->experiment_id)
            : store.CreateExperiment("bench", "", {});
  Die(exp.status(), "create experiment");

  // --- LogBatch throughput: one batch of 1000 metrics, repeated.
  if (!reuse) {
    ferry::store::NewRun nr{.experiment_id = *exp, .start_time = 1};
    auto run = store.CreateRun(nr);
    Die(run.status(), "create run");
    constexpr int kBatches = 50;
    constexpr int kPerBatch = 1000;
    auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Metric> metrics;
      for (int i = 0; i < kPerBatch; ++i) {
        Metric m;
        m.key = absl::StrCat("metric_", i % 20);
        m.value = i * 0.001;
        m.timestamp = 1'700'000'000'000 + b;
        m.step = b * kPerBatch + i;
        metrics.push_back(std::move(m));
      }
      Die(store.LogBatch(run->info.run_id, metrics, {}, {}), "log batch");
    }
    double ms = Millis(std::chrono::steady_clock::now() - start);
    std::printf("LogBatch: %d batches x %d metrics in %.1f ms = %.0f metrics/s (%.2f ms/batch)\n",
                kBatches, kPerBatch, ms, kBatches * kPerBatch / (ms / 1000), ms / kBatches);
  }

  // --- Populate.
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0, 1);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < (reuse ? 0 : num_runs); ++i) {
    ferry::store::NewRun nr{.experiment_id = *exp,
                            .user_id = "bench",
                            .run_name = absl::StrCat("run-", i),
                            .start_time = 1'700'000'000'000 + i};
    auto run = store.CreateRun(nr);
    Die(run.status(), "create run");
    std::vector<Metric> metrics;
    for (int k = 0; k < 5; ++k) {
      Metric m;
      m.key = absl::StrCat("m", k);
      m.value = uniform(rng);
      m.timestamp = nr.start_time;
      metrics.push_back(std::move(m));
    }
    std::vector<Param> params;
    for (int k = 0; k < 5; ++k) {
      params.push_back({absl::StrCat("p", k), absl::StrCat("v", rng() % 10)});
    }
    std::vector<Tag> tags = {{"team", absl::StrCat("t", rng() % 4)},
                             {"git", absl::StrCat(rng() % 1000)},
                             {"env", rng() % 2 ? "prod" : "dev"}};
    Die(store.LogBatch(run->info.run_id, metrics, params, tags), "log batch");
    if ((i + 1) % 20000 == 0) {
      std::printf("  populated %d runs (%.1f s)\n", i + 1,
                  Millis(std::chrono::steady_clock::now() - start) / 1000);
    }
  }
  std::printf("Populate: %d runs in %.1f s\n", num_runs,
              Millis(std::chrono::steady_clock::now() - start) / 1000);

  // --- Search shapes.
  struct Shape {
    const char* name;
    std::function<RunQuery(int)> make;
  };
  auto base = [&] {
    RunQuery q;
    q.experiment_ids = {*exp};
    q.max_results = 100;
    return q;
  };
  std::vector<Shape> shapes = {
      {"metrics.m0 > x AND params.p1 = v ORDER BY metrics.m0 DESC",
       [&](int i) {
         RunQuery q = base();
         q.filter.clauses = {{KeyType::kMetric, "m0", Comparator::kGt, 0.3 + (i % 5) * 0.1},
                             {KeyType::kParam, "p1", Comparator::kEq, absl::StrCat("v", i % 10)}};
         q.order_by = {{KeyType::kMetric, "m0", false}};
         return q;
       }},
      {"metrics.m0 > x AND params.p1 = v ORDER BY metrics.m2 DESC",
       [&](int i) {
         RunQuery q = base();
         q.filter.clauses = {{KeyType::kMetric, "m0", Comparator::kGt, 0.3 + (i % 5) * 0.1},
                             {KeyType::kParam, "p1", Comparator::kEq, absl::StrCat("v", i % 10)}};
         q.order_by = {{KeyType::kMetric, "m2", false}};
         return q;
       }},
      {"no filter, default order (start_time DESC)", [&](int) { return base(); }},
      {"no filter ORDER BY metrics.m1 ASC",
       [&](int) {
         RunQuery q = base();
         q.order_by = {{KeyType::kMetric, "m1", true}};
         return q;
       }},
      {"tags.env = prod AND params.p2 = v",
       [&](int i) {
         RunQuery q = base();
         q.filter.clauses = {{KeyType::kTag, "env", Comparator::kEq, std::string("prod")},
                             {KeyType::kParam, "p2", Comparator::kEq, absl::StrCat("v", i % 10)}};
         return q;
       }},
      {"metrics.m3 > 0.99 (selective)",
       [&](int) {
         RunQuery q = base();
         q.filter.clauses = {{KeyType::kMetric, "m3", Comparator::kGt, 0.99}};
         return q;
       }},
  };
  for (const Shape& shape : shapes) {
    auto plan = store.ExplainSearchRuns(shape.make(0));
    std::vector<double> times;
    size_t rows = 0;
    for (int i = 0; i < 40; ++i) {
      RunQuery q = shape.make(i);
      auto t0 = std::chrono::steady_clock::now();
      auto page = store.SearchRuns(q);
      times.push_back(Millis(std::chrono::steady_clock::now() - t0));
      Die(page.status(), "search");
      rows += page->items.size();
    }
    std::sort(times.begin(), times.end());
    std::printf("\n%s\n  p50 %.2f ms  p90 %.2f ms  max %.2f ms  (avg %.0f rows/page)\n", shape.name,
                times[times.size() / 2], times[times.size() * 9 / 10], times.back(),
                static_cast<double>(rows) / times.size());
    if (plan.ok()) std::printf("  plan:\n%s", plan->c_str());
  }
  return 0;
}
