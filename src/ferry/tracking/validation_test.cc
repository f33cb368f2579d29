#include "ferry/tracking/validation.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ferry::tracking {
namespace {

using Json = nlohmann::json;

// "é" is one code point and two bytes: lengths are code points, like
// Python's len().
const std::string kTwoByteChar = "\xc3\xa9";

std::string Repeat(const std::string& unit, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += unit;
  return out;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

#define EXPECT_INVALID(expr, expected_message)                                \
  do {                                                                        \
    absl::Status status_ = (expr);                                            \
    EXPECT_EQ(status_.code(), absl::StatusCode::kInvalidArgument) << status_; \
    EXPECT_EQ(Message(status_), expected_message);                            \
  } while (0)

#define EXPECT_INVALID_CODE(expr)                                             \
  do {                                                                        \
    absl::Status status_ = (expr);                                            \
    EXPECT_EQ(status_.code(), absl::StatusCode::kInvalidArgument) << status_; \
  } while (0)

constexpr char kBadChars[] =
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/).";

std::string BadPath(const std::string& norm) {
  return "Names may be treated as files in certain cases, and must not resolve to other names "
         "when treated as such. This name would resolve to '" +
         norm + "'";
}

// ---- Keys ----------------------------------------------------------------

TEST(KeyNameTest, AcceptsMlflowCharacterSet) {
  for (std::string key : {"loss", "train/loss", "a.b-c_d e:f", "Accuracy_1", "caf\xc3\xa9",
                          "\xe6\x97\xa5\xe6\x9c\xac",
                          "\xd1\x82\xd0\xbe\xd1\x87\xd0\xbd\xd0\xbe\xd1\x81\xd1\x82\xd1\x8c",
                          "x\xc2\xb2", "a..b", ".hidden", "a/b.c/d"}) {
    EXPECT_TRUE(ValidateMetricName(key).ok()) << key;
    EXPECT_TRUE(ValidateParamName(key).ok()) << key;
    EXPECT_TRUE(ValidateTagName(key).ok()) << key;
  }
}

TEST(KeyNameTest, RejectsOtherCharacters) {
  EXPECT_INVALID(ValidateParamName("a!b"),
                 std::string("Invalid value \"a!b\" for parameter 'key' supplied: ") + kBadChars);
  EXPECT_INVALID(
      ValidateMetricName("a\\b"),
      std::string("Invalid value \"a\\\\b\" for parameter 'name' supplied: ") + kBadChars);
  // Non-ASCII is escaped as json.dumps does.
  EXPECT_INVALID(
      ValidateTagName("\xc3\xa9?", "tags[2].key"),
      std::string("Invalid value \"\\u00e9?\" for parameter 'tags[2].key' supplied: ") + kBadChars);
  for (std::string key : {"a\nb", "a\tb", "a\n", "a$", "a%2e", "a#b", "a'b", "a\"b",
                          "e\xcc\x81",  // combining acute: not \w in Python
                          "a\xe2\x80\x8b"}) {
    EXPECT_INVALID_CODE(ValidateParamName(key));
  }
}

TEST(KeyNameTest, RejectsNamesThatAreNotTheirOwnNormPath) {
  EXPECT_INVALID(ValidateParamName("../a"),
                 "Invalid value \"../a\" for parameter 'key' supplied: " + BadPath("../a"));
  EXPECT_INVALID(ValidateMetricName("a/../b"),
                 "Invalid value \"a/../b\" for parameter 'name' supplied: " + BadPath("b"));
  EXPECT_INVALID(ValidateTagName("a//b"),
                 "Invalid value \"a//b\" for parameter 'key' supplied: " + BadPath("a/b"));
  EXPECT_INVALID(ValidateTagName(""),
                 "Invalid value \"\" for parameter 'key' supplied: " + BadPath("."));
  // Anything whose normpath starts with "..", even a plain name.
  EXPECT_INVALID(ValidateParamName("...a"),
                 "Invalid value \"...a\" for parameter 'key' supplied: " + BadPath("...a"));
  for (std::string key : {"/a", "a/", ".", "..", "./a", "a/.", "//a", "..a"}) {
    EXPECT_INVALID_CODE(ValidateParamName(key));
  }
}

// ---- Metrics ---------------------------------------------------------------

TEST(MetricTest, TimestampMustBeNonNegative) {
  store::Metric m{.key = "acc", .value = 1.0, .timestamp = 0, .step = -5};
  EXPECT_TRUE(ValidateMetric(m).ok());
  m.timestamp = -1;
  EXPECT_INVALID(ValidateMetric(m),
                 "Invalid value -1 for parameter 'timestamp' supplied: metric 'acc' (value=1.0). "
                 "Timestamp must be a nonnegative long (64-bit integer) ");
  EXPECT_INVALID(ValidateMetric(m, "metrics[3]"),
                 "Invalid value -1 for parameter 'metrics[3].timestamp' supplied: metric 'acc' "
                 "(value=1.0). Timestamp must be a nonnegative long (64-bit integer) ");
}

TEST(MetricTest, NanAndInfinityAreValues) {
  for (double v :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), -0.0, 1e308}) {
    EXPECT_TRUE(ValidateMetric({.key = "m", .value = v, .timestamp = 1}).ok()) << v;
  }
}

