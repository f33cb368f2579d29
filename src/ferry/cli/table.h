#ifndef FERRY_CLI_TABLE_H_
#define FERRY_CLI_TABLE_H_

#include <string>
#include <vector>

namespace ferry::cli {

// A plain-text table with a header row, columns padded to their widest cell
// (cells longer than `max_width` are cut with "…").
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, size_t max_width = 48);

// "2026-11-26 06:42:58" (UTC) from epoch milliseconds; "" for 0.
std::string FormatTime(int64_t millis);

}  // namespace ferry::cli

#endif  // FERRY_CLI_TABLE_H_
