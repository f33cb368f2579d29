#include "ferry/governance/policy.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::governance {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::vector<store::Metric> Metrics(std::vector<std::pair<std::string, double>> values) {
  std::vector<store::Metric> out;
  for (auto& [key, value] : values) out.push_back(store::Metric{.key = key, .value = value});
  return out;
}

store::Approval Approve(std::string user, int64_t version = 2,
                        std::string target = "alias:champion") {
  return store::Approval{.version = version, .target = std::move(target), .user = std::move(user)};
}

// ------------------------------------------------------------------ parsing

TEST(ParsePolicyJson, ParsesEveryField) {
  auto policy = ParsePolicyJson(R"({
    "protected_aliases": ["champion"], "protected_stages": ["Production"],
    "conditions": ["auc >= 0.80", "auc >= champion.auc - 0.005"],
    "required_tags": {"validation_status": "passed", "reviewed": "yes"},
    "required_approvals": 2})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(policy->protected_aliases, ElementsAre("champion"));
  EXPECT_THAT(policy->protected_stages, ElementsAre("Production"));
  EXPECT_THAT(policy->conditions, ElementsAre("auc >= 0.80", "auc >= champion.auc - 0.005"));
  EXPECT_THAT(policy->required_tags,
              ElementsAre(Pair("validation_status", "passed"), Pair("reviewed", "yes")));
  EXPECT_EQ(policy->required_approvals, 2);
}

TEST(ParsePolicyJson, EmptyObjectIsTheEmptyPolicy) {
  auto policy = ParsePolicyJson("{}");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(policy->protected_aliases, IsEmpty());
  EXPECT_THAT(policy->conditions, IsEmpty());
  EXPECT_EQ(policy->required_approvals, 0);
  EXPECT_FALSE(IsProtected(*policy, "alias:champion"));
}

TEST(ParsePolicyJson, CanonicalisesStageCasing) {
  auto policy = ParsePolicyJson(R"({"protected_stages": ["production", "STAGING"]})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(policy->protected_stages, ElementsAre("Production", "Staging"));
}

TEST(PolicyJson, RoundTripKeepsEveryFieldAndTagOrder) {
  Policy policy{.protected_aliases = {"champion", "challenger"},
                .protected_stages = {"Production"},
                .conditions = {"`val auc` > 0.7", "loss <= champion.loss + 0.01"},
                .required_tags = {{"z_last", "1"}, {"a_first", "2"}},
                .required_approvals = 3};
  std::string text = PolicyToJson(policy);
  EXPECT_EQ(text,
            R"({"protected_aliases":["champion","challenger"],"protected_stages":["Production"],)"
            R"("conditions":["`val auc` > 0.7","loss <= champion.loss + 0.01"],)"
            R"("required_tags":{"z_last":"1","a_first":"2"},"required_approvals":3})");
  auto back = ParsePolicyJson(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->protected_aliases, policy.protected_aliases);
  EXPECT_EQ(back->protected_stages, policy.protected_stages);
  EXPECT_EQ(back->conditions, policy.conditions);
  EXPECT_EQ(back->required_tags, policy.required_tags);
  EXPECT_EQ(back->required_approvals, policy.required_approvals);
}

TEST(PolicyJson, DefaultPolicyRoundTrips) {
  auto back = ParsePolicyJson(PolicyToJson(Policy{}));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->protected_stages, IsEmpty());
  EXPECT_THAT(back->required_tags, IsEmpty());
}

struct InvalidPolicy {
  const char* json;
  const char* message_part;
};

class InvalidPolicyTest : public ::testing::TestWithParam<InvalidPolicy> {};