TEST(MetricTest, KeyLengthLimit) {
  EXPECT_TRUE(ValidateMetric({.key = Repeat("k", 250), .timestamp = 1}).ok());
  EXPECT_TRUE(ValidateMetric({.key = Repeat(kTwoByteChar, 250), .timestamp = 1}).ok());
  EXPECT_INVALID(ValidateMetric({.key = Repeat("k", 251), .timestamp = 1}),
                 "'Metric name' exceeds the maximum length of 250 characters");
  EXPECT_INVALID(
      ValidateMetric({.key = "bad!", .timestamp = 1}, "metrics[0]"),
      std::string("Invalid value \"bad!\" for parameter 'metrics[0].name' supplied: ") + kBadChars);
}

// ---- Params ----------------------------------------------------------------

TEST(ParamTest, KeyLengthLimit) {
  EXPECT_TRUE(ValidateParam({.key = Repeat("k", 250), .value = "v"}).ok());
  EXPECT_INVALID(ValidateParam({.key = Repeat("k", 251), .value = "v"}).status(),
                 "'Param key' exceeds the maximum length of 250 characters");
}

TEST(ParamTest, ValueLimitRejectMode) {
  const ValidationOptions reject{.long_values = LongValues::kReject};
  auto at_limit = ValidateParam({.key = "p", .value = Repeat("v", 6000)}, "", reject);
  ASSERT_TRUE(at_limit.ok());
  EXPECT_EQ(at_limit->value.size(), 6000u);
  EXPECT_TRUE(ValidateParam({.key = "p", .value = Repeat(kTwoByteChar, 6000)}, "", reject).ok());
  EXPECT_INVALID(ValidateParam({.key = "p", .value = Repeat("v", 6001)}, "", reject).status(),
                 "'Param value' exceeds the maximum length of 6000 characters");
  EXPECT_INVALID_CODE(
      ValidateParam({.key = "p", .value = Repeat(kTwoByteChar, 6001)}, "", reject).status());
}

TEST(ParamTest, ValueLimitTruncateModeIsTheDefault) {
  auto truncated = ValidateParam({.key = "p", .value = Repeat(kTwoByteChar, 6001)});
  ASSERT_TRUE(truncated.ok()) << truncated.status();
  EXPECT_EQ(truncated->key, "p");
  EXPECT_EQ(truncated->value, Repeat(kTwoByteChar, 6000));
  auto untouched = ValidateParam({.key = "p", .value = Repeat("v", 6000)});
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(untouched->value, Repeat("v", 6000));
}

