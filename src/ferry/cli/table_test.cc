#include "ferry/cli/table.h"

#include "gtest/gtest.h"

namespace ferry::cli {
namespace {

TEST(TableTest, PadsColumnsAndCutsLongCells) {
  std::string out = RenderTable({"ID", "NAME"}, {{"1", "short"}, {"22", std::string(60, 'x')}}, 10);
  EXPECT_EQ(out,
            "ID  NAME\n"
            "--  ----------\n"
            "1   short\n"
            "22  xxxxxxxxx\u2026\n");
}

TEST(TableTest, FormatsUtcTime) {
  EXPECT_EQ(FormatTime(0), "");
  EXPECT_EQ(FormatTime(1700000000000), "2023-11-14 22:13:20");
}

}  // namespace
}  // namespace ferry::cli
