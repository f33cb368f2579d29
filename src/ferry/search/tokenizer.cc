#include "ferry/search/tokenizer.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ferry::search::internal {
namespace {

// Debian's Abseil has its own absl::string_view, distinct from std's.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHighByte(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool IsWordStart(char c) { return absl::ascii_isalpha(c) || c == '_' || IsHighByte(c); }
bool IsWordContinue(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '$' || c == '#' || c == '.' || IsHighByte(c);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  size_t length;
  uint32_t min_code_point;
  uint32_t code_point;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, min_code_point = 0x80, code_point = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, min_code_point = 0x800, code_point = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, min_code_point = 0x10000, code_point = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  if (code_point < min_code_point || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  return length;
}

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

TokenKind KeywordKind(std::string_view word) {
  static constexpr std::pair<std::string_view, TokenKind> kKeywords[] = {
      {"AND", TokenKind::kAnd},     {"OR", TokenKind::kOr},     {"LIKE", TokenKind::kLike},
      {"ILIKE", TokenKind::kILike}, {"IN", TokenKind::kIn},     {"NOT", TokenKind::kNot},
      {"ASC", TokenKind::kAsc},     {"DESC", TokenKind::kDesc},
  };
  for (const auto& [name, kind] : kKeywords) {
    if (absl::EqualsIgnoreCase(Sv(word), Sv(name))) return kind;
  }
  return TokenKind::kWord;
}

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    size_t i = 0;
    while (true) {
      while (i < input_.size() && IsSpace(input_[i])) ++i;
      if (i == input_.size()) break;
      absl::StatusOr<Token> token = Next(i);
      if (!token.ok()) return token.status();
      i = token->end();
      tokens.push_back(*std::move(token));
    }
    Token end;
    end.kind = TokenKind::kEnd;
    end.position = input_.size();
    end.text = input_.substr(input_.size());
    end.value = end.text;
    tokens.push_back(end);
    return tokens;
  }

 private:
  char At(size_t i) const { return i < input_.size() ? input_[i] : '\0'; }
  bool Has(size_t i) const { return i < input_.size(); }

  Token Make(TokenKind kind, size_t start, size_t end) const {
    Token token;
    token.kind = kind;
    token.position = start;
    token.text = input_.substr(start, end - start);
    token.value = token.text;
    return token;
  }

  absl::StatusOr<Token> Next(size_t i) {
    const char c = input_[i];
    switch (c) {
      case '(':
        return Make(TokenKind::kLeftParen, i, i + 1);
      case ')':
        return Make(TokenKind::kRightParen, i, i + 1);
      case ',':
        return Make(TokenKind::kComma, i, i + 1);
      case '\'':
      case '"':
      case '`':
        return Quoted(i);
      case '=':
        return MakeComparator(i, 1, Comparator::kEq);
      case '<':
        return At(i + 1) == '=' ? MakeComparator(i, 2, Comparator::kLe)
                                : MakeComparator(i, 1, Comparator::kLt);
      case '>':
        return At(i + 1) == '=' ? MakeComparator(i, 2, Comparator::kGe)
                                : MakeComparator(i, 1, Comparator::kGt);
      case '!':
        if (At(i + 1) == '=') return MakeComparator(i, 2, Comparator::kNe);
        break;
      default:
        break;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(At(i + 1))) ||
        (c == '-' && (IsDigit(At(i + 1)) || (At(i + 1) == '.' && IsDigit(At(i + 2)))))) {
      return Number(i);
    }
    if (c == '.') return Make(TokenKind::kDot, i, i + 1);
    if (IsWordStart(c)) {
      size_t end = i + 1;
      while (Has(end) && IsWordContinue(input_[end])) ++end;
      Token token = Make(TokenKind::kWord, i, end);
      if (token.text.find('.') == std::string_view::npos) token.kind = KeywordKind(token.text);
      return token;
    }
    // One whole UTF-8 sequence when possible, so the message shows a character.
    size_t length = Utf8SequenceLength(input_, i);
    if (length == 0) length = 1;
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected token '", Printable(input_.substr(i, length)), "' at position ", i));
  }

  Token MakeComparator(size_t i, size_t length, Comparator comparator) const {
    Token token = Make(TokenKind::kComparator, i, i + length);
    token.comparator = comparator;
    return token;
  }

  absl::StatusOr<Token> Number(size_t start) {
    size_t i = start;
    if (At(i) == '-') ++i;
    while (IsDigit(At(i))) ++i;
    if (At(i) == '.') {
      ++i;
      while (IsDigit(At(i))) ++i;
    }
    if (At(i) == 'e' || At(i) == 'E') {
      size_t j = i + 1;
      if (At(j) == '+' || At(j) == '-') ++j;
      if (IsDigit(At(j))) {
        while (IsDigit(At(j))) ++j;
        i = j;
      }
    }
    // A number glued to a letter, digit or dot ("1e", "0x1F", "1.2.3",
    // "5abc") is not a number in MLflow either.
    if (Has(i) && IsWordContinue(input_[i])) {
      size_t end = i;
      while (Has(end) && IsWordContinue(input_[end])) ++end;
      return absl::InvalidArgumentError(absl::StrCat("invalid number '",
                                                     Printable(input_.substr(start, end - start)),
                                                     "' at position ", start));
    }
    Token token = Make(TokenKind::kNumber, start, i);
    // The syntax is already checked, so this only fails for forms absl does
    // not take; overflow gives +-inf and underflow 0, like Python's float().
    if (!absl::SimpleAtod(Sv(token.text), &token.number)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid number '", Printable(token.text), "' at position ", start));
    }
    return token;
  }

  // Emulates sqlparse's string patterns, e.g. '(''|\\\\|\\'|[^'])*' for
  // single quotes, including regex backtracking: a depth-first search over
  // the alternatives in the regex's order, returning the first way to reach
  // a closing quote. A position from which no closing quote can be reached
  // fails the same way however it is reached, so it is remembered (per quote
  // character) and the search is linear overall.
  absl::StatusOr<Token> Quoted(size_t open) {
    const char quote = input_[open];
    const bool backslash_escapes = quote != '`';
    std::vector<bool>& dead = dead_positions_[quote == '\'' ? 0 : quote == '"' ? 1 : 2];
    if (dead.empty()) dead.assign(input_.size() + 1, false);

    struct Frame {
      size_t position;
      int next_alternative;
    };
    std::vector<Frame> stack = {{open + 1, 0}};
    const auto push = [&](size_t position) {
      if (!dead[position]) stack.push_back({position, 0});
    };
    while (!stack.empty()) {
      const size_t p = stack.back().position;
      const int alternative = stack.back().next_alternative++;
      const char c = At(p);
      const char next = At(p + 1);
      switch (alternative) {
        case 0:  // doubled quote
          if (Has(p + 1) && c == quote && next == quote) push(p + 2);
          break;
        case 1:  // escaped backslash
          if (backslash_escapes && Has(p + 1) && c == '\\' && next == '\\') push(p + 2);
          break;
        case 2:  // escaped quote
          if (backslash_escapes && Has(p + 1) && c == '\\' && next == quote) push(p + 2);
          break;
        case 3:  // any other character
          if (Has(p) && c != quote) push(p + 1);
          break;
        case 4:  // closing quote
          if (Has(p) && c == quote) {
            Token token = Make(quote == '\''  ? TokenKind::kSingleQuoted
                               : quote == '"' ? TokenKind::kDoubleQuoted
                                              : TokenKind::kBacktickQuoted,
                               open, p + 1);
            token.value = input_.substr(open + 1, p - open - 1);
            return token;
          }
          break;
        default:
          dead[p] = true;
          stack.pop_back();
          break;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("unterminated quoted string at position ", open,
                                                   ": ", Printable(input_.substr(open), 64)));
  }

  std::string_view input_;
  // Per quote character (' " `): positions known not to reach a closing quote.
  std::vector<bool> dead_positions_[3];
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view input) { return Lexer(input).Run(); }

