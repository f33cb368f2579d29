#ifndef FERRY_COMMON_URL_H_
#define FERRY_COMMON_URL_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ferry {

enum class PlusHandling { kLiteral, kSpace };

// Decodes %XX escapes exactly once. InvalidArgument for a malformed escape
// ("%4", "%zz"). `plus` = kSpace for query strings.
absl::StatusOr<std::string> PercentDecode(std::string_view in,
                                          PlusHandling plus = PlusHandling::kLiteral);

// Encodes everything but unreserved characters (RFC 3986) and, when
// `keep_slash`, '/'.
std::string PercentEncode(std::string_view in, bool keep_slash);

// Parses an application/x-www-form-urlencoded query string into decoded
// key/value pairs in order; repeated keys are kept.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

}  // namespace ferry

#endif  // FERRY_COMMON_URL_H_
