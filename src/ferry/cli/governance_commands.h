#ifndef FERRY_CLI_GOVERNANCE_COMMANDS_H_
#define FERRY_CLI_GOVERNANCE_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace ferry::cli {

// `ferry models policy|approve|alias|card`, `ferry audit log|verify` and
// `ferry lineage`: Ferry's governance endpoints (/api/2.0/ferry/...).
void AddGovernanceCommands(CLI::App& app, int& exit_code);

}  // namespace ferry::cli

#endif  // FERRY_CLI_GOVERNANCE_COMMANDS_H_
