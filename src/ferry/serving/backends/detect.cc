#include "ferry/serving/backends/detect.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/serving/backends/mlmodel.h"
#include "ferry/serving/backends/xgboost/xgboost_backend.h"

namespace ferry::serving {

absl::StatusOr<std::string> DetectModelFormat(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("model directory ", dir, " does not exist"));
  }
  absl::StatusOr<MlflowModelInfo> info = ReadMlflowModel(dir);
  if (info.ok()) {
    if (info->HasFlavor(kXgboostFormat)) return std::string(kXgboostFormat);
    return absl::FailedPreconditionError(
        absl::StrCat(dir, "/MLmodel flavors [", absl::StrJoin(info->flavors, ", "),
                     "] have no backend in this build; supported: ", kXgboostFormat));
  }
  if (!absl::IsNotFound(info.status())) return info.status();
  absl::StatusOr<std::string> file = FindXgboostModelFile(dir);
  if (file.ok()) return std::string(kXgboostFormat);
  return absl::NotFoundError(absl::StrCat("no model found in ", dir,
                                          ": expected an MLmodel file or an xgboost model file "
                                          "(model.json, model.ubj, model.bst, model.xgb, "
                                          "xgboost.model)"));
}

}  // namespace ferry::serving
