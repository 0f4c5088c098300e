// ds_error -> datasync.Error (the classes are pure Python, generated from the
// status table in datasync/_errors.py, which installs the factory used here).
#include <cstring>

#include "common.hpp"

namespace dspy {

namespace {
// A strong reference kept for the life of the process: never released, so no
// Python object is touched by static destructors after finalization.
PyObject *g_factory = nullptr;
}  // namespace

void set_error_factory(py::object factory) {
  PyObject *old = g_factory;
  g_factory = factory.release().ptr();
  Py_XDECREF(old);
}

py::str text(const char *s) { return text(s, s ? std::strlen(s) : 0); }

py::str text(const char *s, size_t len) {
  if (!s) s = "";
  PyObject *o = PyUnicode_DecodeUTF8(s, static_cast<Py_ssize_t>(len), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

namespace {

[[noreturn]] void raise(ds_status code, const char *message, const char *context, bool retriable) {
  const char *name = ds_status_name(code);
  if (!name) name = "";
  if (!message || !*message) message = *name ? name : "unknown error";
  if (!context) context = "";
  if (g_factory) {
    py::object factory = py::reinterpret_borrow<py::object>(g_factory);
    py::object exc = factory(code, text(name), text(message), text(context), retriable);
    PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
  }
  // Only before datasync/_errors.py ran (never in normal use).
  std::string what = std::string(name) + ": " + message;
  if (*context) what += std::string(" (") + context + ")";
  PyErr_SetString(PyExc_RuntimeError, what.c_str());
  throw py::error_already_set();
}

}  // namespace

void throw_status(ds_status status, ds_error *err) {
  std::unique_ptr<ds_error, void (*)(ds_error *)> guard(err, ds_error_free);
  if (!err) raise(status, nullptr, nullptr, false);
  // Report the error's own code: a callback's error comes back untouched.
  ds_status code = ds_error_code(err);
  if (code == DS_OK) code = status;
  std::string message = ds_error_message(err);
  std::string context = ds_error_context(err);
  bool retriable = ds_error_is_retriable(err);
  guard.reset();
  raise(code, message.c_str(), context.c_str(), retriable);
}

void throw_error(ds_status code, const std::string &message, const std::string &context) {
  raise(code, message.c_str(), context.c_str(), false);
}

bool interpreter_finalizing() {
  if (!Py_IsInitialized()) return true;
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

PyObject *fetch_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();  // normalized, traceback attached
#else
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (value && tb) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
#endif
}

std::string describe_exception(PyObject *exc) {
  std::string type_name = exc ? Py_TYPE(exc)->tp_name : "exception";
  if (!exc) return type_name;
  // tp_name is "module.Name" for types defined in C; keep the last part.
  auto dot = type_name.rfind('.');
  if (dot != std::string::npos) type_name = type_name.substr(dot + 1);
  std::string message;
  PyObject *s = PyObject_Str(exc);
  if (s) {
    Py_ssize_t len = 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &len);
    if (utf8)
      message.assign(utf8, static_cast<size_t>(len));
    else
      PyErr_Clear();
    Py_DECREF(s);
  } else {
    PyErr_Clear();
  }
  return message.empty() ? type_name : type_name + ": " + message;
}

int &callback_depth() {
  static thread_local int depth = 0;
  return depth;
}

}  // namespace dspy
