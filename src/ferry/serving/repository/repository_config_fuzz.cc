// Fuzzes the model configuration parsers (config.pbtxt and config.json are
// read from model repositories that may come from anywhere).
//
// Input: first byte 'j' -> ParseModelConfigJson on the rest, anything else
// -> ParseModelConfigText on the rest.
// Oracles beyond "no crash, no sanitizer report":
//  - every error is InvalidArgument, names the source and is valid UTF-8
//    (error messages end up in JSON responses);
//  - an accepted config printed by ToTritonConfigJson parses back (as
//    config.json) to the same tensors, batching and policy values (dump()
//    also proves every string in it is valid UTF-8).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ferry/serving/repository/model_repository.h"

namespace {

using ferry::serving::repository::ParseModelConfigJson;
using ferry::serving::repository::ParseModelConfigText;
using ferry::serving::repository::RepositoryModelConfig;
using ferry::serving::repository::ToTritonConfigJson;

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "oracle failed: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool SameTensors(const RepositoryModelConfig& a, const RepositoryModelConfig& b) {
  auto same = [](const auto& x, const auto& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i].name != y[i].name || x[i].datatype != y[i].datatype || x[i].shape != y[i].shape ||
          x[i].optional != y[i].optional) {
        return false;
      }
    }
    return true;
  };
  return same(a.inputs, b.inputs) && same(a.outputs, b.outputs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::string_view kSource = "fuzz/config";
  auto config =
      data[0] == 'j' ? ParseModelConfigJson(input, kSource) : ParseModelConfigText(input, kSource);
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("error code", config.status().ToString());
    }
    std::string message(config.status().message());
    if (message.find(kSource) == std::string::npos) Fail("error names source", message);
    (void)nlohmann::json(message).dump();  // throws (and aborts) on invalid UTF-8
    return 0;
  }
  std::string printed = ToTritonConfigJson(*config).dump();
  auto again = ParseModelConfigJson(printed, "printed");
  if (!again.ok()) Fail("printed config parses", again.status().ToString() + " in " + printed);
  if (again->name != config->name || again->max_batch_size != config->max_batch_size ||
      !SameTensors(*again, *config) ||
      again->dynamic_batching_enabled != config->dynamic_batching_enabled ||
      again->preferred_batch_sizes != config->preferred_batch_sizes ||
      again->max_queue_delay_us != config->max_queue_delay_us ||
      again->priority_levels != config->priority_levels ||
      again->default_priority_level != config->default_priority_level ||
      again->default_timeout_us != config->default_timeout_us ||
      again->max_queue_size != config->max_queue_size ||
      again->instance_count != config->instance_count || again->parameters != config->parameters ||
      again->version_policy.kind != config->version_policy.kind ||
      again->version_policy.num_versions != config->version_policy.num_versions ||
      again->version_policy.versions != config->version_policy.versions) {
    Fail("round trip", printed);
  }
  return 0;
}
