// Manual check of the gRPC frontend against real Triton clients: serves the
// in-process echo model (testing/echo_inference_service.h) until SIGINT or
// SIGTERM. Prints "PORT <n>" once listening.
//
//   grpc_echo_server [port] [--async]
//   then e.g. perf_analyzer -m echo -i grpc -u localhost:<n>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ferry/api/v2/grpc/grpc_server.h"
#include "ferry/api/v2/grpc/testing/echo_inference_service.h"

int main(int argc, char** argv) {
  int port = 0;
  ferry::api::v2::testing::EchoInferenceService::Options service_options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--async") == 0) {
      service_options.async_completion = true;
    } else {
      port = std::atoi(argv[i]);
    }
  }
  // Blocked before any thread starts so every thread inherits the mask and
  // sigwait() below receives the signal.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ferry::api::v2::testing::EchoInferenceService service(service_options);
  auto server = ferry::api::v2::GrpcServer::Create({.host = "127.0.0.1", .port = port}, &service);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("PORT %d\n", (*server)->port());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