TEST(ParamTest, NamePathInsideBatch) {
  EXPECT_INVALID(
      ValidateParam({.key = "a/../b", .value = ""}, "params[1]").status(),
      "Invalid value \"a/../b\" for parameter 'params[1].key' supplied: " + BadPath("b"));
}

// ---- Run tags ----------------------------------------------------------------

TEST(RunTagTest, KeyAndValueLimits) {
  const ValidationOptions reject{.long_values = LongValues::kReject};
  EXPECT_TRUE(
      ValidateRunTag({.key = Repeat("k", 250), .value = Repeat("v", 8000)}, "", reject).ok());
  EXPECT_INVALID(ValidateRunTag({.key = Repeat("k", 251), .value = "v"}, "", reject).status(),
                 "'key' exceeds the maximum length of 250 characters");
  EXPECT_INVALID(ValidateRunTag({.key = Repeat("k", 251), .value = "v"}, "tags[4]").status(),
                 "'tags[4].key' exceeds the maximum length of 250 characters");
  EXPECT_INVALID(ValidateRunTag({.key = "k", .value = Repeat("v", 8001)}, "", reject).status(),
                 "'value' exceeds the maximum length of 8000 characters");
  EXPECT_INVALID(
      ValidateRunTag({.key = "k", .value = Repeat("v", 8001)}, "tags[0]", reject).status(),
      "'tags[0].value' exceeds the maximum length of 8000 characters");
  auto truncated = ValidateRunTag({.key = "k", .value = Repeat("v", 8001)});
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(truncated->value.size(), 8000u);
}

// ---- Experiments -------------------------------------------------------------

TEST(ExperimentTagTest, Limits) {
  EXPECT_TRUE(ValidateExperimentTag({.key = Repeat("k", 250), .value = Repeat("v", 5000)}).ok());
  EXPECT_INVALID(ValidateExperimentTag({.key = Repeat("k", 251), .value = ""}),
                 "'key' exceeds the maximum length of 250 characters");
  // Never truncated, whatever the options.
  EXPECT_INVALID(ValidateExperimentTag({.key = "k", .value = Repeat("v", 5001)}),
                 "'value' exceeds the maximum length of 5000 characters");
  EXPECT_INVALID_CODE(ValidateExperimentTag({.key = "../x", .value = ""}));
}

TEST(ExperimentNameTest, Limits) {
  EXPECT_INVALID(ValidateExperimentName(""), "Invalid experiment name: ''");
  EXPECT_TRUE(ValidateExperimentName("x").ok());
  EXPECT_TRUE(ValidateExperimentName(Repeat(kTwoByteChar, 500)).ok());
  EXPECT_INVALID(ValidateExperimentName(Repeat("n", 501)),
                 "'name' exceeds the maximum length of 500 characters");
  // Any characters: names are not keys.
  EXPECT_TRUE(ValidateExperimentName("/Users/me@example.com/exp #1 ../x").ok());
}

TEST(ExperimentIdTest, Pattern) {
  EXPECT_TRUE(ValidateExperimentId("0").ok());
  EXPECT_TRUE(ValidateExperimentId("a" + Repeat("b", 63)).ok());
  EXPECT_INVALID(ValidateExperimentId("a" + Repeat("b", 64)),
                 "Invalid experiment ID: '" + ("a" + Repeat("b", 64)) + "'");
  EXPECT_INVALID(ValidateExperimentId(""), "Invalid experiment ID: ''");
  EXPECT_INVALID_CODE(ValidateExperimentId("-1"));
  EXPECT_INVALID_CODE(ValidateExperimentId("_1"));
  EXPECT_INVALID_CODE(ValidateExperimentId("1 2"));
}

