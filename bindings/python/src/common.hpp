// Shared declarations of the private extension module datasync._datasync.
// The module sees the engine only through the public C ABI (datasync.h).
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <datasync/datasync.h>

#include <memory>
#include <string>

namespace dspy {
namespace py = pybind11;

// ---------------------------------------------------------------- errors.cpp

// Installs the Python callable (code, status_name, message, context, retriable)
// -> exception instance that datasync/_errors.py provides at import.
void set_error_factory(py::object factory);

// Raises the mapped datasync.Error subclass for a failed call. Consumes err
// (may be NULL: the status name is the message then).
[[noreturn]] void throw_status(ds_status status, ds_error *err);
// Raises the mapped datasync.Error subclass with a message of our own.
[[noreturn]] void throw_error(ds_status code, const std::string &message, const std::string &context = "");

// Decodes C text as UTF-8, replacing invalid bytes (messages may quote data).
py::str text(const char *s);
py::str text(const char *s, size_t len);

// True while the interpreter is shutting down: engine threads must not touch Python then.
bool interpreter_finalizing();

// Takes the current Python exception (the error indicator must be set) with its
// traceback attached; returns a new reference and clears the indicator.
PyObject *fetch_exception();
// "ValueError: message", never failing (falls back to the type name).
std::string describe_exception(PyObject *exc);

// Depth of datasync callbacks on this thread; run() and close() refuse to run inside one.
int &callback_depth();

struct CallbackScope {
  CallbackScope() { ++callback_depth(); }
  ~CallbackScope() { --callback_depth(); }
  CallbackScope(const CallbackScope &) = delete;
  CallbackScope &operator=(const CallbackScope &) = delete;
};

// ----------------------------------------------------------------- batch.cpp

// A ds_batch seen from Python. Either borrowed (the input of a transform; valid
// only during the call, invalidated afterwards) or owned (made by with_column;
// destroyed with the object unless handed to the engine as a transform result).
class NativeBatch {
 public:
  static std::shared_ptr<NativeBatch> borrow(const ds_batch *b);
  static std::shared_ptr<NativeBatch> own(ds_batch *b);
  ~NativeBatch();
  NativeBatch(const NativeBatch &) = delete;
  NativeBatch &operator=(const NativeBatch &) = delete;

  // The handle, or raises datasync.StateError when invalidated or consumed.
  const ds_batch *get() const;
  bool valid() const { return batch_ != nullptr; }
  bool owned() const { return owned_ != nullptr; }
  bool is(const ds_batch *b) const { return batch_ == b; }
  // Ends a borrowed batch's life (after the transform call returns).
  void invalidate();
  // Hands an owned batch over (to the engine); the object is invalid afterwards.
  ds_batch *release();

 private:
  NativeBatch() = default;
  const ds_batch *batch_ = nullptr;
  ds_batch *owned_ = nullptr;
  bool consumed_ = false;
};

// Imports any object with __arrow_c_array__ (a struct array / record batch) as
// a new owned ds_batch; `like` lends table name and primary key. Raises on failure.
ds_batch *import_arrow_object(py::handle obj, const ds_batch *like);

void bind_batch(py::module_ &m);

// -------------------------------------------------------------- pipeline.cpp
void bind_pipeline(py::module_ &m);

// --------------------------------------------------------- change_stream.cpp

// Opens a change stream over p (ds_change_stream_open); raises on failure.
py::object open_change_stream(ds_pipeline *p, bool fresh);
void bind_change_stream(py::module_ &m);

}  // namespace dspy
