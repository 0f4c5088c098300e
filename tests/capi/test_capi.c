/* C ABI tests: lifecycle, ownership, errors, callbacks, Arrow export/import,
 * stop from another thread and resume, all through datasync.h only. The
 * SQLite databases are real files made with the SQLite C API. */
#define _POSIX_C_SOURCE 200809L
#include <datasync/datasync.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char tmpdir[256];
static char yaml[4096];

static void sql(const char *path, const char *statement) {
  sqlite3 *db = NULL;
  char *msg = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, statement, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sqlite error on %s: %s\n", path, msg ? msg : sqlite3_errmsg(db));
    ds_test_fail(__FILE__, __LINE__, statement);
  }
  sqlite3_free(msg);
  sqlite3_close(db);
}

static long long query_int(const char *path, const char *statement) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, statement, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    fprintf(stderr, "query failed on %s: %s: %s\n", path, statement, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* A source with every SQLite storage class, NULLs, non-ASCII text and blobs. */
static void make_source(const char *path, int rows) {
  char statement[512];
  unlink(path);
  sql(path,
      "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, qty INTEGER NOT NULL);"
      "CREATE TABLE tags (tag TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tag, n)) WITHOUT ROWID;");
  snprintf(statement, sizeof statement,
           "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d) "
           "INSERT INTO items SELECT i, CASE WHEN i %% 10 = 0 THEN NULL ELSE 'Zoë-東京-' || i END, "
           "CASE WHEN i %% 7 = 0 THEN NULL ELSE i * 0.5 END, "
           "CASE WHEN i %% 5 = 0 THEN NULL ELSE randomblob(i %% 17) END, i * 3 FROM r;"
           "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 500) "
           "INSERT INTO tags SELECT 'tag' || (i %% 13), i FROM r;",
           rows);
  sql(path, statement);
}

static void paths(char *src, char *dst, const char *name) {
  sprintf(src, "%s/%s-src.db", tmpdir, name);
  sprintf(dst, "%s/%s-dst.db", tmpdir, name);
  unlink(dst);
}

static const char *copy_yaml(const char *src, const char *dst, const char *extra) {
  snprintf(yaml, sizeof yaml,
           "source:\n  type: sqlite\n  path: %s\nsink:\n  type: sqlite\n  path: %s\npipeline:\n  name: capi\n%s", src,
           dst, extra ? extra : "");
  return yaml;
}

/* Both tables hold exactly the same rows (EXCEPT both ways, and equal counts). */
static void check_same_rows(const char *src, const char *dst, const char *table) {
  char statement[512];
  snprintf(statement, sizeof statement,
           "ATTACH '%s' AS s; SELECT (SELECT count(*) FROM (SELECT * FROM s.%s EXCEPT SELECT * FROM main.%s)) + "
           "(SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM s.%s)) + "
           "abs((SELECT count(*) FROM s.%s) - (SELECT count(*) FROM main.%s))",
           src, table, table, table, table, table, table);
  /* ATTACH and SELECT in one prepare is not possible: run them apart. */
  {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char attach[300];
    const char *select = strstr(statement, "SELECT");
    snprintf(attach, sizeof attach, "ATTACH '%s' AS s", src);
    CHECK(sqlite3_open(dst, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, attach, NULL, NULL, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, select, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    if (sqlite3_column_int64(st, 0) != 0)
      fprintf(stderr, "  %s differs in %lld rows\n", table, sqlite3_column_int64(st, 0));
    CHECK(sqlite3_column_int64(st, 0) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
}

/* ------------------------------------------------------------------ tests */

static void test_version(void) {
  CHECK(ds_version_number() == DS_VERSION_NUMBER);
  CHECK(strcmp(ds_version_string(), DS_VERSION_STRING) == 0);
  CHECK(strcmp(ds_status_name(DS_ERR_CONFIG), "DS_ERR_CONFIG") == 0);
  CHECK(strcmp(ds_status_name(DS_ERR_INTERNAL), "DS_ERR_INTERNAL") == 0);
}

static void test_null_arguments(void) {
  ds_error *err = NULL;
  ds_pipeline *p = (ds_pipeline *)1;
  ds_pipeline_destroy(NULL);
  ds_error_free(NULL);
  ds_config_destroy(NULL);
  ds_metrics_destroy(NULL);
  ds_batch_destroy(NULL);
  ds_pipeline_stop(NULL);
  CHECK(ds_error_code(NULL) == DS_OK);
  CHECK(strcmp(ds_error_message(NULL), "") == 0);
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_pipeline_run(NULL, &err), err);
  CHECK(err != NULL && ds_error_code(err) == DS_ERR_INVALID_ARGUMENT && strlen(ds_error_message(err)) > 0);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_pipeline_create_from_yaml(NULL, &p, &err), err);
  CHECK(p == NULL);
  ds_error_free(err);
  /* err may be NULL: the status alone still reports the failure. */
  CHECK(ds_pipeline_create_from_yaml(NULL, NULL, NULL) == DS_ERR_INVALID_ARGUMENT);
}

static void expect_config_error(const char *text, const char *in_message, const char *in_context) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  CHECK_STATUS(DS_ERR_CONFIG, ds_pipeline_create_from_yaml(text, &p, &err), err);
  CHECK(p == NULL);
  CHECK(err != NULL);
  if (err && in_message && !strstr(ds_error_message(err), in_message)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", ds_error_message(err), in_message);
    CHECK(!"message");
  }
  if (err && in_context && !strstr(ds_error_context(err), in_context)) {
    fprintf(stderr, "  context '%s' lacks '%s'\n", ds_error_context(err), in_context);
    CHECK(!"context");
  }
  ds_error_free(err);
}

static void test_config_errors(void) {
  expect_config_error("source: [unclosed\n", NULL, "<string>:");
  expect_config_error("source:\n  type: sqlite\n  pth: /tmp/x.db\nsink:\n  type: discard\n", "did you mean 'path'",
                      "<string>:3:3");
  expect_config_error("source:\n  type: sqllite\n  path: /tmp/x.db\nsink:\n  type: discard\n", "did you mean 'sqlite'",
                      NULL);
  expect_config_error("source:\n  type: generator\nsink:\n  type: discard\npipeline:\n  parallelism: many\n",
                      "parallelism", "<string>:6:");
  expect_config_error("sink:\n  type: discard\n", "source", NULL);
}

static void test_missing_source_file(void) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  char missing[300];
  snprintf(missing, sizeof missing, "%s/does-not-exist.db", tmpdir);
  snprintf(yaml, sizeof yaml, "source:\n  type: sqlite\n  path: %s\nsink:\n  type: discard\n", missing);
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(yaml, &p, &err), err);
  CHECK_STATUS(DS_ERR_NOT_FOUND, ds_pipeline_run(p, &err), err);
  CHECK(err && strstr(ds_error_message(err), "does-not-exist.db") != NULL);
  ds_error_free(err);
  ds_pipeline_destroy(p);
}

