#include "ferry/common/config.h"

#include <cctype>
#include <cstdlib>

namespace ferry {

std::string EnvName(std::string_view flag_name) {
  std::string name = "FERRY_";
  for (char c : flag_name) {
    name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

std::optional<std::string> EnvValue(std::string_view flag_name) {
  const char* value = std::getenv(EnvName(flag_name).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.starts_with("127.") &&
         host.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace ferry
