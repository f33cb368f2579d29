#ifndef FERRY_COMMON_STATUS_H_
#define FERRY_COMMON_STATUS_H_

// Ferry returns absl::Status / absl::StatusOr<T> across module boundaries.
// Canonical codes carry meaning that every API edge maps in one place:
//   InvalidArgument    -> client error (MLflow INVALID_PARAMETER_VALUE, HTTP 400)
//   NotFound           -> RESOURCE_DOES_NOT_EXIST, 404
//   AlreadyExists      -> RESOURCE_ALREADY_EXISTS, 400
//   FailedPrecondition -> INVALID_STATE, 400
//   ResourceExhausted  -> request too large / queue full
//   PermissionDenied   -> 403
//   Internal / Unavailable -> 5xx (server fault only)

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FERRY_CONCAT_INNER_(a, b) a##b
#define FERRY_CONCAT_(a, b) FERRY_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not ok.
#define FERRY_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status ferry_status_ = (expr);         \
    if (!ferry_status_.ok()) return ferry_status_; \
  } while (0)

// FERRY_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error status if any.
#define FERRY_ASSIGN_OR_RETURN(lhs, expr) \
  FERRY_ASSIGN_OR_RETURN_IMPL_(FERRY_CONCAT_(ferry_statusor_, __LINE__), lhs, expr)
#define FERRY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)

#endif  // FERRY_COMMON_STATUS_H_
