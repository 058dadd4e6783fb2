// The two macros abseil 20220623 does not ship. Both propagate a non-OK status to the caller.
#ifndef LEDGER_STATUS_MACROS_H_
#define LEDGER_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <string_view>

#define LEDGER_RETURN_IF_ERROR(expr)              \
  do {                                            \
    if (absl::Status _st = (expr); !_st.ok()) {   \
      return _st;                                 \
    }                                             \
  } while (0)

#define LEDGER_CONCAT_INNER_(a, b) a##b
#define LEDGER_CONCAT_(a, b) LEDGER_CONCAT_INNER_(a, b)
#define LEDGER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(*tmp)
#define LEDGER_ASSIGN_OR_RETURN(lhs, expr) \
  LEDGER_ASSIGN_OR_RETURN_IMPL_(LEDGER_CONCAT_(_statusor_, __LINE__), lhs, expr)

// Invariants hold in release builds too: a broken one means the ledger would write or serve
// wrong data, and stopping is the only safe answer.
#define LEDGER_CHECK(cond, msg)                                                        \
  do {                                                                                 \
    if (!(cond)) ::ledger::internal::CheckFailed(__FILE__, __LINE__, #cond, (msg));   \
  } while (0)

namespace ledger::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, std::string_view msg);
}  // namespace ledger::internal

#endif  // LEDGER_STATUS_MACROS_H_
