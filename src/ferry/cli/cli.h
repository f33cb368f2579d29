#ifndef FERRY_CLI_CLI_H_
#define FERRY_CLI_CLI_H_

namespace ferry::cli {

// Entry point of the `ferry` binary: parses the subcommand and runs it.
// Returns the process exit code.
int Main(int argc, char** argv);

}  // namespace ferry::cli

#endif  // FERRY_CLI_CLI_H_
