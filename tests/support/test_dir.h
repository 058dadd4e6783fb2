// Where a test keeps its files: a name under gtest's TempDir that no other test, and no other
// run of this test at the same time, uses.
#ifndef TESTS_SUPPORT_TEST_DIR_H_
#define TESTS_SUPPORT_TEST_DIR_H_

#include <string>
#include <string_view>

namespace ledger::testing {

// `prefix`, the running test's suite and test names ('/' of parameterized names replaced) and the
// process ID, under ::testing::TempDir(). Nothing is created.
std::string TestDir(std::string_view prefix);

}  // namespace ledger::testing

#endif  // TESTS_SUPPORT_TEST_DIR_H_