TEST_P(InvalidPolicyTest, IsInvalidArgumentNamingTheProblem) {
  auto policy = ParsePolicyJson(GetParam().json);
  ASSERT_FALSE(policy.ok()) << GetParam().json;
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Policies, InvalidPolicyTest,
    ::testing::Values(
        InvalidPolicy{"{", "not valid JSON"}, InvalidPolicy{"[]", "must be a JSON object"},
        InvalidPolicy{R"({"required_approval": 2})", "unknown policy field 'required_approval'"},
        InvalidPolicy{R"({"protected_aliases": "champion"})", "'protected_aliases'"},
        InvalidPolicy{R"({"protected_aliases": [1]})", "'protected_aliases'"},
        InvalidPolicy{R"({"protected_aliases": ["bad alias"]})", "invalid alias name 'bad alias'"},
        InvalidPolicy{R"({"protected_aliases": [""]})", "invalid alias name ''"},
        InvalidPolicy{R"({"protected_stages": ["Prod"]})", "unknown stage 'Prod'"},
        InvalidPolicy{R"({"conditions": "auc >= 1"})", "'conditions'"},
        InvalidPolicy{R"({"conditions": ["auc >= 0.8", "auc >> 1"]})", "\"auc >> 1\""},
        InvalidPolicy{R"({"required_tags": ["a"]})", "'required_tags'"},
        InvalidPolicy{R"({"required_tags": {"a": 1}})", "tag 'a' must be a string"},
        InvalidPolicy{R"({"required_approvals": -1})", "'required_approvals'"},
        InvalidPolicy{R"({"required_approvals": 101})", "'required_approvals'"},
        InvalidPolicy{R"({"required_approvals": 1.5})", "'required_approvals'"},
        InvalidPolicy{R"({"required_approvals": "2"})", "'required_approvals'"},
        InvalidPolicy{R"({"required_approvals": 18446744073709551615})", "'required_approvals'"},
        InvalidPolicy{
            R"({"protected_stages": ["Production"], "conditions": ["auc >= champion.auc"]})",
            "compares with 'champion', which is not a protected alias or stage"}));

TEST(ParsePolicyJson, RejectsOversizedInput) {
  std::string huge = R"({"conditions": [")" + std::string(kMaxPolicyJsonBytes, 'a') + R"("]})";
  auto policy = ParsePolicyJson(huge);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("larger than"));
}

TEST(ParsePolicyJson, AcceptsHolderNamingAProtectedStageInAnyCase) {
  auto policy = ParsePolicyJson(
      R"({"protected_stages": ["Production"], "conditions": ["loss <= production.loss"]})");
  EXPECT_TRUE(policy.ok()) << policy.status();
}

// --------------------------------------------------------------- conditions

class ValidConditionTest : public ::testing::TestWithParam<const char*> {};
TEST_P(ValidConditionTest, Accepted) {
  EXPECT_TRUE(ValidateCondition(GetParam()).ok())
      << GetParam() << ": " << ValidateCondition(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Conditions, ValidConditionTest,
                         ::testing::Values("auc >= 0.80", "auc>=0.8", "  auc > 1  ", "loss < 1e-3",
                                           "val/auc <= .5", "a.b-c_d == 3", "x != -1", "x >= +2",
                                           "`val auc` > 0.1", "auc >= champion.auc",
                                           "auc >= champion.auc - 0.005",
                                           "auc >= champion.auc -0.005", "auc >= champion.auc + 1",
                                           "auc > champion.`val auc` + .5",
                                           "loss <= Production.loss", "f1 >= champion.val.f1"));

class InvalidConditionTest : public ::testing::TestWithParam<const char*> {};
TEST_P(InvalidConditionTest, Rejected) {
  absl::Status status = ValidateCondition(GetParam());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << GetParam();
  EXPECT_THAT(std::string(status.message()), HasSubstr("invalid condition"));
}
INSTANTIATE_TEST_SUITE_P(Conditions, InvalidConditionTest,
                         ::testing::Values("", "   ", "auc", "auc >=", "auc => 1", "auc = 1",
                                           "auc >= 0.8 extra", "auc >= champion", "auc >= .auc",
                                           "auc >= champion.auc * 2", "auc >= champion.auc - x",
                                           "auc >= champion.auc -", "auc >= 0.8 - 1", "`auc >= 1",
                                           "`` >= 1", "auc >= inf", "auc >= nan", "auc >= 1e999",
                                           "auc >= 0x10", "auc >= cham pion.auc", "au c >= 1",
                                           "auc >= champion.", "auc >= champ!on.auc", ">= 1"));

TEST(ValidateCondition, MessageQuotesTheCondition) {
  absl::Status status = ValidateCondition("auc => 1");
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"auc => 1\""));
  EXPECT_THAT(std::string(status.message()), HasSubstr("expected an operator"));
}

