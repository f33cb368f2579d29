// The serving stack end to end, in process but over real HTTP: XGBoost
// models trained here through the C API, the ModelManager with a source whose
// alias the test moves, the V2 REST frontend on port 0.

#include <xgboost/c_api.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "ferry/api/v2/rest_api.h"
#include "ferry/http/client.h"
#include "ferry/http/server.h"
#include "ferry/monitoring/prometheus.h"
#include "ferry/serving/manager/model_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ferry::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFeatures = 30;

// Trains a binary:logistic booster on synthetic rows and saves it as
// dir/model.json; returns the booster so the test can predict with
// xgboost itself.
BoosterHandle TrainModel(const fs::path& dir, int trees, int seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  const int rows = 400;
  std::vector<float> x(rows * kFeatures), y(rows);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < kFeatures; ++c) x[r * kFeatures + c] = u(rng);
    y[r] = x[r * kFeatures] + x[r * kFeatures + 1] > 1.0f ? 1.0f : 0.0f;
  }
  DMatrixHandle dtrain;
  EXPECT_EQ(XGDMatrixCreateFromMat(x.data(), rows, kFeatures, NAN, &dtrain), 0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(dtrain, "label", y.data(), rows), 0);
  BoosterHandle booster;
  EXPECT_EQ(XGBoosterCreate(&dtrain, 1, &booster), 0);
  XGBoosterSetParam(booster, "objective", "binary:logistic");
  XGBoosterSetParam(booster, "max_depth", "4");
  XGBoosterSetParam(booster, "nthread", "1");
  for (int i = 0; i < trees; ++i) EXPECT_EQ(XGBoosterUpdateOneIter(booster, i, dtrain), 0);
  fs::create_directories(dir);
  EXPECT_EQ(XGBoosterSaveModel(booster, (dir / "model.json").c_str()), 0);
  XGDMatrixFree(dtrain);
  return booster;
}

std::vector<float> XgboostPredict(BoosterHandle booster, const std::vector<float>& rows, int n) {
  DMatrixHandle d;
  EXPECT_EQ(XGDMatrixCreateFromMat(rows.data(), n, kFeatures, NAN, &d), 0);
  bst_ulong len = 0;
  const float* out = nullptr;
  EXPECT_EQ(XGBoosterPredict(booster, d, 0, 0, 0, &len, &out), 0);
  std::vector<float> result(out, out + len);
  XGDMatrixFree(d);
  return result;
}

// A registry stand-in: refs "@alias" resolve through a map the test edits;
// versions are directories under root/<version>.
class AliasSource : public ModelSource {
 public:
  explicit AliasSource(fs::path root) : root_(std::move(root)) {}
  std::string Describe() const override { return "test alias source"; }
  std::string DefaultRef() const override { return "@champion"; }
  absl::StatusOr<ResolvedVersion> Resolve(const std::string& ref) override {
    std::lock_guard lock(mu_);
    std::string version = ref;
    if (ref.starts_with("@")) {
      auto it = aliases_.find(ref.substr(1));
      if (it == aliases_.end()) return absl::NotFoundError("no alias " + ref);
      version = it->second;
    }
    return ResolvedVersion{
        .version = version, .path = (root_ / version).string(), .format = "xgboost"};
  }
  void SetAlias(const std::string& alias, const std::string& version) {
    std::lock_guard lock(mu_);
    aliases_[alias] = version;
  }

 private:
  fs::path root_;
  std::mutex mu_;
  std::map<std::string, std::string> aliases_;
};

// A deliberately slow backend (blocks until released) for overload tests.
// Holds executions until opened; counts how many have started.
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};
};

