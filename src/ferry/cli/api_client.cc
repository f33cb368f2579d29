#include "ferry/cli/api_client.h"

#include <cstdio>
#include <cstdlib>

#include "ferry/http/client.h"

namespace ferry::cli {

using nlohmann::json;

void AddCommonFlags(CLI::App* cmd, ClientFlags& flags) {
  cmd->add_option("--tracking-uri", flags.tracking_uri,
                  "Tracking server URL (default: $MLFLOW_TRACKING_URI or http://127.0.0.1:5000)");
  cmd->add_option("--user", flags.user,
                  "Who you are, for the audit log (default: $FERRY_USER or $USER)");
  cmd->add_flag("--json", flags.json_output, "Print the server's JSON instead of a table");
}

std::string TrackingUri(const ClientFlags& flags) {
  if (!flags.tracking_uri.empty()) return flags.tracking_uri;
  if (const char* env = std::getenv("MLFLOW_TRACKING_URI"); env != nullptr && *env != '\0')
    return env;
  return "http://127.0.0.1:5000";
}

namespace {
std::string User(const ClientFlags& flags) {
  if (!flags.user.empty()) return flags.user;
  for (const char* var : {"FERRY_USER", "USER"}) {
    if (const char* env = std::getenv(var); env != nullptr && *env != '\0') return env;
  }
  return "";
}
}  // namespace

std::optional<json> Call(const ClientFlags& flags, const std::string& method,
                         const std::string& target, const json& body, std::string* raw_body) {
  auto client = http::Client::Create({.base_url = TrackingUri(flags)});
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(client.status().message()).c_str());
    return std::nullopt;
  }
  http::HeaderList headers;
  if (std::string user = User(flags); !user.empty()) headers.emplace_back("X-Ferry-User", user);
  auto response = (*client)->Send(method, target, body.is_null() ? "" : body.dump(),
                                  "application/json", headers);
  if (!response.ok()) {
    std::fprintf(stderr, "error: %s (is `ferry server` running at %s?)\n",
                 std::string(response.status().message()).c_str(), TrackingUri(flags).c_str());
    return std::nullopt;
  }
  auto parsed = json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    std::string message = parsed.is_object() && parsed.contains("message")
                              ? parsed["message"].get<std::string>()
                              : response->body;
    std::string code = parsed.is_object() && parsed.contains("error_code")
                           ? parsed["error_code"].get<std::string>()
                           : "";
    std::fprintf(stderr, "error: %s%s%s\n", code.c_str(), code.empty() ? "" : ": ",
                 message.c_str());
    return std::nullopt;
  }
  if (raw_body != nullptr) {
    *raw_body = std::move(response->body);
    return json::object();
  }
  if (parsed.is_discarded()) {
    std::fprintf(stderr, "error: the server's answer is not JSON\n");
    return std::nullopt;
  }
  return parsed;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

}  // namespace ferry::cli