TEST(ValidateCondition, RejectsOverlongConditions) {
  EXPECT_FALSE(ValidateCondition("a >= 1" + std::string(2000, ' ')).ok());
}

// --------------------------------------------------------------- protection

TEST(IsProtected, AliasesExactStagesIgnoringCase) {
  Policy policy{.protected_aliases = {"champion"}, .protected_stages = {"Production"}};
  EXPECT_TRUE(IsProtected(policy, "alias:champion"));
  EXPECT_FALSE(IsProtected(policy, "alias:Champion"));
  EXPECT_FALSE(IsProtected(policy, "alias:challenger"));
  EXPECT_TRUE(IsProtected(policy, "stage:Production"));
  EXPECT_TRUE(IsProtected(policy, "stage:production"));
  EXPECT_FALSE(IsProtected(policy, "stage:Staging"));
  EXPECT_FALSE(IsProtected(policy, "champion"));
  EXPECT_FALSE(IsProtected(policy, "alias:"));
  EXPECT_FALSE(IsProtected(policy, "stage:champion"));
  EXPECT_FALSE(IsProtected(policy, "alias:Production"));
}

// -------------------------------------------------------------------- gates

class GatesTest : public ::testing::Test {
 protected:
  GateInput Input(std::string target = "alias:champion") {
    GateInput input;
    input.target = std::move(target);
    input.candidate_version = 2;
    input.candidate_metrics = &candidate_metrics_;
    input.candidate_version_tags = &version_tags_;
    input.candidate_run_tags = &run_tags_;
    input.holder_version = 1;
    input.holder_metrics = &holder_metrics_;
    return input;
  }

  Policy policy_{.protected_aliases = {"champion"}, .protected_stages = {"Production"}};
  std::vector<store::Metric> candidate_metrics_ = Metrics({{"auc", 0.88}, {"loss", 0.3}});
  std::vector<store::Metric> holder_metrics_ = Metrics({{"auc", 0.91}, {"loss", 0.2}});
  std::vector<store::Tag> version_tags_;
  std::vector<store::Tag> run_tags_;
};

TEST_F(GatesTest, ThresholdFailureNamesTheValue) {
  policy_.conditions = {"auc >= 0.80"};
  candidate_metrics_ = Metrics({{"auc", 0.7123}});
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("auc >= 0.80: candidate version 2 has auc = 0.7123"));
}

TEST_F(GatesTest, ThresholdPasses) {
  policy_.conditions = {"auc >= 0.80", "loss < 0.5", "auc != 1"};
  EXPECT_THAT(EvaluateGates(policy_, Input()), IsEmpty());
}

TEST_F(GatesTest, EachOperatorIsApplied) {
  candidate_metrics_ = Metrics({{"m", 2}});
  struct Case {
    const char* condition;
    bool passes;
  };
  for (const Case& c :
       {Case{"m >= 2", true}, Case{"m >= 2.5", false}, Case{"m > 2", false}, Case{"m > 1", true},
        Case{"m <= 2", true}, Case{"m <= 1", false}, Case{"m < 2", false}, Case{"m < 3", true},
        Case{"m == 2", true}, Case{"m == 3", false}, Case{"m != 2", false}, Case{"m != 3", true}}) {
    policy_.conditions = {c.condition};
    EXPECT_EQ(EvaluateGates(policy_, Input()).empty(), c.passes) << c.condition;
  }
}

TEST_F(GatesTest, ComparisonWithHolderExplainsTheBound) {
  policy_.conditions = {"auc >= champion.auc - 0.005"};
  EXPECT_THAT(
      EvaluateGates(policy_, Input()),
      ElementsAre("auc >= champion.auc - 0.005: champion (version 1) has auc = 0.91, so auc "
                  "must be >= 0.905; candidate has 0.88"));
  candidate_metrics_ = Metrics({{"auc", 0.906}});
  EXPECT_THAT(EvaluateGates(policy_, Input()), IsEmpty());
}