class GateBackend : public ModelBackend {
 public:
  explicit GateBackend(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {
    metadata_.platform = "gate";
    metadata_.inputs = {{.name = "x", .datatype = DataType::kFp32, .shape = {-1, 1}}};
    metadata_.outputs = {{.name = "y", .datatype = DataType::kFp32, .shape = {-1, 1}}};
  }
  const ModelMetadata& metadata() const override { return metadata_; }
  absl::Status Warmup() override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Tensor>> Execute(std::span<const Tensor> inputs,
                                              std::span<const RequestedOutput>) override {
    gate_->entered++;
    while (!gate_->open.load()) std::this_thread::yield();
    Tensor out = inputs[0];
    out.name = "y";
    return std::vector<Tensor>{out};
  }

 private:
  ModelMetadata metadata_;
  std::shared_ptr<Gate> gate_;
};

class ServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ferry_serving_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    v1_ = TrainModel(root_ / "1", 20, 1);
    v2_ = TrainModel(root_ / "2", 5, 2);
    fs::create_directories(root_ / "3");
    std::ofstream(root_ / "3" / "model.json") << "{\"this is\": \"not a model\"}";
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (manager_) manager_->Drain();
    XGBoosterFree(v1_);
    XGBoosterFree(v2_);
    fs::remove_all(root_);
  }

  void Start(ServedModelOptions model,
             const BackendRegistry* backends = &BackendRegistry::Default()) {
    manager_ =
        ModelManager::Create({.poll_interval_ms = 0, .backends = backends, .metrics = &metrics_},
                             {std::move(model)})
            .value();
    ASSERT_TRUE(manager_->LoadAll().ok());
    api::v2::RegisterRestRoutes({}, manager_.get(), &metrics_, &router_);
    server_ =
        http::Server::Create({.port = 0, .io_threads = 2, .access_log = false}, &router_).value();
    server_->Start();
  }
  ServedModelOptions XgbModel(std::vector<std::pair<std::string, uint32_t>> traffic = {}) {
    source_ = std::make_shared<AliasSource>(root_);
    source_->SetAlias("champion", "1");
    source_->SetAlias("challenger", "2");
    ServedModelOptions model;
    model.name = "credit";
    model.source = source_;
    model.traffic = std::move(traffic);
    model.batching.max_batch_size = 64;
    model.batching.execute_inline_when_idle = true;  // as `ferry serve` runs it
    return model;
  }
  std::unique_ptr<http::Client> NewClient() {
    return http::Client::Create({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())})
        .value();
  }
  static std::string RowsBody(const std::vector<float>& rows, int n, const std::string& id = "") {
    json body = {
        {"inputs",
         {{{"name", "input-0"}, {"datatype", "FP32"}, {"shape", {n, kFeatures}}, {"data", rows}}}}};
    if (!id.empty()) body["id"] = id;
    return body.dump();
  }

  fs::path root_;
  BoosterHandle v1_ = nullptr, v2_ = nullptr;
  std::shared_ptr<AliasSource> source_;
  monitoring::Registry metrics_;
  std::unique_ptr<ModelManager> manager_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(ServingTest, PredictionsEqualXgboostOwnAndCarryVersionAndId) {
  Start(XgbModel());
  auto client = NewClient();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  for (int n : {1, 3, 17}) {
    std::vector<float> rows(n * kFeatures);
    for (auto& v : rows) v = u(rng);
    auto r = client->Send("POST", "/v2/models/credit/infer",
                          RowsBody(rows, n, "req-" + std::to_string(n)));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    json body = json::parse(r->body);
    EXPECT_EQ(body["model_version"], "1");
    EXPECT_EQ(body["id"], "req-" + std::to_string(n));
    std::vector<float> expected = XgboostPredict(v1_, rows, n);
    json predict;
    for (const auto& out : body["outputs"])
      if (out["name"] == "predict") predict = out;
    ASSERT_FALSE(predict.is_null()) << r->body;
    EXPECT_EQ(predict["shape"], json({n}));
    std::vector<float> got = predict["data"].get<std::vector<float>>();
    EXPECT_EQ(got, expected);
  }
  // No id: one is generated and returned.
  std::vector<float> row(kFeatures, 0.5f);
  json body =
      json::parse(client->Send("POST", "/v2/models/credit/infer", RowsBody(row, 1)).value().body);
  EXPECT_FALSE(body["id"].get<std::string>().empty());
}

