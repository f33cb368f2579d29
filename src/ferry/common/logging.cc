#include "ferry/common/logging.h"

#include <atomic>
#include <memory>

#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace ferry {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

// Messages starting with this byte carry pre-built JSON object members
// (`"k":v,...`) that the JSON formatter splices in instead of a "msg" string.
constexpr char kRawFieldsMarker = '\x1e';

// `%*` in JSON mode: the payload as a JSON string value (escaped), or spliced
// fields for structured lines such as access logs.
class JsonPayloadFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string out;
    if (!payload.empty() && payload.front() == kRawFieldsMarker) {
      out = std::string(payload.substr(1));
    } else {
      out = "\"msg\":" + nlohmann::json(std::string(payload))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonPayloadFlag>();
  }
};

}  // namespace

absl::Status ConfigureLogging(const LoggingOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(
        "log level must be one of trace|debug|info|warn|error|off, got '" + options.level + "'");
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("ferry", sink);
  if (options.format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonPayloadFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%*})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_format.store(options.format);
  return absl::OkStatus();
}

void LogAccess(const AccessLogEntry& e) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  if (g_format.load() == LogFormat::kJson) {
    nlohmann::json j = {{"type", "access"},           {"method", e.method},
                        {"target", e.target},         {"remote", e.remote},
                        {"status", e.status},         {"bytes", e.bytes_out},
                        {"latency_ms", e.latency_ms}, {"request_id", e.request_id}};
    std::string fields = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Strip the braces: the formatter places the members inside its object.
    spdlog::info("{}{}", kRawFieldsMarker, std::string_view(fields).substr(1, fields.size() - 2));
  } else {
    spdlog::info("{} {} {} {} {}B {:.3f}ms id={}", e.remote, e.method, e.target, e.status,
                 e.bytes_out, e.latency_ms, e.request_id);
  }
}

}  // namespace ferry
