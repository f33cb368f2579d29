#include "ferry/search/parser.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::search {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// Parses `text`, failing the test (and returning an empty filter) on error.
Filter Parse(std::string_view text, Entity entity = Entity::kRun) {
  absl::StatusOr<Filter> filter = ParseFilter(text, entity);
  EXPECT_TRUE(filter.ok()) << text << " -> " << filter.status();
  return filter.ok() ? *filter : Filter{};
}

// Parses `text` expecting exactly one clause.
Comparison ParseOne(std::string_view text, Entity entity = Entity::kRun) {
  Filter filter = Parse(text, entity);
  EXPECT_EQ(filter.clauses.size(), 1u) << text;
  return filter.clauses.empty() ? Comparison{} : filter.clauses[0];
}

// The error message for a filter that must be rejected as InvalidArgument.
std::string FilterError(std::string_view text, Entity entity = Entity::kRun) {
  absl::StatusOr<Filter> filter = ParseFilter(text, entity);
  EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(filter.status().message());
}

OrderBy ParseClause(std::string_view text, Entity entity = Entity::kRun) {
  absl::StatusOr<OrderBy> order_by = ParseOrderBy(text, entity);
  EXPECT_TRUE(order_by.ok()) << text << " -> " << order_by.status();
  return order_by.ok() ? *order_by : OrderBy{};
}

std::string OrderByError(std::string_view text, Entity entity = Entity::kRun) {
  absl::StatusOr<OrderBy> order_by = ParseOrderBy(text, entity);
  EXPECT_EQ(order_by.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(order_by.status().message());
}

double Number(const Comparison& c) {
  EXPECT_TRUE(std::holds_alternative<double>(c.value)) << c.key;
  return std::holds_alternative<double>(c.value) ? std::get<double>(c.value) : NAN;
}

std::string String(const Comparison& c) {
  EXPECT_TRUE(std::holds_alternative<std::string>(c.value)) << c.key;
  return std::holds_alternative<std::string>(c.value) ? std::get<std::string>(c.value) : "";
}

std::vector<std::string> List(const Comparison& c) {
  EXPECT_TRUE(std::holds_alternative<std::vector<std::string>>(c.value)) << c.key;
  return std::holds_alternative<std::vector<std::string>>(c.value)
             ? std::get<std::vector<std::string>>(c.value)
             : std::vector<std::string>{};
}

// ---------------------------------------------------------------------------
// Valid filters
// ---------------------------------------------------------------------------

TEST(ParseFilterTest, EmptyOrBlankFilterMatchesEverything) {
  EXPECT_THAT(Parse("").clauses, IsEmpty());
  EXPECT_THAT(Parse(" \t\n ").clauses, IsEmpty());
  EXPECT_THAT(Parse("", Entity::kExperiment).clauses, IsEmpty());
}

TEST(ParseFilterTest, MetricComparisonCarriesADouble) {
  Comparison c = ParseOne("metrics.acc >= 0.94");
  EXPECT_EQ(c.key_type, KeyType::kMetric);
  EXPECT_EQ(c.key, "acc");
  EXPECT_EQ(c.op, Comparator::kGe);
  EXPECT_DOUBLE_EQ(Number(c), 0.94);

  c = ParseOne("metric.acc>=100");  // singular prefix, no whitespace
  EXPECT_EQ(c.key_type, KeyType::kMetric);
  EXPECT_DOUBLE_EQ(Number(c), 100);
}

TEST(ParseFilterTest, EveryComparatorForMetrics) {
  EXPECT_EQ(ParseOne("metrics.a = 1").op, Comparator::kEq);
  EXPECT_EQ(ParseOne("metrics.a != 1").op, Comparator::kNe);
  EXPECT_EQ(ParseOne("metrics.a < 1").op, Comparator::kLt);
  EXPECT_EQ(ParseOne("metrics.a <= 1").op, Comparator::kLe);
  EXPECT_EQ(ParseOne("metrics.a > 1").op, Comparator::kGt);
  EXPECT_EQ(ParseOne("metrics.a >= 1").op, Comparator::kGe);
}

TEST(ParseFilterTest, NumberForms) {
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > -1")), -1);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > -.5")), -0.5);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > 1e3")), 1000);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > 2E-3")), 0.002);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > 1e+3")), 1000);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > 1.")), 1);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a > .5")), 0.5);
  EXPECT_DOUBLE_EQ(Number(ParseOne("metrics.a>-3")), -3);
  // Like Python's float(), which MLflow uses.
  EXPECT_TRUE(std::isinf(Number(ParseOne("metrics.a < 1e999"))));
  EXPECT_DOUBLE_EQ(Number(ParseOne("start_time >= 1700000000123")), 1700000000123.0);
}

