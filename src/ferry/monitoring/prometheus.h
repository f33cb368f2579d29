#ifndef FERRY_MONITORING_PROMETHEUS_H_
#define FERRY_MONITORING_PROMETHEUS_H_

// A small metrics registry rendered in the Prometheus text exposition format
// 0.0.4 (what every Prometheus server and agent scrapes). Debian bookworm has
// no prometheus-cpp, and Ferry needs only counters, gauges, fixed-bucket
// histograms, labels with bounded cardinality and scrape-time collectors.
//
// Hot path: a family's WithLabels() takes a shared (reader) lock to find the
// series; callers that can should keep the returned reference, whose
// Increment()/Set()/Observe() are lock-free atomics. Series are never removed,
// so references stay valid for the registry's lifetime.
//
// Cardinality: each family holds at most `max_series` label sets. Past that,
// WithLabels() with a new label set returns one shared overflow series whose
// label values are all "__overflow__", and increments
// ferry_metrics_dropped_series_total{family="<name>"} once per such call. This
// keeps a label fed by user input (a model name in a URL) from growing memory
// and scrape size without bound.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ferry::monitoring {

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

// The name written on a "# TYPE" line: "counter", "gauge", "histogram",
// "untyped".
std::string_view MetricTypeName(MetricType type);

// The label value every label of the overflow series carries.
inline constexpr std::string_view kOverflowLabelValue = "__overflow__";
// The counter family the registry adds to count redirects to overflow series.
inline constexpr std::string_view kDroppedSeriesMetric = "ferry_metrics_dropped_series_total";

// ---------------------------------------------------------------------------
// Snapshots: what a scrape sees. Families render themselves into these, and
// collector callbacks append them; Render() writes them as text.

struct Sample {
  // Appended to the family name: "" for counters and gauges, "_bucket",
  // "_sum" or "_count" for histograms.
  std::string suffix;
  // Label name/value pairs in output order. Values are unescaped; rendering
  // escapes them.
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<Sample> samples;
};

// Appends the samples of one histogram series to `family`: a cumulative
// "_bucket" sample per bound plus le="+Inf", then "_sum" and "_count".
// `bucket_counts` holds per-bucket (NOT cumulative) counts, one per bound
// plus a last one for values above every bound, so its size is
// bounds.size() + 1; a mismatch appends nothing. "_count" is the total of
// `bucket_counts`, so it always equals the +Inf bucket.
void AppendHistogramSamples(const std::vector<std::pair<std::string, std::string>>& labels,
                            absl::Span<const double> bounds,
                            absl::Span<const uint64_t> bucket_counts, double sum,
                            FamilySnapshot& family);

// Writes `families` in the text format 0.0.4: per family "# HELP" (omitted
// when help is empty; backslash and newline escaped), "# TYPE", then one line
// per sample. Families are written in the given order; a family with no
// samples is skipped. Label values escape backslash, double quote and newline.
// Values: integers up to 2^53 in magnitude without exponent or fraction
// ("3", "-1", "1000000"), other finite values in shortest round-trip form
// ("0.25", "1e+300"), and "+Inf", "-Inf", "NaN".
std::string RenderText(absl::Span<const FamilySnapshot> families);

// Formats one value as RenderText does (also used for le="..." labels).
std::string FormatValue(double value);

// ---------------------------------------------------------------------------
// Series. All methods are thread-safe and lock-free.

// Monotonic counter.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // `delta` must be >= 0; negative or NaN deltas are ignored (a counter never
  // goes down).
  void Increment(double delta = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double delta = 1);
  void Decrement(double delta = 1) { Increment(-delta); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed-bucket histogram. A value v lands in the first bucket whose upper
// bound b satisfies v <= b (Prometheus "le" semantics), else in +Inf.
class Histogram {
 public:
  // `bounds` are strictly increasing finite upper bounds (validated by
  // Registry::AddHistogram; shared by every series of a family).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN observations are ignored.
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> bucket_counts;  // per bucket, size bounds.size() + 1 (last: +Inf)
    double sum = 0;
    uint64_t count = 0;  // total of bucket_counts
  };
  // Counts read one bucket at a time: under concurrent Observe() calls the
  // snapshot may miss the newest observations, but count always equals the
  // total of bucket_counts.
  Snapshot Read() const;

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
};

// ---------------------------------------------------------------------------
// Families.

struct MetricOptions {
  // [a-zA-Z_:][a-zA-Z0-9_:]*; by convention counters end in "_total" and
  // units are base units ("_seconds", "_bytes"). Not added to: the name is
  // written exactly as given.
  std::string name;
  // Free text for the "# HELP" line; may be empty.
  std::string help;
  // Each [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no duplicates;
  // "le" is reserved in histograms. Default: no labels (one series).
  std::vector<std::string> label_names;
  // Most label sets the family keeps before new ones go to the overflow
  // series. Must be >= 1. Default 1000.
  size_t max_series = 1000;
};

