#ifndef FERRY_CLI_SERVE_COMMAND_H_
#define FERRY_CLI_SERVE_COMMAND_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace ferry::cli {

struct ServeFlags {
  std::string host = "127.0.0.1";
  int http_port = 8080;
  int grpc_port = 8081;             // -1: no gRPC endpoint
  std::vector<std::string> models;  // NAME=models:/REG@ALIAS | NAME=models:/REG/VERSION
  std::string tracking_uri;         // default $MLFLOW_TRACKING_URI
  std::string model_repository;     // Triton-style repository directory
  std::string cache_dir;            // default ./ferry-data/serving-cache
  int64_t poll_interval_ms = 5000;
  std::vector<std::string> traffic;  // NAME=REF:WEIGHT,REF:WEIGHT
  std::vector<std::string> shadow;   // NAME=REF
  std::string sticky_header = "X-Ferry-Route-Key";
  int64_t max_batch_size = 64;
  std::vector<int64_t> preferred_batch_sizes;
  int64_t max_queue_delay_us = 0;
  int64_t max_queue_size = 1024;
  int64_t default_timeout_us = 0;
  uint32_t priority_levels = 1;
  int instances = 1;
  int model_threads = 1;
  int workers = 2;  // HTTP I/O threads
  // "shared": every I/O thread serves every connection (one io_context);
  // "partitioned": one io_context per thread, connections dealt round robin.
  std::string io_layout = "shared";
  size_t inference_log_capacity = 10000;
  bool allow_unauthenticated = false;
  std::string log_format = "text";
  std::string log_level = "info";
  bool access_log = true;
};

// `ferry serve`: the inference server (Open Inference Protocol V2 over REST
// and gRPC). Blocks until SIGINT/SIGTERM, then stops accepting, drains and
// exits 0.
void AddServeCommand(CLI::App& app, ServeFlags& flags, int& exit_code);

}  // namespace ferry::cli

#endif  // FERRY_CLI_SERVE_COMMAND_H_
