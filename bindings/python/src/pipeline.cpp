// ds_pipeline from Python: creation, transform and event trampolines, run with
// the GIL released, stop/metrics from any thread, destroy.
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace dspy {

namespace {

struct ConfigDeleter {
  void operator()(ds_config *c) const { ds_config_destroy(c); }
};
struct MetricsDeleter {
  void operator()(ds_metrics *m) const { ds_metrics_destroy(m); }
};

py::dict metrics_dict(const ds_metrics *m) {
  py::dict d;
  d["rows_read"] = ds_metrics_rows_read(m);
  d["rows_written"] = ds_metrics_rows_written(m);
  d["bytes_read"] = ds_metrics_bytes_read(m);
  d["bytes_written"] = ds_metrics_bytes_written(m);
  d["batches"] = ds_metrics_batches(m);
  d["errors"] = ds_metrics_errors(m);
  d["retries"] = ds_metrics_retries(m);
  d["elapsed_us"] = ds_metrics_elapsed_us(m);
  d["lag_ms"] = ds_metrics_lag_ms(m);
  d["tables_total"] = ds_metrics_tables_total(m);
  d["tables_done"] = ds_metrics_tables_done(m);
  d["rows_estimated"] = ds_metrics_rows_estimated(m);
  d["values_adjusted"] = ds_metrics_values_adjusted(m);
  d["source_retained_bytes"] = ds_metrics_source_retained_bytes(m);
  py::dict tables;
  size_t n = ds_metrics_num_tables(m);
  for (size_t i = 0; i < n; ++i) {
    py::dict t;
    t["rows_read"] = ds_metrics_table_rows_read(m, i);
    t["rows_written"] = ds_metrics_table_rows_written(m, i);
    t["bytes_read"] = ds_metrics_table_bytes_read(m, i);
    t["bytes_written"] = ds_metrics_table_bytes_written(m, i);
    tables[text(ds_metrics_table_name(m, i))] = t;
  }
  d["tables"] = tables;
  return d;
}

// Releases the GIL; restore() takes it back. Call restore() in ordinary code,
// not from a destructor: a daemon thread that retakes the GIL while the
// interpreter finalizes is ended by CPython with pthread_exit, whose forced
// unwind must not cross a noexcept frame (a destructor) or std::terminate
// aborts the process. From ordinary code the unwind passes through pybind11
// (which rethrows abi::__forced_unwind) and the thread ends quietly.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() { restore(); }  // exception paths only
  GilRelease(const GilRelease &) = delete;
  GilRelease &operator=(const GilRelease &) = delete;
  void restore() {
    PyThreadState *s = state_;
    state_ = nullptr;
    if (s) PyEval_RestoreThread(s);
  }

 private:
  PyThreadState *state_;
};

}  // namespace

class NativePipeline;

namespace {

// user_data of one registered callback. Freed by the library exactly once
// (free_user_data), after the last call.
struct CallbackContext {
  PyObject *fn;           // strong reference, released under the GIL
  NativePipeline *owner;  // outlives the callbacks: the owner destroys the pipeline first
  ds_pipeline *pipeline;  // for ds_pipeline_stop from an event listener
  std::string name;       // for messages: the transform function's name
};

void free_callback_context(void *user_data) {
  auto *ctx = static_cast<CallbackContext *>(user_data);
  // At interpreter shutdown the reference is leaked on purpose: taking the GIL
  // from a foreign thread then may hang or kill the thread.
  if (!interpreter_finalizing()) {
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(ctx->fn);
    PyGILState_Release(g);
  }
  delete ctx;
}

}  // namespace

class NativePipeline {
 public:
  explicit NativePipeline(ds_pipeline *p) : p_(p), name_(ds_pipeline_name(p) ? ds_pipeline_name(p) : "") {}

  ~NativePipeline() {
    // The GIL is held here (pybind11 dealloc). Release it: destroying waits
    // for the engine, whose callbacks need the GIL.
    try {
      close_handle();
    } catch (...) {
    }
    Py_XDECREF(pending_);  // GIL held again
  }

  NativePipeline(const NativePipeline &) = delete;
  NativePipeline &operator=(const NativePipeline &) = delete;

  static std::shared_ptr<NativePipeline> checked(ds_status st, ds_pipeline *p, ds_error *err) {
    if (st != DS_OK) {
      ds_pipeline_destroy(p);
      throw_status(st, err);
    }
    ds_error_free(err);
    return std::make_shared<NativePipeline>(p);
  }

