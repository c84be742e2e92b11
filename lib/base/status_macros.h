// Status propagation macros. Debian 12's Abseil (20220623) ships none, so strata has its own.
//
//   STRATA_RETURN_IF_ERROR(WriteHeader(f));
//   STRATA_ASSIGN_OR_RETURN(auto seg, OpenSegment(path));
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)

#define STRATA_RETURN_IF_ERROR(expr)                          \
  do {                                                        \
    ::absl::Status strata_status_ = (expr);                   \
    if (!strata_status_.ok()) return strata_status_;          \
  } while (false)

#define STRATA_ASSIGN_OR_RETURN(lhs, rexpr) \
  STRATA_ASSIGN_OR_RETURN_IMPL_(STRATA_CONCAT_(strata_statusor_, __LINE__), lhs, rexpr)

#define STRATA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
