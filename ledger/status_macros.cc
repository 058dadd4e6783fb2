// The handler of LEDGER_CHECK: a broken invariant stops the process, in release builds too.
#include "ledger/status_macros.h"

#include <cstdio>
#include <cstdlib>

namespace ledger::internal {

void CheckFailed(const char* file, int line, const char* cond, std::string_view msg) {
  std::fprintf(stderr, "LEDGER INVARIANT FAILED at %s:%d: %s (%.*s)\n", file, line, cond,
               static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ledger::internal
