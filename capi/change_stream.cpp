// ds_change_stream: the C face of core/pipeline/change_stream.hpp.
#include <cstring>

#include "internal.hpp"

using ds::capi::guard;
using ds::capi::require;

extern "C" {

DS_API ds_status ds_change_stream_options_init(ds_change_stream_options *opts, size_t struct_size) {
  if (!opts || struct_size < sizeof(uint32_t)) return DS_ERR_INVALID_ARGUMENT;
  std::memset(opts, 0, struct_size);
  opts->struct_size = static_cast<uint32_t>(
      struct_size < sizeof(ds_change_stream_options) ? struct_size : sizeof(ds_change_stream_options));
  return DS_OK;
}

DS_API ds_status ds_change_stream_open(ds_pipeline *p, const ds_change_stream_options *opts, ds_change_stream **out,
                                       ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(p && out, "ds_change_stream_open: pipeline and out must not be NULL");
    ds_change_stream_options o{};
    if (opts) {
      require(opts->struct_size >= sizeof(uint32_t),
              "ds_change_stream_options.struct_size is not set (use ds_change_stream_options_init)");
      const auto *bytes = reinterpret_cast<const unsigned char *>(opts);
      for (size_t i = sizeof o; i < opts->struct_size; ++i)
        if (bytes[i] != 0)
          throw ds::Error(ds::Code::unsupported,
                          "ds_change_stream_options is newer than this library (header newer than library)");
      std::memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    }
    if ((o.flags & ~DS_RUN_FRESH) != 0)
      throw ds::Error(ds::Code::unsupported, "ds_change_stream_options.flags has unknown bits");
    if (p->running.exchange(true))
      throw ds::Error(ds::Code::state, "the pipeline is running (a run or a change stream)",
                      "pipeline=" + p->impl->name());
    auto stream = std::make_unique<ds_change_stream>();
    stream->pipeline_name = p->impl->name();
    // ds_pipeline_destroy waits for this flag, so the pipeline's callbacks and
    // their user_data outlive the run; clearing it is the run thread's last act.
    std::atomic<bool> *running = &p->running;
    try {
      stream->impl = std::make_unique<ds::pipeline::ChangeStream>(p->impl, (o.flags & DS_RUN_FRESH) != 0,
                                                                  [running] { running->store(false); });
    } catch (...) {
      running->store(false);
      throw;
    }
    *out = stream.release();
  });
}

DS_API ds_status ds_change_stream_next(ds_change_stream *s, int32_t timeout_ms, ds_batch **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(s && out, "ds_change_stream_next: stream and out must not be NULL");
    ds::pipeline::ChangeStream::Delivery d;
    if (!s->impl->next(timeout_ms, d)) return;
    auto b = std::make_unique<ds_batch>();
    b->batch = d.batch;
    b->table_name = d.batch->schema->id.to_string();
    b->kind = d.kind == ds::pipeline::ChangeStream::Kind::schema_change ? DS_BATCH_SCHEMA_CHANGE : DS_BATCH_ROWS;
    b->schema_change = d.schema_change;
    b->has_commit_position = true;
    b->commit_position = d.position;
    *out = b.release();
  });
}

DS_API bool ds_change_stream_finished(const ds_change_stream *s) { return s == nullptr || s->impl->finished(); }

DS_API ds_status ds_change_stream_commit(ds_change_stream *s, const char *position, ds_error **err) {
  return guard(err, [&] {
    require(s && position, "ds_change_stream_commit: stream and position must not be NULL");
    s->impl->commit(position);
  });
}

DS_API ds_status ds_change_stream_close(ds_change_stream *s, ds_error **err) {
  return guard(err, [&] {
    require(s != nullptr, "ds_change_stream_close: stream is NULL");
    s->impl->close();
  });
}

DS_API void ds_change_stream_destroy(ds_change_stream *s) {
  if (!s) return;
  try {
    s->impl->close();
  } catch (...) {
    // Joining the run's thread is all close does; nothing to report from a destroy.
  }
  delete s;
}

}  // extern "C"
