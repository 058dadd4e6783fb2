#include "tests/support/test_dir.h"

#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "ledger/strings.h"

namespace ledger::testing {

std::string TestDir(std::string_view prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = StrCat(info->test_suite_name(), "_", info->name());
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return StrCat(::testing::TempDir(), prefix, "_", name, "_", static_cast<int64_t>(getpid()));
}

}  // namespace ledger::testing