  static std::shared_ptr<NativePipeline> from_yaml(const std::string &yaml) {
    ds_pipeline *p = nullptr;
    ds_error *err = nullptr;
    ds_status st = ds_pipeline_create_from_yaml(yaml.c_str(), &p, &err);
    return checked(st, p, err);
  }

  static std::shared_ptr<NativePipeline> from_file(const std::string &path) {
    ds_pipeline *p = nullptr;
    ds_error *err = nullptr;
    ds_status st = ds_pipeline_create_from_file(path.c_str(), &p, &err);
    return checked(st, p, err);
  }

  static std::shared_ptr<NativePipeline> from_config(const std::vector<std::pair<std::string, std::string>> &settings,
                                                     const std::vector<std::pair<std::string, std::string>> &routes) {
    ds_config *raw = nullptr;
    ds_error *err = nullptr;
    ds_status st = ds_config_create(&raw, &err);
    if (st != DS_OK) throw_status(st, err);
    std::unique_ptr<ds_config, ConfigDeleter> cfg(raw);
    for (const auto &kv : settings) {
      st = ds_config_set(cfg.get(), kv.first.c_str(), kv.second.c_str(), &err);
      if (st != DS_OK) throw_status(st, err);
    }
    for (const auto &r : routes) {
      st = ds_config_add_route(cfg.get(), r.first.c_str(), r.second.c_str(), &err);
      if (st != DS_OK) throw_status(st, err);
    }
    ds_pipeline *p = nullptr;
    st = ds_pipeline_create(cfg.get(), &p, &err);
    return checked(st, p, err);
  }

  const std::string &name() const { return name_; }
  bool closed() const { return closed_.load(); }
  bool running() const { return running_.load(); }

  void add_transform(const std::string &pattern, bool serial, py::function fn, const std::string &fn_name) {
    ds_pipeline *p = handle_for_setup("add a transform");
    auto *ctx = new CallbackContext{fn.release().ptr(), this, p, fn_name};
    ds_error *err = nullptr;
    // On failure the library calls free_callback_context at once, on this
    // thread, which holds the GIL (PyGILState_Ensure nests).
    ds_status st =
        ds_pipeline_add_transform(p, pattern.empty() ? nullptr : pattern.c_str(), serial ? DS_TRANSFORM_SERIAL : 0u,
                                  &transform_trampoline, ctx, &free_callback_context, &err);
    if (st != DS_OK) throw_status(st, err);
  }

  void add_event_listener(py::function fn, const std::string &fn_name) {
    ds_pipeline *p = handle_for_setup("add an event listener");
    auto *ctx = new CallbackContext{fn.release().ptr(), this, p, fn_name};
    ds_error *err = nullptr;
    ds_status st = ds_pipeline_add_event_listener(p, &event_trampoline, ctx, &free_callback_context, &err);
    if (st != DS_OK) throw_status(st, err);
  }

