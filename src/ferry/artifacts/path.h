#ifndef FERRY_ARTIFACTS_PATH_H_
#define FERRY_ARTIFACTS_PATH_H_

// Canonicalisation and confinement of client-supplied artifact paths: the
// one place that decides whether a path is safe. MLflow shipped many CVEs
// here (CVE-2023-1177, -2356, -6909, -6975, -43472 ...).
//
// Decoding contract: the HTTP layer percent-decodes a raw path exactly once
// (PercentDecode below, or DecodeAndCanonicalizeRelativePath) and hands the
// decoded string to CanonicalizeRelativePath. A "%2e%2e" that is still
// present after that one decode therefore arrived double-encoded
// ("%252e%252e") and is rejected, so no later layer that decodes again can
// turn it into "..".
//
// Decisions beyond the obvious (".." / absolute / backslash / NUL):
//  - Empty segments are collapsed: "a//b" and "a/b/" canonicalise to "a/b".
//    Only a *leading* '/' is an error (absolute path). Callers must use the
//    returned canonical form for every later step (file system, keys, logs).
//  - '~' is an ordinary character: nothing in Ferry expands it, so "~/x" is
//    the directory named "~" under the root.
//  - '#' is rejected, as MLflow's validate_path_is_safe does: fragments were
//    the bypass in CVE-2023-6909 / CVE-2024-3848 once a path is spliced into
//    a URI.
//  - A lone '%' that cannot decode again ("100%") is an ordinary character.
//  - The path must be valid UTF-8 (no overlong forms such as C0 AE for '.',
//    no surrogates): listings are emitted as JSON, and overlong dots and
//    slashes are a classic traversal bypass.
//  - A segment made only of dots, spaces and Unicode dot look-alikes
//    ("...", ". .", U+2024, U+FF0E, ...) is rejected: Windows strips
//    trailing dots/spaces and NFKC normalisation folds the look-alikes to
//    '.', either of which would turn them into "." or "..".
//  - Unicode slash look-alikes (U+2215, U+2044, U+FF0F, U+29F8) and
//    backslash look-alikes (U+FF3C, U+FE68, U+29F9) are rejected for the
//    same reason.
//  - C0 controls, DEL and C1 controls (U+0080..U+009F) are rejected.
//  - A segment that starts with a drive prefix ("C:", "c:") is rejected,
//    wherever it appears.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ferry::artifacts {

inline constexpr size_t kMaxPathSegmentBytes = 255;  // NAME_MAX on Linux
inline constexpr size_t kMaxPathBytes = 4096;        // PATH_MAX on Linux

// Takes an already URL-decoded (exactly once) relative path and returns its
// canonical form ("a/b/c", no leading/trailing '/', no empty segments, ""
// for the root). InvalidArgument, naming the reason, for: any ".." or "."
// segment, an absolute path, a backslash, a NUL or other control byte, a
// '%' that would decode again (double encoding), a Windows drive prefix,
// a segment longer than 255 bytes, or a total over 4096 bytes (measured on
// the input), plus the cases listed at the top of this file.
absl::StatusOr<std::string> CanonicalizeRelativePath(std::string_view path);

// Decodes %XX escapes exactly once ('+' stays '+': this is a path, not a
// form field). InvalidArgument for a malformed escape ("%", "%4", "%zz").
// Thin wrapper over ferry::PercentDecode so there is one decoder.
absl::StatusOr<std::string> PercentDecode(std::string_view raw);

// PercentDecode followed by CanonicalizeRelativePath: what an HTTP handler
// calls on a raw (still percent-encoded) path.
absl::StatusOr<std::string> DecodeAndCanonicalizeRelativePath(std::string_view raw);

}  // namespace ferry::artifacts

#endif  // FERRY_ARTIFACTS_PATH_H_
