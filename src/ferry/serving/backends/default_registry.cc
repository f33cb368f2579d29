// BackendRegistry::Default(): every backend compiled into this binary. Lives
// here rather than in serving/ so the serving core does not depend on any
// model library.

#include "ferry/serving/backend.h"
#include "ferry/serving/backends/xgboost/xgboost_backend.h"

namespace ferry::serving {

const BackendRegistry& BackendRegistry::Default() {
  static const BackendRegistry* const registry = [] {
    auto* created = new BackendRegistry();
    created->Register(kXgboostFormat, CreateXgboostBackend);
    return created;
  }();
  return *registry;
}

}  // namespace ferry::serving
