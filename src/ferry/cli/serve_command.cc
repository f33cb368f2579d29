#include "ferry/cli/serve_command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "ferry/api/v2/grpc/grpc_server.h"
#include "ferry/api/v2/rest_api.h"
#include "ferry/cli/server_command.h"
#include "ferry/common/logging.h"
#include "ferry/http/server.h"
#include "ferry/monitoring/inference_log.h"
#include "ferry/monitoring/prometheus.h"
#include "ferry/serving/manager/model_manager.h"
#include "ferry/serving/routing/traffic.h"
#include "spdlog/spdlog.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

namespace ferry::cli {
namespace {

using serving::ServedModelOptions;

// "NAME=REF:W,REF:W" -> (NAME, [(REF, W)...])
absl::StatusOr<std::pair<std::string, std::vector<std::pair<std::string, uint32_t>>>> ParseTraffic(
    const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    return absl::InvalidArgumentError(
        absl::StrCat("--traffic '", spec, "': expected NAME=REF:WEIGHT[,REF:WEIGHT...]"));
  auto parsed = serving::ParseTrafficSpec(spec.substr(eq + 1));
  if (!parsed.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--traffic '", spec, "': ", std::string(parsed.status().message())));
  std::vector<std::pair<std::string, uint32_t>> splits;
  for (const auto& split : *parsed) splits.emplace_back(split.version, split.weight);
  return std::make_pair(spec.substr(0, eq), std::move(splits));
}

int Fail(const absl::Status& status) {
  spdlog::error("ferry serve: {}", std::string(status.message()));
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

int RunServe(const ServeFlags& flags) {
  LoggingOptions logging{.format = flags.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                         .level = flags.log_level};
  if (absl::Status st = ConfigureLogging(logging); !st.ok()) {
    std::fprintf(stderr, "ferry serve: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  if (!ListenAllowed("serve", flags.host, flags.allow_unauthenticated,
                     "run inferences and load or unload every model"))
    return 2;
  if (flags.models.empty() && flags.model_repository.empty()) {
    std::fprintf(stderr,
                 "ferry serve: nothing to serve: pass --model NAME=models:/MODEL@ALIAS (with "
                 "--tracking-uri or MLFLOW_TRACKING_URI) and/or --model-repository DIR\n");
    return 2;
  }
  std::string tracking_uri = flags.tracking_uri;
  if (tracking_uri.empty() && std::getenv("MLFLOW_TRACKING_URI") != nullptr)
    tracking_uri = std::getenv("MLFLOW_TRACKING_URI");
  std::string cache_dir =
      flags.cache_dir.empty()
          ? (std::filesystem::current_path() / "ferry-data" / "serving-cache").string()
          : flags.cache_dir;

  serving::ServedModelOptions defaults;
  defaults.batching.max_batch_size = flags.max_batch_size;
  defaults.batching.preferred_batch_sizes = flags.preferred_batch_sizes;
  defaults.batching.max_queue_delay_us = flags.max_queue_delay_us;
  defaults.batching.max_queue_size = flags.max_queue_size;
  defaults.batching.default_timeout_us = flags.default_timeout_us;
  defaults.batching.priority_levels = flags.priority_levels;
  defaults.batching.instances = flags.instances;
  defaults.batching.execute_inline_when_idle = true;
  defaults.model_threads = flags.model_threads;
  if (absl::Status st = serving::batching::ValidateBatcherOptions(defaults.batching); !st.ok())
    return Fail(st);

  std::map<std::string, std::vector<std::pair<std::string, uint32_t>>> traffic;
  for (const auto& spec : flags.traffic) {
    auto parsed = ParseTraffic(spec);
    if (!parsed.ok()) return Fail(parsed.status());
    traffic[parsed->first] = parsed->second;
  }
  std::map<std::string, std::string> shadow;
  for (const auto& spec : flags.shadow) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("--shadow '", spec, "': expected NAME=REF")));
    shadow[spec.substr(0, eq)] = spec.substr(eq + 1);
  }

