#ifndef FERRY_COMMON_AUDIT_SINK_H_
#define FERRY_COMMON_AUDIT_SINK_H_

// Who asked for a change, carried from the API edge into the services so
// every mutation can be attributed in the audit log.

#include <string>

#include "nlohmann/json.hpp"

namespace ferry {

struct RequestContext {
  std::string actor =
      "unknown";  // auth identity when it exists, else the client's X-Ferry-User header
  std::string request_id;
};

struct AuditRecord {
  std::string action;       // "<object_type>.<verb>", e.g. "experiment.create", "alias.set.force"
  std::string object_type;  // experiment | run | registered_model | model_version | alias | policy
                            // | approval
  std::string object_id;    // "7", "<run id>", "credit", "credit/3", "credit@champion"
  nlohmann::json before;    // null when the object did not exist
  nlohmann::json after;     // null when the object no longer exists
};

// Receives one record per successful mutation. Implementations are
// thread-safe and never throw; a failure to record is logged, not returned
// (the mutation has already happened).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void Record(const RequestContext& context, AuditRecord record) = 0;
};

}  // namespace ferry

#endif  // FERRY_COMMON_AUDIT_SINK_H_
