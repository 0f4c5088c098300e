// datasync._datasync: the private extension module. Public API: datasync/*.py.
#include "common.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_datasync, m) {
  m.doc() = "Private bindings of the datasync C ABI (datasync.h). Use the `datasync` package instead.";

  // The header this module was compiled against; datasync/__init__.py compares
  // it with the loaded library's ds_version_number() at import.
  m.attr("COMPILED_VERSION_NUMBER") = py::int_(DS_VERSION_NUMBER);
  m.attr("COMPILED_VERSION_STRING") = py::str(DS_VERSION_STRING);
  m.def(
      "version_number", []() { return ds_version_number(); }, "The loaded library's version, X*1000000+Y*1000+Z.");
  m.def(
      "version_string", []() { return dspy::text(ds_version_string()); }, "The loaded library's version text.");

  // The status codes this header defines (values from the header, not copied
  // by hand); names come from the library through status_name().
  py::list codes;
  for (ds_status s : {DS_ERR_INVALID_ARGUMENT, DS_ERR_CONFIG, DS_ERR_CONNECTION, DS_ERR_AUTH, DS_ERR_NOT_FOUND,
                      DS_ERR_UNSUPPORTED, DS_ERR_SCHEMA, DS_ERR_DATA, DS_ERR_IO, DS_ERR_TIMEOUT, DS_ERR_CANCELLED,
                      DS_ERR_CALLBACK, DS_ERR_STATE, DS_ERR_NOMEM, DS_ERR_INTERNAL})
    codes.append(py::int_(s));
  m.attr("STATUS_CODES") = codes;
  m.attr("STATUS_OK") = py::int_(DS_OK);
  m.def(
      "status_name", [](int32_t s) { return dspy::text(ds_status_name(s)); }, py::arg("status"));
  m.def(
      "event_kind_name", [](int32_t k) { return dspy::text(ds_event_kind_name(k)); }, py::arg("kind"));

  m.def(
      "in_callback", []() { return dspy::callback_depth() > 0; },
      "True on a thread that is running a datasync callback (transform or event listener).");
  m.def("_set_error_factory", &dspy::set_error_factory, py::arg("factory"),
        "Installs (code, status_name, message, context, retriable) -> exception; called by datasync._errors.");
  m.def(
      "_make_error",
      [](int32_t code, const std::string &message, const std::string &context) {
        dspy::throw_error(code, message, context);
      },
      py::arg("code"), py::arg("message"), py::arg("context") = "",
      "Raises the mapped datasync.Error through ds_error_create's path (for tests of the mapping).");
  m.def(
      "_error_roundtrip",
      [](int32_t code, const std::string &message, const std::string &context) {
        ds_error *e = ds_error_create(code, message.c_str(), context.empty() ? nullptr : context.c_str());
        dspy::throw_status(code, e);
      },
      py::arg("code"), py::arg("message"), py::arg("context") = "",
      "Raises a ds_error made by ds_error_create, mapped as any library error (for tests).");

  dspy::bind_batch(m);
  dspy::bind_pipeline(m);
  dspy::bind_change_stream(m);
}