  std::vector<ServedModelOptions> models;
  for (const auto& spec : flags.models) {
    auto ref = serving::ParseModelReference(spec);
    if (!ref.ok()) return Fail(ref.status());
    auto source = serving::CreateRegistrySource({.tracking_uri = tracking_uri,
                                                 .registered_model = ref->registered_model,
                                                 .default_ref = ref->ref,
                                                 .cache_dir = cache_dir});
    if (!source.ok()) return Fail(source.status());
    ServedModelOptions model = defaults;
    model.name = ref->served_name;
    model.source = std::move(*source);
    models.push_back(std::move(model));
  }
  std::shared_ptr<const serving::repository::ModelRepository> repository;
  if (!flags.model_repository.empty()) {
    auto opened = serving::repository::ModelRepository::Open(flags.model_repository);
    if (!opened.ok()) return Fail(opened.status());
    repository = std::move(*opened);
    auto names = repository->ListModels();
    if (!names.ok()) return Fail(names.status());
    for (const auto& name : *names) {
      ServedModelOptions model = defaults;
      model.name = name;
      auto source = serving::CreateRepositorySource(repository, name);
      if (!source.ok()) return Fail(source.status());
      model.source = std::move(*source);
      models.push_back(std::move(model));
    }
  }
  for (auto& model : models) {
    if (auto it = traffic.find(model.name); it != traffic.end()) model.traffic = it->second;
    if (auto it = shadow.find(model.name); it != shadow.end()) model.shadow_ref = it->second;
  }
  for (const auto& [name, splits] : traffic) {
    bool found = false;
    for (const auto& model : models) found = found || model.name == name;
    if (!found)
      return Fail(
          absl::InvalidArgumentError(absl::StrCat("--traffic names unknown model '", name, "'")));
  }

  monitoring::Registry metrics;
  auto inference_log = monitoring::InferenceLog::Create({.capacity = flags.inference_log_capacity});
  if (!inference_log.ok()) return Fail(inference_log.status());
  auto manager = serving::ModelManager::Create({.poll_interval_ms = flags.poll_interval_ms,
                                                .backends = &serving::BackendRegistry::Default(),
                                                .metrics = &metrics,
                                                .inference_log = inference_log->get(),
                                                .server_version = FERRY_VERSION},
                                               std::move(models));
  if (!manager.ok()) return Fail(manager.status());
  if (repository) (*manager)->SetRepository(repository, defaults);

