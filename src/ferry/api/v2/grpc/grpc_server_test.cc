#include "ferry/api/v2/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ferry/api/v2/grpc/inference.grpc.pb.h"
#include "ferry/api/v2/grpc/testing/echo_inference_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::api::v2 {
namespace {

namespace pb = ::inference;
using testing::EchoInferenceService;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
std::string Pack(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

template <typename T>
void AddAll(google::protobuf::RepeatedField<T>* field, std::initializer_list<T> values) {
  field->Add(values.begin(), values.end());
}

std::string PackBytes(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) {
    const uint32_t size = value.size();
    out.append(reinterpret_cast<const char*>(&size), 4);
    out.append(value);
  }
  return out;
}

pb::ModelInferRequest EchoRequest(const std::string& id = "") {
  pb::ModelInferRequest request;
  request.set_model_name("echo");
  request.set_id(id);
  return request;
}

pb::ModelInferRequest::InferInputTensor* AddInput(pb::ModelInferRequest* request,
                                                  const std::string& datatype,
                                                  std::vector<int64_t> shape) {
  auto* input = request->add_inputs();
  input->set_name(absl::StrCat("INPUT", request->inputs_size() - 1));
  input->set_datatype(datatype);
  input->mutable_shape()->Add(shape.begin(), shape.end());
  return input;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  // Replaces any running server (shut down first: it uses the old service).
  void StartServer(EchoInferenceService::Options service_options = {}) {
    server_.reset();
    service_ = std::make_unique<EchoInferenceService>(service_options);
    auto server = GrpcServer::Create({.port = 0}, service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = pb::GRPCInferenceService::NewStub(channel_);
  }

  void SetUp() override { StartServer(); }

  // Client first, so the server's shutdown has no idle connection to close.
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  grpc::Status Infer(const pb::ModelInferRequest& request, pb::ModelInferResponse* response) {
    grpc::ClientContext context;
    return stub_->ModelInfer(&context, request, response);
  }

  std::unique_ptr<EchoInferenceService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcServerTest, ServerHealthAndMetadata) {
  EXPECT_GT(server_->port(), 0);
  {
    grpc::ClientContext context;
    pb::ServerLiveResponse response;
    ASSERT_TRUE(stub_->ServerLive(&context, {}, &response).ok());
    EXPECT_TRUE(response.live());
  }
  {
    grpc::ClientContext context;
    pb::ServerReadyResponse response;
    ASSERT_TRUE(stub_->ServerReady(&context, {}, &response).ok());
    EXPECT_TRUE(response.ready());
  }
  {
    grpc::ClientContext context;
    pb::ServerMetadataResponse response;
    ASSERT_TRUE(stub_->ServerMetadata(&context, {}, &response).ok());
    EXPECT_EQ(response.name(), "ferry");
    EXPECT_EQ(response.version(), "0.1.0");
    EXPECT_THAT(response.extensions(), ElementsAre("model_repository", "statistics"));
  }
}

TEST_F(GrpcServerTest, ModelReady) {
  pb::ModelReadyRequest request;
  request.set_name("echo");
  {
    grpc::ClientContext context;
    pb::ModelReadyResponse response;
    ASSERT_TRUE(stub_->ModelReady(&context, request, &response).ok());
    EXPECT_TRUE(response.ready());
  }
  request.set_name("missing");
  grpc::ClientContext context;
  pb::ModelReadyResponse response;
  ASSERT_TRUE(stub_->ModelReady(&context, request, &response).ok());
  EXPECT_FALSE(response.ready());
}

TEST_F(GrpcServerTest, ModelMetadata) {
  pb::ModelMetadataRequest request;
  request.set_name("echo");
  grpc::ClientContext context;
  pb::ModelMetadataResponse response;
  ASSERT_TRUE(stub_->ModelMetadata(&context, request, &response).ok());
  EXPECT_EQ(response.name(), "echo");
  EXPECT_THAT(response.versions(), ElementsAre("1"));
  EXPECT_EQ(response.platform(), "ferry_echo");
  ASSERT_EQ(response.inputs_size(), 1);
  EXPECT_EQ(response.inputs(0).name(), "INPUT0");
  EXPECT_EQ(response.inputs(0).datatype(), "FP32");
  EXPECT_THAT(response.inputs(0).shape(), ElementsAre(-1, 4));
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "OUTPUT0");
}

TEST_F(GrpcServerTest, ModelMetadataUnknownModelIsNotFound) {
  pb::ModelMetadataRequest request;
  request.set_name("missing");
  grpc::ClientContext context;
  pb::ModelMetadataResponse response;
  grpc::Status status = stub_->ModelMetadata(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("missing"));
}

TEST_F(GrpcServerTest, InferWithRawContents) {
  pb::ModelInferRequest request = EchoRequest("req-1");
  AddInput(&request, "FP32", {2, 2});
  AddInput(&request, "BYTES", {2});
  *request.add_raw_input_contents() = Pack<float>({1.5f, -2.0f, 3.25f, 4.0f});
  *request.add_raw_input_contents() = PackBytes({"hello", ""});

  pb::ModelInferResponse response;
  grpc::Status status = Infer(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_name(), "echo");
  EXPECT_EQ(response.model_version(), "1");
  EXPECT_EQ(response.id(), "req-1");
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_EQ(response.outputs(0).name(), "OUTPUT0");
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_THAT(response.outputs(0).shape(), ElementsAre(2, 2));
  EXPECT_FALSE(response.outputs(0).has_contents());
  EXPECT_EQ(response.outputs(1).datatype(), "BYTES");
  ASSERT_EQ(response.raw_output_contents_size(), 2);
  EXPECT_EQ(response.raw_output_contents(0), Pack<float>({1.5f, -2.0f, 3.25f, 4.0f}));
  EXPECT_EQ(response.raw_output_contents(1), PackBytes({"hello", ""}));
  // Response parameters come back typed.
  ASSERT_TRUE(response.parameters().contains("echoed"));
  EXPECT_TRUE(response.parameters().at("echoed").bool_param());
  EXPECT_EQ(response.parameters().at("rows").int64_param(), 2);
}

TEST_F(GrpcServerTest, InferWithTypedContentsPacksLittleEndian) {
  pb::ModelInferRequest request = EchoRequest();
  auto* fp32 = AddInput(&request, "FP32", {3});
  AddAll<float>(fp32->mutable_contents()->mutable_fp32_contents(), {0.5f, 1.0f, -7.0f});
  auto* int64 = AddInput(&request, "INT64", {1, 2});
  AddAll<int64_t>(int64->mutable_contents()->mutable_int64_contents(), {-1, int64_t{1} << 40});
  auto* bytes = AddInput(&request, "BYTES", {2});
  bytes->mutable_contents()->add_bytes_contents("ab");
  bytes->mutable_contents()->add_bytes_contents(std::string("\0x", 2));
  auto* boolean = AddInput(&request, "BOOL", {3});
  AddAll<bool>(boolean->mutable_contents()->mutable_bool_contents(), {true, false, true});
  auto* int8 = AddInput(&request, "INT8", {2});
  AddAll<int32_t>(int8->mutable_contents()->mutable_int_contents(), {-128, 127});
  auto* uint16 = AddInput(&request, "UINT16", {1});
  uint16->mutable_contents()->mutable_uint_contents()->Add(65535);
  auto* fp64 = AddInput(&request, "FP64", {1});
  fp64->mutable_contents()->mutable_fp64_contents()->Add(2.5);

  pb::ModelInferResponse response;
  grpc::Status status = Infer(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.raw_output_contents_size(), 7);
  EXPECT_EQ(response.raw_output_contents(0), Pack<float>({0.5f, 1.0f, -7.0f}));
  EXPECT_EQ(response.raw_output_contents(1), Pack<int64_t>({-1, int64_t{1} << 40}));
  EXPECT_EQ(response.raw_output_contents(2), PackBytes({"ab", std::string("\0x", 2)}));
  EXPECT_EQ(response.raw_output_contents(3), std::string("\1\0\1", 3));
  EXPECT_EQ(response.raw_output_contents(4), Pack<int8_t>({-128, 127}));
  EXPECT_EQ(response.raw_output_contents(5), Pack<uint16_t>({65535}));
  EXPECT_EQ(response.raw_output_contents(6), Pack<double>({2.5}));
  EXPECT_EQ(response.outputs(3).datatype(), "BOOL");
  EXPECT_THAT(response.outputs(1).shape(), ElementsAre(1, 2));
}

TEST_F(GrpcServerTest, RequestedOutputsAreForwarded) {
  pb::ModelInferRequest request = EchoRequest();
  AddInput(&request, "INT32", {1})->mutable_contents()->add_int_contents(7);
  AddInput(&request, "INT32", {1})->mutable_contents()->add_int_contents(8);
  auto* output = request.add_outputs();
  output->set_name("OUTPUT1");
  (*output->mutable_parameters())["binary_data"].set_bool_param(true);

  pb::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "OUTPUT1");
  EXPECT_EQ(response.raw_output_contents(0), Pack<int32_t>({8}));
  serving::InferRequest seen = service_->last_request();
  ASSERT_EQ(seen.outputs.size(), 1u);
  EXPECT_EQ(seen.outputs[0].binary_data, true);
  EXPECT_EQ(seen.outputs[0].parameters["binary_data"], true);
}

