#include "ferry/store/sqlite/internal/like.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ferry::store::sqlite_internal {
namespace {

// Bytes in the UTF-8 sequence starting at s[i] (1 for invalid lead bytes, so
// malformed input still makes progress).
size_t CodePointLength(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = 1;
  if (c >= 0xf0) {
    n = 4;
  } else if (c >= 0xe0) {
    n = 3;
  } else if (c >= 0xc0) {
    n = 2;
  }
  return i + n <= s.size() ? n : s.size() - i;
}

char Fold(char c, CaseSensitivity sensitivity) {
  if (sensitivity == CaseSensitivity::kInsensitive && c >= 'A' && c <= 'Z') return c - 'A' + 'a';
  return c;
}

void LikeFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
      sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const auto* value = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  int value_len = sqlite3_value_bytes(argv[0]);
  const auto* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  int pattern_len = sqlite3_value_bytes(argv[1]);
  if (value == nullptr || pattern == nullptr) {
    sqlite3_result_null(ctx);
    return;
  }
  auto sensitivity = *static_cast<const CaseSensitivity*>(sqlite3_user_data(ctx));
  sqlite3_result_int(
      ctx, LikeMatch(std::string_view(value, static_cast<size_t>(value_len)),
                     std::string_view(pattern, static_cast<size_t>(pattern_len)), sensitivity)
               ? 1
               : 0);
}

constexpr CaseSensitivity kSensitive = CaseSensitivity::kSensitive;
constexpr CaseSensitivity kInsensitive = CaseSensitivity::kInsensitive;

}  // namespace

bool LikeMatch(std::string_view value, std::string_view pattern, CaseSensitivity sensitivity) {
  constexpr size_t kNone = std::string_view::npos;
  size_t v = 0;
  size_t p = 0;
  size_t star_p = kNone;  // pattern position just after the last '%'
  size_t star_v = 0;      // value position that '%' currently extends to
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_v = v;
    } else if (p < pattern.size() && pattern[p] == '_') {
      v += CodePointLength(value, v);
      ++p;
    } else if (p < pattern.size() && Fold(pattern[p], sensitivity) == Fold(value[v], sensitivity)) {
      ++v;
      ++p;
    } else if (star_p != kNone) {
      star_v += CodePointLength(value, star_v);
      v = star_v;
      p = star_p;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

absl::Status RegisterLikeFunctions(sqlite3* db) {
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  for (const auto& [name, sensitivity] :
       {std::pair{"ferry_like", &kSensitive}, std::pair{"ferry_ilike", &kInsensitive}}) {
    int rc =
        sqlite3_create_function_v2(db, name, 2, flags, const_cast<CaseSensitivity*>(sensitivity),
                                   LikeFunction, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("cannot register ", name, ": ", sqlite3_errstr(rc)));
    }
  }
  return absl::OkStatus();
}

}  // namespace ferry::store::sqlite_internal
