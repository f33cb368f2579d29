#ifndef FERRY_SEARCH_TOKENIZER_H_
#define FERRY_SEARCH_TOKENIZER_H_

// Internal to ferry::search: the lexer under parser.cc. Not a public header;
// other subsystems go through parser.h.
//
// Token boundaries follow the sqlparse lexer that MLflow runs filters
// through, because they decide what a filter means:
//  - Quoted text ends at the first closing quote that sqlparse's backtracking
//    string pattern would pick. Inside '...' and "..." a doubled quote and a
//    backslash before a quote or backslash do not end the string; if no
//    closing quote remains, the scan backs off exactly as the regex does (so
//    'C:\dir\' is the text C:\dir\). Inside `...` only a doubled backtick
//    does not end it.
//  - MLflow strips the outer quotes and nothing else, so Token::value keeps
//    escape sequences verbatim (tags.x = 'it''s' compares with it''s). Only
//    IN lists differ; the parser decodes those elements with
//    DecodePythonStringLiteral() because MLflow reads them with
//    ast.literal_eval.
//  - Numbers: optional '-' directly before the digits, digits with an
//    optional fraction (1, 1.5, 1., .5) and an optional exponent (1e5, 2E-3;
//    1e+3 is accepted too). Hexadecimal and a trailing letter are errors.
//  - Comparators: the longest of <= >= != < > = ; so ">>" is two tokens.
//  - Words: a letter, '_' or any byte >= 0x80, then letters, digits, '_',
//    '$', '#', '.', or bytes >= 0x80. A word keeps its dots, so
//    tags.mlflow.runName is one token; the parser splits at the first dot as
//    MLflow does. AND, OR, LIKE, ILIKE, IN, NOT, ASC and DESC are keywords in
//    any letter case when they are a whole dot-free word.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ferry/search/ast.h"

namespace ferry::search::internal {

enum class TokenKind {
  kEnd,             // end of input; text is empty, position == input size
  kWord,            // identifier-like run, may contain dots
  kBacktickQuoted,  // `...`
  kDoubleQuoted,    // "..."
  kSingleQuoted,    // '...'
  kNumber,
  kComparator,  // = != < <= > >=
  kLeftParen,
  kRightParen,
  kComma,
  kDot,  // a '.' that is not part of a word or number, e.g. after `metrics`
  kAnd,
  kOr,
  kLike,
  kILike,
  kIn,
  kNot,
  kAsc,
  kDesc,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // The exact source bytes, quotes included. Views into the tokenized input.
  std::string_view text;
  // Byte offset of `text` in the input (0-based).
  size_t position = 0;
  // Quoted kinds: the text between the quotes, verbatim (see above).
  // Every other kind: same as `text`.
  std::string_view value;
  double number = 0;                        // kNumber only
  Comparator comparator = Comparator::kEq;  // kComparator only

  // Offset one past the last byte of the token.
  size_t end() const { return position + text.size(); }
};

// Splits `input` into tokens, skipping ASCII whitespace, and appends a final
// kEnd token. The tokens view into `input`, which must outlive them.
// Errors are InvalidArgument whose message names the offending text and its
// position, e.g. "unterminated string '\'abc' at position 9"; the caller
// prefixes the context ("Invalid filter '...': ").
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view input);

// Decodes the body (text between the quotes) of a Python string literal that
// was delimited by `quote`, as ast.literal_eval would: backslash escapes
// (\\ \' \" \n \t \r \a \b \f \v, octal, \xHH, \uXXXX, \UXXXXXXXX,
// backslash-newline) and implicit concatenation of a doubled quote
// ('a''b' -> "ab"). Unknown escapes keep their backslash, as in Python.
// Returns InvalidArgument (detail message only) for input Python rejects,
// e.g. a trailing lone backslash or a raw newline.
absl::StatusOr<std::string> DecodePythonStringLiteral(std::string_view body, char quote);

// `text` made safe to embed in an error message: valid UTF-8 sequences are
// kept, control characters and invalid bytes become \xHH, and text longer
// than `max_bytes` is cut with "...". The result is valid, printable UTF-8.
std::string Printable(std::string_view text, size_t max_bytes = 256);

// A human-readable token description for messages: "'>'" or "end of input".
std::string Describe(const Token& token);

}  // namespace ferry::search::internal

#endif  // FERRY_SEARCH_TOKENIZER_H_
