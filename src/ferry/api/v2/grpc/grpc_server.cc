#include "ferry/api/v2/grpc/grpc_server.h"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include <bit>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ferry/api/v2/grpc/inference.grpc.pb.h"
#include "ferry/api/v2/grpc/inference.pb.h"
#include "google/protobuf/util/json_util.h"

namespace ferry::api::v2 {
namespace {

namespace pb = ::inference;
using serving::DataType;

// Tensor data is packed little-endian; typed contents are copied with memcpy.
static_assert(std::endian::native == std::endian::little,
              "typed tensor packing assumes a little-endian host");

using ParameterMap = google::protobuf::Map<std::string, pb::InferParameter>;

// The one place absl codes become gRPC codes. Codes the serving core does not
// use on purpose (Unknown, DataLoss, ...) are reported as INTERNAL.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case absl::StatusCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case absl::StatusCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case absl::StatusCode::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case absl::StatusCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case absl::StatusCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case absl::StatusCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case absl::StatusCode::kUnimplemented:
      code = grpc::StatusCode::UNIMPLEMENTED;
      break;
    case absl::StatusCode::kCancelled:
      code = grpc::StatusCode::CANCELLED;
      break;
    default:
      break;
  }
  return grpc::Status(code, std::string(status.message()));
}

// ------------------------------------------------------------ parameters

nlohmann::json ParameterToJson(const pb::InferParameter& parameter) {
  switch (parameter.parameter_choice_case()) {
    case pb::InferParameter::kBoolParam:
      return parameter.bool_param();
    case pb::InferParameter::kInt64Param:
      return parameter.int64_param();
    case pb::InferParameter::kStringParam:
      return parameter.string_param();
    case pb::InferParameter::kDoubleParam:
      return parameter.double_param();
    case pb::InferParameter::kUint64Param:
      return parameter.uint64_param();
    case pb::InferParameter::PARAMETER_CHOICE_NOT_SET:
      break;
  }
  return nullptr;
}

// Null when the map is empty (the InferRequest convention for "absent").
nlohmann::json ParametersToJson(const ParameterMap& parameters) {
  if (parameters.empty()) return nullptr;
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : parameters) object[key] = ParameterToJson(value);
  return object;
}

void JsonToParameter(const nlohmann::json& value, pb::InferParameter* out) {
  if (value.is_boolean()) {
    out->set_bool_param(value.get<bool>());
  } else if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out->set_int64_param(static_cast<int64_t>(u));
    } else {
      out->set_uint64_param(u);
    }
  } else if (value.is_number_integer()) {
    out->set_int64_param(value.get<int64_t>());
  } else if (value.is_number_float()) {
    out->set_double_param(value.get<double>());
  } else if (value.is_string()) {
    out->set_string_param(value.get<std::string>());
  } else {
    out->set_string_param(value.dump());
  }
}

// Non-object JSON (null included) adds nothing.
void JsonToParameters(const nlohmann::json& object, ParameterMap* out) {
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.items()) JsonToParameter(value, &(*out)[key]);
}

// A non-negative integer parameter no larger than `max`.
absl::StatusOr<uint64_t> UnsignedParameter(const ParameterMap& parameters, const std::string& key,
                                           uint64_t max) {
  const pb::InferParameter& p = parameters.at(key);
  uint64_t value = 0;
  if (p.parameter_choice_case() == pb::InferParameter::kInt64Param && p.int64_param() >= 0) {
    value = static_cast<uint64_t>(p.int64_param());
  } else if (p.parameter_choice_case() == pb::InferParameter::kUint64Param) {
    value = p.uint64_param();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", key, "' must be a non-negative integer"));
  }
  if (value > max) {
    return absl::InvalidArgumentError(absl::StrCat("parameter '", key, "' is too large"));
  }
  return value;
}

