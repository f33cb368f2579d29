#include "ferry/store/internal/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ferry/store/internal/strings.h"
#include "nlohmann/json.hpp"

namespace ferry::store::internal {

std::string EncodePageToken(int64_t offset) {
  return absl::Base64Escape(nlohmann::json{{"offset", offset}}.dump());
}

absl::StatusOr<int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return 0;
  std::string json_text;
  if (!absl::Base64Unescape(Sv(token), &json_text) &&
      !absl::WebSafeBase64Unescape(Sv(token), &json_text)) {
    return absl::InvalidArgumentError("Invalid page token");
  }
  nlohmann::json parsed = nlohmann::json::parse(json_text, /*cb=*/nullptr,
                                                /*allow_exceptions=*/false);
  if (!parsed.is_object()) return absl::InvalidArgumentError("Invalid page token");
  auto it = parsed.find("offset");
  if (it == parsed.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return absl::InvalidArgumentError("Invalid page token");
  }
  return it->get<int64_t>();
}

}  // namespace ferry::store::internal
