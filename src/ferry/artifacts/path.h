#ifndef FERRY_ARTIFACTS_PATH_H_
#define FERRY_ARTIFACTS_PATH_H_

// Canonicalisation and confinement of client-supplied artifact paths: the
// one place that decides whether a path is safe. MLflow shipped many CVEs
// here (CVE-2023-1177, -2356, -6909, -6975, -43472 ...).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ferry::artifacts {

// Takes an already URL-decoded (exactly once) relative path and returns its
// canonical form ("a/b/c", no leading/trailing '/', no empty segments, ""
// for the root). InvalidArgument, naming the reason, for: any ".." or "."
// segment, an absolute path, a backslash, a NUL or other control byte, a
// '%' that would decode again (double encoding), a Windows drive prefix,
// a segment longer than 255 bytes, or a total over 4096 bytes.
absl::StatusOr<std::string> CanonicalizeRelativePath(std::string_view path);

}  // namespace ferry::artifacts

#endif  // FERRY_ARTIFACTS_PATH_H_