TEST_F(ServingTest, BadInputsAre400NamingTheInput) {
  Start(XgbModel());
  auto client = NewClient();
  std::vector<float> row(kFeatures - 1, 0.5f);
  json bad_width = {{"inputs",
                     {{{"name", "input-0"},
                       {"datatype", "FP32"},
                       {"shape", {1, kFeatures - 1}},
                       {"data", row}}}}};
  auto r = client->Send("POST", "/v2/models/credit/infer", bad_width.dump()).value();
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, ::testing::HasSubstr("input-0"));
  json bad_name = {
      {"inputs", {{{"name", "nope"}, {"datatype", "FP32"}, {"shape", {1, 1}}, {"data", {1.0}}}}}};
  r = client->Send("POST", "/v2/models/credit/infer", bad_name.dump()).value();
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, ::testing::HasSubstr("nope"));
  r = client->Send("POST", "/v2/models/missing/infer", bad_name.dump()).value();
  EXPECT_EQ(r.status, 404);
  r = client->Send("POST", "/v2/models/credit/infer", "{not json").value();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(client->Send("GET", "/v2/health/live").value().status, 200);
}

TEST_F(ServingTest, AliasMovesTwentyTimesUnderLoadWithZeroFailedRequests) {
  Start(XgbModel());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::mutex seen_mu;
  std::set<std::string> versions_seen;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto client = NewClient();
      std::vector<float> row(kFeatures, 0.1f * t);
      std::string body = RowsBody(row, 1);
      while (!stop.load()) {
        auto r = client->Send("POST", "/v2/models/credit/infer", body);
        if (!r.ok() || r->status != 200) {
          failed++;
          continue;
        }
        ok++;
        std::string v = json::parse(r->body)["model_version"];
        std::lock_guard lock(seen_mu);
        versions_seen.insert(v);
      }
    });
  }
  for (int move = 0; move < 20; ++move) {
    source_->SetAlias("champion", move % 2 == 0 ? "2" : "1");
    int64_t before = ok.load();
    ASSERT_TRUE(manager_->LoadModel("credit").ok());
    while (ok.load() < before + 20) std::this_thread::yield();  // traffic on each version
  }
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 400);
  EXPECT_EQ(versions_seen, (std::set<std::string>{"1", "2"}));
}

TEST_F(ServingTest, BrokenVersionLeavesTheOldOneServing) {
  Start(XgbModel());
  source_->SetAlias("champion", "3");
  absl::Status status = manager_->LoadModel("credit");
  EXPECT_FALSE(status.ok());
  auto client = NewClient();
  std::vector<float> row(kFeatures, 0.5f);
  auto r = client->Send("POST", "/v2/models/credit/infer", RowsBody(row, 1)).value();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["model_version"], "1");
  auto index = json::parse(client->Send("POST", "/v2/repository/index", "{}").value().body);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0]["version"], "1");
  EXPECT_EQ(index[0]["state"], "READY");
  EXPECT_FALSE(index[0]["reason"].get<std::string>().empty());
  std::string metrics = client->Send("GET", "/metrics").value().body;
  EXPECT_THAT(metrics, ::testing::HasSubstr("ferry_model_load_failures_total{model=\"credit\"} 1"));
  EXPECT_EQ(client->Send("POST", "/v2/repository/models/credit/load").value().status, 400);
}