absl::Status ApplyRequestParameters(const ParameterMap& parameters,
                                    serving::InferRequest* request) {
  request->parameters = ParametersToJson(parameters);
  if (auto it = parameters.find("binary_data_output"); it != parameters.end()) {
    if (it->second.parameter_choice_case() != pb::InferParameter::kBoolParam) {
      return absl::InvalidArgumentError("parameter 'binary_data_output' must be a bool");
    }
    request->binary_data_output = it->second.bool_param();
  }
  if (parameters.contains("priority")) {
    absl::StatusOr<uint64_t> priority =
        UnsignedParameter(parameters, "priority", std::numeric_limits<uint32_t>::max());
    if (!priority.ok()) return priority.status();
    request->priority = static_cast<uint32_t>(*priority);
  }
  if (parameters.contains("timeout")) {
    absl::StatusOr<uint64_t> timeout =
        UnsignedParameter(parameters, "timeout", std::numeric_limits<uint64_t>::max());
    if (!timeout.ok()) return timeout.status();
    request->timeout_us = *timeout;
  }
  if (auto it = parameters.find("ferry_route_key"); it != parameters.end()) {
    if (it->second.parameter_choice_case() != pb::InferParameter::kStringParam) {
      return absl::InvalidArgumentError("parameter 'ferry_route_key' must be a string");
    }
    request->route_key = it->second.string_param();
  }
  return absl::OkStatus();
}

// --------------------------------------------------------- typed contents

template <typename T>
void AppendPacked(T value, std::string* out) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

absl::Status CountMismatch(const std::string& name, const char* field, int64_t expected,
                           int actual) {
  return absl::InvalidArgumentError(absl::StrCat("input '", name, "': expected ", expected,
                                                 " elements in contents.", field, ", got ",
                                                 actual));
}

// Packs repeated `values` as elements of type To, checking the element count
// and, for narrowing conversions, that every value fits.
template <typename To, typename Repeated>
absl::StatusOr<std::string> PackRepeated(const std::string& name, const char* field,
                                         const Repeated& values, int64_t expected) {
  if (values.size() != expected) return CountMismatch(name, field, expected, values.size());
  std::string data;
  data.reserve(values.size() * sizeof(To));
  for (const auto value : values) {
    using From = std::remove_cv_t<decltype(value)>;
    if constexpr (std::is_integral_v<To> && !std::is_same_v<To, bool> &&
                  sizeof(To) < sizeof(From)) {
      if (value < static_cast<From>(std::numeric_limits<To>::min()) ||
          value > static_cast<From>(std::numeric_limits<To>::max())) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", name, "': value ", value, " out of range for its datatype"));
      }
    }
    AppendPacked(static_cast<To>(value), &data);
  }
  return data;
}

// Converts InferTensorContents to the packed layout of serving::Tensor.
absl::StatusOr<std::string> PackTypedContents(const std::string& name, DataType type, int64_t count,
                                              const pb::InferTensorContents& contents) {
  switch (type) {
    case DataType::kBool: {
      if (contents.bool_contents_size() != count) {
        return CountMismatch(name, "bool_contents", count, contents.bool_contents_size());
      }
      std::string data;
      data.reserve(contents.bool_contents_size());
      for (bool value : contents.bool_contents()) data.push_back(value ? 1 : 0);
      return data;
    }
    case DataType::kUint8:
      return PackRepeated<uint8_t>(name, "uint_contents", contents.uint_contents(), count);
    case DataType::kUint16:
      return PackRepeated<uint16_t>(name, "uint_contents", contents.uint_contents(), count);
    case DataType::kUint32:
      return PackRepeated<uint32_t>(name, "uint_contents", contents.uint_contents(), count);
    case DataType::kUint64:
      return PackRepeated<uint64_t>(name, "uint64_contents", contents.uint64_contents(), count);
    case DataType::kInt8:
      return PackRepeated<int8_t>(name, "int_contents", contents.int_contents(), count);
    case DataType::kInt16:
      return PackRepeated<int16_t>(name, "int_contents", contents.int_contents(), count);
    case DataType::kInt32:
      return PackRepeated<int32_t>(name, "int_contents", contents.int_contents(), count);
    case DataType::kInt64:
      return PackRepeated<int64_t>(name, "int64_contents", contents.int64_contents(), count);
    case DataType::kFp32:
      return PackRepeated<float>(name, "fp32_contents", contents.fp32_contents(), count);
    case DataType::kFp64:
      return PackRepeated<double>(name, "fp64_contents", contents.fp64_contents(), count);
    case DataType::kBytes: {
      if (contents.bytes_contents_size() != count) {
        return CountMismatch(name, "bytes_contents", count, contents.bytes_contents_size());
      }
      std::string data;
      for (const std::string& element : contents.bytes_contents()) {
        if (element.size() > std::numeric_limits<uint32_t>::max()) {
          return absl::InvalidArgumentError(absl::StrCat("input '", name, "': element too large"));
        }
        AppendPacked(static_cast<uint32_t>(element.size()), &data);
        data.append(element);
      }
      return data;
    }
    case DataType::kFp16:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "input '", name, "': FP16 has no typed contents field; send it in raw_input_contents"));
}

