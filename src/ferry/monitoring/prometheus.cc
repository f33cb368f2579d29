#include "ferry/monitoring/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ferry::monitoring {
namespace {

// Debian's Abseil is built with its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendEscapedLabelValue(std::string_view value, std::string& out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendEscapedHelp(std::string_view help, std::string& out) {
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

std::vector<std::pair<std::string, std::string>> ZipLabels(const std::vector<std::string>& names,
                                                           const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> labels;
  labels.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

void AppendSeries(const Counter& counter, std::vector<std::pair<std::string, std::string>> labels,
                  FamilySnapshot& out) {
  out.samples.push_back({.suffix = "", .labels = std::move(labels), .value = counter.Value()});
}

void AppendSeries(const Gauge& gauge, std::vector<std::pair<std::string, std::string>> labels,
                  FamilySnapshot& out) {
  out.samples.push_back({.suffix = "", .labels = std::move(labels), .value = gauge.Value()});
}

void AppendSeries(const Histogram& histogram,
                  const std::vector<std::pair<std::string, std::string>>& labels,
                  FamilySnapshot& out) {
  Histogram::Snapshot snapshot = histogram.Read();
  AppendHistogramSamples(labels, snapshot.bounds, snapshot.bucket_counts, snapshot.sum, out);
}

absl::Status ValidateOptions(const MetricOptions& options, MetricType type) {
  if (!IsMetricName(options.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric name \"", options.name, "\" is invalid; expected [a-zA-Z_:][a-zA-Z0-9_:]*"));
  }
  if (options.max_series < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric ", options.name, ": max_series must be at least 1"));
  }
  for (size_t i = 0; i < options.label_names.size(); ++i) {
    const std::string& label = options.label_names[i];
    if (!IsLabelName(label) || label.starts_with("__")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", options.name, ": label name \"", label,
                       "\" is invalid; expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __"));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", options.name, ": label name \"le\" is reserved in histograms"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.label_names[j] == label) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric ", options.name, ": label name \"", label, "\" appears twice"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBounds(std::string_view name, const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(absl::StrCat("histogram ", Sv(name), ": bucket bound ", i,
                                                     " is not finite (+Inf is implicit)"));
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", Sv(name), ": bucket bounds must be strictly increasing (bound ", i, " is ",
          FormatValue(bounds[i]), " after ", FormatValue(bounds[i - 1]), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // 2^53: every integer up to here is exact, and "%d" form stays short.
  constexpr double kMaxExactInteger = 9007199254740992.0;
  if (value == std::trunc(value) && std::fabs(value) <= kMaxExactInteger) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "NaN";  // cannot happen: 64 bytes hold any double
  return std::string(buffer, end);
}

void AppendHistogramSamples(const std::vector<std::pair<std::string, std::string>>& labels,
                            absl::Span<const double> bounds,
                            absl::Span<const uint64_t> bucket_counts, double sum,
                            FamilySnapshot& family) {
  if (bucket_counts.size() != bounds.size() + 1) return;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += bucket_counts[i];
    std::vector<std::pair<std::string, std::string>> bucket_labels = labels;
    bucket_labels.emplace_back("le", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf");
    family.samples.push_back({.suffix = "_bucket",
                              .labels = std::move(bucket_labels),
                              .value = static_cast<double>(cumulative)});
  }
  family.samples.push_back({.suffix = "_sum", .labels = labels, .value = sum});
  family.samples.push_back(
      {.suffix = "_count", .labels = labels, .value = static_cast<double>(cumulative)});
}

std::string RenderText(absl::Span<const FamilySnapshot> families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    if (family.samples.empty()) continue;
    if (!family.help.empty()) {
      absl::StrAppend(&out, "# HELP ", family.name, " ");
      AppendEscapedHelp(family.help, out);
      out += '\n';
    }
    absl::StrAppend(&out, "# TYPE ", family.name, " ", Sv(MetricTypeName(family.type)), "\n");
    for (const Sample& sample : family.samples) {
      absl::StrAppend(&out, family.name, sample.suffix);
      if (!sample.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) out += ',';
          absl::StrAppend(&out, sample.labels[i].first, "=\"");
          AppendEscapedLabelValue(sample.labels[i].second, out);
          out += '"';
        }
        out += '}';
      }
      absl::StrAppend(&out, " ", FormatValue(sample.value), "\n");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Series.

void Counter::Increment(double delta) {
  if (!(delta >= 0)) return;
  value_.fetch_add(delta, std::memory_order_relaxed);
}

void Gauge::Increment(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  size_t bucket = std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = *bounds_;
  snapshot.bucket_counts.resize(bounds_->size() + 1);
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    snapshot.bucket_counts[i] = counts_[i].load(std::memory_order_relaxed);
    snapshot.count += snapshot.bucket_counts[i];
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) return {};
  std::vector<double> bounds;
  bounds.reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  if (!(width > 0) || count < 1) return {};
  std::vector<double> bounds;
  bounds.reserve(count);
  for (int i = 0; i < count; ++i) bounds.push_back(start + width * i);
  return bounds;
}

// ---------------------------------------------------------------------------
// Families.

size_t LabelValuesHash::operator()(absl::Span<const std::string> values) const {
  size_t hash = absl::HashOf(values.size());
  for (const std::string& value : values) hash = absl::HashOf(hash, std::string_view(value));
  return hash;
}

size_t LabelValuesHash::operator()(absl::Span<const std::string_view> values) const {
  size_t hash = absl::HashOf(values.size());
  for (std::string_view value : values) hash = absl::HashOf(hash, value);
  return hash;
}

template <typename T>
Family<T>::Family(MetricOptions options, MetricType type, std::function<std::unique_ptr<T>()> make,
                  Family<Counter>* dropped_family)
    : options_(std::move(options)),
      type_(type),
      make_(std::move(make)),
      dropped_family_(dropped_family) {}

template <typename T>
T& Family<T>::WithLabels(absl::Span<const std::string_view> values) {
  const bool arity_ok = values.size() == options_.label_names.size();
  if (arity_ok) {
    std::shared_lock lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    if (series_.size() >= options_.max_series && overflow_ != nullptr) {
      if (dropped_ != nullptr) dropped_->Increment();
      return *overflow_;
    }
  }
  std::unique_lock lock(mu_);
  if (arity_ok) {
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    if (series_.size() < options_.max_series) {
      std::vector<std::string> key(values.begin(), values.end());
      auto [inserted, unused] = series_.emplace(std::move(key), make_());
      return *inserted->second;
    }
  }
  if (overflow_ == nullptr) {
    overflow_ = make_();
    if (dropped_family_ != nullptr) {
      dropped_ = &dropped_family_->WithLabels({std::string_view(options_.name)});
    }
  }
  if (dropped_ != nullptr) dropped_->Increment();
  return *overflow_;
}

template <typename T>
size_t Family<T>::series_count() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <typename T>
void Family<T>::Collect(FamilySnapshot& out) const {
  out.name = options_.name;
  out.help = options_.help;
  out.type = type_;
  std::shared_lock lock(mu_);
  std::vector<std::pair<const std::vector<std::string>*, const T*>> ordered;
  ordered.reserve(series_.size());
  for (const auto& [values, series] : series_) ordered.emplace_back(&values, series.get());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [values, series] : ordered) {
    AppendSeries(*series, ZipLabels(options_.label_names, *values), out);
  }
  if (overflow_ != nullptr) {
    std::vector<std::string> values(options_.label_names.size(), std::string(kOverflowLabelValue));
    AppendSeries(*overflow_, ZipLabels(options_.label_names, values), out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------
// Registry.

struct Registry::Entry {
  MetricType type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;

  const std::string& name() const {
    if (counter) return counter->name();
    if (gauge) return gauge->name();
    return histogram->name();
  }
  void Collect(FamilySnapshot& out) const {
    if (counter) counter->Collect(out);
    if (gauge) gauge->Collect(out);
    if (histogram) histogram->Collect(out);
  }
  template <typename T>
  Family<T>* Get() {
    if constexpr (std::is_same_v<T, Counter>) return counter.get();
    if constexpr (std::is_same_v<T, Gauge>) return gauge.get();
    if constexpr (std::is_same_v<T, Histogram>) return histogram.get();
  }
  template <typename T>
  void Set(std::unique_ptr<Family<T>> family) {
    if constexpr (std::is_same_v<T, Counter>) counter = std::move(family);
    if constexpr (std::is_same_v<T, Gauge>) gauge = std::move(family);
    if constexpr (std::is_same_v<T, Histogram>) histogram = std::move(family);
  }
};

template <typename T>
absl::StatusOr<Family<T>*> Registry::Add(const MetricOptions& options, MetricType type,
                                         std::vector<double> bounds) {
  if (absl::Status status = ValidateOptions(options, type); !status.ok()) return status;
  if (type == MetricType::kHistogram) {
    if (absl::Status status = ValidateBounds(options.name, bounds); !status.ok()) return status;
  }
  std::lock_guard lock(mu_);
  if (dropped_ != nullptr && options.name == kDroppedSeriesMetric) {
    return absl::AlreadyExistsError(
        absl::StrCat("metric name ", options.name, " is reserved for the registry"));
  }
  for (const std::unique_ptr<Entry>& entry : entries_) {
    if (entry->name() != options.name) continue;
    if (entry->type == type && entry->label_names == options.label_names &&
        entry->bounds == bounds) {
      return entry->Get<T>();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("metric ", options.name, " is already registered as a ",
                     Sv(MetricTypeName(entry->type)), " with different labels or buckets"));
  }
  std::function<std::unique_ptr<T>()> make;
  if constexpr (std::is_same_v<T, Histogram>) {
    auto shared_bounds = std::make_shared<const std::vector<double>>(bounds);
    make = [shared_bounds] { return std::make_unique<Histogram>(shared_bounds); };
  } else {
    make = [] { return std::make_unique<T>(); };
  }
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  entry->label_names = options.label_names;
  entry->bounds = std::move(bounds);
  // Family's constructor is private to Registry, so no make_unique.
  entry->Set(std::unique_ptr<Family<T>>(new Family<T>(options, type, std::move(make), dropped_)));
  Family<T>* family = entry->Get<T>();
  entries_.push_back(std::move(entry));
  return family;
}

Registry::Registry() {
  auto dropped = Add<Counter>(
      {.name = std::string(kDroppedSeriesMetric),
       .help = "Lookups of a new label set redirected to the family's __overflow__ series "
               "because the family reached max_series.",
       .label_names = {"family"}},
      MetricType::kCounter, {});
  dropped_ = *dropped;  // cannot fail: the options are valid and the registry is empty
}

Registry::~Registry() = default;

absl::StatusOr<CounterFamily*> Registry::AddCounter(const MetricOptions& options) {
  return Add<Counter>(options, MetricType::kCounter, {});
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(const MetricOptions& options) {
  return Add<Gauge>(options, MetricType::kGauge, {});
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(const MetricOptions& options,
                                                        std::vector<double> bounds) {
  return Add<Histogram>(options, MetricType::kHistogram, std::move(bounds));
}

int64_t Registry::AddCollector(Collector collector) {
  std::unique_lock lock(collectors_mu_);
  int64_t id = next_collector_id_++;
  collectors_.emplace_back(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(int64_t id) {
  std::unique_lock lock(collectors_mu_);
  std::erase_if(collectors_, [id](const auto& entry) { return entry.first == id; });
}

std::vector<FamilySnapshot> Registry::Collect() const {
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mu_);
    entries.reserve(entries_.size());
    for (const auto& entry : entries_) entries.push_back(entry.get());
  }
  std::vector<FamilySnapshot> collected;
  collected.reserve(entries.size());
  for (const Entry* entry : entries) {
    collected.emplace_back();
    entry->Collect(collected.back());
  }
  {
    std::shared_lock lock(collectors_mu_);
    for (const auto& [id, collector] : collectors_) collector(collected);
  }

  // Merge by name: the first family of a name (registered ones come first)
  // fixes HELP and TYPE.
  std::vector<FamilySnapshot> merged;
  absl::flat_hash_map<std::string, size_t> index;
  for (FamilySnapshot& family : collected) {
    if (!IsMetricName(family.name)) continue;
    std::erase_if(family.samples, [](const Sample& sample) {
      return std::any_of(sample.labels.begin(), sample.labels.end(),
                         [](const auto& label) { return !IsLabelName(label.first); });
    });
    auto [it, inserted] = index.try_emplace(family.name, merged.size());
    if (inserted) {
      merged.push_back(std::move(family));
      continue;
    }
    FamilySnapshot& first = merged[it->second];
    if (first.type != family.type) continue;
    for (Sample& sample : family.samples) first.samples.push_back(std::move(sample));
  }
  std::stable_sort(
      merged.begin(), merged.end(),
      [](const FamilySnapshot& a, const FamilySnapshot& b) { return a.name < b.name; });
  return merged;
}

std::string Registry::Render() const { return RenderText(Collect()); }

}  // namespace ferry::monitoring
