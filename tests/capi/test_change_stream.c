/* C ABI tests of ds_change_stream without a server: a SQLite snapshot pulled
 * by the host (sink type host), batch ownership beyond the stream and the
 * pipeline, commits kept in the checkpoint file, a reopen that resumes after
 * the commit, ds_pipeline_stop ending a waiting stream, and the errors
 * (NULLs, a sink that is not the host, ds_pipeline_run of a host pipeline,
 * positions never delivered). Change capture from PostgreSQL through the
 * same functions: tests/integration/test_postgres_pull_stream.py (Python binding). */
#define _POSIX_C_SOURCE 200809L
#include <datasync/datasync.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char tmpdir[256];
static char source[512];
static char yaml[2048];

static void make_source(int rows) {
  sqlite3 *db = NULL;
  char statement[512];
  unlink(source);
  snprintf(statement, sizeof statement,
           "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);"
           "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d) "
           "INSERT INTO items SELECT i, 'item ' || i FROM r;",
           rows);
  if (sqlite3_open(source, &db) != SQLITE_OK || sqlite3_exec(db, statement, NULL, NULL, NULL) != SQLITE_OK)
    ds_test_fail(__FILE__, __LINE__, "make_source");
  sqlite3_close(db);
}

static ds_pipeline *host_pipeline(const char *sink_type, int queue_batches) {
  ds_pipeline *p = NULL;
  ds_error *err = NULL;
  snprintf(yaml, sizeof yaml,
           "source: {type: sqlite, path: '%s'}\n"
           "sink: {type: %s, %s: '%s/%s'}\n"
           "pipeline: {name: cs, batch_rows: 10, queue_batches: %d}\n",
           source, sink_type, strcmp(sink_type, "host") == 0 ? "checkpoint_path" : "path", tmpdir,
           strcmp(sink_type, "host") == 0 ? "cs.checkpoint.db" : "out.db", queue_batches);
  CHECK_STATUS(DS_OK, ds_pipeline_create_from_yaml(yaml, &p, &err), err);
  ds_error_free(err);
  return p;
}

/* Takes every batch until the stream finishes; returns the rows seen and
 * stores the position of the batch that ended at row `commit_after` (if any). */
static long drain(ds_change_stream *s, long commit_after, char *position, size_t size, long *first_id) {
  long rows = 0;
  ds_error *err = NULL;
  for (;;) {
    ds_batch *b = NULL;
    ds_status st = ds_change_stream_next(s, 10000, &b, &err);
    CHECK_STATUS(DS_OK, st, err);
    if (st != DS_OK) {
      ds_error_free(err);
      return rows;
    }
    if (!b) break;
    CHECK(ds_batch_kind(b) == DS_BATCH_ROWS);
    CHECK(strcmp(ds_batch_schema_change(b), "") == 0);
    if (ds_batch_num_rows(b) > 0) {
      int64_t id = 0;
      CHECK(strcmp(ds_batch_table(b), "main.items") == 0);
      CHECK(ds_batch_op(b, 0) == DS_OP_INSERT);
      CHECK(ds_batch_position(b)[0] != '\0'); /* every snapshot batch is a commit point */
      CHECK_STATUS(DS_OK, ds_batch_get_int64(b, 0, 0, &id, &err), err);
      if (rows == 0 && first_id) *first_id = (long)id;
      rows += (long)ds_batch_num_rows(b);
      if (rows == commit_after) snprintf(position, size, "%s", ds_batch_position(b));
    }
    ds_batch_destroy(b);
  }
  CHECK(ds_change_stream_finished(s));
  return rows;
}

static void test_snapshot_commit_and_resume(void) {
  ds_error *err = NULL;
  ds_change_stream *s = NULL;
  char position[256] = "";
  long first = 0;
  make_source(100);

  ds_pipeline *p = host_pipeline("host", 2);
  CHECK_STATUS(DS_OK, ds_change_stream_open(p, NULL, &s, &err), err);
  CHECK(drain(s, 30, position, sizeof position, &first) == 100);
  CHECK(first == 1 && position[0] != '\0');
  CHECK_STATUS(DS_OK, ds_change_stream_commit(s, position, &err), err);
  CHECK_STATUS(DS_OK, ds_change_stream_commit(s, position, &err), err); /* twice: harmless */
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_commit(s, "never delivered", &err), err);
  CHECK(ds_error_code(err) == DS_ERR_INVALID_ARGUMENT && strstr(ds_error_message(err), "not pending"));
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_commit(s, "", &err), err);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_OK, ds_change_stream_close(s, &err), err);
  CHECK_STATUS(DS_ERR_STATE, ds_change_stream_next(s, 0, &(ds_batch *){NULL}, &err), err);
  ds_error_free(err);
  err = NULL;
  ds_change_stream_destroy(s);
  ds_pipeline_destroy(p);

  /* Reopened on a new pipeline: resumes right after the committed batch. */
  p = host_pipeline("host", 2);
  s = NULL;
  CHECK_STATUS(DS_OK, ds_change_stream_open(p, NULL, &s, &err), err);
  CHECK(drain(s, -1, position, sizeof position, &first) == 70);
  CHECK(first == 31);
  ds_change_stream_destroy(s);
  ds_pipeline_destroy(p);

  /* DS_RUN_FRESH forgets the commits. */
  ds_change_stream_options opts = DS_CHANGE_STREAM_OPTIONS_INIT;
  opts.flags = DS_RUN_FRESH;
  p = host_pipeline("host", 2);
  s = NULL;
  CHECK_STATUS(DS_OK, ds_change_stream_open(p, &opts, &s, &err), err);
  CHECK(drain(s, -1, position, sizeof position, &first) == 100);
  ds_change_stream_destroy(s);
  ds_pipeline_destroy(p);
}

