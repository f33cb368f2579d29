#ifndef FERRY_COMMON_LOGGING_H_
#define FERRY_COMMON_LOGGING_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace ferry {

enum class LogFormat { kText, kJson };

struct LoggingOptions {
  LogFormat format = LogFormat::kText;  // kJson: one JSON object per line.
  std::string level = "info";           // trace|debug|info|warn|error|off
};

// Installs the process-wide logger (stderr). Call once at start-up; safe to
// call again to reconfigure. Rejects an unknown level.
absl::Status ConfigureLogging(const LoggingOptions& options);

// One access-log line: method, target, status, bytes, latency. In JSON mode
// the fields are separate keys so log shippers need no parsing.
struct AccessLogEntry {
  std::string_view method;
  std::string_view target;
  std::string_view remote;
  std::string_view request_id;
  int status = 0;
  size_t bytes_out = 0;
  double latency_ms = 0;
};
void LogAccess(const AccessLogEntry& entry);

}  // namespace ferry

#endif  // FERRY_COMMON_LOGGING_H_
