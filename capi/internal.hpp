// Handle structs and the one guard every C entry point runs its body through.
// This is the only place that sees both core and datasync.h.
#pragma once
#include <datasync/datasync.h>

#include <atomic>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "config/spec.hpp"
#include "model/batch.hpp"
#include "model/error.hpp"
#include "pipeline/change_stream.hpp"
#include "pipeline/events.hpp"
#include "pipeline/pipeline.hpp"

struct ds_error {
  ds_status code;
  std::string message;
  std::string context;
  bool retriable;
};

struct ds_config {
  ds::config::PipelineSpec spec;
};

struct ds_pipeline {
  // Shared with a change stream, which keeps what it needs of the pipeline
  // even when the pipeline handle goes first.
  std::shared_ptr<ds::pipeline::Pipeline> impl;
  std::vector<std::pair<void *, ds_free_fn>> user_data;  // freed exactly once, at destroy
  std::atomic<bool> running{false};
};

// A batch as the C ABI sees it. Borrowed ones live on the engine's stack for
// the duration of a callback; owned ones come from import or add_column.
struct ds_batch {
  ds::model::BatchPtr batch;
  std::string table_name;
  int32_t kind = DS_BATCH_ROWS;
  std::string schema_change;  // DS_BATCH_SCHEMA_CHANGE: what changed
  // A change stream's batch: the position to commit ("" inside a source
  // transaction), in place of the batch's own.
  bool has_commit_position = false;
  std::string commit_position;
};

struct ds_change_stream {
  std::unique_ptr<ds::pipeline::ChangeStream> impl;
  std::string pipeline_name;
};

struct ds_event {
  const ds::pipeline::Event *event;
};

struct ds_metrics {
  ds::pipeline::MetricsSnapshot snapshot;
};

struct ds_column_builder {
  ds_type type;
  ds::model::ColumnBuilder builder;
};

namespace ds::capi {

extern ds_error g_out_of_memory;

ds_error *make_error(ds_status code, std::string message, std::string context = {}, bool retriable = false);
ds_error *from_core(const ds::Error &e);
ds::Error to_core(const ds_error *e);

inline void set_error(ds_error **err, ds_error *e) {
  if (err)
    *err = e;
  else if (e != &g_out_of_memory)
    delete e;
}

// Runs body; maps every exception to a status plus an error object.
template <typename F>
ds_status guard(ds_error **err, F &&body) noexcept {
  try {
    body();
    return DS_OK;
  } catch (const ds::Error &e) {
    ds_error *made = nullptr;
    try {
      made = from_core(e);
    } catch (...) {
      made = &g_out_of_memory;
    }
    set_error(err, made);
    return static_cast<ds_status>(e.code());
  } catch (const std::bad_alloc &) {
    set_error(err, &g_out_of_memory);
    return DS_ERR_NOMEM;
  } catch (const std::exception &e) {
    ds_error *made = nullptr;
    try {
      made = make_error(DS_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
      made = &g_out_of_memory;
    }
    set_error(err, made);
    return DS_ERR_INTERNAL;
  } catch (...) {
    ds_error *made = &g_out_of_memory;
    try {
      made = make_error(DS_ERR_INTERNAL, "internal error: unknown exception");
    } catch (...) {
    }
    set_error(err, made);
    return DS_ERR_INTERNAL;
  }
}

// A malloc'ed, NUL-terminated copy the caller frees with ds_free().
char *malloc_copy(const std::string &text);

inline void require(bool ok, const char *what) {
  if (!ok) throw ds::Error(ds::Code::invalid_argument, what);
}

ds_type to_c_type(ds::model::TypeId id);
ds::model::TypeId from_c_type(ds_type t);

}  // namespace ds::capi
