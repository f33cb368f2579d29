#include "ferry/cli/cli.h"

#include "CLI/CLI.hpp"
#include "ferry/cli/client_commands.h"
#include "ferry/cli/governance_commands.h"
#include "ferry/cli/serve_command.h"
#include "ferry/cli/server_command.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

namespace ferry::cli {

int Main(int argc, char** argv) {
  CLI::App app{"Ferry: experiment tracking, model registry and serving in one binary", "ferry"};
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  ServerFlags server_flags;
  AddServerCommand(app, server_flags, exit_code);
  ServeFlags serve_flags;
  AddServeCommand(app, serve_flags, exit_code);
  AddClientCommands(app, exit_code);
  AddGovernanceCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace ferry::cli
