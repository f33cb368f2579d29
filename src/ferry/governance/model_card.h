#ifndef FERRY_GOVERNANCE_MODEL_CARD_H_
#define FERRY_GOVERNANCE_MODEL_CARD_H_

// Model cards: a model version's description, intended use, data lineage,
// metrics, parameters, promotion gates, approvals, alias/stage history, code
// and environment, rendered as Markdown or as one self-contained HTML page.
// Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/governance/lineage.h"
#include "ferry/governance/policy.h"
#include "ferry/store/registry_types.h"

namespace ferry::governance {

struct ModelCardData {
  store::RegisteredModel model;
  store::ModelVersion version;
  Lineage lineage;
  std::vector<store::AuditEntry> history;  // audit entries for this model, seq order
  std::vector<store::Approval> approvals;  // approvals of this version
  std::optional<Policy> policy;
  int64_t generated_at_ms = 0;
};

// Sections, in order: title ("<name> v<N>"), description and intended use
// (tag "intended_use" on the version, else on the model), training data
// lineage, metrics, parameters, promotion gates (the policy, the gates each
// promotion passed: any array whose key contains "gates" in an entry's
// after_json, and forced overrides: actions ending in ".force"), approvals,
// alias and stage history, code and environment, generated-at footer.
// Descriptions and intended use are Markdown (as in MLflow) and are copied
// through with every '<' escaped, so no raw HTML gets in; every other value
// is escaped to render literally; the environment goes in a fenced code
// block whose fence is longer than any backtick run in it.
std::string RenderModelCardMarkdown(const ModelCardData& data);

// The same content as one HTML page: inline CSS, no scripts, no external
// assets or links, a Content-Security-Policy that forbids loading anything,
// and every value HTML-escaped.
std::string RenderModelCardHtml(const ModelCardData& data);

}  // namespace ferry::governance

#endif  // FERRY_GOVERNANCE_MODEL_CARD_H_
