#ifndef FERRY_STORE_REGISTRY_TYPES_H_
#define FERRY_STORE_REGISTRY_TYPES_H_

// Model-registry and governance entities. Field names follow MLflow's
// registry REST API; times are epoch milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/store/types.h"

namespace ferry::store {

// MLflow stages: None | Staging | Production | Archived (canonical casing).
inline constexpr const char* kStages[] = {"None", "Staging", "Production", "Archived"};

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string user_id;
  std::string current_stage = "None";
  std::string description;
  std::string source;
  std::string run_id;
  std::string run_link;
  std::string model_id;          // MLflow 3 logged model, if any
  std::string status = "READY";  // PENDING_REGISTRATION | FAILED_REGISTRATION | READY
  std::string status_message;
  std::vector<Tag> tags;             // sorted by key
  std::vector<std::string> aliases;  // aliases pointing at this version, sorted
};

struct RegisteredModelAlias {
  std::string alias;
  int64_t version = 0;
  bool operator==(const RegisteredModelAlias&) const = default;
};

struct RegisteredModel {
  std::string name;
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string user_id;
  std::string description;
  std::vector<ModelVersion> latest_versions;  // the newest version per stage
  std::vector<Tag> tags;                      // sorted by key
  std::vector<RegisteredModelAlias> aliases;  // sorted by alias
};

// One approval of moving `version` of `name` to `target` (an alias name or a
// stage). Approvals from the same user for the same target count once.
struct Approval {
  int64_t id = 0;
  std::string name;
  int64_t version = 0;
  std::string target;  // "alias:champion" or "stage:Production"
  std::string user;
  std::string comment;
  int64_t timestamp = 0;
};

// One audit-log entry. `hash` = SHA-256 over prev_hash and every other field
// (see governance/audit.h for the exact canonical encoding); the store keeps
// entries append-only in `seq` order.
struct AuditEntry {
  int64_t seq = 0;  // 1, 2, 3 ... assigned by the store
  int64_t timestamp = 0;
  std::string actor;
  std::string action;       // e.g. "registered_model.create", "alias.set"
  std::string object_type;  // experiment | run | registered_model | model_version | alias | policy
                            // | approval
  std::string object_id;    // e.g. "credit", "credit/3", "credit@champion"
  std::string before_json;  // JSON text or "" (null)
  std::string after_json;   // JSON text or ""
  std::string request_id;
  std::string prev_hash;  // hex; "" for seq 1
  std::string hash;       // hex
};

}  // namespace ferry::store

#endif  // FERRY_STORE_REGISTRY_TYPES_H_
