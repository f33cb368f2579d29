// The MLflow REST edge over real HTTP, a real SQLite store and a real
// artifact folder (server on port 0, temp dirs): error shapes, limits and
// hostile artifact paths.

#include "ferry/api/mlflow/mlflow_api.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ferry/artifacts/artifact_store.h"
#include "ferry/http/client.h"
#include "ferry/http/server.h"
#include "ferry/store/metadata_store.h"
#include "ferry/tracking/service.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ferry {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class MlflowApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry_api_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "outside");
    std::ofstream(dir_ / "outside" / "secret.txt") << "top secret";
    store_ = store::OpenMetadataStore({.uri = "sqlite:///" + (dir_ / "ferry.db").string()}).value();
    artifacts_ =
        artifacts::CreateLocalArtifactStore({.root = (dir_ / "artifacts").string()}).value();
    tracking_ = tracking::TrackingService::Create({.store = store_.get()}).value();
    api_ = api::mlflow::MlflowApi::Create(
               {.tracking = tracking_.get(), .artifacts = artifacts_.get(), .version = "test"})
               .value();
    api_->RegisterRoutes(&router_);
    server_ =
        http::Server::Create(
            {.port = 0, .io_threads = 2, .max_body_bytes = 2 * 1024 * 1024, .access_log = false},
            &router_)
            .value();
    server_->Start();
    client_ =
        http::Client::Create({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())})
            .value();
  }
  void TearDown() override {
    server_->Shutdown();
    fs::remove_all(dir_);
  }

  http::ClientResponse Post(const std::string& path, const json& body) {
    return client_->Send("POST", "/api/2.0/mlflow" + path, body.dump()).value();
  }
  http::ClientResponse Get(const std::string& target) {
    return client_->Send("GET", target).value();
  }

  static json Body(const http::ClientResponse& r) { return json::parse(r.body); }

  std::string NewRun() {
    auto r = Post("/runs/create", {{"experiment_id", "0"}, {"start_time", 1}});
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r)["run"]["info"]["run_id"].get<std::string>();
  }

  fs::path dir_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<artifacts::ArtifactStore> artifacts_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<api::mlflow::MlflowApi> api_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(MlflowApiTest, DefaultExperimentExists) {
  auto r = Get("/api/2.0/mlflow/experiments/get?experiment_id=0");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["experiment"]["name"], "Default");
  EXPECT_EQ(Body(r)["experiment"]["artifact_location"], "mlflow-artifacts:/0");
}

