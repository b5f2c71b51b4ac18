// Status propagation macros. Debian bookworm's Abseil (20220623) ships none, so the
// project keeps this one small header.
//
//   absl::Status Flush() {
//     RETURN_IF_ERROR(WriteHeader());
//     ASSIGN_OR_RETURN(std::string body, RenderBody());
//     ...
//   }
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GUANXI_STATUS_CONCAT_INNER_(a, b) a##b
#define GUANXI_STATUS_CONCAT_(a, b) GUANXI_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not ok.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status guanxi_status_ = (expr);          \
    if (!guanxi_status_.ok()) return guanxi_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from the
// enclosing function, otherwise declares/assigns `lhs` from the moved value.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  GUANXI_ASSIGN_OR_RETURN_IMPL_(GUANXI_STATUS_CONCAT_(guanxi_statusor_, __LINE__), lhs, rexpr)

#define GUANXI_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
