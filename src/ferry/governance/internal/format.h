#ifndef FERRY_GOVERNANCE_INTERNAL_FORMAT_H_
#define FERRY_GOVERNANCE_INTERNAL_FORMAT_H_

// Formatting helpers shared by the governance renderers.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "ferry/store/types.h"

namespace ferry::governance::internal {

// Debian's Abseil has its own absl::string_view (not std::string_view).
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Shortest text that reads back as the same double; "nan", "inf", "-inf".
std::string FormatNumber(double value);

// At most 10 significant digits, for computed values (0.91 - 0.005 -> "0.905").
std::string FormatRounded(double value);

// Epoch milliseconds as ISO-8601 UTC, e.g. "2024-05-01T12:00:00Z".
std::string FormatTimeMs(int64_t ms);

// The value of `key` in `tags`, or null.
const std::string* FindTag(const std::vector<store::Tag>& tags, std::string_view key);

// `text` with control characters (other than those in `keep`) and DEL
// written as \xNN, so that it cannot drive a terminal.
std::string EscapeControl(std::string_view text, std::string_view keep = "");

}  // namespace ferry::governance::internal

#endif  // FERRY_GOVERNANCE_INTERNAL_FORMAT_H_