TEST_F(MlflowApiTest, UnknownRouteIsEndpointNotFound) {
  auto r = Get("/api/2.0/mlflow/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["error_code"], "ENDPOINT_NOT_FOUND");
}

TEST_F(MlflowApiTest, BadJsonIs400WithMlflowShape) {
  auto r = client_->Send("POST", "/api/2.0/mlflow/runs/create", "{not json").value();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error_code"], "INVALID_PARAMETER_VALUE");
  r = client_->Send("POST", "/api/2.0/mlflow/runs/create", "[1,2]").value();
  EXPECT_EQ(r.status, 400);
}

TEST_F(MlflowApiTest, MissingAndMistypedFieldsNameTheField) {
  auto r = Post("/experiments/create", json::object());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("'name'"), std::string::npos);
  r = Post("/experiments/create", {{"name", 5}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("'name'"), std::string::npos);
}

TEST_F(MlflowApiTest, MissingRunIs404ResourceDoesNotExist) {
  auto r = Get("/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r)["error_code"], "RESOURCE_DOES_NOT_EXIST");
}

TEST_F(MlflowApiTest, DuplicateExperimentIsAlreadyExists) {
  ASSERT_EQ(Post("/experiments/create", {{"name", "dup"}}).status, 200);
  auto r = Post("/experiments/create", {{"name", "dup"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error_code"], "RESOURCE_ALREADY_EXISTS");
}

TEST_F(MlflowApiTest, OversizedBodyIs413) {
  auto r =
      client_->Send("POST", "/api/2.0/mlflow/runs/log-batch", std::string(3 * 1024 * 1024, ' '))
          .value();
  EXPECT_EQ(r.status, 413);
}

TEST_F(MlflowApiTest, LogBatchLimitsAndNaN) {
  std::string run_id = NewRun();
  json metrics = json::array();
  for (int i = 0; i < 1000; ++i)
    metrics.push_back({{"key", "m"}, {"value", i}, {"timestamp", 5}, {"step", i}});
  EXPECT_EQ(Post("/runs/log-batch", {{"run_id", run_id}, {"metrics", metrics}}).status, 200);
  metrics.push_back({{"key", "m"}, {"value", 1}, {"timestamp", 5}, {"step", 1}});
  auto r = Post("/runs/log-batch", {{"run_id", run_id}, {"metrics", metrics}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error_code"], "INVALID_PARAMETER_VALUE");
  EXPECT_NE(Body(r)["message"].get<std::string>().find("1000"), std::string::npos);
  ASSERT_EQ(Post("/runs/log-metric",
                 {{"run_id", run_id}, {"key", "n"}, {"value", "NaN"}, {"timestamp", 1}})
                .status,
            200);
  auto run = Body(Get("/api/2.0/mlflow/runs/get?run_id=" + run_id));
  bool saw_nan = false;
  for (const auto& m : run["run"]["data"]["metrics"])
    saw_nan = saw_nan || (m["key"] == "n" && m["value"] == "NaN");
  EXPECT_TRUE(saw_nan) << run.dump();
}

TEST_F(MlflowApiTest, SearchFilterParseErrorNamesToken) {
  auto r = Post("/runs/search", {{"experiment_ids", {"0"}}, {"filter", "metrics.x >> 1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error_code"], "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowApiTest, ArtifactRoundTripAndListing) {
  std::string content(100000, 'a');
  auto put =
      client_
          ->Send("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/dir/file%20one.bin",
                 content, "application/octet-stream")
          .value();
  ASSERT_EQ(put.status, 200) << put.body;
  auto get = Get("/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/dir/file%20one.bin");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, content);
  auto list = Body(Get("/api/2.0/mlflow-artifacts/artifacts?path=0/r1/artifacts"));
  ASSERT_EQ(list["files"].size(), 1u);
  EXPECT_EQ(list["files"][0]["path"], "dir");
  EXPECT_EQ(list["files"][0]["is_dir"], true);
  EXPECT_EQ(client_->Send("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/dir")
                .value()
                .status,
            200);
  EXPECT_EQ(Get("/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/dir/file%20one.bin").status,
            404);
}

TEST_F(MlflowApiTest, HostileArtifactPathsAreRejected) {
  // Each is tried as upload, download and (where it fits) listing; the
  // server must answer 400/404 and never touch anything outside its root.
  const char* hostile[] = {
      "..%2Foutside%2Fsecret.txt",
      "../outside/secret.txt",
      "a/../../outside/secret.txt",
      "%2e%2e/outside/secret.txt",
      "%2E%2E%2Foutside%2Fsecret.txt",
      "%252e%252e/outside/secret.txt",
      "..%5Coutside%5Csecret.txt",
      "a%5C..%5C..%5Csecret.txt",
      "%2Fetc%2Fpasswd",
      "a/%00/b",
      "a%00.txt",
      "./a",
      "a/./b",
      "C:%5Cwindows",
      "..",
      "%2e%2e",
  };
  for (const char* path : hostile) {
    SCOPED_TRACE(path);
    auto put = client_->Send("PUT", std::string("/api/2.0/mlflow-artifacts/artifacts/") + path, "x",
                             "application/octet-stream");
    ASSERT_TRUE(put.ok());
    EXPECT_TRUE(put->status == 400 || put->status == 404) << put->status;
    auto get = Get(std::string("/api/2.0/mlflow-artifacts/artifacts/") + path);
    EXPECT_TRUE(get.status == 400 || get.status == 404) << get.status;
    EXPECT_EQ(get.body.find("top secret"), std::string::npos);
    auto list = Get(std::string("/api/2.0/mlflow-artifacts/artifacts?path=") + path);
    EXPECT_TRUE(list.status == 400 || list.status == 404 ||
                (list.status == 200 && list.body == "{}"))
        << list.status << " " << list.body;
  }
  EXPECT_EQ(std::ifstream(dir_ / "outside" / "secret.txt").rdbuf() != nullptr, true);
  EXPECT_FALSE(fs::exists(dir_ / "secret.txt"));
  // A symlink planted inside the root that points outside is not followed.
  fs::create_directories(dir_ / "artifacts" / "0");
  fs::create_directory_symlink(dir_ / "outside", dir_ / "artifacts" / "0" / "link");
  auto get = Get("/api/2.0/mlflow-artifacts/artifacts/0/link/secret.txt");
  EXPECT_EQ(get.status, 400);
  EXPECT_EQ(get.body.find("top secret"), std::string::npos);
  auto put = client_
                 ->Send("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/link/new.txt", "x",
                        "application/octet-stream")
                 .value();
  EXPECT_EQ(put.status, 400);
  EXPECT_FALSE(fs::exists(dir_ / "outside" / "new.txt"));
}

TEST_F(MlflowApiTest, RunArtifactListAndGetArtifact) {
  std::string run_id = NewRun();
  auto put =
      client_
          ->Send("PUT",
                 "/api/2.0/mlflow-artifacts/artifacts/0/" + run_id + "/artifacts/model/MLmodel",
                 "flavors: {}", "text/plain")
          .value();
  ASSERT_EQ(put.status, 200);
  auto list = Body(Get("/api/2.0/mlflow/artifacts/list?run_id=" + run_id));
  EXPECT_EQ(list["root_uri"], "mlflow-artifacts:/0/" + run_id + "/artifacts");
  ASSERT_EQ(list["files"].size(), 1u);
  EXPECT_EQ(list["files"][0]["path"], "model");
  list = Body(Get("/api/2.0/mlflow/artifacts/list?run_id=" + run_id + "&path=model"));
  EXPECT_EQ(list["files"][0]["path"], "model/MLmodel");
  EXPECT_EQ(list["files"][0]["file_size"], 11);
  auto file = Get("/get-artifact?run_id=" + run_id + "&path=model/MLmodel");
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.body, "flavors: {}");
  EXPECT_EQ(Get("/get-artifact?run_id=" + run_id + "&path=../../../outside/secret.txt").status,
            400);
}

TEST_F(MlflowApiTest, AjaxPrefixServesTheSameApi) {
  auto r = Get("/ajax-api/2.0/mlflow/experiments/get?experiment_id=0");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Get("/health").body, "OK");
}

}  // namespace
}  // namespace ferry
