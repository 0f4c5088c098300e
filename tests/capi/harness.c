#include "harness.h"

int ds_test_failures = 0;
static int tests_passed = 0, tests_failed = 0;

void ds_test_fail(const char *file, int line, const char *expr) {
  fprintf(stderr, "  FAILED %s:%d: %s\n", file, line, expr);
  ++ds_test_failures;
}

int ds_test_run(const char *name, void (*fn)(void)) {
  int before = ds_test_failures;
  fprintf(stderr, "[ RUN  ] %s\n", name);
  fn();
  if (ds_test_failures == before) {
    ++tests_passed;
    fprintf(stderr, "[  OK  ] %s\n", name);
    return 1;
  }
  ++tests_failed;
  fprintf(stderr, "[ FAIL ] %s\n", name);
  return 0;
}

int ds_test_summary(void) {
  printf("%d passed, %d failed\n", tests_passed, tests_failed);
  return tests_failed == 0 ? 0 : 1;
}
