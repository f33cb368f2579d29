#ifndef FERRY_API_V2_GRPC_GRPC_SERVER_H_
#define FERRY_API_V2_GRPC_GRPC_SERVER_H_

// The Open Inference Protocol V2 gRPC frontend (service
// inference.GRPCInferenceService, wire-compatible with Triton's clients:
// tritonclient.grpc, perf_analyzer). A thin layer over
// serving::InferenceService: each RPC decodes its message, calls the core,
// and encodes the result; absl::Status codes map to gRPC codes in one place
// (grpc_server.cc). No gRPC header is reachable from here.
//
// Implemented RPCs: ServerLive, ServerReady, ModelReady, ServerMetadata,
// ModelMetadata, ModelInfer, ModelStreamInfer, ModelConfig, ModelStatistics,
// RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload. Shared-memory,
// trace and log RPCs answer UNIMPLEMENTED.
//
// Inference is asynchronous end to end: ModelInfer returns the gRPC thread at
// once and the response is sent from InferenceService's completion callback.
// Input data may come as raw_input_contents (packed little-endian, BYTES
// length-prefixed) or typed InferTensorContents; outputs are always sent as
// raw_output_contents, as Triton does. Request parameters "priority",
// "timeout" (microseconds), "binary_data_output" and "ferry_route_key" fill
// the InferRequest fields of the same meaning.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ferry/serving/inference_service.h"

namespace ferry::api::v2 {

struct GrpcServerOptions {
  // Address to bind. "0.0.0.0" / "::" for every interface.
  std::string host = "127.0.0.1";
  // TCP port; 0 picks a free port (read it back with GrpcServer::port()).
  int port = 8081;
  // Largest request or response message, in bytes (gRPC's own default is
  // 4 MiB for receiving, too small for image batches).
  size_t max_message_bytes = 64 << 20;
  // Threads that run the blocking control-plane calls (RepositoryModelLoad /
  // Unload) so they never stall gRPC's callback executor. Inference and the
  // other RPCs do not use them. At least 1.
  int threads = 2;
};

// Thread safety: port() and Shutdown() may be called from any thread.
// Shutdown() is idempotent; the destructor calls it with an immediate
// deadline if it was not called.
class GrpcServer {
 public:
  // Binds and starts serving. `service` is not owned and must outlive the
  // server (until Shutdown() returned or the destructor ran).
  // InvalidArgument for bad options; Unavailable if the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Create(const GrpcServerOptions& options,
                                                            serving::InferenceService* service);

  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const;

  // Graceful stop: stops accepting calls at once, lets in-flight calls
  // (including inferences queued in the service) finish until `deadline`,
  // then cancels what remains. Returns when every call has completed; a
  // call whose inference is still queued completes when the service's
  // callback runs (the InferenceService contract guarantees it runs).
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  class Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::api::v2

#endif  // FERRY_API_V2_GRPC_GRPC_SERVER_H_