TEST(ArtifactLocationTest, MlflowChecks) {
  EXPECT_TRUE(ValidateArtifactLocation("s3://bucket/path").ok());
  EXPECT_TRUE(ValidateArtifactLocation("mlflow-artifacts:/1").ok());
  EXPECT_TRUE(ValidateArtifactLocation("/var/lib/ferry/artifacts").ok());
  EXPECT_TRUE(ValidateArtifactLocation("s3://bucket/k;v").ok());  // s3 has no ;params
  EXPECT_TRUE(ValidateArtifactLocation("http://host/p?version=2").ok());
  EXPECT_TRUE(ValidateArtifactLocation("http://host/a;/b").ok());  // ';' not in last segment

  EXPECT_INVALID(ValidateArtifactLocation("runs:/abc/model"),
                 "Artifact location cannot be a runs:/ URI. Given: 'runs:/abc/model'");
  const std::string fragments = "'artifact_location' URL can't include fragments or params.";
  EXPECT_INVALID(ValidateArtifactLocation("http:///#/../../../etc/"), fragments);
  EXPECT_INVALID(ValidateArtifactLocation("file:///tmp#"), fragments);
  EXPECT_INVALID(ValidateArtifactLocation("http://host/p;x"), fragments);
  EXPECT_INVALID(ValidateArtifactLocation("/tmp/a;b"), fragments);
  EXPECT_INVALID(ValidateArtifactLocation("http://host/p?x=../../etc"), "Invalid query string");
  EXPECT_INVALID(ValidateArtifactLocation("http://host/p?x=%2e%2e%2f"), "Invalid query string");
  EXPECT_INVALID(ValidateArtifactLocation("http://host/p?x=%252e%252e"), "Invalid query string");
}

TEST(ArtifactLocationTest, LengthLimit) {
  const std::string base = "/a/";
  EXPECT_TRUE(ValidateArtifactLocation(base + Repeat("x", 2048 - 3)).ok());
  EXPECT_INVALID(ValidateArtifactLocation(base + Repeat("x", 2048 - 2)),
                 "Invalid artifact path length. The length of the artifact path cannot be greater "
                 "than 2048 characters. To configure this limit, please set the "
                 "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.");
  const ValidationOptions small{.max_artifact_location_length = 10};
  EXPECT_TRUE(ValidateArtifactLocation(Repeat("y", 10), small).ok());
  EXPECT_INVALID_CODE(ValidateArtifactLocation(Repeat("y", 11), small));
}

// ---- Runs --------------------------------------------------------------------

