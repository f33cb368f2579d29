#ifndef FERRY_CLI_API_CLIENT_H_
#define FERRY_CLI_API_CLIENT_H_

// What every client subcommand shares: where the server is, who the user is,
// and one call that prints the server's error (MLflow shape) on failure.

#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"

namespace ferry::cli {

struct ClientFlags {
  std::string
      tracking_uri;  // --tracking-uri, else $MLFLOW_TRACKING_URI, else http://127.0.0.1:5000
  std::string user;  // --user, else $FERRY_USER, else $USER; sent as X-Ferry-User
  bool json_output = false;
};

// Adds --tracking-uri, --user and --json to `cmd`.
void AddCommonFlags(CLI::App* cmd, ClientFlags& flags);

std::string TrackingUri(const ClientFlags& flags);

// One API call. On a transport failure or a non-200 answer prints
// "error: CODE: message" to stderr and returns nullopt. `raw_body` receives
// the body for non-JSON answers (model cards).
std::optional<nlohmann::json> Call(const ClientFlags& flags, const std::string& method,
                                   const std::string& target, const nlohmann::json& body = nullptr,
                                   std::string* raw_body = nullptr);

// Field access that tolerates absent keys.
std::string Str(const nlohmann::json& j, const char* key);
int64_t Int(const nlohmann::json& j, const char* key);

}  // namespace ferry::cli

#endif  // FERRY_CLI_API_CLIENT_H_
