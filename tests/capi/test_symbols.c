/* References every DS_API function so a missing export fails to link (librdkafka 0006-symbols).
 * Regenerate the list when the header grows: every DS_API declaration must appear here. */
#include <datasync/datasync.h>
#include <stdio.h>

typedef void (*any_fn)(void);

int main(void) {
  any_fn table[] = {
      (any_fn)ds_version_number,
      (any_fn)ds_version_string,
      (any_fn)ds_error_code,
      (any_fn)ds_error_message,
      (any_fn)ds_error_context,
      (any_fn)ds_error_is_retriable,
      (any_fn)ds_error_free,
      (any_fn)ds_error_create,
      (any_fn)ds_status_name,
      (any_fn)ds_free,
      (any_fn)ds_config_create,
      (any_fn)ds_config_set,
      (any_fn)ds_config_add_route,
      (any_fn)ds_config_reference,
      (any_fn)ds_config_destroy,
      (any_fn)ds_pipeline_create_from_yaml,
      (any_fn)ds_pipeline_create_from_file,
      (any_fn)ds_pipeline_create,
      (any_fn)ds_pipeline_add_transform,
      (any_fn)ds_pipeline_add_event_listener,
      (any_fn)ds_event_kind,
      (any_fn)ds_event_kind_name,
      (any_fn)ds_event_table,
      (any_fn)ds_event_message,
      (any_fn)ds_event_rows,
      (any_fn)ds_run_options_init,
      (any_fn)ds_pipeline_run,
      (any_fn)ds_pipeline_run_with_options,
      (any_fn)ds_pipeline_stop,
      (any_fn)ds_pipeline_destroy,
      (any_fn)ds_pipeline_name,
      (any_fn)ds_pipeline_metrics,
      (any_fn)ds_metrics_destroy,
      (any_fn)ds_metrics_rows_read,
      (any_fn)ds_metrics_rows_written,
      (any_fn)ds_metrics_bytes_read,
      (any_fn)ds_metrics_bytes_written,
      (any_fn)ds_metrics_batches,
      (any_fn)ds_metrics_errors,
      (any_fn)ds_metrics_retries,
      (any_fn)ds_metrics_elapsed_us,
      (any_fn)ds_metrics_lag_ms,
      (any_fn)ds_metrics_tables_total,
      (any_fn)ds_metrics_tables_done,
      (any_fn)ds_metrics_rows_estimated,
      (any_fn)ds_metrics_values_adjusted,
      (any_fn)ds_metrics_source_retained_bytes,
      (any_fn)ds_type_mapping_reference,
      (any_fn)ds_pipeline_schema,
      (any_fn)ds_pipeline_cleanup,
      (any_fn)ds_metrics_num_tables,
      (any_fn)ds_metrics_table_name,
      (any_fn)ds_metrics_table_rows_read,
      (any_fn)ds_metrics_table_rows_written,
      (any_fn)ds_metrics_table_bytes_read,
      (any_fn)ds_metrics_table_bytes_written,
      (any_fn)ds_metrics_to_json,
      (any_fn)ds_batch_num_rows,
      (any_fn)ds_batch_num_columns,
      (any_fn)ds_batch_table,
      (any_fn)ds_batch_column_name,
      (any_fn)ds_batch_column_type,
      (any_fn)ds_batch_column_index,
      (any_fn)ds_batch_op,
      (any_fn)ds_batch_position,
      (any_fn)ds_batch_is_null,
      (any_fn)ds_batch_get_int64,
      (any_fn)ds_batch_get_double,
      (any_fn)ds_batch_get_bytes,
      (any_fn)ds_batch_destroy,
      (any_fn)ds_batch_export_arrow,
      (any_fn)ds_batch_import_arrow,
      (any_fn)ds_column_builder_create,
      (any_fn)ds_column_builder_append_null,
      (any_fn)ds_column_builder_append_int64,
      (any_fn)ds_column_builder_append_double,
      (any_fn)ds_column_builder_append_bytes,
      (any_fn)ds_column_builder_destroy,
      (any_fn)ds_batch_add_column,
  };
  size_t i, n = sizeof table / sizeof table[0];
  for (i = 0; i < n; ++i)
    if (!table[i]) {
      printf("0 passed, 1 failed: symbol %u is NULL\n", (unsigned)i);
      return 1;
    }
  printf("%u passed, 0 failed\n", (unsigned)n);
  return 0;
}