  void run(bool fresh) {
    if (callback_depth() > 0) throw_error(DS_ERR_STATE, "run() cannot be called from inside a datasync callback");
    ds_run_options opts;
    ds_run_options_init(&opts, sizeof opts);
    if (fresh) opts.flags |= DS_RUN_FRESH;
    ds_status st = DS_OK;
    ds_error *err = nullptr;
    bool was_closed = false;
    GilRelease nogil;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      if (!p_) {
        was_closed = true;
      } else {
        running_ = true;
        st = ds_pipeline_run_with_options(p_, &opts, &err);
        running_ = false;
      }
    }  // the lock is released before the GIL is taken back
    nogil.restore();
    if (was_closed) throw_error(DS_ERR_STATE, "the pipeline is closed");
    if (st != DS_OK) throw_status(st, err);
    ds_error_free(err);
  }

  // The schema plan as JSON text (parsed by the Python layer).
  std::string schema(bool apply, bool allow_destructive) {
    return call_for_text("schema()", [&](ds_pipeline *p, char **out, ds_error **err) {
      return ds_pipeline_schema(p, apply ? DS_SCHEMA_APPLY : DS_SCHEMA_PLAN,
                                allow_destructive ? DS_SCHEMA_ALLOW_DESTRUCTIVE : 0u, out, err);
    });
  }

  std::string cleanup() {
    return call_for_text("cleanup()",
                         [](ds_pipeline *p, char **out, ds_error **err) { return ds_pipeline_cleanup(p, out, err); });
  }

  // Calls a C function returning owned text, off the GIL.
  template <typename F>
  std::string call_for_text(const char *what, F call) {
    if (callback_depth() > 0)
      throw_error(DS_ERR_STATE, std::string(what) + " cannot be called from inside a datasync callback");
    char *text = nullptr;
    ds_error *err = nullptr;
    ds_status st = DS_OK;
    bool was_closed = false;
    GilRelease nogil;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      if (!p_)
        was_closed = true;
      else
        st = call(p_, &text, &err);
    }
    nogil.restore();
    if (was_closed) throw_error(DS_ERR_STATE, "the pipeline is closed");
    if (st != DS_OK) throw_status(st, err);
    ds_error_free(err);
    std::string out = text ? text : "";
    ds_free(text);
    return out;
  }

  py::object open_changes(bool fresh) {
    if (callback_depth() > 0) throw_error(DS_ERR_STATE, "changes() cannot be called from inside a datasync callback");
    return open_change_stream(handle_for_setup("open a change stream"), fresh);
  }

  void stop() {
    GilRelease nogil;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      ds_pipeline_stop(p_);  // NULL is a no-op
    }
    nogil.restore();
  }

  py::dict metrics() {
    ds_metrics *raw = nullptr;
    ds_error *err = nullptr;
    ds_status st = DS_OK;
    bool was_closed = false;
    GilRelease nogil;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      if (!p_)
        was_closed = true;
      else
        st = ds_pipeline_metrics(p_, &raw, &err);
    }
    nogil.restore();
    if (was_closed) throw_error(DS_ERR_STATE, "the pipeline is closed");
    if (st != DS_OK) throw_status(st, err);
    std::unique_ptr<ds_metrics, MetricsDeleter> m(raw);
    return metrics_dict(m.get());
  }

  void close() {
    if (callback_depth() > 0) throw_error(DS_ERR_STATE, "close() cannot be called from inside a datasync callback");
    close_handle();
  }

  // The first exception a callback raised (then cleared), or None.
  py::object take_callback_exception() {
    PyObject *exc = pending_;
    pending_ = nullptr;
    if (!exc) return py::none();
    return py::reinterpret_steal<py::object>(exc);
  }

 private:
  // Called with the GIL held (the pipeline is used by one thread at a time
  // before run, so no lock is needed to read p_ here).
  ds_pipeline *handle_for_setup(const char *what) {
    if (!p_) throw_error(DS_ERR_STATE, std::string("cannot ") + what + ": the pipeline is closed");
    return p_;
  }

  void close_handle() {
    GilRelease nogil;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      ds_pipeline_stop(p_);  // ends a run in progress on another thread
    }
    {
      std::unique_lock<std::shared_mutex> lock(mutex_);  // waits until that run returned
      destroy_locked();
    }
    nogil.restore();
  }

  // mutex_ held exclusively.
  void destroy_locked() {
    if (p_) {
      ds_pipeline_destroy(p_);  // calls free_user_data (takes the GIL itself unless finalizing)
      p_ = nullptr;
      closed_ = true;
    }
  }

  // GIL held. Keeps the first exception; steals the reference.
  void store_exception(PyObject *exc) {
    if (!pending_)
      pending_ = exc;
    else
      Py_XDECREF(exc);
  }

  static ds_status transform_trampoline(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err) {
    auto *ctx = static_cast<CallbackContext *>(user_data);
    if (out) *out = nullptr;
    if (interpreter_finalizing()) {
      if (err) *err = ds_error_create(DS_ERR_CANCELLED, "the Python interpreter is shutting down", nullptr);
      return DS_ERR_CANCELLED;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    ds_status status = DS_OK;
    {
      CallbackScope scope;
      std::string table = ds_batch_table(in) ? ds_batch_table(in) : "";
      std::string context = "table=" + table;
      PyObject *failure = nullptr;  // a Python exception to store (new reference)
      try {
        std::shared_ptr<NativeBatch> native = NativeBatch::borrow(in);
        struct Invalidate {  // on every path: later access raises datasync.StateError
          NativeBatch *nb;
          ~Invalidate() { nb->invalidate(); }
        } invalidate{native.get()};
        py::object arg = py::cast(native);
        PyObject *result = PyObject_CallOneArg(ctx->fn, arg.ptr());
        if (!result) {
          failure = fetch_exception();
        } else {
          py::object res = py::reinterpret_steal<py::object>(result);
          if (res.is_none() || res.is(arg)) {
            // pass the input through unchanged
          } else if (py::isinstance<NativeBatch>(res)) {
            auto &nb = res.cast<NativeBatch &>();
            if (!nb.owned()) throw py::type_error("transform " + ctx->name + " returned a batch it does not own");
            *out = nb.release();
          } else {
            // pyarrow.RecordBatch or any __arrow_c_array__ producer; a failed
            // import raises the mapped datasync.Error, stored like any other.
            *out = import_arrow_object(res, in);
          }
        }
      } catch (py::error_already_set &e) {
        e.restore();
        failure = fetch_exception();
      } catch (py::builtin_exception &e) {
        e.set_error();
        failure = fetch_exception();
      } catch (const std::exception &e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        failure = fetch_exception();
      }
      if (failure) {
        std::string message = "transform " + ctx->name + " raised " + describe_exception(failure);
        ctx->owner->store_exception(failure);
        if (err) *err = ds_error_create(DS_ERR_CALLBACK, message.c_str(), context.c_str());
        status = DS_ERR_CALLBACK;
        if (*out) {
          ds_batch_destroy(*out);
          *out = nullptr;
        }
      }
    }
    PyGILState_Release(gil);
    return status;
  }

  static void event_trampoline(void *user_data, const ds_event *event) {
    auto *ctx = static_cast<CallbackContext *>(user_data);
    if (interpreter_finalizing()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    {
      CallbackScope scope;
      PyObject *failure = nullptr;
      try {
        int32_t kind = ds_event_kind(event);
        const char *kind_name = ds_event_kind_name(kind);
        py::object r =
            py::reinterpret_borrow<py::object>(ctx->fn)(py::int_(kind), text(kind_name), text(ds_event_table(event)),
                                                        text(ds_event_message(event)), py::int_(ds_event_rows(event)));
        (void)r;
      } catch (py::error_already_set &e) {
        e.restore();
        failure = fetch_exception();
      } catch (const std::exception &e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        failure = fetch_exception();
      }
      if (failure) {
        // A listener cannot fail the pipeline through a status: stop it, and
        // run() re-raises this exception.
        ctx->owner->store_exception(failure);
        ds_pipeline_stop(ctx->pipeline);
      }
    }
    PyGILState_Release(gil);
  }

  ds_pipeline *p_;
  std::string name_;
  mutable std::shared_mutex mutex_;  // shared: run, stop, metrics; unique: destroy
  std::atomic<bool> running_{false};
  std::atomic<bool> closed_{false};
  PyObject *pending_ = nullptr;  // GIL-protected
};

void bind_pipeline(py::module_ &m) {
  py::class_<NativePipeline, std::shared_ptr<NativePipeline>>(m, "Pipeline",
                                                              "A ds_pipeline (internal; see datasync.Pipeline).")
      .def_static("from_yaml", &NativePipeline::from_yaml, py::arg("yaml"))
      .def_static("from_file", &NativePipeline::from_file, py::arg("path"))
      .def_static("from_config", &NativePipeline::from_config, py::arg("settings"), py::arg("routes"))
      .def_property_readonly("name", &NativePipeline::name)
      .def_property_readonly("closed", &NativePipeline::closed)
      .def_property_readonly("running", &NativePipeline::running)
      .def("add_transform", &NativePipeline::add_transform, py::arg("pattern"), py::arg("serial"), py::arg("fn"),
           py::arg("name"))
      .def("add_event_listener", &NativePipeline::add_event_listener, py::arg("fn"), py::arg("name"))
      .def("run", &NativePipeline::run, py::arg("fresh") = false)
      .def("stop", &NativePipeline::stop)
      .def("open_changes", &NativePipeline::open_changes, py::arg("fresh") = false)
      .def("schema", &NativePipeline::schema, py::arg("apply") = false, py::arg("allow_destructive") = false)
      .def("cleanup", &NativePipeline::cleanup)
      .def("metrics", &NativePipeline::metrics)
      .def("close", &NativePipeline::close)
      .def("take_callback_exception", &NativePipeline::take_callback_exception);
}

}  // namespace dspy
