#include "ferry/artifacts/path.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ferry::artifacts {
namespace {

using std::string_literals::operator""s;

struct HostileCase {
  std::string name;
  std::string path;  // as it reaches CanonicalizeRelativePath (decoded once)
};

// Each entry is already decoded once by the HTTP layer.
const HostileCase kHostile[] = {
    {"parent", "../x"},
    {"parent_alone", ".."},
    {"parent_trailing_slash", "../"},
    {"parent_after_dir", "a/../../x"},
    {"parent_in_middle_stays_inside", "a/../b"},  // harmless here, still rejected
    {"parent_at_end", "a/b/.."},
    {"dot", "."},
    {"dot_segment", "a/./b"},
    {"dot_leading", "./a"},
    {"absolute", "/etc/passwd"},
    {"absolute_double_slash", "//etc/passwd"},
    {"root_only", "/"},
    {"backslash_traversal", "a\\..\\b"},
    {"backslash_only", "\\"},
    {"unc", "\\\\server\\share"},
    {"windows_drive_backslash", "C:\\x"},
    {"windows_drive_slash", "C:/x"},
    {"windows_drive_relative", "c:x"},
    {"windows_drive_later_segment", "a/D:/x"},
    {"nul", "a\0b"s},
    {"nul_after_traversal_looking_ok", "ok.txt\0../../etc/passwd"s},
    {"newline", "a\nb"},
    {"carriage_return", "a\rb"},
    {"tab", "a\tb"},
    {"escape", "a\x1b[31m"},
    {"del", "a\x7f"},
    {"c1_control", "a\xc2\x85"},
    {"double_encoded_dots", "%2e%2e/x"},
    {"double_encoded_slash", "..%2fx"},
    {"double_encoded_dot_slash", "%2e%2e%2fetc"},
    {"triple_encoded", "%252e%252e/x"},
    {"double_encoded_backslash", "..%5cx"},
    {"double_encoded_nul", "a%00b"},
    {"double_encoded_upper", "%2E%2E/x"},
    {"fragment", "a#/../../etc"},
    {"fragment_alone", "#"},
    {"overlong_utf8_dot", "\xc0\xae\xc0\xae/x"},
    {"overlong_utf8_slash", "..\xc0\xafx"},
    {"invalid_utf8", "a\xff"},
    {"truncated_utf8", "a\xe2\x80"},
    {"utf8_surrogate", "a\xed\xa0\x80"},
    {"one_dot_leader_pair", "\xe2\x80\xa4\xe2\x80\xa4/x"},   // U+2024 U+2024
    {"two_dot_leader", "\xe2\x80\xa5/x"},                    // U+2025
    {"fullwidth_full_stops", "\xef\xbc\x8e\xef\xbc\x8e/x"},  // U+FF0E U+FF0E
    {"small_full_stops", "\xef\xb9\x92\xef\xb9\x92"},        // U+FE52 U+FE52
    {"ellipsis", "\xe2\x80\xa6"},                            // U+2026
    {"dots_with_zero_width_space", ".\xe2\x80\x8b."},        // . U+200B .
    {"fullwidth_solidus", "..\xef\xbc\x8f..\xef\xbc\x8fx"},  // U+FF0F
    {"division_slash", "..\xe2\x88\x95x"},                   // U+2215
    {"fullwidth_reverse_solidus", "..\xef\xbc\xbcx"},        // U+FF3C
    {"three_dots", "..."},
    {"dots_and_space", ".. "},
    {"space_dots", " .."},
    {"only_space", " "},
    {"long_segment", std::string(256, 'a')},
    {"long_segment_later", "ok/" + std::string(300, 'b')},
    {"long_path", std::string(kMaxPathBytes + 1, 'a')},
    {"long_path_of_short_segments",
     [] {
       std::string s;
       while (s.size() <= kMaxPathBytes) s += "abcdefg/";
       return s;
     }()},
};

class HostilePathTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostilePathTest, IsInvalidArgument) {
  auto result = CanonicalizeRelativePath(GetParam().path);
  ASSERT_FALSE(result.ok()) << "accepted as '" << *result << "'";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(result.status().message().find("invalid artifact path"), std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(Table, HostilePathTest, ::testing::ValuesIn(kHostile),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return info.param.name;
                         });

TEST(HostilePathTableTest, HasAtLeastFortyEntries) { EXPECT_GE(std::size(kHostile), 40u); }

struct ValidCase {
  std::string in;
  std::string canonical;
};

TEST(CanonicalizeRelativePathTest, ValidPathsAreCanonicalised) {
  const ValidCase cases[] = {
      {"", ""},
      {"a", "a"},
      {"a/b/c.txt", "a/b/c.txt"},
      {"a/", "a"},      // trailing slash dropped
      {"a//b", "a/b"},  // empty segments collapsed
      {"a///b//", "a/b"},
      {"model/MLmodel", "model/MLmodel"},
      {"~/x", "~/x"},  // '~' is a plain name
      {"~", "~"},
      {".hidden", ".hidden"},  // dot-files are fine
      {"a/.b/..c/c..", "a/.b/..c/c.."},
      {"x.", "x."},
      {"100%", "100%"},  // '%' that cannot decode again
      {"50%off", "50%off"},
      {"%zz", "%zz"},
      {"a+b c", "a+b c"},
      {"caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac"},
      {"emoji\xf0\x9f\x98\x80", "emoji\xf0\x9f\x98\x80"},
      {"name:with:colons", "name:with:colons"},
      {std::string(255, 'a'), std::string(255, 'a')},
  };
  for (const ValidCase& c : cases) {
    auto result = CanonicalizeRelativePath(c.in);
    ASSERT_TRUE(result.ok()) << "'" << c.in << "': " << result.status();
    EXPECT_EQ(*result, c.canonical) << c.in;
  }
}

TEST(CanonicalizeRelativePathTest, DrivePrefixIsRejectedEvenBare) {
  EXPECT_EQ(CanonicalizeRelativePath("d:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalizeRelativePath("Z:").status().code(), absl::StatusCode::kInvalidArgument);
  // A colon later in the segment is an ordinary character.
  EXPECT_TRUE(CanonicalizeRelativePath("ab:c").ok());
  EXPECT_TRUE(CanonicalizeRelativePath("1:x").ok());
}

TEST(CanonicalizeRelativePathTest, LimitsAreInclusive) {
  EXPECT_TRUE(CanonicalizeRelativePath(std::string(kMaxPathSegmentBytes, 'x')).ok());
  EXPECT_FALSE(CanonicalizeRelativePath(std::string(kMaxPathSegmentBytes + 1, 'x')).ok());
  std::string at_limit;
  while (at_limit.size() + 4 <= kMaxPathBytes) at_limit += "abc/";
  at_limit.resize(kMaxPathBytes, 'z');
  ASSERT_EQ(at_limit.size(), kMaxPathBytes);
  EXPECT_TRUE(CanonicalizeRelativePath(at_limit).ok());
  EXPECT_FALSE(CanonicalizeRelativePath(at_limit + "z").ok());
}

TEST(CanonicalizeRelativePathTest, CanonicalFormIsAFixedPoint) {
  for (std::string_view in : {"a//b/", "x/y", "~/a//b", "a///"}) {
    auto once = CanonicalizeRelativePath(in);
    ASSERT_TRUE(once.ok());
    auto twice = CanonicalizeRelativePath(*once);
    ASSERT_TRUE(twice.ok());
    EXPECT_EQ(*once, *twice);
  }
}

TEST(PercentDecodeTest, DecodesExactlyOnce) {
  EXPECT_EQ(*PercentDecode("a%20b"), "a b");
  EXPECT_EQ(*PercentDecode("%2e%2e"), "..");
  EXPECT_EQ(*PercentDecode("%252e"), "%2e");  // one layer only
  EXPECT_EQ(*PercentDecode("a+b"), "a+b");    // '+' is literal in paths
  EXPECT_EQ(*PercentDecode("%C3%A9"), "\xc3\xa9");
  EXPECT_EQ(*PercentDecode(""), "");
}

TEST(PercentDecodeTest, RejectsMalformedEscapes) {
  for (std::string_view bad : {"%", "%4", "a%zz", "%g0", "abc%", "%%41"}) {
    auto result = PercentDecode(bad);
    EXPECT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(DecodeAndCanonicalizeTest, RawPathsFromTheWire) {
  EXPECT_EQ(*DecodeAndCanonicalizeRelativePath("model%2FMLmodel"), "model/MLmodel");
  EXPECT_EQ(*DecodeAndCanonicalizeRelativePath("a%20b/c"), "a b/c");
  // Encoded once: decodes to a traversal, rejected.
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("%2e%2e/etc/passwd").ok());
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("..%2fetc").ok());
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("%2Fetc%2Fpasswd").ok());
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("a%00b").ok());
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("a%5c..%5cb").ok());
  // Encoded twice: survives one decode as an escape, rejected.
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("%252e%252e/x").ok());
  EXPECT_FALSE(DecodeAndCanonicalizeRelativePath("%25252e").ok());
  // Malformed escape.
  auto bad = DecodeAndCanonicalizeRelativePath("a%2");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("invalid artifact path"), std::string_view::npos);
}

}  // namespace
}  // namespace ferry::artifacts