TEST_F(GrpcServerTest, RequestParametersFillRequestFields) {
  pb::ModelInferRequest request = EchoRequest();
  AddInput(&request, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  auto& params = *request.mutable_parameters();
  params["priority"].set_int64_param(2);
  params["timeout"].set_uint64_param(5000);
  params["binary_data_output"].set_bool_param(true);
  params["ferry_route_key"].set_string_param("user-7");
  params["custom"].set_double_param(0.25);

  pb::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  serving::InferRequest seen = service_->last_request();
  EXPECT_EQ(seen.priority, 2u);
  EXPECT_EQ(seen.timeout_us, 5000u);
  EXPECT_TRUE(seen.binary_data_output);
  EXPECT_EQ(seen.route_key, "user-7");
  EXPECT_EQ(seen.parameters["custom"], 0.25);
  EXPECT_EQ(seen.parameters["priority"], 2);
}

TEST_F(GrpcServerTest, InvalidRequestsAreInvalidArgument) {
  struct Case {
    std::string name;
    std::function<void(pb::ModelInferRequest*)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown datatype",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FLOAT", {1});
         *r->add_raw_input_contents() = Pack<float>({1});
       },
       "unknown datatype 'FLOAT'"},
      {"raw size mismatch",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {2});
         *r->add_raw_input_contents() = Pack<float>({1});
       },
       "INPUT0"},
      {"raw entry count mismatch",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {1});
         AddInput(r, "FP32", {1});
         *r->add_raw_input_contents() = Pack<float>({1});
       },
       "raw_input_contents"},
      {"raw and typed together",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
         *r->add_raw_input_contents() = Pack<float>({1});
       },
       "contents must be empty"},
      {"typed count mismatch",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {3})->mutable_contents()->add_fp32_contents(1);
       },
       "expected 3 elements"},
      {"typed field of another type",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {1})->mutable_contents()->add_int64_contents(1);
       },
       "fp32_contents"},
      {"narrowing out of range",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "INT8", {1})->mutable_contents()->add_int_contents(300);
       },
       "out of range"},
      {"typed fp16",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP16", {1})->mutable_contents()->add_fp32_contents(1);
       },
       "FP16"},
      {"no data", [](pb::ModelInferRequest* r) { AddInput(r, "FP32", {1}); }, "no data"},
      {"negative dim",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {-1})->mutable_contents()->add_fp32_contents(1);
       },
       "shape"},
      {"truncated bytes element",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "BYTES", {1});
         *r->add_raw_input_contents() = std::string("\5\0\0\0ab", 6);
       },
       "INPUT0"},
      {"priority of wrong type",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
         (*r->mutable_parameters())["priority"].set_string_param("high");
       },
       "priority"},
      {"negative timeout",
       [](pb::ModelInferRequest* r) {
         AddInput(r, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
         (*r->mutable_parameters())["timeout"].set_int64_param(-1);
       },
       "timeout"},
      {"shared memory input",
       [](pb::ModelInferRequest* r) {
         auto* input = AddInput(r, "FP32", {1});
         (*input->mutable_parameters())["shared_memory_region"].set_string_param("r0");
       },
       "shared memory"},
      {"missing model name", [](pb::ModelInferRequest* r) { r->clear_model_name(); }, "model_name"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    pb::ModelInferRequest request = EchoRequest();
    c.mutate(&request);
    pb::ModelInferResponse response;
    grpc::Status status = Infer(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST_F(GrpcServerTest, UnknownModelIsNotFound) {
  pb::ModelInferRequest request = EchoRequest();
  request.set_model_name("missing");
  AddInput(&request, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  pb::ModelInferResponse response;
  grpc::Status status = Infer(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("missing"));
}

TEST_F(GrpcServerTest, ServiceStatusCodesMapToGrpcCodes) {
  const std::map<absl::StatusCode, grpc::StatusCode> expected = {
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnknown, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::INTERNAL},
  };
  for (const auto& [absl_code, grpc_code] : expected) {
    SCOPED_TRACE(absl::StatusCodeToString(absl_code));
    pb::ModelInferRequest request = EchoRequest();
    AddInput(&request, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
    (*request.mutable_parameters())["fail_code"].set_int64_param(static_cast<int>(absl_code));
    pb::ModelInferResponse response;
    grpc::Status status = Infer(request, &response);
    EXPECT_EQ(status.error_code(), grpc_code);
    EXPECT_EQ(status.error_message(), "injected failure");
  }
}

TEST_F(GrpcServerTest, ModelConfigFromTritonJson) {
  pb::ModelConfigRequest request;
  request.set_name("echo");
  grpc::ClientContext context;
  pb::ModelConfigResponse response;
  grpc::Status status = stub_->ModelConfig(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const pb::ModelConfig& config = response.config();
  EXPECT_EQ(config.name(), "echo");
  EXPECT_EQ(config.backend(), "ferry_echo");
  EXPECT_EQ(config.max_batch_size(), 8);
  EXPECT_EQ(config.version_policy().latest().num_versions(), 1u);
  ASSERT_EQ(config.input_size(), 1);
  EXPECT_EQ(config.input(0).name(), "INPUT0");
  EXPECT_EQ(config.input(0).data_type(), pb::TYPE_FP32);
  EXPECT_THAT(config.input(0).dims(), ElementsAre(4));
  ASSERT_EQ(config.output_size(), 1);
  EXPECT_EQ(config.output(0).data_type(), pb::TYPE_FP32);
  ASSERT_TRUE(config.has_dynamic_batching());
  const pb::ModelDynamicBatching& batching = config.dynamic_batching();
  EXPECT_THAT(batching.preferred_batch_size(), ElementsAre(4, 8));
  EXPECT_EQ(batching.max_queue_delay_microseconds(), 100u);
  EXPECT_EQ(batching.priority_levels(), 2u);
  EXPECT_EQ(batching.default_priority_level(), 1u);
  EXPECT_EQ(batching.default_queue_policy().timeout_action(), pb::ModelQueuePolicy::REJECT);
  EXPECT_TRUE(batching.default_queue_policy().allow_timeout_override());
  EXPECT_EQ(batching.default_queue_policy().max_queue_size(), 64u);
  ASSERT_EQ(config.instance_group_size(), 1);
  EXPECT_EQ(config.instance_group(0).name(), "echo_0");
  EXPECT_EQ(config.instance_group(0).kind(), pb::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(config.instance_group(0).count(), 2);
  ASSERT_TRUE(config.parameters().contains("nthread"));
  EXPECT_EQ(config.parameters().at("nthread").string_value(), "2");
}

TEST_F(GrpcServerTest, ModelConfigUnknownModelIsNotFound) {
  pb::ModelConfigRequest request;
  request.set_name("missing");
  grpc::ClientContext context;
  pb::ModelConfigResponse response;
  EXPECT_EQ(stub_->ModelConfig(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GrpcServerTest, ModelStatisticsFromTritonJson) {
  pb::ModelInferRequest infer = EchoRequest();
  AddInput(&infer, "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  pb::ModelInferResponse infer_response;
  ASSERT_TRUE(Infer(infer, &infer_response).ok());

  pb::ModelStatisticsRequest request;
  request.set_name("echo");
  grpc::ClientContext context;
  pb::ModelStatisticsResponse response;
  grpc::Status status = stub_->ModelStatistics(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.model_stats_size(), 1);
  const pb::ModelStatistics& stats = response.model_stats(0);
  EXPECT_EQ(stats.name(), "echo");
  EXPECT_EQ(stats.version(), "1");
  EXPECT_EQ(stats.last_inference(), 1700000000000u);
  EXPECT_EQ(stats.inference_count(), 1u);
  EXPECT_EQ(stats.inference_stats().success().count(), 1u);
  EXPECT_EQ(stats.inference_stats().success().ns(), 1000u);
  EXPECT_EQ(stats.inference_stats().compute_infer().ns(), 500u);
  ASSERT_EQ(stats.batch_stats_size(), 1);
  EXPECT_EQ(stats.batch_stats(0).batch_size(), 1u);
  EXPECT_EQ(stats.batch_stats(0).compute_infer().count(), 1u);
}

TEST_F(GrpcServerTest, RepositoryIndexLoadAndUnload) {
  {
    pb::RepositoryIndexRequest request;
    request.set_ready(true);
    grpc::ClientContext context;
    pb::RepositoryIndexResponse response;
    ASSERT_TRUE(stub_->RepositoryIndex(&context, request, &response).ok());
    ASSERT_EQ(response.models_size(), 1);
    EXPECT_EQ(response.models(0).name(), "echo");
    EXPECT_EQ(response.models(0).state(), "READY");
  }
  {
    grpc::ClientContext context;
    pb::RepositoryIndexResponse response;
    ASSERT_TRUE(stub_->RepositoryIndex(&context, {}, &response).ok());
    ASSERT_EQ(response.models_size(), 2);
    EXPECT_EQ(response.models(1).reason(), "load failed");
  }
  {
    pb::RepositoryModelLoadRequest request;
    request.set_model_name("echo");
    grpc::ClientContext context;
    pb::RepositoryModelLoadResponse response;
    EXPECT_TRUE(stub_->RepositoryModelLoad(&context, request, &response).ok());
  }
  {
    pb::RepositoryModelLoadRequest request;
    request.set_model_name("missing");
    grpc::ClientContext context;
    pb::RepositoryModelLoadResponse response;
    EXPECT_EQ(stub_->RepositoryModelLoad(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    pb::RepositoryModelLoadRequest request;
    request.set_model_name("echo");
    (*request.mutable_parameters())["config"].set_string_param("{}");
    grpc::ClientContext context;
    pb::RepositoryModelLoadResponse response;
    EXPECT_EQ(stub_->RepositoryModelLoad(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    pb::RepositoryModelUnloadRequest request;
    request.set_model_name("echo");
    grpc::ClientContext context;
    pb::RepositoryModelUnloadResponse response;
    EXPECT_TRUE(stub_->RepositoryModelUnload(&context, request, &response).ok());
  }
}

TEST_F(GrpcServerTest, StreamInferEchoesEveryRequestAndReportsErrorsInBand) {
  grpc::ClientContext context;
  auto stream = stub_->ModelStreamInfer(&context);
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    pb::ModelInferRequest request = EchoRequest(absl::StrCat("s", i));
    AddInput(&request, "INT32", {1})->mutable_contents()->add_int_contents(i);
    ASSERT_TRUE(stream->Write(request));
  }
  pb::ModelInferRequest bad = EchoRequest("bad");
  AddInput(&bad, "NOPE", {1});
  ASSERT_TRUE(stream->Write(bad));
  pb::ModelInferRequest missing = EchoRequest("missing");
  missing.set_model_name("missing");
  AddInput(&missing, "INT32", {1})->mutable_contents()->add_int_contents(0);
  ASSERT_TRUE(stream->Write(missing));
  ASSERT_TRUE(stream->WritesDone());

  std::map<std::string, pb::ModelStreamInferResponse> by_id;
  pb::ModelStreamInferResponse response;
  while (stream->Read(&response)) by_id[response.infer_response().id()] = response;
  grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();

  ASSERT_EQ(by_id.size(), kRequests + 2u);
  for (int i = 0; i < kRequests; ++i) {
    const pb::ModelStreamInferResponse& r = by_id[absl::StrCat("s", i)];
    EXPECT_EQ(r.error_message(), "");
    ASSERT_EQ(r.infer_response().raw_output_contents_size(), 1);
    EXPECT_EQ(r.infer_response().raw_output_contents(0), Pack<int32_t>({i}));
  }
  EXPECT_THAT(by_id["bad"].error_message(), HasSubstr("unknown datatype"));
  EXPECT_THAT(by_id["missing"].error_message(), HasSubstr("unknown model"));
  EXPECT_EQ(by_id["missing"].infer_response().model_name(), "missing");
}

TEST_F(GrpcServerTest, StreamCancelledByClientWhileInferencesPending) {
  StartServer({.async_completion = true});
  {
    grpc::ClientContext context;
    auto stream = stub_->ModelStreamInfer(&context);
    for (int i = 0; i < 5; ++i) {
      pb::ModelInferRequest request = EchoRequest(absl::StrCat("c", i));
      (*request.mutable_parameters())["hold"].set_bool_param(true);
      AddInput(&request, "INT32", {1})->mutable_contents()->add_int_contents(i);
      ASSERT_TRUE(stream->Write(request));
    }
    service_->WaitForHeld(5);
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The reactor outlives the cancelled stream until the held inferences
  // complete; releasing them must neither crash nor leak (ASan).
  service_->Release();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

TEST_F(GrpcServerTest, ConcurrentCallsWithAsyncCompletion) {
  StartServer({.async_completion = true});
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        pb::ModelInferRequest request = EchoRequest(absl::StrCat(t, "-", i));
        AddInput(&request, "INT64", {1});
        *request.add_raw_input_contents() = Pack<int64_t>({t * 1000 + i});
        pb::ModelInferResponse response;
        grpc::Status status = Infer(request, &response);
        if (!status.ok() || response.id() != request.id() ||
            response.raw_output_contents(0) != Pack<int64_t>({t * 1000 + i})) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST_F(GrpcServerTest, LargeMessagesAboveGrpcDefaultLimit) {
  std::vector<float> values(3 << 20);  // 12 MiB, above gRPC's 4 MiB default
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 1000);
  pb::ModelInferRequest request = EchoRequest();
  AddInput(&request, "FP32", {static_cast<int64_t>(values.size())});
  *request.add_raw_input_contents() = Pack(values);
  pb::ModelInferResponse response;
  grpc::Status status = Infer(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.raw_output_contents(0).size(), values.size() * sizeof(float));
}

TEST_F(GrpcServerTest, ShutdownFinishesInFlightInferenceAndRefusesNewCalls) {
  pb::ModelInferRequest request = EchoRequest("held");
  (*request.mutable_parameters())["hold"].set_bool_param(true);
  AddInput(&request, "FP32", {1})->mutable_contents()->add_fp32_contents(3);
  grpc::Status held_status;
  pb::ModelInferResponse held_response;
  std::thread caller([&] { held_status = Infer(request, &held_response); });
  service_->WaitForHeld(1);

  std::thread stopper(
      [&] { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(30)); });
  service_->Release();
  stopper.join();
  caller.join();
  ASSERT_TRUE(held_status.ok()) << held_status.error_message();
  EXPECT_EQ(held_response.id(), "held");

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::ServerLiveResponse live;
  EXPECT_FALSE(stub_->ServerLive(&context, {}, &live).ok());
  server_->Shutdown(std::chrono::system_clock::now());  // idempotent
}

TEST(GrpcServerCreateTest, RejectsBadOptions) {
  EchoInferenceService service;
  EXPECT_EQ(GrpcServer::Create({.port = 0}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcServer::Create({.port = 70000}, &service).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcServer::Create({.port = 0, .max_message_bytes = 0}, &service).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcServer::Create({.port = 0, .threads = 0}, &service).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GrpcServerCreateTest, BusyPortIsUnavailable) {
  EchoInferenceService service;
  auto first = GrpcServer::Create({.port = 0}, &service);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = GrpcServer::Create({.port = (*first)->port()}, &service);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ferry::api::v2