static void test_not_sqlite_file(void) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  char path[300];
  FILE *f;
  snprintf(path, sizeof path, "%s/not-a-db.db", tmpdir);
  f = fopen(path, "w");
  fputs("this is plain text, not a database, and long enough to have a header.......................\n", f);
  fclose(f);
  snprintf(yaml, sizeof yaml, "source:\n  type: sqlite\n  path: %s\nsink:\n  type: discard\n", path);
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(yaml, &p, &err), err);
  CHECK(ds_pipeline_run(p, &err) != DS_OK);
  CHECK(err && strstr(ds_error_message(err), "not-a-db.db") != NULL);
  ds_error_free(err);
  ds_pipeline_destroy(p);
}

static void test_sqlite_copy(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  ds_metrics *m = NULL;
  char *json = NULL;
  paths(src, dst, "copy");
  make_source(src, 20000);
  CHECK_STATUS(DS_OK,
               ds_pipeline_create_from_yaml(copy_yaml(src, dst, "  parallelism: 2\n  batch_rows: 1000\n"), &p, &err),
               err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  check_same_rows(src, dst, "items");
  check_same_rows(src, dst, "tags");
  CHECK_STATUS(DS_OK, ds_pipeline_metrics(p, &m, &err), err);
  CHECK(ds_metrics_rows_written(m) == 20500);
  CHECK(ds_metrics_rows_read(m) == 20500);
  CHECK(ds_metrics_tables_total(m) == 2 && ds_metrics_tables_done(m) == 2);
  CHECK(ds_metrics_num_tables(m) == 2);
  CHECK(ds_metrics_bytes_written(m) > 0);
  CHECK(ds_metrics_lag_ms(m) == -1);
  CHECK(ds_metrics_source_retained_bytes(m) == -1);
  CHECK_STATUS(DS_OK, ds_metrics_to_json(m, &json, &err), err);
  CHECK(json && strstr(json, "\"rows_written\":20500") != NULL);
  ds_free(json);
  ds_metrics_destroy(m);
  /* A pipeline runs once. */
  CHECK_STATUS(DS_ERR_STATE, ds_pipeline_run(p, &err), err);
  ds_error_free(err);
  ds_pipeline_destroy(p);
}

static int freed_count;
static void count_free(void *user_data) {
  (void)user_data;
  ++freed_count;
}

static ds_status add_twice_column(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err) {
  int64_t rows = ds_batch_num_rows(in), r, id_col = ds_batch_column_index(in, "id");
  ds_column_builder *cb = NULL;
  ds_status st;
  (void)user_data;
  if (id_col < 0) return DS_OK; /* not the items table */
  st = ds_column_builder_create(DS_TYPE_INT64, &cb, err);
  if (st != DS_OK) return st;
  for (r = 0; r < rows; ++r) {
    int64_t id = 0;
    st = ds_batch_get_int64(in, (size_t)id_col, r, &id, err);
    if (st != DS_OK) {
      ds_column_builder_destroy(cb);
      return st;
    }
    ds_column_builder_append_int64(cb, id * 2, NULL);
  }
  return ds_batch_add_column(in, "twice", cb, out, err);
}

static void test_transform_adds_column(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  paths(src, dst, "transform");
  make_source(src, 5000);
  freed_count = 0;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(copy_yaml(src, dst, "  parallelism: 2\n"), &p, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_add_transform(p, "main\\.items", 0, add_twice_column, &freed_count, count_free, &err),
               err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  CHECK(freed_count == 0);
  ds_pipeline_destroy(p);
  CHECK(freed_count == 1);
  CHECK(query_int(dst, "SELECT count(*) FROM items WHERE twice = id * 2") == 5000);
  CHECK(query_int(dst, "SELECT count(*) FROM tags") == 500);
}

static ds_status failing_transform(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err) {
  int *calls = (int *)user_data;
  (void)in;
  (void)out;
  if (++*calls < 3) return DS_OK;
  *err = ds_error_create(DS_ERR_CALLBACK, "boom from the host", "host=capi-test");
  return DS_ERR_CALLBACK;
}

static void test_failing_transform_then_resume(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  static int calls;
  paths(src, dst, "resume");
  make_source(src, 30000);
  calls = 0;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(copy_yaml(src, dst, "  batch_rows: 1000\n"), &p, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_add_transform(p, NULL, DS_TRANSFORM_SERIAL, failing_transform, &calls, NULL, &err),
               err);
  CHECK_STATUS(DS_ERR_CALLBACK, ds_pipeline_run(p, &err), err);
  /* The callback's own error comes back untouched. */
  CHECK(err && strcmp(ds_error_message(err), "boom from the host") == 0);
  CHECK(err && strcmp(ds_error_context(err), "host=capi-test") == 0);
  ds_error_free(err);
  err = NULL;
  ds_pipeline_destroy(p);
  /* Whatever was committed is consistent with the checkpoint: the next run
   * finishes the copy with no row lost and none doubled (the key would refuse a double). */
  CHECK(query_int(dst, "SELECT count(*) FROM items") < 30000);
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(copy_yaml(src, dst, "  batch_rows: 1000\n"), &p, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  ds_pipeline_destroy(p);
  check_same_rows(src, dst, "items");
  check_same_rows(src, dst, "tags");
}

static void *stop_later(void *arg) {
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  ds_pipeline_stop((ds_pipeline *)arg);
  return NULL;
}

static void test_stop_from_another_thread(void) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  pthread_t t;
  ds_metrics *m = NULL;
  const char *text =
      "source:\n  type: generator\n  rows: 2000000000\nsink:\n  type: discard\npipeline:\n  name: stopper\n"
      "  parallelism: 2\n  checkpoint_store: none\n";
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(text, &p, &err), err);
  pthread_create(&t, NULL, stop_later, p);
  CHECK_STATUS(DS_ERR_CANCELLED, ds_pipeline_run(p, &err), err);
  pthread_join(t, NULL);
  ds_error_free(err);
  CHECK_STATUS(DS_OK, ds_pipeline_metrics(p, &m, NULL), err);
  CHECK(ds_metrics_rows_written(m) > 0 && ds_metrics_rows_written(m) < 2000000000LL);
  ds_metrics_destroy(m);
  ds_pipeline_destroy(p);
}

static int arrow_checked;
static ds_status arrow_roundtrip(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err) {
  struct ArrowSchema schema;
  struct ArrowArray array;
  ds_status st = ds_batch_export_arrow(in, &schema, &array, err);
  (void)user_data;
  if (st != DS_OK) return st;
  if (strcmp(schema.format, "+s") == 0 && schema.n_children == 8 && array.length == ds_batch_num_rows(in) &&
      strcmp(schema.children[0]->format, "l") == 0 && strcmp(schema.children[0]->name, "id") == 0 &&
      strcmp(schema.children[2]->format, "d:12,2") == 0 && strcmp(schema.children[5]->format, "b") == 0 &&
      strcmp(schema.children[6]->format, "tsu:") == 0 && strcmp(schema.children[4]->format, "u") == 0)
    ++arrow_checked;
  /* Hand the exported arrays straight back: import consumes them. */
  return ds_batch_import_arrow(&schema, &array, in, out, err);
}

static void test_arrow_export_import(void) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  ds_metrics *m = NULL;
  const char *text =
      "source:\n  type: generator\n  rows: 50000\nsink:\n  type: discard\npipeline:\n  checkpoint_store: none\n"
      "  batch_rows: 5000\n";
  arrow_checked = 0;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(text, &p, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_add_transform(p, "", DS_TRANSFORM_SERIAL, arrow_roundtrip, NULL, NULL, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  CHECK(arrow_checked >= 10);
  CHECK_STATUS(DS_OK, ds_pipeline_metrics(p, &m, &err), err);
  CHECK(ds_metrics_rows_written(m) == 50000);
  ds_metrics_destroy(m);
  ds_pipeline_destroy(p);
}

static int event_counts[16];
static void count_events(void *user_data, const ds_event *e) {
  (void)user_data;
  if (ds_event_kind(e) > 0 && ds_event_kind(e) < 16) ++event_counts[ds_event_kind(e)];
}

static void test_events(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  paths(src, dst, "events");
  make_source(src, 3000);
  memset(event_counts, 0, sizeof event_counts);
  freed_count = 0;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(copy_yaml(src, dst, NULL), &p, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_add_event_listener(p, count_events, NULL, count_free, &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  ds_pipeline_destroy(p);
  CHECK(freed_count == 1);
  CHECK(event_counts[DS_EVENT_PIPELINE_STARTED] == 1);
  CHECK(event_counts[DS_EVENT_TABLE_STARTED] == 2);
  CHECK(event_counts[DS_EVENT_TABLE_FINISHED] == 2);
  CHECK(event_counts[DS_EVENT_PIPELINE_FINISHED] == 1);
  CHECK(event_counts[DS_EVENT_PIPELINE_FAILED] == 0);
  CHECK(event_counts[DS_EVENT_CHECKPOINT] >= 1);
  CHECK(strcmp(ds_event_kind_name(DS_EVENT_TABLE_FINISHED), "table_finished") == 0);
}

static void test_target_misfit(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  paths(src, dst, "misfit");
  make_source(src, 100);
  sql(dst, "CREATE TABLE items (id INTEGER PRIMARY KEY, other TEXT NOT NULL)");
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(copy_yaml(src, dst, NULL), &p, &err), err);
  CHECK_STATUS(DS_ERR_SCHEMA, ds_pipeline_run(p, &err), err);
  CHECK(err && strstr(ds_error_message(err), "items") != NULL);
  ds_error_free(err);
  ds_pipeline_destroy(p);
  CHECK(query_int(dst, "SELECT count(*) FROM items") == 0);
}

static void test_run_options(void) {
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  ds_run_options opts = DS_RUN_OPTIONS_INIT;
  struct {
    ds_run_options known;
    uint64_t future_field;
  } newer;
  const char *text = "source:\n  type: generator\n  rows: 10\nsink:\n  type: discard\n";
  CHECK(ds_run_options_init(&opts, sizeof opts) == DS_OK && opts.struct_size == sizeof opts && opts.flags == 0);
  memset(&newer, 0, sizeof newer);
  newer.known.struct_size = sizeof newer;
  newer.future_field = 7;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(text, &p, &err), err);
  CHECK_STATUS(DS_ERR_UNSUPPORTED, ds_pipeline_run_with_options(p, &newer.known, &err), err);
  ds_error_free(err);
  err = NULL;
  opts.flags = DS_RUN_FRESH;
  CHECK_STATUS(DS_OK, ds_pipeline_run_with_options(p, &opts, &err), err);
  ds_pipeline_destroy(p);
}

static void test_config_api(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_config *cfg = NULL;
  ds_pipeline *p = NULL;
  paths(src, dst, "config");
  make_source(src, 1000);
  CHECK_STATUS(DS_OK, ds_config_create(&cfg, &err), err);
  CHECK_STATUS(DS_OK, ds_config_set(cfg, "source.type", "sqlite", &err), err);
  CHECK_STATUS(DS_OK, ds_config_set(cfg, "source.path", src, &err), err);
  CHECK_STATUS(DS_OK, ds_config_set(cfg, "sink.type", "sqlite", &err), err);
  CHECK_STATUS(DS_OK, ds_config_set(cfg, "sink.path", dst, &err), err);
  CHECK_STATUS(DS_OK, ds_config_set(cfg, "pipeline.name", "from-config", &err), err);
  CHECK_STATUS(DS_ERR_CONFIG, ds_config_set(cfg, "pipeline.paralelism", "2", &err), err);
  CHECK(err && strstr(ds_error_message(err), "parallelism") != NULL);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_OK, ds_config_add_route(cfg, "main\\.items", "main.items_copy", &err), err);
  CHECK_STATUS(DS_OK, ds_pipeline_create(cfg, &p, &err), err);
  ds_config_destroy(cfg); /* never consumed: the pipeline keeps its own copy */
  CHECK(strcmp(ds_pipeline_name(p), "from-config") == 0);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  ds_pipeline_destroy(p);
  CHECK(query_int(dst, "SELECT count(*) FROM items_copy") == 1000);
}

static void test_filter_pushdown(void) {
  char src[300], dst[300];
  ds_error *err = NULL;
  ds_pipeline *p = NULL;
  const char *gen =
      "source:\n  type: generator\n  rows: 10\nsink:\n  type: discard\n"
      "transform:\n  - source-table: .*\n    filter: id > 5\n";
  paths(src, dst, "filter");
  make_source(src, 5000);
  CHECK_STATUS(DS_OK,
               ds_pipeline_create_from_yaml(
                   copy_yaml(src, dst,
                             "  parallelism: 2\ntransform:\n  - source-table: main\\.items\n    filter: qty > 3000\n"
                             "    drop-columns: data\n"),
                   &p, &err),
               err);
  CHECK_STATUS(DS_OK, ds_pipeline_run(p, &err), err);
  ds_pipeline_destroy(p);
  /* qty = 3 * id: the source query itself keeps ids 1001..5000; the other table is untouched. */
  CHECK(query_int(dst, "SELECT count(*) FROM items") == 4000);
  CHECK(query_int(dst, "SELECT min(id) FROM items") == 1001);
  CHECK(query_int(dst, "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'data'") == 0);
  CHECK(query_int(dst, "SELECT count(*) FROM tags") == 500);
  /* A source that cannot filter says so instead of copying everything. */
  p = NULL;
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(gen, &p, &err), err);
  CHECK_STATUS(DS_ERR_UNSUPPORTED, ds_pipeline_run(p, &err), err);
  CHECK(err && strstr(ds_error_message(err), "filter") != NULL);
  ds_error_free(err);
  ds_pipeline_destroy(p);
}

