// ds_change_stream from Python: next() and commit() with the GIL released
// (the engine's threads may need it for transforms), batches handed out as
// owned NativeBatch objects.
#include <string>

#include "common.hpp"

namespace dspy {

namespace {

class NativeChangeStream {
 public:
  explicit NativeChangeStream(ds_change_stream *s) : s_(s) {}

  ~NativeChangeStream() {
    // Destroying joins the engine's threads, whose transforms take the GIL;
    // at interpreter shutdown the handle is leaked instead (as pipelines do).
    if (!s_ || interpreter_finalizing()) return;
    PyThreadState *state = PyEval_SaveThread();
    ds_change_stream_destroy(s_);
    PyEval_RestoreThread(state);
  }

  NativeChangeStream(const NativeChangeStream &) = delete;
  NativeChangeStream &operator=(const NativeChangeStream &) = delete;

  py::object next(int32_t timeout_ms) {
    ds_batch *b = nullptr;
    ds_error *err = nullptr;
    ds_status st = DS_OK;
    {
      py::gil_scoped_release nogil;
      st = ds_change_stream_next(live(), timeout_ms, &b, &err);
    }
    if (st != DS_OK) throw_status(st, err);
    ds_error_free(err);
    if (!b) return py::none();
    return py::cast(NativeBatch::own(b));
  }

  void commit(const std::string &position) {
    ds_error *err = nullptr;
    ds_status st = DS_OK;
    {
      py::gil_scoped_release nogil;
      st = ds_change_stream_commit(live(), position.c_str(), &err);
    }
    if (st != DS_OK) throw_status(st, err);
    ds_error_free(err);
  }

  bool finished() const { return s_ == nullptr || ds_change_stream_finished(s_); }

  void close() {
    if (!s_) return;
    ds_error *err = nullptr;
    ds_status st = DS_OK;
    {
      py::gil_scoped_release nogil;
      st = ds_change_stream_close(s_, &err);
    }
    if (st != DS_OK) throw_status(st, err);
    ds_error_free(err);
  }

 private:
  ds_change_stream *live() {
    if (!s_) throw_error(DS_ERR_STATE, "the change stream is closed");
    return s_;
  }

  ds_change_stream *s_;
};

}  // namespace

py::object open_change_stream(ds_pipeline *p, bool fresh) {
  ds_change_stream_options opts;
  ds_change_stream_options_init(&opts, sizeof opts);
  if (fresh) opts.flags |= DS_RUN_FRESH;
  ds_change_stream *s = nullptr;
  ds_error *err = nullptr;
  ds_status st = ds_change_stream_open(p, &opts, &s, &err);
  if (st != DS_OK) throw_status(st, err);
  ds_error_free(err);
  return py::cast(std::make_shared<NativeChangeStream>(s));
}

void bind_change_stream(py::module_ &m) {
  py::class_<NativeChangeStream, std::shared_ptr<NativeChangeStream>>(
      m, "ChangeStream", "A ds_change_stream (internal; see datasync.ChangeStream).")
      .def("next", &NativeChangeStream::next, py::arg("timeout_ms"))
      .def("commit", &NativeChangeStream::commit, py::arg("position"))
      .def_property_readonly("finished", &NativeChangeStream::finished)
      .def("close", &NativeChangeStream::close);
  py::dict kinds;
  kinds["rows"] = py::int_(DS_BATCH_ROWS);
  kinds["schema_change"] = py::int_(DS_BATCH_SCHEMA_CHANGE);
  m.attr("BATCH_KINDS") = kinds;
}

}  // namespace dspy
