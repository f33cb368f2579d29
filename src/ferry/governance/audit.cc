#include "ferry/governance/audit.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ferry/governance/internal/format.h"

namespace ferry::governance {
namespace {

void AppendField(std::string* out, std::string_view bytes) {
  absl::StrAppend(out, bytes.size(), ":", internal::Sv(bytes));
}

std::string Encode(const store::AuditEntry& e) {
  std::string out;
  AppendField(&out, std::to_string(e.seq));
  AppendField(&out, std::to_string(e.timestamp));
  AppendField(&out, e.actor);
  AppendField(&out, e.action);
  AppendField(&out, e.object_type);
  AppendField(&out, e.object_id);
  AppendField(&out, e.before_json);
  AppendField(&out, e.after_json);
  AppendField(&out, e.request_id);
  AppendField(&out, e.prev_hash);
  return out;
}

std::string HashAs(const store::AuditEntry& entry, int64_t seq) {
  store::AuditEntry copy = entry;
  copy.seq = seq;
  return AuditHash(copy);
}

AuditVerification Fail(int64_t checked, int64_t seq, std::string problem) {
  return AuditVerification{
      .ok = false, .entries_checked = checked, .first_bad_seq = seq, .problem = std::move(problem)};
}

std::string Missing(int64_t first, int64_t last, std::string_view why) {
  if (first == last) return absl::StrCat("entry ", first, " is missing (", internal::Sv(why), ")");
  return absl::StrCat("entries ", first, " to ", last, " are missing (", internal::Sv(why), ")");
}

// The seq under which `entry`'s stored hash was computed, if it is not its
// own: the entry was moved (rows swapped, or renumbered after a deletion).
// Only runs once, on the failure path, so a linear search is affordable.
std::optional<int64_t> OriginalSeq(const store::AuditEntry& entry, int64_t max_seq) {
  constexpr int64_t kMaxTries = 1'000'000;
  for (int64_t s = 1; s <= max_seq && s <= kMaxTries; ++s) {
    if (s != entry.seq && HashAs(entry, s) == entry.hash) return s;
  }
  return std::nullopt;
}

}  // namespace

std::string AuditHash(const store::AuditEntry& entry) {
  std::string encoded = Encode(entry);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(encoded.data(), encoded.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return "";  // never equal to a stored hash, so verification fails closed
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

AuditVerification VerifyAuditChain(const std::vector<store::AuditEntry>& entries, int64_t head_seq,
                                   std::string_view head_hash) {
  const int64_t n = static_cast<int64_t>(entries.size());
  int64_t max_seq = std::max(head_seq, n);
  for (const auto& e : entries) max_seq = std::max(max_seq, e.seq);
  max_seq += 1;

  for (int64_t i = 0; i < n; ++i) {
    const store::AuditEntry& e = entries[static_cast<size_t>(i)];
    const int64_t expected = i + 1;

    if (e.seq < expected) {
      // Entries before this one hold exactly seqs 1 .. expected - 1.
      if (e.seq < 1) {
        return Fail(i, expected, absl::StrCat("entry ", expected, " has an invalid seq ", e.seq));
      }
      return Fail(i, e.seq, absl::StrCat("entry ", e.seq, " appears more than once"));
    }
    if (e.seq > expected) {
      bool listed_later =
          std::any_of(entries.begin() + i + 1, entries.end(),
                      [&](const store::AuditEntry& x) { return x.seq == expected; });
      if (listed_later) {
        return Fail(i, expected,
                    absl::StrCat("entries ", expected, " and ", e.seq, " are out of order"));
      }
      return Fail(i, expected, Missing(expected, e.seq - 1, "deleted"));
    }

    static const std::string kNoPrevious;
    const std::string& want_prev = i == 0 ? kNoPrevious : entries[static_cast<size_t>(i - 1)].hash;
    const bool self_ok = AuditHash(e) == e.hash;
    const bool link_ok = e.prev_hash == want_prev;
    if (self_ok && link_ok) continue;
    if (self_ok) {
      if (i == 0) {
        return Fail(i, expected, "entry 1 does not start the chain (its prev_hash is not empty)");
      }
      return Fail(i, expected,
                  absl::StrCat("entry ", expected, " does not link to entry ", expected - 1,
                               " (prev_hash mismatch)"));
    }
    if (!link_ok) {
      // Content that hashes correctly under another seq was moved here.
      if (auto origin = OriginalSeq(e, max_seq)) {
        if (*origin < expected) {
          return Fail(i, expected,
                      absl::StrCat("entry ", expected, " holds the content of entry ", *origin,
                                   " (entries ", *origin, " and ", expected, " are out of order)"));
        }
        bool swapped = std::any_of(entries.begin() + i + 1, entries.end(),
                                   [&](const auto& x) { return HashAs(x, expected) == x.hash; });
        if (swapped) {
          return Fail(i, expected,
                      absl::StrCat("entries ", expected, " and ", *origin, " are out of order"));
        }
        return Fail(i, expected,
                    Missing(expected, *origin - 1, "deleted; later entries were renumbered"));
      }
    }
    return Fail(i, expected, absl::StrCat("entry ", expected, " was edited (hash mismatch)"));
  }

  // Every entry is intact and linked; now the head. Entries past the head
  // were appended after it was read.
  if (head_seq < 0) return Fail(n, 0, absl::StrCat("the head is invalid (seq ", head_seq, ")"));
  if (head_seq == 0) {
    if (!head_hash.empty()) return Fail(n, 1, "the head has a hash but says the log is empty");
    return AuditVerification{.ok = true, .entries_checked = n};
  }
  if (n < head_seq) {
    return Fail(n, n + 1,
                absl::StrCat("the log was truncated: head says ", head_seq, " entries, found ", n));
  }
  if (entries[static_cast<size_t>(head_seq - 1)].hash != head_hash) {
    return Fail(
        n, head_seq,
        absl::StrCat("the head does not match entry ", head_seq,
                     " (head hash mismatch): the head was tampered with or the log up to it "
                     "was rewritten"));
  }
  return AuditVerification{.ok = true, .entries_checked = n};
}

}  // namespace ferry::governance
