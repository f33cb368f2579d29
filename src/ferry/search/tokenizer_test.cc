#include "ferry/search/tokenizer.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::search::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<Token> Lex(std::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  EXPECT_TRUE(tokens.ok()) << text << " -> " << tokens.status();
  return tokens.ok() ? *tokens : std::vector<Token>{};
}

std::vector<TokenKind> Kinds(std::string_view text) {
  std::vector<TokenKind> kinds;
  for (const Token& token : Lex(text)) kinds.push_back(token.kind);
  return kinds;
}

std::string LexError(std::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(tokens.status().message());
}

// The value of the single quoted token that `text` consists of.
std::string QuotedValue(std::string_view text) {
  std::vector<Token> tokens = Lex(text);
  EXPECT_EQ(tokens.size(), 2u) << text;  // the string and kEnd
  return tokens.empty() ? "" : std::string(tokens[0].value);
}

TEST(TokenizerTest, KindsAndPositions) {
  std::vector<Token> tokens = Lex("metrics.`a b` >= -1.5e3 AND x NOT IN ('a', \"b\")");
  std::vector<TokenKind> kinds;
  for (const Token& token : tokens) kinds.push_back(token.kind);
  EXPECT_THAT(kinds,
              ElementsAre(TokenKind::kWord, TokenKind::kBacktickQuoted, TokenKind::kComparator,
                          TokenKind::kNumber, TokenKind::kAnd, TokenKind::kWord, TokenKind::kNot,
                          TokenKind::kIn, TokenKind::kLeftParen, TokenKind::kSingleQuoted,
                          TokenKind::kComma, TokenKind::kDoubleQuoted, TokenKind::kRightParen,
                          TokenKind::kEnd));
  EXPECT_EQ(tokens[0].text, "metrics.");
  EXPECT_EQ(tokens[1].value, "a b");
  EXPECT_EQ(tokens[1].position, 8u);
  EXPECT_EQ(tokens[2].comparator, Comparator::kGe);
  EXPECT_DOUBLE_EQ(tokens[3].number, -1500);
  EXPECT_EQ(tokens[3].position, 17u);
  EXPECT_EQ(tokens.back().position, 47u);
}

TEST(TokenizerTest, ComparatorsTakeTheLongestMatch) {
  std::vector<Token> tokens = Lex("<=>=!=<>==");
  ASSERT_EQ(tokens.size(), 7u);
  EXPECT_EQ(tokens[0].comparator, Comparator::kLe);
  EXPECT_EQ(tokens[1].comparator, Comparator::kGe);
  EXPECT_EQ(tokens[2].comparator, Comparator::kNe);
  EXPECT_EQ(tokens[3].comparator, Comparator::kLt);
  EXPECT_EQ(tokens[4].comparator, Comparator::kGe);
  EXPECT_EQ(tokens[5].comparator, Comparator::kEq);
  EXPECT_THAT(LexError("a ! b"), HasSubstr("unexpected token '!' at position 2"));
}

TEST(TokenizerTest, KeywordsOnlyAsWholeDotFreeWords) {
  EXPECT_THAT(Kinds("and Or LIKE ilike In nOT asc DESC"),
              ElementsAre(TokenKind::kAnd, TokenKind::kOr, TokenKind::kLike, TokenKind::kILike,
                          TokenKind::kIn, TokenKind::kNot, TokenKind::kAsc, TokenKind::kDesc,
                          TokenKind::kEnd));
  EXPECT_THAT(Kinds("tags.and android"),
              ElementsAre(TokenKind::kWord, TokenKind::kWord, TokenKind::kEnd));
}

