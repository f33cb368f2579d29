#ifndef FERRY_COMMON_CONFIG_H_
#define FERRY_COMMON_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// Configuration precedence: command-line flag > FERRY_<NAME> environment
// variable > documented default. `EnvName("backend-store-uri")` is
// "FERRY_BACKEND_STORE_URI".
std::string EnvName(std::string_view flag_name);

// The FERRY_* variable for `flag_name`, if set and non-empty.
std::optional<std::string> EnvValue(std::string_view flag_name);

// True for addresses that only this machine can reach (127.0.0.0/8, ::1,
// "localhost").
bool IsLoopbackHost(std::string_view host);

}  // namespace ferry

#endif  // FERRY_COMMON_CONFIG_H_
