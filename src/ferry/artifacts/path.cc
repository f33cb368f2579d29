#include "ferry/artifacts/path.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ferry/common/url.h"

namespace ferry::artifacts {
namespace {

// Debian's Abseil is built with its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Messages never echo the path: it is hostile by assumption and ends up in
// logs and JSON error bodies.
absl::Status Reject(std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("invalid artifact path: ", Sv(reason)));
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Decodes one UTF-8 sequence at `s[*i]`, advancing `*i`. Returns -1 for an
// invalid, truncated, overlong or surrogate encoding.
int32_t NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  int len;
  int32_t cp;
  int32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += len;
  return cp;
}

bool IsControl(int32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

// Characters that NFKC folds to '/' or '\', or that render as one.
bool IsSeparatorLookalike(int32_t cp) {
  switch (cp) {
    case 0x2044:  // FRACTION SLASH
    case 0x2215:  // DIVISION SLASH
    case 0x29F8:  // BIG SOLIDUS
    case 0x29F9:  // BIG REVERSE SOLIDUS
    case 0xFE68:  // SMALL REVERSE SOLIDUS
    case 0xFF0F:  // FULLWIDTH SOLIDUS
    case 0xFF3C:  // FULLWIDTH REVERSE SOLIDUS
      return true;
    default:
      return false;
  }
}

// Characters that NFKC folds to '.' (or "..", "..."), render as a full stop,
// or vanish (zero-width), plus spaces: a segment of only these is "." or ".."
// to some consumer (Windows strips trailing dots and spaces).
bool IsDotSpaceOrInvisible(int32_t cp) {
  switch (cp) {
    case '.':
    case ' ':
    case 0x00A0:  // NO-BREAK SPACE
    case 0x200B:  // ZERO WIDTH SPACE
    case 0x200C:  // ZERO WIDTH NON-JOINER
    case 0x200D:  // ZERO WIDTH JOINER
    case 0x2024:  // ONE DOT LEADER
    case 0x2025:  // TWO DOT LEADER
    case 0x2026:  // HORIZONTAL ELLIPSIS
    case 0x2060:  // WORD JOINER
    case 0x3000:  // IDEOGRAPHIC SPACE
    case 0x3002:  // IDEOGRAPHIC FULL STOP
    case 0xFE52:  // SMALL FULL STOP
    case 0xFEFF:  // ZERO WIDTH NO-BREAK SPACE
    case 0xFF0E:  // FULLWIDTH FULL STOP
    case 0xFF61:  // HALFWIDTH IDEOGRAPHIC FULL STOP
      return true;
    default:
      return false;
  }
}

absl::Status CheckCharacters(std::string_view path) {
  size_t i = 0;
  while (i < path.size()) {
    int32_t cp = NextCodePoint(path, &i);
    if (cp < 0) return Reject("not valid UTF-8");
    if (cp == 0) return Reject("contains a NUL byte");
    if (IsControl(cp)) return Reject("contains a control character");
    if (cp == '\\') return Reject("contains a backslash");
    if (cp == '#') return Reject("contains '#'");
    if (IsSeparatorLookalike(cp)) return Reject("contains a Unicode look-alike of '/' or '\\'");
  }
  return absl::OkStatus();
}

absl::Status CheckSegment(std::string_view segment) {
  if (segment.size() > kMaxPathSegmentBytes) {
    return Reject(absl::StrCat("a segment is longer than ", kMaxPathSegmentBytes, " bytes"));
  }
  if (segment == ".") return Reject("contains a '.' segment");
  if (segment == "..") return Reject("contains a '..' segment");
  bool only_dots_and_spaces = true;
  for (size_t i = 0; i < segment.size() && only_dots_and_spaces;) {
    // Already validated as UTF-8 by CheckCharacters.
    only_dots_and_spaces = IsDotSpaceOrInvisible(NextCodePoint(segment, &i));
  }
  if (only_dots_and_spaces) {
    return Reject("a segment consists only of dots, spaces or look-alikes of them");
  }
  if (segment.size() >= 2 && IsAsciiAlpha(segment[0]) && segment[1] == ':') {
    return Reject("a segment starts with a Windows drive prefix");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> CanonicalizeRelativePath(std::string_view path) {
  if (path.size() > kMaxPathBytes) {
    return Reject(absl::StrCat("longer than ", kMaxPathBytes, " bytes"));
  }
  if (auto status = CheckCharacters(path); !status.ok()) return status;
  if (!path.empty() && path.front() == '/') return Reject("absolute paths are not allowed");
  for (size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] == '%' && IsHexDigit(path[i + 1]) && IsHexDigit(path[i + 2])) {
      return Reject("contains a percent-escape after decoding (double encoding)");
    }
  }

  std::string canonical;
  canonical.reserve(path.size());
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (!segment.empty()) {
      if (auto status = CheckSegment(segment); !status.ok()) return status;
      if (!canonical.empty()) canonical.push_back('/');
      canonical.append(segment);
    }
    start = slash + 1;
  }
  return canonical;
}

absl::StatusOr<std::string> PercentDecode(std::string_view raw) {
  return ferry::PercentDecode(raw, PlusHandling::kLiteral);
}

absl::StatusOr<std::string> DecodeAndCanonicalizeRelativePath(std::string_view raw) {
  auto decoded = PercentDecode(raw);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid artifact path: ", decoded.status().message()));
  }
  return CanonicalizeRelativePath(*decoded);
}

}  // namespace ferry::artifacts