TEST_F(ServingTest, CanarySplitsByWeightAndStickyKeysStay) {
  Start(XgbModel({{"@champion", 90}, {"@challenger", 10}}));
  auto client = NewClient();
  std::vector<float> row(kFeatures, 0.5f);
  std::map<std::string, int> counts;
  for (int i = 0; i < 1000; ++i) {
    auto r =
        client->Send("POST", "/v2/models/credit/infer", RowsBody(row, 1, "id-" + std::to_string(i)))
            .value();
    ASSERT_EQ(r.status, 200);
    counts[json::parse(r.body)["model_version"]]++;
  }
  EXPECT_GT(counts["2"], 50);  // 10% of 1000 = 100, generous bounds
  EXPECT_LT(counts["2"], 170);
  std::set<std::string> sticky;
  for (int i = 0; i < 30; ++i) {
    auto r = client
                 ->Send("POST", "/v2/models/credit/infer", RowsBody(row, 1), "application/json",
                        {{"X-Ferry-Route-Key", "customer-42"}})
                 .value();
    sticky.insert(json::parse(r.body)["model_version"].get<std::string>());
  }
  EXPECT_EQ(sticky.size(), 1u);
}

TEST_F(ServingTest, QueueFullGives503WithRetryAfterAndRecovers) {
  auto gate = std::make_shared<Gate>();
  BackendRegistry backends;
  backends.Register("gate",
                    [gate](const LoadSpec&) -> absl::StatusOr<std::unique_ptr<ModelBackend>> {
                      return std::make_unique<GateBackend>(gate);
                    });
  auto source = std::make_shared<AliasSource>(root_);
  source->SetAlias("champion", "1");
  class GateSource : public AliasSource {
   public:
    using AliasSource::AliasSource;
    absl::StatusOr<ResolvedVersion> Resolve(const std::string& ref) override {
      auto r = AliasSource::Resolve(ref);
      if (r.ok()) r->format = "gate";
      return r;
    }
  };
  auto gate_source = std::make_shared<GateSource>(root_);
  gate_source->SetAlias("champion", "1");
  ServedModelOptions model;
  model.name = "slow";
  model.source = gate_source;
  model.batching.max_batch_size = 1;
  model.batching.max_queue_size = 2;
  Start(model, &backends);
  json body = {
      {"inputs", {{{"name", "x"}, {"datatype", "FP32"}, {"shape", {1, 1}}, {"data", {1.0}}}}}};
  // Fill: one executing + two queued; the rest must be rejected quickly.
  // The first must be executing before the others arrive, or a fast pair
  // could fill the two queue slots and the third would be the one rejected.
  std::vector<std::thread> blocked;
  std::atomic<int> blocked_ok{0};
  auto send_blocked = [&] {
    blocked.emplace_back([&] {
      auto c = NewClient();
      auto r = c->Send("POST", "/v2/models/slow/infer", body.dump());
      if (r.ok() && r->status == 200) blocked_ok++;
    });
  };
  send_blocked();
  while (gate->entered.load() == 0) std::this_thread::yield();
  send_blocked();
  send_blocked();
  auto client = NewClient();
  // Wait until one request executes (blocked in the gate) and two are queued.
  while (client->Send("GET", "/metrics")
             .value()
             .body.find("ferry_inference_pending_request_count{model=\"slow\",version=\"1\"} 3") ==
         std::string::npos) {
    std::this_thread::yield();
  }
  for (int i = 0; i < 5; ++i) {
    auto r = client->Send("POST", "/v2/models/slow/infer", body.dump()).value();
    EXPECT_EQ(r.status, 503);
    bool retry_after = false;
    for (auto& [k, v] : r.headers) retry_after = retry_after || k == "Retry-After";
    EXPECT_TRUE(retry_after);
    EXPECT_THAT(r.body, ::testing::HasSubstr("queue"));
  }
  EXPECT_EQ(client->Send("GET", "/v2/health/live").value().status, 200);
  gate->open.store(true);
  for (auto& t : blocked) t.join();
  EXPECT_EQ(blocked_ok.load(), 3);
  EXPECT_EQ(client->Send("POST", "/v2/models/slow/infer", body.dump()).value().status, 200);
  EXPECT_THAT(client->Send("GET", "/metrics").value().body,
              ::testing::HasSubstr("reason=\"rejected\""));
}

}  // namespace
}  // namespace ferry::serving