/* A batch is owned by the caller: it outlives the stream and the pipeline;
 * destroying the pipeline first stops the stream. */
static void test_ownership_and_stop(void) {
  ds_error *err = NULL;
  ds_change_stream *s = NULL;
  ds_batch *kept = NULL;
  make_source(1000);
  ds_pipeline *p = host_pipeline("host", 1);
  CHECK_STATUS(DS_OK, ds_change_stream_open(p, NULL, &s, &err), err);
  CHECK_STATUS(DS_OK, ds_change_stream_next(s, 10000, &kept, &err), err);
  CHECK(kept != NULL);
  ds_pipeline_stop(p); /* any thread; the queue is full, the engine waits on it */
  ds_status st = DS_OK;
  for (int i = 0; i < 1000 && st == DS_OK; ++i) {
    ds_batch *b = NULL;
    st = ds_change_stream_next(s, 10000, &b, &err);
    ds_batch_destroy(b);
  }
  CHECK_STATUS(DS_ERR_CANCELLED, st, err);
  ds_error_free(err);
  err = NULL;
  CHECK(ds_change_stream_finished(s));
  ds_pipeline_destroy(p); /* before the stream: allowed */
  ds_change_stream_destroy(s);
  CHECK(ds_batch_num_rows(kept) == 10 && strcmp(ds_batch_table(kept), "main.items") == 0);
  ds_batch_destroy(kept);

  /* Destroying the pipeline while the engine waits for the host stops it too. */
  p = host_pipeline("host", 1);
  s = NULL;
  CHECK_STATUS(DS_OK, ds_change_stream_open(p, NULL, &s, &err), err);
  nanosleep(&(struct timespec){0, 100000000}, NULL);
  ds_pipeline_destroy(p);
  ds_change_stream_destroy(s);
}

static void test_errors(void) {
  ds_error *err = NULL;
  ds_change_stream *s = (ds_change_stream *)&err; /* must be reset to NULL on failure */
  ds_batch *b = NULL;
  make_source(5);
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_open(NULL, NULL, &s, &err), err);
  CHECK(s == NULL);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_next(NULL, 0, &b, &err), err);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_commit(NULL, "x", &err), err);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_INVALID_ARGUMENT, ds_change_stream_close(NULL, &err), err);
  ds_error_free(err);
  err = NULL;
  CHECK(ds_change_stream_finished(NULL));
  ds_change_stream_destroy(NULL);
  CHECK(ds_batch_kind(NULL) == DS_BATCH_ROWS && strcmp(ds_batch_schema_change(NULL), "") == 0);

  /* A sink that is not the host. */
  ds_pipeline *p = host_pipeline("sqlite", 2);
  CHECK_STATUS(DS_ERR_CONFIG, ds_change_stream_open(p, NULL, &s, &err), err);
  CHECK(strstr(ds_error_message(err), "sink is the host") != NULL);
  ds_error_free(err);
  err = NULL;
  ds_pipeline_destroy(p);

  /* A host pipeline cannot run without a stream, and a stream opens once. */
  p = host_pipeline("host", 2);
  CHECK_STATUS(DS_ERR_CONFIG, ds_pipeline_run(p, &err), err);
  CHECK(strstr(ds_error_message(err), "ds_change_stream_open") != NULL);
  ds_error_free(err);
  err = NULL;
  CHECK_STATUS(DS_ERR_STATE, ds_change_stream_open(p, NULL, &s, &err), err); /* it has run */
  ds_error_free(err);
  err = NULL;
  ds_pipeline_destroy(p);

  /* Options from a newer header with unknown bits are refused. */
  ds_change_stream_options opts;
  CHECK(ds_change_stream_options_init(&opts, sizeof opts) == DS_OK && opts.struct_size == sizeof opts);
  opts.flags = 0x80;
  p = host_pipeline("host", 2);
  CHECK_STATUS(DS_ERR_UNSUPPORTED, ds_change_stream_open(p, &opts, &s, &err), err);
  ds_error_free(err);
  ds_pipeline_destroy(p);
}

int main(void) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(tmpdir, sizeof tmpdir, "%s/ds-capi-cs-XXXXXX", base);
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  snprintf(source, sizeof source, "%s/source.db", tmpdir);
  ds_test_run("snapshot_commit_and_resume", test_snapshot_commit_and_resume);
  ds_test_run("ownership_and_stop", test_ownership_and_stop);
  ds_test_run("errors", test_errors);
  return ds_test_summary();
}
