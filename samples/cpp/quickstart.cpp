// The quickstart from C++: RAII handles over the C ABI, and a transform that
// adds customers.full_name. Exceptions stay on this side of the boundary.
//   quickstart_cpp PIPELINE.yaml [--fresh]
#include <datasync/datasync.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

struct ErrorFree {
  void operator()(ds_error *e) const { ds_error_free(e); }
};
struct PipelineDestroy {
  void operator()(ds_pipeline *p) const { ds_pipeline_destroy(p); }
};
using Pipeline = std::unique_ptr<ds_pipeline, PipelineDestroy>;

void check(ds_status status, ds_error *raw) {
  std::unique_ptr<ds_error, ErrorFree> err(raw);
  if (status != DS_OK)
    throw std::runtime_error(std::string(ds_status_name(status)) + ": " + ds_error_message(err.get()) + " (" +
                             ds_error_context(err.get()) + ")");
}

std::string text(const ds_batch *b, size_t col, int64_t row) {
  const char *data = nullptr;
  size_t len = 0;
  ds_error *err = nullptr;
  check(ds_batch_get_bytes(b, col, row, &data, &len, &err), err);
  return std::string(data, len);
}

extern "C" ds_status add_full_name(void *, const ds_batch *in, ds_batch **out, ds_error **err) {
  try {
    auto first = static_cast<size_t>(ds_batch_column_index(in, "first_name"));
    auto last = static_cast<size_t>(ds_batch_column_index(in, "last_name"));
    ds_column_builder *full = nullptr;
    ds_status st = ds_column_builder_create(DS_TYPE_STRING, &full, err);
    if (st != DS_OK) return st;
    for (int64_t r = 0; r < ds_batch_num_rows(in); ++r) {
      if (ds_batch_is_null(in, first, r) || ds_batch_is_null(in, last, r)) {
        ds_column_builder_append_null(full, nullptr);
        continue;
      }
      std::string name = text(in, first, r) + " " + text(in, last, r);
      ds_column_builder_append_bytes(full, name.data(), name.size(), nullptr);
    }
    return ds_batch_add_column(in, "full_name", full, out, err);
  } catch (const std::exception &e) {
    *err = ds_error_create(DS_ERR_CALLBACK, e.what(), ds_batch_table(in));
    return DS_ERR_CALLBACK;
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " PIPELINE.yaml [--fresh]\n";
    return 2;
  }
  try {
    ds_pipeline *raw = nullptr;
    ds_error *err = nullptr;
    check(ds_pipeline_create_from_file(argv[1], &raw, &err), err);
    Pipeline p(raw);
    check(ds_pipeline_add_transform(p.get(), "customers", 0, add_full_name, nullptr, nullptr, &err), err);
    ds_run_options opts = DS_RUN_OPTIONS_INIT;
    if (argc > 2 && std::strcmp(argv[2], "--fresh") == 0) opts.flags |= DS_RUN_FRESH;
    check(ds_pipeline_run_with_options(p.get(), &opts, &err), err);
    ds_metrics *m = nullptr;
    check(ds_pipeline_metrics(p.get(), &m, &err), err);
    std::cout << "copied " << ds_metrics_rows_written(m) << " rows of " << ds_metrics_tables_total(m) << " tables\n";
    ds_metrics_destroy(m);
  } catch (const std::exception &e) {
    std::cerr << "quickstart_cpp: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
