#ifndef FERRY_CLI_CLIENT_COMMANDS_H_
#define FERRY_CLI_CLIENT_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace ferry::cli {

// `ferry experiments list|describe` and `ferry runs search|describe`: talk to
// a tracking server (--tracking-uri, else MLFLOW_TRACKING_URI, else
// http://127.0.0.1:5000) and print readable tables, or JSON with --json.
void AddClientCommands(CLI::App& app, int& exit_code);

}  // namespace ferry::cli

#endif  // FERRY_CLI_CLIENT_COMMANDS_H_