static void test_config_reference(void) {
  char *doc = NULL;
  ds_error *err = NULL;
  CHECK_STATUS(DS_OK, ds_config_reference(&doc, &err), err);
  CHECK(doc && strstr(doc, "parallelism") && strstr(doc, "sqlite") && strstr(doc, "generator") &&
        strstr(doc, "write_mode"));
  ds_free(doc);
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_config_reference(NULL, &err), err);
  ds_error_free(err);
}

int main(void) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/ds-capi-XXXXXX", base);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  ds_test_run("version", test_version);
  ds_test_run("null_arguments", test_null_arguments);
  ds_test_run("config_errors", test_config_errors);
  ds_test_run("missing_source_file", test_missing_source_file);
  ds_test_run("not_sqlite_file", test_not_sqlite_file);
  ds_test_run("sqlite_copy", test_sqlite_copy);
  ds_test_run("transform_adds_column", test_transform_adds_column);
  ds_test_run("failing_transform_then_resume", test_failing_transform_then_resume);
  ds_test_run("stop_from_another_thread", test_stop_from_another_thread);
  ds_test_run("arrow_export_import", test_arrow_export_import);
  ds_test_run("events", test_events);
  ds_test_run("target_misfit", test_target_misfit);
  ds_test_run("run_options", test_run_options);
  ds_test_run("config_api", test_config_api);
  ds_test_run("config_reference", test_config_reference);
  ds_test_run("filter_pushdown", test_filter_pushdown);
  return ds_test_summary();
}