// ------------------------------------------------------ request / response

// Decodes `message` into the serving core's request. Moves the raw input
// payloads out of `message` (one copy fewer), leaving it unusable.
absl::StatusOr<serving::InferRequest> DecodeInferRequest(pb::ModelInferRequest& message) {
  serving::InferRequest request;
  request.id = message.id();
  request.model_name = message.model_name();
  request.model_version = message.model_version();
  if (request.model_name.empty()) return absl::InvalidArgumentError("model_name is required");
  if (absl::Status s = ApplyRequestParameters(message.parameters(), &request); !s.ok()) return s;

  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != message.inputs_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents has ", message.raw_input_contents_size(),
                     " entries but the request has ", message.inputs_size(), " inputs"));
  }
  request.inputs.reserve(message.inputs_size());
  for (int i = 0; i < message.inputs_size(); ++i) {
    pb::ModelInferRequest::InferInputTensor& input = *message.mutable_inputs(i);
    serving::Tensor tensor;
    tensor.name = input.name();
    std::optional<DataType> type = serving::ParseDataType(input.datatype());
    if (!type) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "': unknown datatype '", input.datatype(), "'"));
    }
    tensor.datatype = *type;
    tensor.shape.assign(input.shape().begin(), input.shape().end());
    tensor.parameters = ParametersToJson(input.parameters());
    if (input.parameters().contains("shared_memory_region")) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "': shared memory is not supported"));
    }
    const int64_t count = tensor.ElementCount();
    if (count < 0) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "': invalid shape"));
    }
    if (raw) {
      if (input.has_contents()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", input.name(), "': contents must be empty when raw_input_contents is used"));
      }
      tensor.data = std::move(*message.mutable_raw_input_contents(i));
    } else if (input.has_contents()) {
      absl::StatusOr<std::string> data =
          PackTypedContents(input.name(), *type, count, input.contents());
      if (!data.ok()) return data.status();
      tensor.data = std::move(*data);
    } else if (count != 0) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "': no data"));
    }
    if (absl::Status s = serving::ValidateTensorData(tensor); !s.ok()) return s;
    request.inputs.push_back(std::move(tensor));
  }

  request.outputs.reserve(message.outputs_size());
  for (const auto& output : message.outputs()) {
    serving::RequestedOutput requested;
    requested.name = output.name();
    requested.parameters = ParametersToJson(output.parameters());
    if (output.parameters().contains("shared_memory_region")) {
      return absl::InvalidArgumentError(
          absl::StrCat("output '", output.name(), "': shared memory is not supported"));
    }
    if (auto it = output.parameters().find("binary_data"); it != output.parameters().end()) {
      if (it->second.parameter_choice_case() == pb::InferParameter::kBoolParam) {
        requested.binary_data = it->second.bool_param();
      }
    }
    request.outputs.push_back(std::move(requested));
  }
  return request;
}

void EncodeInferResponse(serving::InferResponse response, pb::ModelInferResponse* out) {
  out->set_model_name(std::move(response.model_name));
  out->set_model_version(std::move(response.model_version));
  out->set_id(std::move(response.id));
  JsonToParameters(response.parameters, out->mutable_parameters());
  for (serving::Tensor& tensor : response.outputs) {
    pb::ModelInferResponse::InferOutputTensor* output = out->add_outputs();
    output->set_name(std::move(tensor.name));
    output->set_datatype(std::string(serving::DataTypeName(tensor.datatype)));
    output->mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
    JsonToParameters(tensor.parameters, output->mutable_parameters());
    *out->add_raw_output_contents() = std::move(tensor.data);
  }
}

