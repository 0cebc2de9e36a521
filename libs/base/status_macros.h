#pragma once

// Debian's Abseil 20220623 has no status macros; these follow Abseil's advice to prefix them.
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define POSTROOM_RETURN_IF_ERROR(expr)                          \
  do {                                                          \
    if (absl::Status pr_st = (expr); !pr_st.ok()) return pr_st; \
  } while (false)

// Several statements: inside an if, brace it.
#define POSTROOM_ASSIGN_OR_RETURN(lhs, expr) \
  POSTROOM_AOR_(POSTROOM_CAT_(pr_so_, __LINE__), lhs, expr)
#define POSTROOM_AOR_(tmp, lhs, expr)            \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = *std::move(tmp)
// Pastes through one indirection so that __LINE__ expands first.
#define POSTROOM_CAT_(a, b) POSTROOM_CAT2_(a, b)
#define POSTROOM_CAT2_(a, b) a##b