TEST(TokenizerTest, QuotedStringsFollowSqlparseBoundaries) {
  EXPECT_EQ(QuotedValue("'it''s'"), "it''s");
  EXPECT_EQ(QuotedValue(R"('a\'b')"), R"(a\'b)");
  EXPECT_EQ(QuotedValue(R"('a\\')"), R"(a\\)");
  EXPECT_EQ(QuotedValue(R"("say ""hi""")"), R"(say ""hi"")");
  EXPECT_EQ(QuotedValue("`a``b`"), "a``b");
  // Backslashes do not escape inside backticks.
  EXPECT_EQ(QuotedValue(R"(`a\`)"), R"(a\)");
  // Backtracking: with no later quote, the backslash is an ordinary byte.
  EXPECT_EQ(QuotedValue(R"('C:\dir\')"), R"(C:\dir\)");
  // A doubled quote is content; the next lone quote closes the string.
  std::vector<Token> tokens = Lex("'a'' 'b");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].value, "a'' ");
  EXPECT_EQ(tokens[1].kind, TokenKind::kWord);
}

TEST(TokenizerTest, UnterminatedStrings) {
  EXPECT_THAT(LexError("x = 'abc"), HasSubstr("unterminated quoted string at position 4: 'abc"));
  EXPECT_THAT(LexError("x = \"abc'"), HasSubstr("unterminated quoted string at position 4"));
  EXPECT_THAT(LexError("`abc"), HasSubstr("unterminated quoted string at position 0"));
}

TEST(TokenizerTest, PathologicalQuotesStayLinear) {
  // Would take exponential time in a backtracking regex without the memo.
  std::string backslashes = "'" + std::string(200000, '\\');
  EXPECT_THAT(LexError(backslashes), HasSubstr("unterminated"));
  // Escaped quotes all the way: the last one closes the string.
  std::string escaped = "'";
  for (int i = 0; i < 50000; ++i) escaped += "\\'";
  std::vector<Token> tokens = Lex(escaped);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].value.size(), escaped.size() - 2);
}

TEST(TokenizerTest, NumbersAndInvalidNumbers) {
  EXPECT_DOUBLE_EQ(Lex("-.25")[0].number, -0.25);
  EXPECT_DOUBLE_EQ(Lex("7.")[0].number, 7);
  EXPECT_DOUBLE_EQ(Lex("3E2")[0].number, 300);
  EXPECT_THAT(LexError("5abc"), HasSubstr("invalid number '5abc' at position 0"));
  EXPECT_THAT(LexError("x > 1e-"), HasSubstr("invalid number '1e' at position 4"));
  EXPECT_THAT(LexError("x > -a"), HasSubstr("unexpected token '-' at position 4"));
}

TEST(DecodePythonStringLiteralTest, Escapes) {
  EXPECT_EQ(DecodePythonStringLiteral(R"(a\nb)", '\'').value(), "a\nb");
  EXPECT_EQ(DecodePythonStringLiteral(R"(\x41\101\u00e9)", '\'').value(), "AA\xC3\xA9");
  EXPECT_EQ(DecodePythonStringLiteral(R"(\U0001F600)", '\'').value(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodePythonStringLiteral(R"(\q)", '\'').value(), R"(\q)");
  EXPECT_EQ(DecodePythonStringLiteral(R"(\'\"\\)", '"').value(), R"('"\)");
  EXPECT_EQ(DecodePythonStringLiteral("a''b", '\'').value(), "ab");
  EXPECT_EQ(DecodePythonStringLiteral(R"(a""b)", '"').value(), "ab");
  EXPECT_FALSE(DecodePythonStringLiteral(R"(a\)", '\'').ok());
  EXPECT_FALSE(DecodePythonStringLiteral(R"(\x4)", '\'').ok());
  EXPECT_FALSE(DecodePythonStringLiteral(R"(\ud800)", '\'').ok());
  EXPECT_FALSE(DecodePythonStringLiteral("a\nb", '\'').ok());
}

TEST(PrintableTest, EscapesControlAndInvalidBytesOnly) {
  EXPECT_EQ(Printable("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(Printable(std::string("a\x01\xFF", 3)), R"(a\x01\xFF)");
  EXPECT_EQ(Printable("\xE2\x82"), R"(\xE2\x82)");  // truncated sequence
  EXPECT_EQ(Printable("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace ferry::search::internal