TEST(RunNameTest, LimitAndTagAgreement) {
  EXPECT_TRUE(ValidateRunName("", {}).ok());
  EXPECT_TRUE(ValidateRunName(Repeat(kTwoByteChar, 250), {}).ok());
  EXPECT_INVALID(ValidateRunName(Repeat("r", 251), {}),
                 "'run_name' exceeds the maximum length of 250 characters");
  EXPECT_TRUE(ValidateRunName("same", {{.key = "mlflow.runName", .value = "same"}}).ok());
  EXPECT_INVALID(ValidateRunName("a", {{.key = "mlflow.runName", .value = "b"}}),
                 "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                 "different values (run_name='a', mlflow.runName='b').");
  EXPECT_INVALID_CODE(ValidateRunName("", {{.key = "mlflow.runName", .value = Repeat("r", 251)}}));
}

TEST(RunIdTest, Pattern) {
  EXPECT_TRUE(ValidateRunId("0123456789abcdef0123456789abcdef").ok());
  EXPECT_TRUE(ValidateRunId("a" + Repeat("b", 255)).ok());
  EXPECT_INVALID(ValidateRunId("a" + Repeat("b", 256)),
                 "Invalid value \"a" + Repeat("b", 256) + "\" for parameter 'run_id' supplied.");
  EXPECT_INVALID(ValidateRunId("../etc"),
                 "Invalid value \"../etc\" for parameter 'run_id' supplied.");
  EXPECT_INVALID_CODE(ValidateRunId(""));
  EXPECT_INVALID_CODE(ValidateRunId("abc\n"));
  EXPECT_INVALID_CODE(ValidateRunId("ab/c"));
}

// ---- LogBatch ----------------------------------------------------------------

TEST(BatchLimitsTest, EachLimitAtTheBoundary) {
  EXPECT_TRUE(ValidateBatchLogLimits(1000, 0, 0).ok());
  EXPECT_INVALID(ValidateBatchLogLimits(1001, 0, 0),
                 "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. "
                 "Please split up metrics across multiple requests and try again.");
  EXPECT_TRUE(ValidateBatchLogLimits(0, 100, 0).ok());
  EXPECT_INVALID(ValidateBatchLogLimits(0, 101, 0),
                 "A batch logging request can contain at most 100 params. Got 101 params. "
                 "Please split up params across multiple requests and try again.");
  EXPECT_TRUE(ValidateBatchLogLimits(0, 0, 100).ok());
  EXPECT_INVALID(ValidateBatchLogLimits(0, 0, 101),
                 "A batch logging request can contain at most 100 tags. Got 101 tags. "
                 "Please split up tags across multiple requests and try again.");
  EXPECT_TRUE(ValidateBatchLogLimits(800, 100, 100).ok());
  EXPECT_INVALID(ValidateBatchLogLimits(801, 100, 100),
                 "A batch logging request can contain at most 1000 metrics, params, and tags. "
                 "Got 1001 metrics, params, and tags. Please split up metrics, params, and tags "
                 "across multiple requests and try again.");
}

TEST(BatchLimitsTest, RequestSize) {
  EXPECT_TRUE(ValidateBatchLogRequestSize(1'000'000).ok());
  EXPECT_INVALID(ValidateBatchLogRequestSize(1'000'001),
                 "Batched logging API requests must be at most 1000000 bytes, got a request of "
                 "size 1000001.");
}

TEST(BatchLimitsTest, DuplicateParamKeys) {
  EXPECT_TRUE(ValidateParamKeysUnique({{.key = "a"}, {.key = "b"}}).ok());
  EXPECT_INVALID(
      ValidateParamKeysUnique({{.key = "a"}, {.key = "b"}, {.key = "a"}, {.key = "a"}}),
      "Duplicate parameter keys have been submitted: ['a', 'a']. Please ensure the request "
      "contains only one param value per param key.");
}

TEST(LogBatchTest, ValidatesEverythingAndTruncates) {
  LogBatchInput batch;
  batch.metrics.push_back({.key = "m", .value = 1, .timestamp = 1});
  batch.params.push_back({.key = "p", .value = Repeat("v", 6005)});
  batch.tags.push_back({.key = "t", .value = Repeat("v", 8005)});
  auto ok = ValidateLogBatch("abc123", batch);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->params[0].value.size(), 6000u);
  EXPECT_EQ(ok->tags[0].value.size(), 8000u);
  EXPECT_EQ(ok->metrics.size(), 1u);

  EXPECT_INVALID_CODE(
      ValidateLogBatch("abc123", batch, {.long_values = LongValues::kReject}).status());
  EXPECT_INVALID(ValidateLogBatch("bad id", batch).status(),
                 "Invalid value \"bad id\" for parameter 'run_id' supplied.");

  LogBatchInput bad_metric = batch;
  bad_metric.metrics.push_back({.key = "x", .value = 2, .timestamp = -3});
  EXPECT_INVALID(ValidateLogBatch("abc123", bad_metric).status(),
                 "Invalid value -3 for parameter 'metrics[1].timestamp' supplied: metric 'x' "
                 "(value=2.0). Timestamp must be a nonnegative long (64-bit integer) ");

  LogBatchInput dupes = batch;
  dupes.params.push_back({.key = "p", .value = "other"});
  EXPECT_INVALID_CODE(ValidateLogBatch("abc123", dupes).status());

  LogBatchInput too_many;
  too_many.params.resize(101, store::Param{.key = "", .value = ""});  // counts before contents
  EXPECT_INVALID(ValidateLogBatch("abc123", too_many).status(),
                 "A batch logging request can contain at most 100 params. Got 101 params. "
                 "Please split up params across multiple requests and try again.");
}

