#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "config/registry.hpp"
#include "connectors/registry.hpp"
#include "internal.hpp"

using ds::capi::guard;
using ds::capi::require;

namespace {

std::string directory_of(const std::string &path) {
  char *resolved = realpath(path.c_str(), nullptr);
  std::string abs = resolved ? resolved : path;
  std::free(resolved);
  size_t slash = abs.rfind('/');
  return slash == std::string::npos ? "" : abs.substr(0, slash);
}

ds_pipeline *make_pipeline(ds::config::PipelineSpec spec, const std::string &base_dir) {
  ds::connectors::ConnectorContext ctx;
  ctx.pipeline_name = spec.name;
  ctx.base_dir = base_dir;
  auto *p = new ds_pipeline();
  p->impl = std::make_shared<ds::pipeline::Pipeline>(std::move(spec), std::move(ctx));
  return p;
}

// Calls free_user_data when a registration fails, so it runs exactly once.
struct UserDataGuard {
  void *user_data;
  ds_free_fn free_fn;
  bool armed = true;
  ~UserDataGuard() {
    if (armed && free_fn) free_fn(user_data);
  }
};

ds::model::BatchPtr call_transform(ds_transform_fn fn, void *user_data, const ds::model::BatchPtr &in) {
  ds_batch view;
  view.batch = in;
  view.table_name = in->schema->id.to_string();
  ds_batch *out = nullptr;
  ds_error *err = nullptr;
  ds_status status;
  try {
    status = fn(user_data, &view, &out, &err);
  } catch (...) {
    // A C++ host's callback must not unwind into the engine; treat it as a failure.
    throw ds::Error(ds::Code::callback, "transform callback threw an exception", "table=" + view.table_name);
  }
  if (status != DS_OK) {
    if (out) ds_batch_destroy(out);
    if (err) {
      // The callback's own message and context come back untouched.
      ds::Error e(static_cast<ds::Code>(err->code == DS_OK ? DS_ERR_CALLBACK : err->code), err->message, err->context,
                  err->retriable);
      e.mark_from_host();
      ds_error_free(err);
      throw e;
    }
    throw ds::Error(ds::Code::callback, std::string("transform callback failed with ") + ds_status_name(status),
                    "table=" + view.table_name);
  }
  if (err) ds_error_free(err);  // an error object with DS_OK means nothing
  if (!out) return nullptr;
  ds::model::BatchPtr result = std::move(out->batch);
  delete out;
  if (!result || result->columns.size() != result->schema->columns.size())
    throw ds::Error(ds::Code::callback, "transform returned a malformed batch", "table=" + view.table_name);
  return result;
}

}  // namespace

extern "C" {

DS_API ds_status ds_config_create(ds_config **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(out != nullptr, "ds_config_create: out is NULL");
    ds::connectors::register_builtin_connectors();
    *out = new ds_config();
  });
}

DS_API ds_status ds_config_set(ds_config *cfg, const char *key, const char *value, ds_error **err) {
  return guard(err, [&] {
    require(cfg && key && value, "ds_config_set: cfg, key and value must not be NULL");
    ds::config::set_key(cfg->spec, key, value);
  });
}

DS_API ds_status ds_config_add_route(ds_config *cfg, const char *source_table_regex, const char *sink_table,
                                     ds_error **err) {
  return guard(err, [&] {
    require(cfg && source_table_regex && sink_table, "ds_config_add_route: arguments must not be NULL");
    ds::config::RouteSpec r;
    r.source_table = source_table_regex;
    r.sink_table = sink_table;
    r.mark.file = "<ds_config_add_route>";
    cfg->spec.routes.push_back(r);
  });
}

DS_API void ds_config_destroy(ds_config *cfg) { delete cfg; }

DS_API ds_status ds_config_reference(char **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(out != nullptr, "ds_config_reference: out is NULL");
    ds::connectors::register_builtin_connectors();
    *out = ds::capi::malloc_copy(ds::config::Registry::instance().markdown());
  });
}

DS_API ds_status ds_pipeline_create_from_yaml(const char *yaml, ds_pipeline **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(yaml && out, "ds_pipeline_create_from_yaml: yaml and out must not be NULL");
    ds::connectors::register_builtin_connectors();
    *out = make_pipeline(ds::config::parse_yaml(yaml, "<string>", ""), "");
  });
}

DS_API ds_status ds_pipeline_create_from_file(const char *path, ds_pipeline **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(path && out, "ds_pipeline_create_from_file: path and out must not be NULL");
    ds::connectors::register_builtin_connectors();
    ds::config::PipelineSpec spec = ds::config::parse_yaml_file(path);
    *out = make_pipeline(std::move(spec), directory_of(path));
  });
}

DS_API ds_status ds_pipeline_create(const ds_config *cfg, ds_pipeline **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(cfg && out, "ds_pipeline_create: cfg and out must not be NULL");
    ds::config::PipelineSpec spec = cfg->spec;
    ds::config::validate(spec);
    *out = make_pipeline(std::move(spec), "");
  });
}

DS_API ds_status ds_pipeline_add_transform(ds_pipeline *p, const char *table_pattern, uint32_t flags,
                                           ds_transform_fn fn, void *user_data, ds_free_fn free_user_data,
                                           ds_error **err) {
  UserDataGuard owned{user_data, free_user_data};
  return guard(err, [&] {
    require(p && fn, "ds_pipeline_add_transform: pipeline and fn must not be NULL");
    require((flags & ~DS_TRANSFORM_SERIAL) == 0, "ds_pipeline_add_transform: unknown flag bits");
    p->impl->add_transform(
        table_pattern ? table_pattern : "", (flags & DS_TRANSFORM_SERIAL) != 0,
        [fn, user_data](const ds::model::BatchPtr &in) { return call_transform(fn, user_data, in); });
    p->user_data.emplace_back(user_data, free_user_data);
    owned.armed = false;
  });
}