// Label hashing that lets WithLabels() look up with string_views, so a hit
// does not allocate. Internal.
struct LabelValuesHash {
  using is_transparent = void;
  size_t operator()(absl::Span<const std::string> values) const;
  size_t operator()(absl::Span<const std::string_view> values) const;
};
struct LabelValuesEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::string_view(a[i]) != std::string_view(b[i])) return false;
    }
    return true;
  }
};

// A named metric with label names; T is Counter, Gauge or Histogram. Owned
// by its Registry. Thread-safe.
template <typename T>
class Family {
 public:
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series for `values` (one per label name, in label-name order),
  // created on first use. The reference stays valid for the registry's
  // lifetime. Returns the overflow series (and counts a dropped series) when
  // the family already holds max_series label sets, and also when
  // values.size() != label_names().size() (a caller bug; it stays visible in
  // the dropped counter instead of crashing the server).
  T& WithLabels(absl::Span<const std::string_view> values);

  const std::string& name() const { return options_.name; }
  const std::vector<std::string>& label_names() const { return options_.label_names; }
  // Label sets held, not counting the overflow series.
  size_t series_count() const;

  // Appends this family's samples; series in lexicographic order of label
  // values, the overflow series last. No samples while no series exists.
  void Collect(FamilySnapshot& out) const;

 private:
  friend class Registry;
  Family(MetricOptions options, MetricType type, std::function<std::unique_ptr<T>()> make,
         Family<Counter>* dropped_family);

  const MetricOptions options_;
  const MetricType type_;
  const std::function<std::unique_ptr<T>()> make_;
  // The registry's dropped-series family; null for that family itself. Lock
  // order: this family's mu_, then the dropped family's.
  Family<Counter>* const dropped_family_;

  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<T>, LabelValuesHash,
                      LabelValuesEq>
      series_;  // guarded by mu_
  // Both guarded by mu_ and set together on the first overflow, so the
  // dropped-series counter of a family appears only once it has dropped.
  std::unique_ptr<T> overflow_;
  Counter* dropped_ = nullptr;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// `count` bounds start, start*factor, ... (start > 0, factor > 1, count >= 1;
// otherwise empty).
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` bounds start, start+width, ... (width > 0, count >= 1; otherwise
// empty).
std::vector<double> LinearBuckets(double start, double width, int count);

// ---------------------------------------------------------------------------
// Registry.

// Called at scrape time to append families built from state kept elsewhere
// (e.g. batcher statistics snapshots), so that state is not counted twice.
// Families a collector appends are merged by name with registered families
// and with other collectors' output: samples of every family of the same name
// and type are written together under the first one's HELP/TYPE; a family
// whose type differs from the first one of its name is dropped. Collectors
// run concurrently when scrapes do, so they must be thread-safe, and must not
// call AddCollector() or RemoveCollector(). A family with an invalid metric
// name, or a sample with an invalid label name, is left out of the scrape
// (one bad collector must not make the whole exposition unparseable).
using Collector = std::function<void(std::vector<FamilySnapshot>& out)>;

// Owns families and collectors. Thread-safe. Families and their series live
// as long as the registry.
class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Adds a family, or returns the existing one when a family of that name
  // was added with the same type and label names (and for histograms the same
  // bounds), so independent components can share a family; the first
  // definition's help and max_series win. InvalidArgument for a bad name,
  // label name, max_series or bounds; AlreadyExists when the name is taken by
  // a different definition or is kDroppedSeriesMetric.
  absl::StatusOr<CounterFamily*> AddCounter(const MetricOptions& options);
  absl::StatusOr<GaugeFamily*> AddGauge(const MetricOptions& options);
  // `bounds`: strictly increasing, finite; may be empty (only +Inf).
  absl::StatusOr<HistogramFamily*> AddHistogram(const MetricOptions& options,
                                                std::vector<double> bounds);

  // Registers `collector`; the id removes it. After RemoveCollector()
  // returns, the collector is not running and will not run again.
  int64_t AddCollector(Collector collector);
  void RemoveCollector(int64_t id);

  // Every registered family plus every collector's output, merged by name
  // and sorted by family name.
  std::vector<FamilySnapshot> Collect() const;
  // RenderText(Collect()): the body of a GET /metrics answer, served with
  // Content-Type "text/plain; version=0.0.4; charset=utf-8".
  std::string Render() const;

  // The ferry_metrics_dropped_series_total family.
  CounterFamily& dropped_series() const { return *dropped_; }

 private:
  struct Entry;
  // Validates, then finds-or-creates the family. Defined in the .cc file.
  template <typename T>
  absl::StatusOr<Family<T>*> Add(const MetricOptions& options, MetricType type,
                                 std::vector<double> bounds);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // guarded by mu_; append-only
  CounterFamily* dropped_ = nullptr;

  // Held shared while collectors run, exclusively to change the list, so
  // RemoveCollector() waits for running scrapes.
  mutable std::shared_mutex collectors_mu_;
  int64_t next_collector_id_ = 1;                          // guarded by collectors_mu_
  std::vector<std::pair<int64_t, Collector>> collectors_;  // guarded by collectors_mu_
};

}  // namespace ferry::monitoring

#endif  // FERRY_MONITORING_PROMETHEUS_H_