// ---- Datasets ------------------------------------------------------------------

TEST(DatasetTest, EachFieldAtTheBoundary) {
  store::Dataset ok{.name = Repeat("n", 500),
                    .digest = Repeat("d", 36),
                    .source_type = "local",
                    .source = Repeat("s", 65535),
                    .schema = Repeat("c", 1048575),
                    .profile = Repeat("p", 16777215)};
  EXPECT_TRUE(ValidateDataset(ok).ok());

  store::Dataset d = ok;
  d.name += "n";
  EXPECT_INVALID(ValidateDataset(d), "'name' exceeds the maximum length of 500 characters");
  d = ok;
  d.digest += "d";
  EXPECT_INVALID(ValidateDataset(d), "'digest' exceeds the maximum length of 36 characters");
  d = ok;
  d.source += "s";
  EXPECT_INVALID(ValidateDataset(d), "'source' exceeds the maximum length of 65535 characters");
  d = ok;
  d.schema += "c";
  EXPECT_INVALID(ValidateDataset(d), "'schema' exceeds the maximum length of 1048575 characters");
  d = ok;
  d.profile += "p";
  EXPECT_INVALID(ValidateDataset(d), "'profile' exceeds the maximum length of 16777215 characters");
}

TEST(DatasetTest, InputTags) {
  EXPECT_TRUE(ValidateInputTag({.key = Repeat("k", 255), .value = Repeat("v", 500)}).ok());
  EXPECT_INVALID(ValidateInputTag({.key = Repeat("k", 256), .value = ""}),
                 "'key' exceeds the maximum length of 255 characters");
  EXPECT_INVALID(ValidateInputTag({.key = "k", .value = Repeat("v", 501)}),
                 "'value' exceeds the maximum length of 500 characters");

  store::DatasetInput input;
  input.dataset = {.name = "train", .digest = "abc", .source_type = "local", .source = "/d"};
  input.tags.push_back({.key = "mlflow.data.context", .value = "train"});
  EXPECT_TRUE(ValidateDatasetInputs({input}).ok());
  input.tags.push_back({.key = "k", .value = Repeat("v", 501)});
  EXPECT_INVALID(ValidateDatasetInputs({input}),
                 "'value' exceeds the maximum length of 500 characters");
}

// ---- Paging ----------------------------------------------------------------------

TEST(MaxResultsTest, Search) {
  EXPECT_TRUE(ValidateSearchMaxResults(1).ok());
  EXPECT_TRUE(ValidateSearchMaxResults(50000).ok());
  EXPECT_INVALID(ValidateSearchMaxResults(50001),
                 "Invalid value 50001 for parameter 'max_results' supplied. It must be at most "
                 "50000");
  EXPECT_INVALID(ValidateSearchMaxResults(0),
                 "Invalid value 0 for parameter 'max_results' supplied. It must be a positive "
                 "integer");
  EXPECT_INVALID_CODE(ValidateSearchMaxResults(-1));
}

TEST(MaxResultsTest, MetricHistory) {
  EXPECT_TRUE(ValidateMetricHistoryMaxResults(25000).ok());
  EXPECT_INVALID(ValidateMetricHistoryMaxResults(25001),
                 "Invalid value 25001 for parameter 'max_results' supplied. It must be at most "
                 "25000");
  EXPECT_INVALID_CODE(ValidateMetricHistoryMaxResults(0));
}

TEST(MaxResultsTest, MetricHistoryBulk) {
  EXPECT_TRUE(ValidateMetricHistoryBulkRunIds(1).ok());
  EXPECT_TRUE(ValidateMetricHistoryBulkRunIds(100).ok());
  EXPECT_INVALID(ValidateMetricHistoryBulkRunIds(0),
                 "GetMetricHistoryBulk request must specify at least one run_id.");
  EXPECT_INVALID(ValidateMetricHistoryBulkRunIds(101),
                 "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 "
                 "run_ids.");
}

