#ifndef FERRY_STORE_INTERNAL_STRINGS_H_
#define FERRY_STORE_INTERNAL_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ferry::store::internal {

// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so std::string_view does not convert implicitly for
// absl::StrCat and friends.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace ferry::store::internal

#endif  // FERRY_STORE_INTERNAL_STRINGS_H_