DS_API ds_status ds_pipeline_add_event_listener(ds_pipeline *p, ds_event_fn fn, void *user_data,
                                                ds_free_fn free_user_data, ds_error **err) {
  UserDataGuard owned{user_data, free_user_data};
  return guard(err, [&] {
    require(p && fn, "ds_pipeline_add_event_listener: pipeline and fn must not be NULL");
    p->impl->add_event_listener([fn, user_data](const ds::pipeline::Event &e) {
      ds_event view{&e};
      try {
        fn(user_data, &view);
      } catch (...) {
        // Listeners only observe; one that throws must not take the pipeline down.
      }
    });
    p->user_data.emplace_back(user_data, free_user_data);
    owned.armed = false;
  });
}

DS_API ds_status ds_run_options_init(ds_run_options *opts, size_t struct_size) {
  if (!opts || struct_size < sizeof(uint32_t)) return DS_ERR_INVALID_ARGUMENT;
  std::memset(opts, 0, struct_size);
  opts->struct_size =
      static_cast<uint32_t>(struct_size < sizeof(ds_run_options) ? struct_size : sizeof(ds_run_options));
  return DS_OK;
}

DS_API ds_status ds_pipeline_run_with_options(ds_pipeline *p, const ds_run_options *opts, ds_error **err) {
  return guard(err, [&] {
    require(p != nullptr, "ds_pipeline_run: pipeline is NULL");
    ds_run_options o{};
    if (opts) {
      require(opts->struct_size >= sizeof(uint32_t), "ds_run_options.struct_size is not set (use ds_run_options_init)");
      size_t n = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
      // A newer caller's struct may be larger; its extra bytes must be zero.
      const auto *bytes = reinterpret_cast<const unsigned char *>(opts);
      for (size_t i = sizeof o; i < opts->struct_size; ++i)
        if (bytes[i] != 0)
          throw ds::Error(ds::Code::unsupported,
                          "ds_run_options is newer than this library (header newer than library)");
      std::memcpy(&o, opts, n);
    }
    if ((o.flags & ~DS_RUN_FRESH) != 0) throw ds::Error(ds::Code::unsupported, "ds_run_options.flags has unknown bits");
    if (p->running.exchange(true))
      throw ds::Error(ds::Code::state, "the pipeline is running (a run or a change stream)",
                      "pipeline=" + p->impl->name());
    struct Reset {
      std::atomic<bool> &flag;
      ~Reset() { flag.store(false); }
    } reset{p->running};
    p->impl->run((o.flags & DS_RUN_FRESH) != 0);
  });
}

DS_API ds_status ds_pipeline_run(ds_pipeline *p, ds_error **err) {
  return ds_pipeline_run_with_options(p, nullptr, err);
}

DS_API ds_status ds_pipeline_schema(ds_pipeline *p, ds_schema_action action, uint32_t flags, char **out_json,
                                    ds_error **err) {
  if (out_json) *out_json = nullptr;
  return guard(err, [&] {
    require(p != nullptr, "ds_pipeline_schema: pipeline is NULL");
    require(action == DS_SCHEMA_PLAN || action == DS_SCHEMA_APPLY, "ds_pipeline_schema: unknown action");
    require((flags & ~DS_SCHEMA_ALLOW_DESTRUCTIVE) == 0, "ds_pipeline_schema: unknown flags");
    if (p->running.load())
      throw ds::Error(ds::Code::state, "ds_pipeline_schema: the pipeline is running", "pipeline=" + p->impl->name());
    std::string json = p->impl->schema(action == DS_SCHEMA_APPLY, (flags & DS_SCHEMA_ALLOW_DESTRUCTIVE) != 0);
    if (out_json) *out_json = ds::capi::malloc_copy(json);
  });
}

DS_API ds_status ds_pipeline_cleanup(ds_pipeline *p, char **out_text, ds_error **err) {
  if (out_text) *out_text = nullptr;
  return guard(err, [&] {
    require(p != nullptr, "ds_pipeline_cleanup: pipeline is NULL");
    if (p->running.load())
      throw ds::Error(ds::Code::state, "ds_pipeline_cleanup: the pipeline is running", "pipeline=" + p->impl->name());
    std::string text;
    for (const std::string &line : p->impl->cleanup()) text += line + "\n";
    if (out_text) *out_text = ds::capi::malloc_copy(text);
  });
}

DS_API void ds_pipeline_stop(ds_pipeline *p) {
  if (p) p->impl->stop();
}

DS_API void ds_pipeline_destroy(ds_pipeline *p) {
  if (!p) return;
  p->impl->stop();
  while (p->running.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  p->impl.reset();
  for (auto &ud : p->user_data)
    if (ud.second) ud.second(ud.first);
  delete p;
}

DS_API const char *ds_pipeline_name(const ds_pipeline *p) { return p ? p->impl->name().c_str() : ""; }

DS_API int32_t ds_event_kind(const ds_event *e) { return e ? static_cast<int32_t>(e->event->kind) : 0; }
DS_API const char *ds_event_kind_name(int32_t kind) { return ds::pipeline::event_kind_name(kind); }
DS_API const char *ds_event_table(const ds_event *e) { return e ? e->event->table.c_str() : ""; }
DS_API const char *ds_event_message(const ds_event *e) { return e ? e->event->message.c_str() : ""; }
DS_API int64_t ds_event_rows(const ds_event *e) { return e ? e->event->rows : 0; }

}  // extern "C"