TEST(MaxResultsTest, MetricHistoryBulkInterval) {
  const std::string docs = kSeeApiDocs;
  EXPECT_TRUE(ValidateMetricHistoryBulkInterval(100, 2500, 0, 10).ok());
  EXPECT_TRUE(ValidateMetricHistoryBulkInterval(1, 1, std::nullopt, std::nullopt).ok());
  EXPECT_TRUE(ValidateMetricHistoryBulkInterval(1, std::nullopt, 5, 5).ok());
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(0, std::nullopt, std::nullopt, std::nullopt),
                 "Missing value for required parameter 'run_ids'." + docs);
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(101, std::nullopt, std::nullopt, std::nullopt),
                 "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. "
                 "Received 101 run_ids." +
                     docs);
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(1, 2501, std::nullopt, std::nullopt),
                 "max_results must be between 1 and 2500." + docs);
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(1, 0, std::nullopt, std::nullopt),
                 "max_results must be between 1 and 2500." + docs);
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(1, std::nullopt, 3, std::nullopt),
                 "If either start step or end step are specified, both must be specified.");
  EXPECT_INVALID(ValidateMetricHistoryBulkInterval(1, std::nullopt, 5, 2),
                 "end_step must be greater than start_step. Found start_step=5 and end_step=2.");
}

TEST(MaxResultsTest, SearchDatasets) {
  EXPECT_TRUE(ValidateSearchDatasetsExperimentIds(1).ok());
  EXPECT_TRUE(ValidateSearchDatasetsExperimentIds(20).ok());
  EXPECT_INVALID(ValidateSearchDatasetsExperimentIds(0),
                 "SearchDatasets request must specify at least one experiment_id.");
  EXPECT_INVALID(ValidateSearchDatasetsExperimentIds(21),
                 "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 "
                 "experiment_ids.");
}

// ---- JSON coercion ------------------------------------------------------------------