  http::BlockTerminationSignals();
  http::Router router;
  api::v2::RegisterRestRoutes({.sticky_header = flags.sticky_header}, manager->get(), &metrics,
                              &router);
  auto server = http::Server::Create({.host = flags.host,
                                      .port = flags.http_port,
                                      .io_threads = flags.workers,
                                      .access_log = flags.access_log,
                                      .partition_connections = flags.io_layout == "partitioned"},
                                     &router);
  if (!server.ok()) return Fail(server.status());
  std::unique_ptr<api::v2::GrpcServer> grpc;
  if (flags.grpc_port >= 0) {
    auto created =
        api::v2::GrpcServer::Create({.host = flags.host, .port = flags.grpc_port}, manager->get());
    if (!created.ok()) return Fail(created.status());
    grpc = std::move(*created);
  }
  // Listen first (live), load, then report ready.
  (*server)->Start();
  spdlog::info("ferry {} inference server: http://{}:{}{}", FERRY_VERSION, flags.host,
               (*server)->port(),
               grpc ? absl::StrCat(", grpc ", flags.host, ":", grpc->port()) : std::string());
  if (absl::Status st = (*manager)->LoadAll(); !st.ok())
    spdlog::warn(
        "not every model loaded; /v2/health/ready stays 400 until they do (retrying every {} ms)",
        flags.poll_interval_ms);
  else
    spdlog::info("all models ready");
  (*manager)->StartPolling();
  int sig = http::WaitForTerminationSignal();
  spdlog::info("received signal {}, draining", sig);
  if (grpc) grpc->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  (*server)->Shutdown();
  (*manager)->Drain();
  (*inference_log)->Stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, ServeFlags& flags, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the inference server (Open Inference Protocol V2: REST and gRPC)");
  cmd->add_option("--host", flags.host,
                  "Address to listen on (loopback unless --allow-unauthenticated)")
      ->envname("FERRY_SERVE_HOST")
      ->capture_default_str();
  cmd->add_option("--http-port", flags.http_port, "REST port (0 picks a free one)")
      ->envname("FERRY_HTTP_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--grpc-port", flags.grpc_port, "gRPC port (0 picks a free one, -1 disables)")
      ->envname("FERRY_GRPC_PORT")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  cmd->add_option("--model", flags.models,
                  "Serve a registry model: NAME=models:/MODEL@ALIAS or NAME=models:/MODEL/VERSION "
                  "(repeatable); follows the alias as it moves");
  cmd->add_option("--tracking-uri", flags.tracking_uri,
                  "Ferry/MLflow tracking server for --model (default $MLFLOW_TRACKING_URI)");
  cmd->add_option(
         "--model-repository", flags.model_repository,
         "Triton-style model repository: DIR/<model>/config.pbtxt and DIR/<model>/<version>/")
      ->envname("FERRY_MODEL_REPOSITORY");
  cmd->add_option("--cache-dir", flags.cache_dir,
                  "Where registry model files are downloaded (default ./ferry-data/serving-cache)");
  cmd->add_option("--poll-interval-ms", flags.poll_interval_ms,
                  "How often aliases and the repository are re-read (0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option("--traffic", flags.traffic,
                  "Weighted canary: NAME=REF:WEIGHT,REF:WEIGHT (REF is @alias or a version), e.g. "
                  "credit=@champion:90,@challenger:10");
  cmd->add_option(
      "--shadow", flags.shadow,
      "Shadow traffic: NAME=REF gets a copy of every request; its answers are only recorded");
  cmd->add_option("--sticky-header", flags.sticky_header,
                  "Requests carrying this header are routed by its value (sticky canary)")
      ->capture_default_str();
  cmd->add_option("--max-batch-size", flags.max_batch_size, "Rows per batch (0: no batching)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--preferred-batch-size", flags.preferred_batch_sizes, "Preferred batch sizes");
  cmd->add_option("--max-queue-delay-us", flags.max_queue_delay_us,
                  "How long a request may wait for a batch to fill")
      ->check(CLI::Range(int64_t{0}, int64_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-queue-size", flags.max_queue_size,
                  "Queued requests per model version before 503 + Retry-After (0: unbounded)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--default-timeout-us", flags.default_timeout_us,
                  "Queue timeout per request (0: none; a request's 'timeout' parameter overrides)")
      ->capture_default_str();
  cmd->add_option("--priority-levels", flags.priority_levels, "Priority levels (1 = highest)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--instances", flags.instances, "Execution instances (threads) per model version")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--model-threads", flags.model_threads, "Threads one model execution may use")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--workers,-w", flags.workers, "HTTP I/O threads")
      ->envname("FERRY_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--io-layout", flags.io_layout,
                  "shared: any I/O thread serves any connection (lowest latency at low "
                  "concurrency); partitioned: each thread owns its connections (most "
                  "throughput under load)")
      ->check(CLI::IsMember({"shared", "partitioned"}))
      ->capture_default_str();
  cmd->add_option("--inference-log-capacity", flags.inference_log_capacity,
                  "Records the monitoring hook queues before dropping")
      ->capture_default_str();
  cmd->add_flag("--allow-unauthenticated", flags.allow_unauthenticated,
                "Allow listening on a non-loopback address without authentication");
  cmd->add_option("--log-format", flags.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", flags.log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  cmd->add_flag("!--no-access-log", flags.access_log, "Do not log one line per request");
  cmd->callback([&flags, &exit_code] { exit_code = RunServe(flags); });
}

}  // namespace ferry::cli
