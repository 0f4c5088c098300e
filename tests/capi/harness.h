/* A tiny test harness for the C ABI tests: CHECK records a failure and goes on. */
#ifndef DS_TEST_HARNESS_H
#define DS_TEST_HARNESS_H
#include <stdio.h>

extern int ds_test_failures;
void ds_test_fail(const char *file, int line, const char *expr);
int ds_test_run(const char *name, void (*fn)(void));
int ds_test_summary(void);

#define CHECK(cond)                                       \
  do {                                                    \
    if (!(cond)) ds_test_fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_STATUS(expected, status_expr, err)                                                                  \
  do {                                                                                                            \
    ds_status got_ = (status_expr);                                                                               \
    if (got_ != (expected)) {                                                                                     \
      fprintf(stderr, "  got %s: %s (%s)\n", ds_status_name(got_), ds_error_message(err), ds_error_context(err)); \
      ds_test_fail(__FILE__, __LINE__, #status_expr " == " #expected);                                            \
    }                                                                                                             \
  } while (0)
#endif