TEST(ParseFilterTest, ParamsAndTagsTakeSingleOrDoubleQuotedStrings) {
  Comparison c = ParseOne("params.m!='tf'");
  EXPECT_EQ(c.key_type, KeyType::kParam);
  EXPECT_EQ(c.key, "m");
  EXPECT_EQ(c.op, Comparator::kNe);
  EXPECT_EQ(String(c), "tf");

  c = ParseOne(R"(params."m" != "tf")");
  EXPECT_EQ(c.key, "m");
  EXPECT_EQ(String(c), "tf");

  c = ParseOne("tags.version = 'commit-hash'");
  EXPECT_EQ(c.key_type, KeyType::kTag);
  EXPECT_EQ(String(c), "commit-hash");

  EXPECT_EQ(ParseOne("parameter.a = 'x'").key_type, KeyType::kParam);
  EXPECT_EQ(ParseOne("parameters.a = 'x'").key_type, KeyType::kParam);
  EXPECT_EQ(ParseOne("param.a = 'x'").key_type, KeyType::kParam);
  EXPECT_EQ(ParseOne("tag.a = 'x'").key_type, KeyType::kTag);
}

TEST(ParseFilterTest, QuotedAndDottedKeys) {
  EXPECT_EQ(ParseOne("metrics.`spacey name` > 5").key, "spacey name");
  EXPECT_EQ(ParseOne(R"(metric."legit name" >= 0.243)").key, "legit name");
  EXPECT_EQ(ParseOne(R"(metrics."X//Y#$$@&Z" = 3)").key, "X//Y#$$@&Z");
  EXPECT_EQ(ParseOne(R"(metrics."accuracy.2.0" > 5)").key, "accuracy.2.0");
  EXPECT_EQ(ParseOne(R"(tags."t.a.g" = "a")").key, "t.a.g");
  // An unquoted key keeps every dot after the first one, as MLflow splits once.
  EXPECT_EQ(ParseOne("tags.mlflow.runName = 'x'").key, "mlflow.runName");

  Comparison c = ParseOne("`metric`.a >= 0.1");
  EXPECT_EQ(c.key_type, KeyType::kMetric);
  EXPECT_EQ(c.key, "a");
  c = ParseOne("`tags`.`source name` = 'a notebook'");
  EXPECT_EQ(c.key_type, KeyType::kTag);
  EXPECT_EQ(c.key, "source name");
  EXPECT_EQ(String(c), "a notebook");
}

TEST(ParseFilterTest, StringValuesKeepEscapesVerbatimLikeMlflow) {
  // MLflow strips the outer quotes and nothing else.
  EXPECT_EQ(String(ParseOne(R"(params.m = "L'Hosp")")), "L'Hosp");
  EXPECT_EQ(String(ParseOne("tags.x = 'it''s'")), "it''s");
  EXPECT_EQ(String(ParseOne(R"(tags.x = 'a\'b')")), R"(a\'b)");
  // sqlparse's pattern backtracks: the last backslash cannot escape the
  // closing quote when no other quote follows.
  EXPECT_EQ(String(ParseOne(R"(params.dir = 'C:\data\')")), R"(C:\data\)");
  EXPECT_EQ(String(ParseOne("tags.x = ''")), "");
}

TEST(ParseFilterTest, KeywordsAreCaseInsensitive) {
  Filter f = Parse(
      "params.a like 'x%' and tags.b IlIkE '%Y' AnD run_id in ('a') "
      "aNd attributes.run_id nOt In ('b')");
  ASSERT_EQ(f.clauses.size(), 4u);
  EXPECT_EQ(f.clauses[0].op, Comparator::kLike);
  EXPECT_EQ(String(f.clauses[0]), "x%");
  EXPECT_EQ(f.clauses[1].op, Comparator::kILike);
  EXPECT_EQ(f.clauses[2].op, Comparator::kIn);
  EXPECT_EQ(f.clauses[3].op, Comparator::kNotIn);
}

TEST(ParseFilterTest, AndChainKeepsClauseOrder) {
  Filter f = Parse("metrics.rmse < 1 and params.model_class = 'LR' AND tags.t != 'x'");
  ASSERT_EQ(f.clauses.size(), 3u);
  EXPECT_EQ(f.clauses[0].key_type, KeyType::kMetric);
  EXPECT_EQ(f.clauses[0].key, "rmse");
  EXPECT_EQ(f.clauses[1].key_type, KeyType::kParam);
  EXPECT_EQ(f.clauses[1].key, "model_class");
  EXPECT_EQ(f.clauses[2].key_type, KeyType::kTag);
  EXPECT_EQ(f.clauses[2].op, Comparator::kNe);
}

TEST(ParseFilterTest, WhitespaceIsFlexible) {
  Filter f = Parse("\n\tmetrics.a\t>\n1\r\nAND   params.b='c'   ");
  ASSERT_EQ(f.clauses.size(), 2u);
  EXPECT_DOUBLE_EQ(Number(f.clauses[0]), 1);
  EXPECT_EQ(String(f.clauses[1]), "c");
}

TEST(ParseFilterTest, InListsAndPythonLiteralElements) {
  Comparison c = ParseOne(R"(attributes.run_id IN ('a', "b"))");
  EXPECT_EQ(c.key_type, KeyType::kAttribute);
  EXPECT_EQ(c.key, "run_id");
  EXPECT_EQ(c.op, Comparator::kIn);
  EXPECT_THAT(List(c), ElementsAre("a", "b"));

  EXPECT_THAT(List(ParseOne("run_id NOT IN ('x')")), ElementsAre("x"));
  EXPECT_THAT(List(ParseOne("run_id IN ('x',)")), ElementsAre("x"));  // tuple syntax
  // MLflow evaluates the list with ast.literal_eval: escapes are decoded and
  // a doubled quote joins two literals.
  EXPECT_THAT(List(ParseOne(R"(run_id IN ('a\'b', 'c''d', 'e\x41'))")),
              ElementsAre("a'b", "cd", "eA"));
}

TEST(ParseFilterTest, RunAttributesAndAliases) {
  Comparison c = ParseOne("status = 'FINISHED'");  // bare name = attribute
  EXPECT_EQ(c.key_type, KeyType::kAttribute);
  EXPECT_EQ(c.key, "status");

  c = ParseOne("run.status = 'RUNNING'");
  EXPECT_EQ(c.key_type, KeyType::kAttribute);
  EXPECT_EQ(c.key, "status");

  c = ParseOne("created > 5");
  EXPECT_EQ(c.key, "start_time");
  EXPECT_DOUBLE_EQ(Number(c), 5);
  EXPECT_EQ(ParseOne("attr.Created <= 5").key, "start_time");
  EXPECT_EQ(ParseOne("attribute.end_time != 7").key, "end_time");

  EXPECT_EQ(ParseOne("`Run name` = 'x'").key, "run_name");
  EXPECT_EQ(ParseOne("attributes.`Run Name` LIKE 'x%'").key, "run_name");
  EXPECT_EQ(ParseOne(R"("run name" = 'x')").key, "run_name");
  EXPECT_EQ(ParseOne("attributes.artifact_uri = '1/23/4'").key, "artifact_uri");
  EXPECT_EQ(ParseOne("user_id ILIKE '%bob%'").key, "user_id");
}

TEST(ParseFilterTest, RunDatasets) {
  Comparison c = ParseOne("datasets.name = 'my_dataset'");
  EXPECT_EQ(c.key_type, KeyType::kDataset);
  EXPECT_EQ(c.key, "name");
  EXPECT_EQ(String(c), "my_dataset");

  c = ParseOne("dataset.digest IN ('d1', 'd2')");
  EXPECT_EQ(c.key_type, KeyType::kDataset);
  EXPECT_THAT(List(c), ElementsAre("d1", "d2"));
  EXPECT_EQ(ParseOne("datasets.context LIKE 'train%'").op, Comparator::kLike);
}

TEST(ParseFilterTest, ExperimentKeys) {
  Comparison c = ParseOne("name LIKE 'jamie-foo C+%'", Entity::kExperiment);
  EXPECT_EQ(c.key_type, KeyType::kAttribute);
  EXPECT_EQ(c.key, "name");
  EXPECT_EQ(ParseOne("attribute.creation_time > 1", Entity::kExperiment).key, "creation_time");
  EXPECT_DOUBLE_EQ(Number(ParseOne("last_update_time <= 5", Entity::kExperiment)), 5);
  EXPECT_EQ(ParseOne("tags.k = 'v'", Entity::kExperiment).key_type, KeyType::kTag);
  EXPECT_EQ(ParseOne("tag.k != 'v'", Entity::kExperiment).key_type, KeyType::kTag);
}

TEST(ParseFilterTest, LoggedModelKeys) {
  Filter f = Parse(
      "metrics.acc > 0.5 AND params.lr = '0.1' AND name IN ('m1', 'm2') AND "
      "creation_time > 10 AND attributes.last_updated_time < 20 AND status = 'READY'",
      Entity::kLoggedModel);
  ASSERT_EQ(f.clauses.size(), 6u);
  EXPECT_EQ(f.clauses[0].key_type, KeyType::kMetric);
  EXPECT_EQ(f.clauses[1].key_type, KeyType::kParam);
  EXPECT_THAT(List(f.clauses[2]), ElementsAre("m1", "m2"));
  EXPECT_EQ(f.clauses[3].key, "creation_timestamp");
  EXPECT_DOUBLE_EQ(Number(f.clauses[3]), 10);
  EXPECT_EQ(f.clauses[4].key, "last_updated_timestamp");
  EXPECT_EQ(f.clauses[5].key, "status");
  EXPECT_EQ(ParseOne("source_run_id NOT IN ('r')", Entity::kLoggedModel).op, Comparator::kNotIn);
}

// ---------------------------------------------------------------------------
// Invalid filters: code InvalidArgument, message names token and position
// ---------------------------------------------------------------------------

TEST(ParseFilterErrorTest, MessageNamesTokenAndPosition) {
  EXPECT_EQ(FilterError("metrics.x >> 1"),
            "Invalid filter 'metrics.x >> 1': unexpected token '>' at position 11; "
            "expected a number for metric 'x'");
}

TEST(ParseFilterErrorTest, UnclosedQuote) {
  EXPECT_THAT(FilterError("params.acc = 'LR"),
              HasSubstr("unterminated quoted string at position 13: 'LR"));
  EXPECT_THAT(FilterError(R"(tags.acc = "LR')"), HasSubstr("unterminated quoted string"));
  EXPECT_THAT(FilterError("metrics.`a > 1"),
              HasSubstr("unterminated quoted string at position 8: `a > 1"));
}

TEST(ParseFilterErrorTest, MissingPieces) {
  EXPECT_THAT(FilterError("metrics.acc !="),
              HasSubstr("unexpected end of input at position 14; expected a number"));
  EXPECT_THAT(FilterError("params.acc"), HasSubstr("unexpected end of input at position 10; "
                                                   "expected a comparator"));
  EXPECT_THAT(FilterError("params.acc LR !="), HasSubstr("unexpected token 'LR' at position 11"));
  EXPECT_THAT(FilterError("metrics. > 1"), HasSubstr("unexpected token '>' at position 9"));
}

TEST(ParseFilterErrorTest, ComparatorNotValidForKeyKind) {
  EXPECT_THAT(FilterError("params.x > 'a'"),
              HasSubstr("invalid comparator '>' at position 9 for param 'x'"));
  EXPECT_THAT(FilterError("tags.x <= 'a'"), HasSubstr("invalid comparator '<=' at position 7"));
  EXPECT_THAT(FilterError("metrics.x LIKE 1"),
              HasSubstr("invalid comparator 'LIKE' at position 10 for metric 'x'"));
  EXPECT_THAT(FilterError("start_time ilike 5"),
              HasSubstr("invalid comparator 'ilike' at position 11 for attribute 'start_time'"));
  // Value lists: only run_id and datasets.* for runs.
  EXPECT_THAT(FilterError("tags.x IN ('a')"),
              HasSubstr("invalid comparator 'IN' at position 7 for tag 'x'"));
  EXPECT_THAT(FilterError("status NOT IN ('a')"),
              HasSubstr("invalid comparator 'NOT IN' at position 7 for attribute 'status'"));
  EXPECT_THAT(FilterError("metrics.a IN (1)"), HasSubstr("invalid comparator 'IN'"));
}

TEST(ParseFilterErrorTest, ValueOfWrongType) {
  EXPECT_THAT(FilterError("params.acc = LR"),
              HasSubstr("expected a quoted string for param 'acc' but got 'LR' at position 13"));
  EXPECT_THAT(FilterError("params.acc = `LR`"),
              HasSubstr("expected a quoted string for param 'acc' but got '`LR`'"));
  EXPECT_THAT(FilterError("tags.acc = 5"),
              HasSubstr("expected a quoted string for tag 'acc' but got '5' at position 11"));
  EXPECT_THAT(FilterError("attribute.status = 1"), HasSubstr("expected a quoted string"));
  EXPECT_THAT(FilterError("metric.model = 'LR'"),
              HasSubstr("expected a number for metric 'model' but got ''LR'' at position 15"));
  EXPECT_THAT(FilterError("metrics.acc != metrics.acc"), HasSubstr("expected a number"));
  EXPECT_THAT(FilterError("end_time > '5'"),
              HasSubstr("expected a number for attribute 'end_time'"));
}

TEST(ParseFilterErrorTest, OrIsUnsupported) {
  EXPECT_THAT(FilterError("metrics.A > 0.1 OR params.B = 'LR'"),
              HasSubstr("unsupported operator 'OR' at position 16"));
  EXPECT_THAT(FilterError("metrics.A > 0.1 or params.B = 'LR'"),
              HasSubstr("unsupported operator 'or' at position 16"));
}

TEST(ParseFilterErrorTest, TrailingGarbageAndStrayTokens) {
  EXPECT_THAT(FilterError("metrics.a > 1 extra"),
              HasSubstr("unexpected token 'extra' at position 14; expected AND"));
  EXPECT_THAT(FilterError("metric.acc >= 0.94; metrics.rmse < 1"),
              HasSubstr("unexpected token ';' at position 18"));
  EXPECT_THAT(FilterError("metrics.A > 0.1 NAND params.B = 'LR'"),
              HasSubstr("unexpected token 'NAND' at position 16"));
  EXPECT_THAT(FilterError("metrics.A > 0.1 AND (params.B = 'LR')"),
              HasSubstr("unexpected token '(' at position 20"));
  EXPECT_THAT(FilterError("metrics.a > 1 AND"),
              HasSubstr("unexpected end of input at position 17; expected a key"));
  EXPECT_THAT(FilterError("AND metrics.a > 1"), HasSubstr("unexpected token 'AND' at position 0"));
  EXPECT_THAT(FilterError("1.0 > metrics.acc"), HasSubstr("unexpected token '1.0' at position 0"));
  EXPECT_THAT(FilterError("metrics.a == 1"), HasSubstr("unexpected token '=' at position 11"));
  EXPECT_THAT(FilterError("metrics.a <> 1"), HasSubstr("unexpected token '>' at position 11"));
  EXPECT_THAT(FilterError("params.a NOT LIKE 'x'"),
              HasSubstr("unexpected token 'LIKE' at position 13; expected IN after NOT"));
  EXPECT_THAT(FilterError("metrics.val-loss > 1"),
              HasSubstr("unexpected token '-' at position 11"));
}

TEST(ParseFilterErrorTest, BadNumbers) {
  EXPECT_THAT(FilterError("metrics.a > 1e"), HasSubstr("invalid number '1e' at position 12"));
  EXPECT_THAT(FilterError("metrics.a > 0x1F"), HasSubstr("invalid number '0x1F' at position 12"));
  EXPECT_THAT(FilterError("metrics.a > 1.2.3"), HasSubstr("invalid number '1.2.3'"));
  EXPECT_THAT(FilterError("metrics.a > - 1"), HasSubstr("unexpected token '-' at position 12"));
}

TEST(ParseFilterErrorTest, ValueLists) {
  EXPECT_THAT(FilterError("run_id IN ()"),
              HasSubstr("empty value list '()' at position 10; expected at least one"));
  EXPECT_THAT(FilterError("run_id IN ('a', 'b'"),
              HasSubstr("unexpected end of input at position 19; expected ',' or ')'"));
  EXPECT_THAT(FilterError("run_id IN (1)"), HasSubstr("unexpected token '1' at position 11"));
  EXPECT_THAT(FilterError("run_id IN 'a'"),
              HasSubstr("unexpected token ''a'' at position 10; expected '('"));
  EXPECT_THAT(FilterError("run_id IN ('a' 'b')"), HasSubstr("unexpected token ''b''"));
  EXPECT_THAT(FilterError("run_id IN (,)"), HasSubstr("unexpected token ','"));
  // Python rejects a backslash before the closing quote.
  EXPECT_THAT(FilterError(R"(run_id IN ('a\'))"),
              HasSubstr(R"(ill-formed value list element ''a\'' at position 11)"));
}

TEST(ParseFilterErrorTest, UnknownEntityTypesAndKeys) {
  EXPECT_THAT(FilterError("m.acc >= 0.94"), HasSubstr("invalid entity type 'm' at position 0"));
  EXPECT_THAT(FilterError("Metrics.acc >= 0.94"), HasSubstr("invalid entity type 'Metrics'"));
  EXPECT_THAT(FilterError("acc >= 0.94"),
              HasSubstr("invalid attribute key 'acc' at position 0; valid keys are run_id"));
  EXPECT_THAT(FilterError("attribute.lifecycle_stage = 'ACTIVE'"),
              HasSubstr("invalid attribute key 'lifecycle_stage'"));
  EXPECT_THAT(FilterError("attribute.experiment_id != '1'"),
              HasSubstr("invalid attribute key 'experiment_id'"));
  EXPECT_THAT(FilterError("CREATED > 1"), HasSubstr("invalid attribute key 'CREATED'"));
  EXPECT_THAT(FilterError("dataset.status = 'true'"),
              HasSubstr("invalid dataset key 'status' at position 0; valid keys are name"));
  EXPECT_THAT(FilterError(R"("metrics".a > 1)"), HasSubstr(R"(invalid entity type '"metrics"')"));
  EXPECT_THAT(FilterError("metrics . x > 1"), HasSubstr("invalid attribute key 'metrics'"));
  EXPECT_THAT(FilterError("metrics.`` > 1"), HasSubstr("empty key name"));
}

TEST(ParseFilterErrorTest, ExperimentRules) {
  // SearchExperimentsUtils only knows attribute/tag/tags, and only unquoted.
  EXPECT_THAT(FilterError("attributes.name = 'x'", Entity::kExperiment),
              HasSubstr("invalid entity type 'attributes'"));
  EXPECT_THAT(FilterError("metrics.x > 1", Entity::kExperiment),
              HasSubstr("invalid entity type 'metrics'"));
  EXPECT_THAT(FilterError("`tags`.x = 'a'", Entity::kExperiment),
              HasSubstr("invalid entity type '`tags`'"));
  EXPECT_THAT(FilterError("name IN ('a')", Entity::kExperiment),
              HasSubstr("invalid comparator 'IN' at position 5 for attribute 'name'"));
  EXPECT_THAT(FilterError("experiment_id = '1'", Entity::kExperiment),
              HasSubstr("invalid attribute key 'experiment_id'"));
  EXPECT_THAT(FilterError("creation_time = 'yesterday'", Entity::kExperiment),
              HasSubstr("expected a number for attribute 'creation_time'"));
}

TEST(ParseFilterErrorTest, LoggedModelRules) {
  EXPECT_THAT(FilterError("datasets.name = 'x'", Entity::kLoggedModel),
              HasSubstr("invalid entity type 'datasets'"));
  EXPECT_THAT(FilterError("start_time > 1", Entity::kLoggedModel),
              HasSubstr("invalid attribute key 'start_time'"));
  EXPECT_THAT(FilterError("creation_timestamp IN ('1')", Entity::kLoggedModel),
              HasSubstr("invalid comparator 'IN'"));
}

TEST(ParseFilterErrorTest, MessagesArePrintable) {
  std::string message = FilterError(std::string("params.a = 'x\x01\xff", 15));
  EXPECT_THAT(message, HasSubstr(R"('x\x01\xFF)"));
  EXPECT_EQ(message.find('\x01'), std::string::npos);
  EXPECT_EQ(message.find('\xff'), std::string::npos);
}

TEST(ParseFilterErrorTest, UnknownEntityValue) {
  EXPECT_EQ(ParseFilter("", static_cast<Entity>(42)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// order_by
// ---------------------------------------------------------------------------

TEST(ParseOrderByTest, KeyAndDirection) {
  for (const char* text : {"metrics.`Mean Square Error`", "metrics.`Mean Square Error` ASC"}) {
    OrderBy o = ParseClause(text);
    EXPECT_EQ(o.key_type, KeyType::kMetric);
    EXPECT_EQ(o.key, "Mean Square Error");
    EXPECT_TRUE(o.ascending) << text;
  }
  OrderBy o = ParseClause("metrics.`Mean Square Error` DESC");
  EXPECT_EQ(o.key, "Mean Square Error");
  EXPECT_FALSE(o.ascending);

  o = ParseClause(R"(metrics."key1"  desc)");
  EXPECT_EQ(o.key, "key1");
  EXPECT_FALSE(o.ascending);

  o = ParseClause("params.my_param aSc");
  EXPECT_EQ(o.key_type, KeyType::kParam);
  EXPECT_TRUE(o.ascending);

  EXPECT_EQ(ParseClause("tags.mlflow.runName").key, "mlflow.runName");
}

TEST(ParseOrderByTest, RunAttributes) {
  OrderBy o = ParseClause("attributes.start_time");
  EXPECT_EQ(o.key_type, KeyType::kAttribute);
  EXPECT_EQ(o.key, "start_time");
  EXPECT_EQ(ParseClause("created DESC").key, "start_time");
  EXPECT_EQ(ParseClause("run_name").key, "run_name");
  EXPECT_EQ(ParseClause("status DESC").key, "status");
  EXPECT_EQ(ParseClause("end_time").key, "end_time");
}

TEST(ParseOrderByTest, ExperimentAndLoggedModelKeys) {
  EXPECT_EQ(ParseClause("experiment_id DESC", Entity::kExperiment).key, "experiment_id");
  EXPECT_EQ(ParseClause("attribute.last_update_time", Entity::kExperiment).key, "last_update_time");
  EXPECT_EQ(ParseClause("name", Entity::kExperiment).key, "name");

  OrderBy o = ParseClause("metrics.acc DESC", Entity::kLoggedModel);
  EXPECT_EQ(o.key_type, KeyType::kMetric);
  EXPECT_EQ(o.key, "acc");
  EXPECT_FALSE(o.ascending);
  // Logged-model field names are stripped, and creation_time is an alias.
  EXPECT_EQ(ParseClause(" creation_time ", Entity::kLoggedModel).key, "creation_timestamp");
}

TEST(ParseOrderByErrorTest, InvalidClauses) {
  EXPECT_THAT(OrderByError("m.acc"), HasSubstr("invalid entity type 'm' at position 0"));
  EXPECT_THAT(OrderByError("acc"), HasSubstr("invalid attribute key 'acc' at position 0"));
  EXPECT_THAT(OrderByError("attribute.start"), HasSubstr("invalid attribute key 'start'"));
  EXPECT_THAT(OrderByError("attribute.experiment_id"),
              HasSubstr("invalid attribute key 'experiment_id'"));
  EXPECT_THAT(OrderByError("`metrics.A"), HasSubstr("unterminated quoted string at position 0"));
  EXPECT_THAT(OrderByError("`metrics.A`"), HasSubstr("invalid attribute key 'metrics.A'"));
  EXPECT_THAT(OrderByError("metrics.A != 1"), HasSubstr("unexpected token '!=' at position 10"));
  EXPECT_THAT(OrderByError("attribute.run_id ACS"),
              HasSubstr("unexpected token 'ACS' at position 17; expected ASC, DESC"));
  EXPECT_THAT(OrderByError("metrics.a DESC DESC"),
              HasSubstr("unexpected token 'DESC' at position 15"));
  EXPECT_THAT(OrderByError("params.my_param "), HasSubstr("unexpected whitespace at position 15"));
  EXPECT_THAT(OrderByError(" params.my_param"), HasSubstr("unexpected whitespace at position 0"));
  EXPECT_THAT(OrderByError(""), HasSubstr("empty order_by clause"));
  EXPECT_THAT(OrderByError("datasets.name"), HasSubstr("invalid entity type 'datasets'"));
  // The run-name aliases work in filters only.
  EXPECT_THAT(OrderByError("`Run name`"), HasSubstr("invalid attribute key 'Run name'"));
  EXPECT_THAT(OrderByError("tags.x", Entity::kExperiment), HasSubstr("invalid entity type 'tags'"));
  EXPECT_THAT(OrderByError("metric.acc", Entity::kLoggedModel),
              HasSubstr("invalid entity type 'metric'"));
  EXPECT_THAT(OrderByError("attributes.name", Entity::kLoggedModel),
              HasSubstr("invalid entity type 'attributes'"));
  EXPECT_THAT(OrderByError("  ", Entity::kLoggedModel), HasSubstr("empty order_by clause"));
  // Positions stay relative to the original text after stripping.
  EXPECT_THAT(OrderByError("  bogus", Entity::kLoggedModel),
              HasSubstr("invalid attribute key 'bogus' at position 2"));
}

TEST(ParseOrderByListTest, KeepsOrder) {
  absl::StatusOr<std::vector<OrderBy>> list =
      ParseOrderByList({"params.my_param DESC", "attributes.status", "metrics.a"}, Entity::kRun);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].key, "my_param");
  EXPECT_FALSE((*list)[0].ascending);
  EXPECT_EQ((*list)[1].key, "status");
  EXPECT_EQ((*list)[2].key_type, KeyType::kMetric);
  EXPECT_THAT(ParseOrderByList({}, Entity::kRun).value(), IsEmpty());
}

TEST(ParseOrderByListTest, RejectsDuplicates) {
  absl::StatusOr<std::vector<OrderBy>> list =
      ParseOrderByList({"start_time", "created DESC"}, Entity::kRun);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(list.status().message()),
              AllOf(StartsWith("order_by contains duplicate fields"),
                    HasSubstr("'start_time' and 'created DESC' both order by attribute "
                              "'start_time'")));

  EXPECT_THAT(
      std::string(
          ParseOrderByList({"metrics.a", "metric.`a` DESC"}, Entity::kRun).status().message()),
      HasSubstr("order_by contains duplicate fields"));
  // Same name, different key types: not a duplicate.
  EXPECT_TRUE(ParseOrderByList({"metrics.a", "params.a", "tags.a"}, Entity::kRun).ok());
  EXPECT_THAT(
      std::string(ParseOrderByList({"creation_time", "creation_timestamp"}, Entity::kLoggedModel)
                      .status()
                      .message()),
      HasSubstr("duplicate"));
}

TEST(ParseOrderByListTest, PropagatesClauseErrors) {
  absl::StatusOr<std::vector<OrderBy>> list =
      ParseOrderByList({"metrics.a", "bogus"}, Entity::kRun);
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(list.status().message()),
              AllOf(HasSubstr("Invalid order_by clause 'bogus'"), Not(HasSubstr("duplicate"))));
}

// ---------------------------------------------------------------------------
// Model registry: registered models and model versions
// ---------------------------------------------------------------------------

TEST(ParseFilterTest, RegisteredModelKeys) {
  constexpr Entity kModel = Entity::kRegisteredModel;
  Comparison c = ParseOne("name = 'credit'", kModel);
  EXPECT_EQ(c.key_type, KeyType::kAttribute);
  EXPECT_EQ(c.key, "name");
  EXPECT_EQ(String(c), "credit");
  EXPECT_EQ(ParseOne("attribute.name != 'x'", kModel).op, Comparator::kNe);
  EXPECT_EQ(ParseOne("name like 'cr%'", kModel).op, Comparator::kLike);
  EXPECT_EQ(ParseOne("name ILIKE '%CR%'", kModel).op, Comparator::kILike);
  Comparison tag = ParseOne("tags.`team name` = 'risk'", kModel);
  EXPECT_EQ(tag.key_type, KeyType::kTag);
  EXPECT_EQ(tag.key, "team name");
  EXPECT_EQ(ParseOne("tag.owner LIKE 'a%'", kModel).key, "owner");
  EXPECT_EQ(Parse("name = 'a' AND tags.k = 'v' AND tags.j != 'w'", kModel).clauses.size(), 3u);
}

TEST(ParseFilterErrorTest, RegisteredModelRules) {
  constexpr Entity kModel = Entity::kRegisteredModel;
  EXPECT_THAT(FilterError("run_id = 'x'", kModel), HasSubstr("invalid attribute key 'run_id'"));
  EXPECT_THAT(FilterError("creation_timestamp > 1", kModel),
              HasSubstr("invalid attribute key 'creation_timestamp'"));
  EXPECT_THAT(FilterError("name IN ('a')", kModel),
              HasSubstr("invalid comparator 'IN' at position 5 for attribute 'name'"));
  EXPECT_THAT(FilterError("name > 'a'", kModel), HasSubstr("invalid comparator '>'"));
  EXPECT_THAT(FilterError("name = 3", kModel), HasSubstr("expected a quoted string"));
  EXPECT_THAT(FilterError("params.a = 'x'", kModel), HasSubstr("invalid entity type 'params'"));
  EXPECT_THAT(FilterError("attributes.name = 'x'", kModel),
              HasSubstr("invalid entity type 'attributes'"));
  EXPECT_THAT(FilterError("`tags`.x = 'a'", kModel), HasSubstr("invalid entity type '`tags`'"));
  EXPECT_THAT(FilterError("tags.k < 'v'", kModel), HasSubstr("invalid comparator '<'"));
  EXPECT_THAT(FilterError("name = 'a' OR name = 'b'", kModel), HasSubstr("only support AND"));
}

TEST(ParseFilterTest, ModelVersionKeys) {
  constexpr Entity kVersion = Entity::kModelVersion;
  EXPECT_EQ(ParseOne("name = 'credit'", kVersion).key, "name");
  Comparison number = ParseOne("version_number >= 3", kVersion);
  EXPECT_EQ(number.key, "version_number");
  EXPECT_EQ(number.op, Comparator::kGe);
  EXPECT_DOUBLE_EQ(Number(number), 3);
  // MLflow compares a quoted version number against the integer column.
  EXPECT_DOUBLE_EQ(Number(ParseOne("version_number = '7'", kVersion)), 7);
  Comparison in = ParseOne("run_id IN ('a1', 'b2')", kVersion);
  EXPECT_EQ(in.op, Comparator::kIn);
  EXPECT_THAT(List(in), ElementsAre("a1", "b2"));
  EXPECT_EQ(ParseOne("run_id = 'a1'", kVersion).op, Comparator::kEq);
  Comparison source = ParseOne("source_path LIKE 'runs:/%'", kVersion);
  EXPECT_EQ(source.key, "source_path");
  EXPECT_EQ(String(source), "runs:/%");
  EXPECT_EQ(ParseOne("tags.\"quality\" = 'gold'", kVersion).key, "quality");
  EXPECT_EQ(ParseOne("attribute.run_id != 'x'", kVersion).key, "run_id");
}

TEST(ParseFilterErrorTest, ModelVersionRules) {
  constexpr Entity kVersion = Entity::kModelVersion;
  EXPECT_THAT(FilterError("run_id NOT IN ('a')", kVersion),
              HasSubstr("invalid comparator 'NOT IN'"));
  EXPECT_THAT(FilterError("name IN ('a')", kVersion), HasSubstr("invalid comparator 'IN'"));
  EXPECT_THAT(FilterError("source_path IN ('a')", kVersion), HasSubstr("invalid comparator 'IN'"));
  EXPECT_THAT(FilterError("version_number LIKE '1'", kVersion),
              HasSubstr("invalid comparator 'LIKE'"));
  EXPECT_THAT(FilterError("version_number = 'latest'", kVersion),
              HasSubstr("expected an integer for attribute 'version_number'"));
  EXPECT_THAT(FilterError("creation_timestamp > 1", kVersion),
              HasSubstr("invalid attribute key 'creation_timestamp'"));
  EXPECT_THAT(FilterError("current_stage = 'Production'", kVersion),
              HasSubstr("invalid attribute key 'current_stage'"));
  EXPECT_THAT(FilterError("run_id = 5", kVersion), HasSubstr("expected a quoted string"));
  EXPECT_THAT(FilterError("metrics.a > 1", kVersion), HasSubstr("invalid entity type 'metrics'"));
}

TEST(ParseOrderByTest, RegistryKeys) {
  constexpr Entity kModel = Entity::kRegisteredModel;
  constexpr Entity kVersion = Entity::kModelVersion;
  EXPECT_EQ(ParseClause("name DESC", kModel).key, "name");
  EXPECT_FALSE(ParseClause("name DESC", kModel).ascending);
  EXPECT_EQ(ParseClause("creation_timestamp", kModel).key, "creation_timestamp");
  EXPECT_EQ(ParseClause("last_updated_timestamp ASC", kModel).key, "last_updated_timestamp");
  // MLflow's SQL store: "timestamp" orders by the last-update time.
  EXPECT_EQ(ParseClause("timestamp DESC", kModel).key, "last_updated_timestamp");
  EXPECT_EQ(ParseClause("attribute.name", kModel).key, "name");
  EXPECT_EQ(ParseClause("version_number DESC", kVersion).key, "version_number");
  EXPECT_EQ(ParseClause("creation_timestamp", kVersion).key, "creation_timestamp");
  EXPECT_EQ(ParseClause("last_updated_timestamp", kVersion).key, "last_updated_timestamp");
  EXPECT_EQ(ParseClause("name", kVersion).key, "name");
}

TEST(ParseOrderByErrorTest, RegistryClauses) {
  constexpr Entity kModel = Entity::kRegisteredModel;
  constexpr Entity kVersion = Entity::kModelVersion;
  EXPECT_THAT(OrderByError("version_number", kModel),
              HasSubstr("invalid attribute key 'version_number'"));
  EXPECT_THAT(OrderByError("tags.owner", kModel), HasSubstr("invalid entity type 'tags'"));
  EXPECT_THAT(OrderByError(" name", kModel), HasSubstr("unexpected whitespace at position 0"));
  EXPECT_THAT(OrderByError("timestamp", kVersion), HasSubstr("invalid attribute key 'timestamp'"));
  EXPECT_THAT(OrderByError("run_id", kVersion), HasSubstr("invalid attribute key 'run_id'"));
  EXPECT_THAT(std::string(ParseOrderByList({"timestamp", "last_updated_timestamp DESC"}, kModel)
                              .status()
                              .message()),
              HasSubstr("duplicate"));
}

}  // namespace
}  // namespace ferry::search