TEST_F(GatesTest, ComparisonWithoutOffsetAndPositiveOffset) {
  policy_.conditions = {"auc > champion.auc", "loss <= champion.loss + 0.05"};
  EXPECT_THAT(
      EvaluateGates(policy_, Input()),
      ElementsAre("auc > champion.auc: champion (version 1) has auc = 0.91, so auc must be > "
                  "0.91; candidate has 0.88",
                  "loss <= champion.loss + 0.05: champion (version 1) has loss = 0.2, so loss "
                  "must be <= 0.25; candidate has 0.3"));
}

TEST_F(GatesTest, ComparisonPassesWhenThereIsNoHolder) {
  policy_.conditions = {"auc >= champion.auc"};
  GateInput input = Input();
  input.holder_version.reset();
  input.holder_metrics = nullptr;
  EXPECT_THAT(EvaluateGates(policy_, input), IsEmpty());
}

TEST_F(GatesTest, ComparisonPassesWhenTheCandidateIsTheHolder) {
  policy_.conditions = {"auc > champion.auc"};
  GateInput input = Input();
  input.holder_version = 2;
  input.holder_metrics = &candidate_metrics_;
  EXPECT_THAT(EvaluateGates(policy_, input), IsEmpty());
}

TEST_F(GatesTest, MissingCandidateMetric) {
  policy_.conditions = {"f1 >= 0.5", "f1 >= champion.f1"};
  holder_metrics_ = Metrics({{"f1", 0.4}});
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("f1 >= 0.5: metric f1 is not logged on the candidate's run",
                          "f1 >= champion.f1: metric f1 is not logged on the candidate's run"));
}

TEST_F(GatesTest, CandidateWithoutRun) {
  policy_.conditions = {"auc >= 0.5"};
  GateInput input = Input();
  input.candidate_metrics = nullptr;
  EXPECT_THAT(EvaluateGates(policy_, input),
              ElementsAre("auc >= 0.5: candidate version 2 has no source run, so metric auc cannot "
                          "be checked"));
}

TEST_F(GatesTest, MissingHolderMetricFails) {
  policy_.conditions = {"auc >= champion.auc"};
  holder_metrics_ = Metrics({{"loss", 0.1}});
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("auc >= champion.auc: metric auc is not logged on the run of champion "
                          "(version 1), so the comparison cannot be made"));
}

TEST_F(GatesTest, HolderWithoutRunFails) {
  policy_.conditions = {"auc >= champion.auc"};
  GateInput input = Input();
  input.holder_metrics = nullptr;
  EXPECT_THAT(EvaluateGates(policy_, input),
              ElementsAre("auc >= champion.auc: champion (version 1) has no source run, so auc "
                          "cannot be compared"));
}

TEST_F(GatesTest, ComparisonAboutAnotherTargetDoesNotApply) {
  policy_.conditions = {"auc >= champion.auc", "auc >= 0.95"};
  std::vector<std::string> failures = EvaluateGates(policy_, Input("stage:Production"));
  EXPECT_THAT(failures, ElementsAre("auc >= 0.95: candidate version 2 has auc = 0.88"));
}

TEST_F(GatesTest, StageHolderMatchesIgnoringCase) {
  policy_.conditions = {"loss <= production.loss"};
  EXPECT_THAT(EvaluateGates(policy_, Input("stage:Production")),
              ElementsAre("loss <= production.loss: Production (version 1) has loss = 0.2, so loss "
                          "must be <= 0.2; candidate has 0.3"));
}

TEST_F(GatesTest, QuotedMetricNames) {
  candidate_metrics_ = Metrics({{"val auc", 0.5}});
  holder_metrics_ = Metrics({{"val auc", 0.6}});
  policy_.conditions = {"`val auc` >= champion.`val auc`"};
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre(HasSubstr("champion (version 1) has val auc = 0.6")));
}

TEST_F(GatesTest, NanFailsComparisons) {
  candidate_metrics_ = Metrics({{"auc", std::numeric_limits<double>::quiet_NaN()}});
  policy_.conditions = {"auc >= 0", "auc != 1"};
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("auc >= 0: candidate version 2 has auc = nan"));
}

