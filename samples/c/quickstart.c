/* Runs a pipeline file with a transform that adds a computed column,
 * customers.full_name = first_name || ' ' || last_name, using the C ABI only.
 *   quickstart_c PIPELINE.yaml [--fresh] */
#include <datasync/datasync.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ds_status add_full_name(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err) {
  int64_t first = ds_batch_column_index(in, "first_name");
  int64_t last = ds_batch_column_index(in, "last_name");
  int64_t rows = ds_batch_num_rows(in), r;
  ds_column_builder *full = NULL;
  char buf[512];
  ds_status st;
  (void)user_data;
  if (first < 0 || last < 0) {
    *err = ds_error_create(DS_ERR_CALLBACK, "customers has no first_name/last_name columns", ds_batch_table(in));
    return DS_ERR_CALLBACK;
  }
  if ((st = ds_column_builder_create(DS_TYPE_STRING, &full, err)) != DS_OK) return st;
  for (r = 0; r < rows; ++r) {
    const char *a, *b;
    size_t alen, blen;
    int n;
    if (ds_batch_is_null(in, (size_t)first, r) || ds_batch_is_null(in, (size_t)last, r)) {
      ds_column_builder_append_null(full, NULL);
      continue;
    }
    if ((st = ds_batch_get_bytes(in, (size_t)first, r, &a, &alen, err)) != DS_OK ||
        (st = ds_batch_get_bytes(in, (size_t)last, r, &b, &blen, err)) != DS_OK) {
      ds_column_builder_destroy(full);
      return st;
    }
    n = snprintf(buf, sizeof buf, "%.*s %.*s", (int)alen, a, (int)blen, b);
    ds_column_builder_append_bytes(full, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), NULL);
  }
  return ds_batch_add_column(in, "full_name", full, out, err); /* consumes `full` */
}

static void print_event(void *user_data, const ds_event *e) {
  (void)user_data;
  if (ds_event_kind(e) == DS_EVENT_TABLE_FINISHED)
    printf("  %-16s %10lld rows\n", ds_event_table(e), (long long)ds_event_rows(e));
}

int main(int argc, char **argv) {
  ds_pipeline *p = NULL;
  ds_error *err = NULL;
  ds_metrics *m = NULL;
  ds_run_options opts = DS_RUN_OPTIONS_INIT;
  if (argc < 2) {
    fprintf(stderr, "usage: %s PIPELINE.yaml [--fresh]\n", argv[0]);
    return 2;
  }
  if (argc > 2 && strcmp(argv[2], "--fresh") == 0) opts.flags |= DS_RUN_FRESH;
  if (ds_version_number() / 1000 != DS_VERSION_NUMBER / 1000) {
    fprintf(stderr, "libdatasync %s does not match the header %s\n", ds_version_string(), DS_VERSION_STRING);
    return 1;
  }
  if (ds_pipeline_create_from_file(argv[1], &p, &err) != DS_OK ||
      ds_pipeline_add_transform(p, "customers", 0, add_full_name, NULL, NULL, &err) != DS_OK ||
      ds_pipeline_add_event_listener(p, print_event, NULL, NULL, &err) != DS_OK ||
      ds_pipeline_run_with_options(p, &opts, &err) != DS_OK) {
    fprintf(stderr, "quickstart_c: %s: %s (%s)\n", ds_status_name(ds_error_code(err)), ds_error_message(err),
            ds_error_context(err));
    ds_error_free(err);
    ds_pipeline_destroy(p);
    return 1;
  }
  if (ds_pipeline_metrics(p, &m, NULL) == DS_OK) {
    printf("copied %lld rows of %lld tables in %.2f s\n", (long long)ds_metrics_rows_written(m),
           (long long)ds_metrics_tables_total(m), ds_metrics_elapsed_us(m) / 1e6);
    ds_metrics_destroy(m);
  }
  ds_pipeline_destroy(p);
  return 0;
}
