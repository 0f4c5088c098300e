#include <cstdlib>
#include <cstring>

#include "internal.hpp"

using ds::capi::guard;
using ds::capi::require;

namespace {
const ds::pipeline::TableMetrics *table_at(const ds_metrics *m, size_t i) {
  return (m && i < m->snapshot.tables.size()) ? &m->snapshot.tables[i] : nullptr;
}
}  // namespace

extern "C" {

DS_API ds_status ds_pipeline_metrics(const ds_pipeline *p, ds_metrics **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(p && out, "ds_pipeline_metrics: pipeline and out must not be NULL");
    *out = new ds_metrics{p->impl->metrics()};
  });
}

DS_API void ds_metrics_destroy(ds_metrics *m) { delete m; }
DS_API int64_t ds_metrics_rows_read(const ds_metrics *m) { return m ? m->snapshot.rows_read : 0; }
DS_API int64_t ds_metrics_rows_written(const ds_metrics *m) { return m ? m->snapshot.rows_written : 0; }
DS_API int64_t ds_metrics_bytes_read(const ds_metrics *m) { return m ? m->snapshot.bytes_read : 0; }
DS_API int64_t ds_metrics_bytes_written(const ds_metrics *m) { return m ? m->snapshot.bytes_written : 0; }
DS_API int64_t ds_metrics_batches(const ds_metrics *m) { return m ? m->snapshot.batches : 0; }
DS_API int64_t ds_metrics_errors(const ds_metrics *m) { return m ? m->snapshot.errors : 0; }
DS_API int64_t ds_metrics_retries(const ds_metrics *m) { return m ? m->snapshot.retries : 0; }
DS_API int64_t ds_metrics_elapsed_us(const ds_metrics *m) { return m ? m->snapshot.elapsed_us : 0; }
DS_API int64_t ds_metrics_lag_ms(const ds_metrics *m) { return m ? m->snapshot.lag_ms : -1; }
DS_API int64_t ds_metrics_tables_total(const ds_metrics *m) { return m ? m->snapshot.tables_total : 0; }
DS_API int64_t ds_metrics_tables_done(const ds_metrics *m) { return m ? m->snapshot.tables_done : 0; }
DS_API int64_t ds_metrics_rows_estimated(const ds_metrics *m) { return m ? m->snapshot.rows_estimated : 0; }
DS_API int64_t ds_metrics_values_adjusted(const ds_metrics *m) { return m ? m->snapshot.values_adjusted : 0; }
DS_API int64_t ds_metrics_source_retained_bytes(const ds_metrics *m) {
  return m ? m->snapshot.source_retained_bytes : -1;
}
DS_API size_t ds_metrics_num_tables(const ds_metrics *m) { return m ? m->snapshot.tables.size() : 0; }

DS_API const char *ds_metrics_table_name(const ds_metrics *m, size_t i) {
  const auto *t = table_at(m, i);
  return t ? t->name.c_str() : "";
}
DS_API int64_t ds_metrics_table_rows_read(const ds_metrics *m, size_t i) {
  const auto *t = table_at(m, i);
  return t ? t->rows_read : 0;
}
DS_API int64_t ds_metrics_table_rows_written(const ds_metrics *m, size_t i) {
  const auto *t = table_at(m, i);
  return t ? t->rows_written : 0;
}
DS_API int64_t ds_metrics_table_bytes_read(const ds_metrics *m, size_t i) {
  const auto *t = table_at(m, i);
  return t ? t->bytes_read : 0;
}
DS_API int64_t ds_metrics_table_bytes_written(const ds_metrics *m, size_t i) {
  const auto *t = table_at(m, i);
  return t ? t->bytes_written : 0;
}

DS_API ds_status ds_metrics_to_json(const ds_metrics *m, char **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(m && out, "ds_metrics_to_json: metrics and out must not be NULL");
    *out = ds::capi::malloc_copy(m->snapshot.to_json());
  });
}

}  // extern "C"
