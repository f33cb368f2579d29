// Fuzzes the artifact path gate: PercentDecode + CanonicalizeRelativePath,
// the route every client-supplied artifact path takes. Any accepted result
// must be something that can only name a place under the root.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ferry/artifacts/path.h"

namespace {

void CheckAccepted(const std::string& canonical) {
  if (canonical.empty()) return;  // the root
  if (canonical.front() == '/' || canonical.back() == '/') std::abort();
  if (canonical.find('\\') != std::string::npos) std::abort();
  if (canonical.find('\0') != std::string::npos) std::abort();
  if (canonical.find("//") != std::string::npos) std::abort();
  if (canonical.size() > ferry::artifacts::kMaxPathBytes) std::abort();
  size_t start = 0;
  while (start <= canonical.size()) {
    size_t slash = canonical.find('/', start);
    if (slash == std::string::npos) slash = canonical.size();
    std::string_view segment(canonical.data() + start, slash - start);
    if (segment == ".." || segment == ".") std::abort();
    if (segment.size() > ferry::artifacts::kMaxPathSegmentBytes) std::abort();
    start = slash + 1;
  }
  // Canonical form is a fixed point.
  auto again = ferry::artifacts::CanonicalizeRelativePath(canonical);
  if (!again.ok() || *again != canonical) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // As the HTTP layer does: decode once, then canonicalise.
  auto decoded = ferry::artifacts::PercentDecode(input);
  if (decoded.ok()) {
    auto canonical = ferry::artifacts::CanonicalizeRelativePath(*decoded);
    if (canonical.ok()) CheckAccepted(*canonical);
  }
  auto combined = ferry::artifacts::DecodeAndCanonicalizeRelativePath(input);
  if (combined.ok()) CheckAccepted(*combined);

  // And the raw bytes straight into the canonicaliser.
  auto direct = ferry::artifacts::CanonicalizeRelativePath(input);
  if (direct.ok()) CheckAccepted(*direct);
  return 0;
}
