// A property check for the fuzz targets: prints what failed and aborts, so libFuzzer records the
// input as a crash. (assert() would vanish under NDEBUG; LEDGER_CHECK belongs to the code under
// test.)
#ifndef TESTS_FUZZ_FUZZ_CHECK_H_
#define TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  %s\n", __FILE__, __LINE__, \
                   #cond, std::string(__VA_ARGS__).c_str());                           \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

#endif  // TESTS_FUZZ_FUZZ_CHECK_H_