// Fills `message` from Triton-shaped JSON; both snake_case and lowerCamel
// names are accepted and fields Ferry's proto does not declare are skipped.
absl::Status JsonToMessage(const nlohmann::json& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(json.dump(), message, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode ", message->GetTypeName(), ": ",
                                            std::string(status.message())));
  }
  return absl::OkStatus();
}

// ----------------------------------------------------------- worker pool

// A few threads for RPCs whose core call blocks (model load / unload).
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
  }
  // Runs every task already posted, then joins.
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// ------------------------------------------------------ streaming reactor

// One ModelStreamInfer call. Reads requests one at a time and hands each to
// the core without waiting; responses are written in completion order, one
// write in flight at a time. Finishes once the client half-closed, every
// inference completed and every response was written (or the stream broke).
// Deletes itself in OnDone().
class StreamInferReactor
    : public grpc::ServerBidiReactor<pb::ModelInferRequest, pb::ModelStreamInferResponse> {
 public:
  explicit StreamInferReactor(serving::InferenceService* service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::unique_lock<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinish(lock);
      return;
    }
    std::string id = request_.id();
    std::string model_name = request_.model_name();
    std::string model_version = request_.model_version();
    absl::StatusOr<serving::InferRequest> request = DecodeInferRequest(request_);
    if (!request.ok()) {
      Push(ErrorResponse(request.status(), id, model_name, model_version));
    } else {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++inflight_;
      }
      // Safe to capture `this`: while inflight_ > 0 the reactor cannot finish.
      service_->Infer(
          std::move(*request),
          [this, id = std::move(id), model_name = std::move(model_name),
           model_version = std::move(model_version)](absl::StatusOr<serving::InferResponse> r) {
            pb::ModelStreamInferResponse response;
            if (r.ok()) {
              EncodeInferResponse(std::move(*r), response.mutable_infer_response());
            } else {
              response = ErrorResponse(r.status(), id, model_name, model_version);
            }
            Push(std::move(response), /*completes_inference=*/true);
          });
    }
    request_.Clear();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    queue_.pop_front();
    if (!ok) {
      broken_ = true;
      queue_.clear();
    }
    if (!queue_.empty()) {
      pb::ModelStreamInferResponse* next = &queue_.front();
      lock.unlock();
      StartWrite(next);
      return;
    }
    writing_ = false;
    MaybeFinish(lock);
  }

  void OnDone() override { delete this; }

 private:
  static pb::ModelStreamInferResponse ErrorResponse(const absl::Status& status,
                                                    const std::string& id,
                                                    const std::string& model_name,
                                                    const std::string& model_version) {
    pb::ModelStreamInferResponse response;
    response.set_error_message(std::string(status.message()));
    response.mutable_infer_response()->set_id(id);
    response.mutable_infer_response()->set_model_name(model_name);
    response.mutable_infer_response()->set_model_version(model_version);
    return response;
  }

  // Queues a response (dropped once the stream broke) and starts writing if
  // idle. Never touches members after releasing the lock unless a write is
  // in flight, which keeps the reactor alive.
  void Push(pb::ModelStreamInferResponse response, bool completes_inference = false) {
    std::unique_lock<std::mutex> lock(mu_);
    if (completes_inference) --inflight_;
    if (!broken_) queue_.push_back(std::move(response));
    if (!writing_ && !queue_.empty()) {
      writing_ = true;
      pb::ModelStreamInferResponse* next = &queue_.front();  // deque: stable on push_back
      lock.unlock();
      StartWrite(next);
      return;
    }
    MaybeFinish(lock);
  }

  // Calls Finish() (once) when nothing is pending. Releases `lock`.
  void MaybeFinish(std::unique_lock<std::mutex>& lock) {
    if (finished_ || !reads_done_ || inflight_ > 0 || writing_) return;
    finished_ = true;
    const bool broken = broken_;
    lock.unlock();
    Finish(broken ? grpc::Status(grpc::StatusCode::CANCELLED, "stream closed by peer")
                  : grpc::Status::OK);
  }

  serving::InferenceService* const service_;
  pb::ModelInferRequest request_;  // only touched by the read chain

  std::mutex mu_;
  std::deque<pb::ModelStreamInferResponse> queue_;  // front() is being written
  int inflight_ = 0;
  bool reads_done_ = false;
  bool writing_ = false;
  bool broken_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------- service

grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context,
                                  const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

class InferenceGrpcService final : public pb::GRPCInferenceService::CallbackService {
 public:
  InferenceGrpcService(serving::InferenceService* service, WorkerPool* pool)
      : service_(service), pool_(pool) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const pb::ServerLiveRequest*,
                                       pb::ServerLiveResponse* response) override {
    response->set_live(service_->Live());
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const pb::ServerReadyRequest*,
                                        pb::ServerReadyResponse* response) override {
    response->set_ready(service_->Ready());
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const pb::ModelReadyRequest* request,
                                       pb::ModelReadyResponse* response) override {
    response->set_ready(service_->ModelReady(request->name(), request->version()));
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const pb::ServerMetadataRequest*,
                                           pb::ServerMetadataResponse* response) override {
    serving::ServerMetadata metadata = service_->GetServerMetadata();
    response->set_name(std::move(metadata.name));
    response->set_version(std::move(metadata.version));
    for (std::string& extension : metadata.extensions) {
      response->add_extensions(std::move(extension));
    }
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const pb::ModelMetadataRequest* request,
                                          pb::ModelMetadataResponse* response) override {
    absl::StatusOr<serving::ModelMetadataView> view =
        service_->GetModelMetadata(request->name(), request->version());
    if (!view.ok()) return Respond(context, view.status());
    response->set_name(view->name);
    for (const std::string& version : view->versions) response->add_versions(version);
    response->set_platform(view->metadata.platform);
    auto add = [](const serving::TensorSpec& spec, pb::ModelMetadataResponse::TensorMetadata* out) {
      out->set_name(spec.name);
      out->set_datatype(std::string(serving::DataTypeName(spec.datatype)));
      out->mutable_shape()->Add(spec.shape.begin(), spec.shape.end());
    };
    for (const auto& spec : view->metadata.inputs) add(spec, response->add_inputs());
    for (const auto& spec : view->metadata.outputs) add(spec, response->add_outputs());
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const pb::ModelInferRequest* request,
                                       pb::ModelInferResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // The callback API hands the request over as const, but the message is a
    // non-const object owned by this call and read by nobody after us; moving
    // the raw payloads out saves a copy of every input.
    absl::StatusOr<serving::InferRequest> decoded =
        DecodeInferRequest(const_cast<pb::ModelInferRequest&>(*request));
    if (!decoded.ok()) {
      reactor->Finish(ToGrpcStatus(decoded.status()));
      return reactor;
    }
    // `response` and `reactor` stay valid until Finish(), which only the
    // callback calls.
    service_->Infer(std::move(*decoded),
                    [reactor, response](absl::StatusOr<serving::InferResponse> result) {
                      if (!result.ok()) {
                        reactor->Finish(ToGrpcStatus(result.status()));
                        return;
                      }
                      EncodeInferResponse(std::move(*result), response);
                      reactor->Finish(grpc::Status::OK);
                    });
    return reactor;
  }

  grpc::ServerBidiReactor<pb::ModelInferRequest, pb::ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext*) override {
    return new StreamInferReactor(service_);
  }

  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const pb::ModelConfigRequest* request,
                                        pb::ModelConfigResponse* response) override {
    absl::StatusOr<nlohmann::json> config =
        service_->GetModelConfig(request->name(), request->version());
    if (!config.ok()) return Respond(context, config.status());
    return Respond(context, JsonToMessage(*config, response->mutable_config()));
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const pb::ModelStatisticsRequest* request,
                                            pb::ModelStatisticsResponse* response) override {
    absl::StatusOr<nlohmann::json> stats =
        service_->GetModelStatistics(request->name(), request->version());
    if (!stats.ok()) return Respond(context, stats.status());
    return Respond(context, JsonToMessage(*stats, response));
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const pb::RepositoryIndexRequest* request,
                                            pb::RepositoryIndexResponse* response) override {
    for (serving::RepositoryEntry& entry : service_->RepositoryIndex(request->ready())) {
      pb::RepositoryIndexResponse::ModelIndex* model = response->add_models();
      model->set_name(std::move(entry.name));
      model->set_version(std::move(entry.version));
      model->set_state(std::move(entry.state));
      model->set_reason(std::move(entry.reason));
    }
    return Respond(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                const pb::RepositoryModelLoadRequest* request,
                                                pb::RepositoryModelLoadResponse*) override {
    // Triton's "config" / "file:" overrides would load something other than
    // what the registry holds; refuse rather than silently ignore them.
    if (!request->parameters().empty()) {
      return Respond(context, absl::InvalidArgumentError(absl::StrCat(
                                  "RepositoryModelLoad parameters are not supported (got '",
                                  request->parameters().begin()->first, "')")));
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    pool_->Post([this, reactor, name = request->model_name()] {
      reactor->Finish(ToGrpcStatus(service_->LoadModel(name)));
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                  const pb::RepositoryModelUnloadRequest* request,
                                                  pb::RepositoryModelUnloadResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    pool_->Post([this, reactor, name = request->model_name()] {
      reactor->Finish(ToGrpcStatus(service_->UnloadModel(name)));
    });
    return reactor;
  }

 private:
  serving::InferenceService* const service_;
  WorkerPool* const pool_;
};

}  // namespace

// ------------------------------------------------------------------ server

class GrpcServer::Impl {
 public:
  Impl(serving::InferenceService* service, int threads)
      : pool_(threads), grpc_service_(service, &pool_) {}

  ~Impl() { Shutdown(std::chrono::system_clock::now()); }

  absl::Status Start(const GrpcServerOptions& options) {
    const std::string address = options.host.find(':') != std::string::npos
                                    ? absl::StrCat("[", options.host, "]:", options.port)
                                    : absl::StrCat(options.host, ":", options.port);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&grpc_service_);
    builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
    builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
    // gRPC sets SO_REUSEPORT by default, so a second server on a busy port
    // would "bind" and silently share it; fail instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(absl::StrCat("gRPC server cannot listen on ", address));
    }
    return absl::OkStatus();
  }

  int port() const { return port_; }

  void Shutdown(std::chrono::system_clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    if (server_ == nullptr) return;
    // Blocks until every call finished; the pool keeps running so that
    // queued loads can complete their calls.
    server_->Shutdown(deadline);
    server_.reset();
  }

 private:
  // Destruction order matters: server_ first, then the service it
  // dispatches to, then the pool its handlers post to.
  WorkerPool pool_;
  InferenceGrpcService grpc_service_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  std::unique_ptr<grpc::Server> server_;
};

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Create(const GrpcServerOptions& options,
                                                               serving::InferenceService* service) {
  if (service == nullptr) return absl::InvalidArgumentError("GrpcServer needs a service");
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid gRPC port ", options.port));
  }
  if (options.max_message_bytes == 0 ||
      options.max_message_bytes > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("max_message_bytes must be in [1, 2^31)");
  }
  if (options.threads < 1) return absl::InvalidArgumentError("threads must be at least 1");
  // Keep gRPC initialised for the life of the process. Otherwise the last
  // gRPC object to go (this server, or a client channel) runs grpc_shutdown(),
  // which can block ~10 s joining an executor thread parked in a poller
  // (observed with gRPC 1.51), stalling a graceful stop.
  [[maybe_unused]] static const bool grpc_initialized = [] {
    grpc_init();
    return true;
  }();
  auto impl = std::make_unique<Impl>(service, options.threads);
  if (absl::Status status = impl->Start(options); !status.ok()) return status;
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() = default;

int GrpcServer::port() const { return impl_->port(); }

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  impl_->Shutdown(deadline);
}

}  // namespace ferry::api::v2
