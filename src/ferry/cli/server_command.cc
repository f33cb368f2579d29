#include "ferry/cli/server_command.h"

#include <cstdio>
#include <filesystem>

#include "ferry/api/ferry/governance_api.h"
#include "ferry/api/mlflow/mlflow_api.h"
#include "ferry/api/mlflow/registry_api.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/common/config.h"
#include "ferry/common/logging.h"
#include "ferry/http/server.h"
#include "ferry/registry/service.h"
#include "ferry/store/metadata_store.h"
#include "ferry/tracking/service.h"
#include "spdlog/spdlog.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

namespace ferry::cli {

bool ListenAllowed(std::string_view command, const std::string& host, bool allow_unauthenticated,
                   std::string_view exposed) {
  if (IsLoopbackHost(host) || allow_unauthenticated) return true;
  std::fprintf(stderr,
               "ferry %s: refusing to listen on '%s': Ferry has no authentication yet, so any "
               "machine that can reach this address could %s. Listen on 127.0.0.1 (the "
               "default), or pass --allow-unauthenticated if a proxy in front of Ferry "
               "authenticates clients.\n",
               std::string(command).c_str(), host.c_str(), std::string(exposed).c_str());
  return false;
}

namespace {

int RunServer(const ServerFlags& flags) {
  LoggingOptions logging{.format = flags.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                         .level = flags.log_level};
  if (absl::Status st = ConfigureLogging(logging); !st.ok()) {
    std::fprintf(stderr, "ferry server: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  if (!ListenAllowed("server", flags.host, flags.allow_unauthenticated,
                     "read and change every experiment, run and artifact"))
    return 2;
  std::string cwd = std::filesystem::current_path().string();
  std::string store_uri = flags.backend_store_uri.empty()
                              ? "sqlite:///" + cwd + "/ferry-data/ferry.db"
                              : flags.backend_store_uri;
  std::string artifact_root = flags.artifacts_destination.empty() ? cwd + "/ferry-data/artifacts"
                                                                  : flags.artifacts_destination;
  auto store = store::OpenMetadataStore({.uri = store_uri});
  if (!store.ok()) {
    spdlog::error("cannot open backend store '{}': {}", store_uri,
                  std::string(store.status().message()));
    return 1;
  }
  auto artifacts = artifacts::CreateLocalArtifactStore({.root = artifact_root});
  if (!artifacts.ok()) {
    spdlog::error("cannot open artifact destination '{}': {}", artifact_root,
                  std::string(artifacts.status().message()));
    return 1;
  }
  auto registry =
      registry::RegistryService::Create({.store = store->get(), .artifacts = artifacts->get()});
  if (!registry.ok()) {
    spdlog::error("{}", std::string(registry.status().message()));
    return 1;
  }
  auto tracking = tracking::TrackingService::Create(
      {.store = store->get(), .audit = (*registry)->audit_sink()});
  if (!tracking.ok()) {
    spdlog::error("{}", std::string(tracking.status().message()));
    return 1;
  }
  auto api = api::mlflow::MlflowApi::Create(
      {.tracking = tracking->get(), .artifacts = artifacts->get(), .version = FERRY_VERSION});
  if (!api.ok()) {
    spdlog::error("{}", std::string(api.status().message()));
    return 1;
  }
  http::Router router;
  (*api)->RegisterRoutes(&router);
  api::mlflow::RegisterRegistryRoutes(registry->get(), artifacts->get(), &router);
  api::ferry_api::RegisterGovernanceRoutes(registry->get(), &router);

  http::BlockTerminationSignals();
  auto server = http::Server::Create({.host = flags.host,
                                      .port = flags.port,
                                      .io_threads = flags.workers,
                                      .max_body_bytes = flags.max_body_bytes,
                                      .access_log = flags.access_log},
                                     &router);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return 1;
  }
  (*server)->Start();
  spdlog::info(
      "ferry {} tracking server listening on http://{}:{} (store {}, artifacts {}, {} workers)",
      FERRY_VERSION, flags.host, (*server)->port(), store_uri, artifact_root, flags.workers);
  int sig = http::WaitForTerminationSignal();
  spdlog::info("received signal {}, draining in-flight requests", sig);
  (*server)->Shutdown();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app, ServerFlags& flags, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("server", "Run the MLflow-compatible tracking server");
  cmd->add_option("--host", flags.host,
                  "Address to listen on (loopback unless --allow-unauthenticated)")
      ->envname("FERRY_HOST")
      ->capture_default_str();
  cmd->add_option("--port,-p", flags.port, "Port to listen on (0 picks a free one)")
      ->envname("FERRY_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--backend-store-uri", flags.backend_store_uri,
                  "Metadata store URI, sqlite:///PATH (default: ./ferry-data/ferry.db)")
      ->envname("FERRY_BACKEND_STORE_URI");
  cmd->add_option(
         "--artifacts-destination", flags.artifacts_destination,
         "Directory for artifacts served through the proxy (default: ./ferry-data/artifacts)")
      ->envname("FERRY_ARTIFACTS_DESTINATION");
  cmd->add_option("--workers,-w", flags.workers, "I/O threads")
      ->envname("FERRY_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--allow-unauthenticated", flags.allow_unauthenticated,
                "Allow listening on a non-loopback address without authentication")
      ->envname("FERRY_ALLOW_UNAUTHENTICATED");
  cmd->add_option("--log-format", flags.log_format, "text or json (one JSON object per line)")
      ->envname("FERRY_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", flags.log_level, "trace|debug|info|warn|error|off")
      ->envname("FERRY_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", flags.max_body_bytes,
                  "Largest JSON request body accepted (413 past it)")
      ->envname("FERRY_MAX_BODY_BYTES")
      ->capture_default_str();
  cmd->add_flag("!--no-access-log", flags.access_log, "Do not log one line per request")
      ->envname("FERRY_NO_ACCESS_LOG");
  cmd->callback([&flags, &exit_code] { exit_code = RunServer(flags); });
}

}  // namespace ferry::cli