absl::StatusOr<std::string> DecodePythonStringLiteral(std::string_view body, char quote) {
  const auto ill_formed = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(why), " in string ",
        Printable(absl::StrCat(std::string(1, quote), Sv(body), std::string(1, quote)), 64)));
  };
  std::string out;
  out.reserve(body.size());
  size_t i = 0;
  while (i < body.size()) {
    const char c = body[i];
    if (c == quote) {
      // Only a doubled quote can be inside the body: Python reads it as the
      // end of one literal and the start of the next, joined together.
      if (i + 1 < body.size() && body[i + 1] == quote) {
        i += 2;
        continue;
      }
      return ill_formed("unbalanced quote");
    }
    if (c == '\n' || c == '\r') return ill_formed("line break");
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= body.size()) return ill_formed("backslash escapes the closing quote");
    const char e = body[i + 1];
    i += 2;
    switch (e) {
      case '\n':
        break;  // line continuation
      case '\\':
      case '\'':
      case '"':
        out.push_back(e);
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        uint32_t value = static_cast<uint32_t>(e - '0');
        for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k, ++i) {
          value = value * 8 + static_cast<uint32_t>(body[i] - '0');
        }
        AppendUtf8(value, out);
        break;
      }
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + digits > body.size()) return ill_formed("truncated escape");
        uint32_t value = 0;
        for (size_t k = 0; k < digits; ++k) {
          const int digit = HexDigitValue(body[i + k]);
          if (digit < 0) return ill_formed("truncated escape");
          value = value * 16 + static_cast<uint32_t>(digit);
        }
        i += digits;
        if (value > 0x10FFFF) return ill_formed("escape out of range");
        // Python keeps lone surrogates in str; they have no UTF-8 encoding.
        if (value >= 0xD800 && value <= 0xDFFF) return ill_formed("surrogate escape");
        AppendUtf8(value, out);
        break;
      }
      case 'N':
        return ill_formed("unsupported \\N{...} escape");
      default:
        out.push_back('\\');
        out.push_back(e);
        break;
    }
  }
  return out;
}

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02X", c);
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      absl::StrAppendFormat(&out, "\\x%02X", c);
      ++i;
      continue;
    }
    out.append(text.data() + i, length);
    i += length;
  }
  return out;
}

std::string Describe(const Token& token) {
  if (token.kind == TokenKind::kEnd) return "end of input";
  return absl::StrCat("'", Printable(token.text, 64), "'");
}

}  // namespace ferry::search::internal
