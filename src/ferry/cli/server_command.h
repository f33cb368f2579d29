#ifndef FERRY_CLI_SERVER_COMMAND_H_
#define FERRY_CLI_SERVER_COMMAND_H_

#include <string>
#include <string_view>

#include "CLI/CLI.hpp"

namespace ferry::cli {

struct ServerFlags {
  std::string host = "127.0.0.1";
  int port = 5000;
  std::string backend_store_uri;      // default sqlite:///<cwd>/ferry-data/ferry.db
  std::string artifacts_destination;  // default <cwd>/ferry-data/artifacts
  int workers = 4;
  bool allow_unauthenticated = false;
  std::string log_format = "text";
  std::string log_level = "info";
  bool access_log = true;
  size_t max_body_bytes = 32 * 1024 * 1024;
};

// False (after explaining on stderr) when `host` is not loopback and
// --allow-unauthenticated was not given: there is no authentication yet.
// `exposed` says what a remote caller could do ("read and change ...").
bool ListenAllowed(std::string_view command, const std::string& host, bool allow_unauthenticated,
                   std::string_view exposed);

// `ferry server`: the tracking server. Blocks until SIGINT/SIGTERM, then
// drains and exits 0.
void AddServerCommand(CLI::App& app, ServerFlags& flags, int& exit_code);

}  // namespace ferry::cli

#endif  // FERRY_CLI_SERVER_COMMAND_H_