TEST(ParseMetricValueTest, NumbersAndProtobufSpecialStrings) {
  EXPECT_EQ(*ParseMetricValue(Json(3), "value"), 3.0);
  EXPECT_EQ(*ParseMetricValue(Json(-2.5), "value"), -2.5);
  EXPECT_EQ(*ParseMetricValue(Json("2.5"), "value"), 2.5);
  EXPECT_EQ(*ParseMetricValue(Json("1e3"), "value"), 1000.0);
  EXPECT_TRUE(std::isnan(*ParseMetricValue(Json("NaN"), "value")));
  EXPECT_EQ(*ParseMetricValue(Json("Infinity"), "value"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(*ParseMetricValue(Json("-Infinity"), "value"),
            -std::numeric_limits<double>::infinity());
}

TEST(ParseMetricValueTest, RejectsNonNumbers) {
  const std::string docs = kSeeApiDocs;
  EXPECT_INVALID(ParseMetricValue(Json(true), "value").status(),
                 "Invalid value true for parameter 'value' supplied:  Hint: Value was of type "
                 "'bool'." +
                     docs);
  EXPECT_INVALID(ParseMetricValue(Json("abc"), "metrics[0].value").status(),
                 "Invalid value \"abc\" for parameter 'metrics[0].value' supplied:  Hint: Value "
                 "was of type 'str'." +
                     docs);
  EXPECT_INVALID(ParseMetricValue(Json(nullptr), "value").status(),
                 "Missing value for required parameter 'value'." + docs);
  EXPECT_INVALID_CODE(ParseMetricValue(Json::array({1}), "value").status());
  EXPECT_INVALID_CODE(ParseMetricValue(Json(""), "value").status());
  EXPECT_INVALID_CODE(ParseMetricValue(Json("1.5x"), "value").status());
}

TEST(ParseInt64Test, IntegersOnly) {
  EXPECT_EQ(*ParseInt64(Json(5), "step"), 5);
  EXPECT_EQ(*ParseInt64(Json(-1), "step"), -1);
  EXPECT_EQ(*ParseInt64(Json(5.0), "step"), 5);
  EXPECT_EQ(*ParseInt64(Json("1700000000000"), "timestamp"), 1700000000000);
  EXPECT_EQ(*ParseInt64(Json(std::numeric_limits<int64_t>::max()), "step"),
            std::numeric_limits<int64_t>::max());
  EXPECT_INVALID(ParseInt64(Json(5.5), "step").status(),
                 "Invalid value 5.5 for parameter 'step' supplied:  Hint: Value was of type "
                 "'float'." +
                     std::string(kSeeApiDocs));
  EXPECT_INVALID_CODE(ParseInt64(Json(uint64_t{1} << 63), "step").status());
  EXPECT_INVALID_CODE(ParseInt64(Json(9.3e18), "step").status());
  EXPECT_INVALID_CODE(ParseInt64(Json("12a"), "step").status());
  EXPECT_INVALID_CODE(ParseInt64(Json(false), "step").status());
}

// ---- Helpers --------------------------------------------------------------------------

TEST(HelpersTest, InvalidValueMessageFormatsLikeJsonDumps) {
  EXPECT_EQ(InvalidValueMessage("p", Json("\xc3\xa9\"\\ \n\xf0\x9f\x98\x80\x7f\x01")),
            "Invalid value \"\\u00e9\\\"\\\\ \\n\\ud83d\\ude00\\u007f\\u0001\" for parameter 'p' "
            "supplied.");
  Json object = {{"b", 1}, {"a", Json::array({1.0, nullptr, true})}};
  EXPECT_EQ(InvalidValueMessage("p", object, "m"),
            "Invalid value {\"a\":[1.0,null,true],\"b\":1} for parameter 'p' supplied: m");
  EXPECT_EQ(MissingValueMessage("run_id"), "Missing value for required parameter 'run_id'.");
  EXPECT_EQ(ExceedsMaximumLengthMessage("x", 5), "'x' exceeds the maximum length of 5 characters");
}

TEST(HelpersTest, CodePoints) {
  EXPECT_EQ(CodePointLength(""), 0);
  EXPECT_EQ(CodePointLength("abc"), 3);
  EXPECT_EQ(CodePointLength("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"), 3);
  EXPECT_EQ(TruncateCodePoints("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 2), "\xc3\xa9\xe6\x97\xa5");
  EXPECT_EQ(TruncateCodePoints("abc", 5), "abc");
  EXPECT_EQ(TruncateCodePoints("abc", 0), "");
}

TEST(HelpersTest, PosixNormPathMatchesPython) {
  // Expected values printed by Python 3.11 posixpath.normpath.
  const std::pair<std::string, std::string> cases[] = {
      {"", "."},           {".", "."},      {"..", ".."},          {"/", "/"},
      {"//", "//"},        {"///", "/"},    {"a/b/", "a/b"},       {"a//b", "a/b"},
      {"../a", "../a"},    {"a/../b", "b"}, {"a/../../b", "../b"}, {"/../a", "/a"},
      {"//a/../b", "//b"}, {"./a", "a"},    {"a/.", "a"},          {"a/./b/..", "a"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(PosixNormPath(in), want) << in;
}

TEST(HelpersTest, PythonFloatReprMatchesPython) {
  // Expected values printed by Python 3.11 repr(float).
  const std::pair<double, std::string> cases[] = {
      {1.0, "1.0"},
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1.5e-5, "1.5e-05"},
      {0.0001, "0.0001"},
      {123.456, "123.456"},
      {-0.0, "-0.0"},
      {1e100, "1e+100"},
      {2.5e-300, "2.5e-300"},
      {1234567890123456789.0, "1.2345678901234568e+18"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {100.0, "100.0"},
      {0.5, "0.5"},
      {-2.0, "-2.0"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(PythonFloatRepr(in), want) << want;
}

}  // namespace
}  // namespace ferry::tracking
