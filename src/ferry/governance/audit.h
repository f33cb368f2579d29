#ifndef FERRY_GOVERNANCE_AUDIT_H_
#define FERRY_GOVERNANCE_AUDIT_H_

// The audit log's hash chain: the canonical encoding every entry's hash is
// computed over, and verification of a stored chain against its head. Pure
// functions; thread-safe. See docs/governance.md for what verification can
// and cannot detect.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/store/registry_types.h"

namespace ferry::governance {

// Canonical encoding: the fields seq, timestamp, actor, action, object_type,
// object_id, before_json, after_json, request_id, prev_hash (integers in
// decimal), each written as <decimal byte length>:<bytes>, concatenated in
// that order. The hash is the lowercase hex SHA-256 (OpenSSL EVP) of that
// encoding; entry.hash itself is not part of it. Has the signature of
// store::RegistryStore::AuditHasher.
std::string AuditHash(const store::AuditEntry& entry);

struct AuditVerification {
  bool ok = true;
  int64_t entries_checked = 0;  // entries verified before the first problem (all, when ok)
  int64_t first_bad_seq = 0;    // 0 when ok
  // Empty when ok, else e.g.
  //   "entry 7 was edited (hash mismatch)"
  //   "entry 5 is missing (deleted)"
  //   "entries 4 and 5 are out of order"
  //   "the log was truncated: head says 12 entries, found 9"
  //   "entry 3 does not link to entry 2 (prev_hash mismatch)"
  std::string problem;
};

// Verifies `entries` (as stored, expected in seq order 1, 2, 3, ... as
// returned by RegistryStore::ListAudit("", 0)) against the head {head_seq,
// head_hash} kept by the store (GetAuditHead(); {0, ""} for an empty log).
// Checks that seqs are contiguous from 1, that every entry's hash matches
// its content and its prev_hash the previous entry's hash, and that the
// entry with seq == head_seq exists and has hash == head_hash. Stops at the
// first problem and names the first bad seq.
//
// Read the head BEFORE listing the entries: entries appended after the head
// was read (seq > head_seq) are verified for linkage only, so a concurrent
// append is not reported as tampering.
AuditVerification VerifyAuditChain(const std::vector<store::AuditEntry>& entries, int64_t head_seq,
                                   std::string_view head_hash);

}  // namespace ferry::governance

#endif  // FERRY_GOVERNANCE_AUDIT_H_
