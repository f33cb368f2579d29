#ifndef FERRY_STORE_INTERNAL_PAGE_TOKEN_H_
#define FERRY_STORE_INTERNAL_PAGE_TOKEN_H_

// Opaque page tokens shared by MetadataStore implementations: base64 of a
// small JSON object, {"offset":N}. Clients must treat them as opaque; the
// format may gain fields.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ferry::store::internal {

std::string EncodePageToken(int64_t offset);

// The offset in `token`; 0 for an empty token. InvalidArgument
// "Invalid page token" for anything that is not a token this code made.
absl::StatusOr<int64_t> DecodePageToken(std::string_view token);

}  // namespace ferry::store::internal

#endif  // FERRY_STORE_INTERNAL_PAGE_TOKEN_H_