TEST_F(GatesTest, RequiredTagMissing) {
  policy_.required_tags = {{"validation_status", "passed"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("required tag validation_status = passed: tag is missing"));
}

TEST_F(GatesTest, RequiredTagWrongValue) {
  policy_.required_tags = {{"validation_status", "passed"}};
  version_tags_ = {{"validation_status", "failed"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("required tag validation_status = passed: the version has "
                          "validation_status = failed"));
  version_tags_.clear();
  run_tags_ = {{"validation_status", "pending"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre("required tag validation_status = passed: the source run has "
                          "validation_status = pending"));
}

TEST_F(GatesTest, RequiredTagOnEitherVersionOrRun) {
  policy_.required_tags = {{"validation_status", "passed"}};
  run_tags_ = {{"validation_status", "passed"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()), IsEmpty());
  run_tags_.clear();
  version_tags_ = {{"validation_status", "passed"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()), IsEmpty());
  version_tags_ = {{"validation_status", "failed"}};
  run_tags_ = {{"validation_status", "passed"}};
  EXPECT_THAT(EvaluateGates(policy_, Input()), IsEmpty());
}

TEST_F(GatesTest, RequiredTagWithoutRunOrTags) {
  policy_.required_tags = {{"k", "v"}};
  GateInput input = Input();
  input.candidate_version_tags = nullptr;
  input.candidate_run_tags = nullptr;
  EXPECT_THAT(EvaluateGates(policy_, input), ElementsAre("required tag k = v: tag is missing"));
}

TEST_F(GatesTest, ApprovalsCountOncePerUser) {
  policy_.required_approvals = 2;
  GateInput input = Input();
  input.approvals = {Approve("alice"), Approve("alice")};
  EXPECT_THAT(EvaluateGates(policy_, input),
              ElementsAre("required approvals: 1 of 2 (from: alice)"));
  input.approvals.push_back(Approve("bob"));
  EXPECT_THAT(EvaluateGates(policy_, input), IsEmpty());
}

TEST_F(GatesTest, ApprovalsForOtherVersionsOrTargetsDoNotCount) {
  policy_.required_approvals = 2;
  GateInput input = Input();
  input.approvals = {Approve("alice"), Approve("bob", /*version=*/1),
                     Approve("carol", 2, "alias:challenger"),
                     Approve("dave", 2, "stage:Production"), Approve("", 2)};
  EXPECT_THAT(EvaluateGates(policy_, input),
              ElementsAre("required approvals: 1 of 2 (from: alice)"));
}

TEST_F(GatesTest, StageApprovalsMatchIgnoringCase) {
  policy_.required_approvals = 1;
  GateInput input = Input("stage:Production");
  input.approvals = {Approve("alice", 2, "stage:production")};
  EXPECT_THAT(EvaluateGates(policy_, input), IsEmpty());
}

TEST_F(GatesTest, NoApprovals) {
  policy_.required_approvals = 2;
  EXPECT_THAT(EvaluateGates(policy_, Input()), ElementsAre("required approvals: 0 of 2"));
}

TEST_F(GatesTest, UnprotectedTargetPassesEverything) {
  policy_.conditions = {"auc >= 0.99"};
  policy_.required_tags = {{"k", "v"}};
  policy_.required_approvals = 5;
  EXPECT_THAT(EvaluateGates(policy_, Input("alias:challenger")), IsEmpty());
  EXPECT_THAT(EvaluateGates(policy_, Input("stage:Staging")), IsEmpty());
  EXPECT_THAT(EvaluateGates(policy_, Input("nonsense")), IsEmpty());
  EXPECT_THAT(EvaluateGates(policy_, Input("alias:champion")).size(), 3u);
}

TEST_F(GatesTest, FailuresComeInPolicyOrder) {
  policy_.conditions = {"loss < 0.1", "auc >= 0.99"};
  policy_.required_tags = {{"b", "1"}, {"a", "1"}};
  policy_.required_approvals = 1;
  EXPECT_THAT(EvaluateGates(policy_, Input()),
              ElementsAre(HasSubstr("loss < 0.1"), HasSubstr("auc >= 0.99"),
                          HasSubstr("required tag b = 1"), HasSubstr("required tag a = 1"),
                          HasSubstr("required approvals")));
}

TEST_F(GatesTest, InvalidConditionInAHandBuiltPolicyFailsClosed) {
  policy_.conditions = {"auc >>> 1"};
  std::vector<std::string> failures = EvaluateGates(policy_, Input());
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0], HasSubstr("invalid condition"));
}

}  // namespace
}  // namespace ferry::governance
