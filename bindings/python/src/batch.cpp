// Batches: the Arrow PyCapsule interface (__arrow_c_array__) over
// ds_batch_export_arrow / ds_batch_import_arrow, and the plain-C accessors for
// hosts without pyarrow.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"

namespace dspy {

// ------------------------------------------------------------- NativeBatch

std::shared_ptr<NativeBatch> NativeBatch::borrow(const ds_batch *b) {
  std::shared_ptr<NativeBatch> nb(new NativeBatch());
  nb->batch_ = b;
  return nb;
}

std::shared_ptr<NativeBatch> NativeBatch::own(ds_batch *b) {
  std::shared_ptr<NativeBatch> nb(new NativeBatch());
  nb->batch_ = b;
  nb->owned_ = b;
  return nb;
}

NativeBatch::~NativeBatch() { ds_batch_destroy(owned_); }

const ds_batch *NativeBatch::get() const {
  if (batch_) return batch_;
  if (consumed_)
    throw_error(DS_ERR_STATE, "this batch was handed to the engine as a transform's result and can no longer be used");
  throw_error(DS_ERR_STATE,
              "this batch is no longer valid: a batch handed to a transform lives only for the duration of the call "
              "(copy what you need, or keep a pyarrow.RecordBatch made from it, which stays valid)");
}

void NativeBatch::invalidate() {
  if (!owned_) batch_ = nullptr;
}

ds_batch *NativeBatch::release() {
  ds_batch *b = owned_;
  owned_ = nullptr;
  batch_ = nullptr;
  consumed_ = true;
  return b;
}

// ------------------------------------------------------------ Arrow capsules

namespace {

constexpr const char *kSchemaCapsule = "arrow_schema";
constexpr const char *kArrayCapsule = "arrow_array";

// Capsule destructors: release the struct unless a consumer moved it out
// (then release is NULL), then free our allocation. Never raise.
void schema_capsule_destructor(PyObject *capsule) {
  if (!PyCapsule_IsValid(capsule, kSchemaCapsule)) return;
  auto *schema = static_cast<ArrowSchema *>(PyCapsule_GetPointer(capsule, kSchemaCapsule));
  if (schema->release) schema->release(schema);
  std::free(schema);
}

void array_capsule_destructor(PyObject *capsule) {
  if (!PyCapsule_IsValid(capsule, kArrayCapsule)) return;
  auto *array = static_cast<ArrowArray *>(PyCapsule_GetPointer(capsule, kArrayCapsule));
  if (array->release) array->release(array);
  std::free(array);
}

py::tuple export_capsules(const ds_batch *b) {
  auto *schema = static_cast<ArrowSchema *>(std::calloc(1, sizeof(ArrowSchema)));
  auto *array = static_cast<ArrowArray *>(std::calloc(1, sizeof(ArrowArray)));
  if (!schema || !array) {
    std::free(schema);
    std::free(array);
    throw std::bad_alloc();
  }
  ds_error *err = nullptr;
  ds_status st = ds_batch_export_arrow(b, schema, array, &err);
  if (st != DS_OK) {
    // A failed export leaves nothing to release (we still check, defensively).
    if (schema->release) schema->release(schema);
    if (array->release) array->release(array);
    std::free(schema);
    std::free(array);
    throw_status(st, err);
  }
  PyObject *schema_capsule = PyCapsule_New(schema, kSchemaCapsule, schema_capsule_destructor);
  if (!schema_capsule) {
    schema->release(schema);
    std::free(schema);
    array->release(array);
    std::free(array);
    throw py::error_already_set();
  }
  py::object sc = py::reinterpret_steal<py::object>(schema_capsule);  // owns schema from here
  PyObject *array_capsule = PyCapsule_New(array, kArrayCapsule, array_capsule_destructor);
  if (!array_capsule) {
    array->release(array);
    std::free(array);
    throw py::error_already_set();
  }
  py::object ac = py::reinterpret_steal<py::object>(array_capsule);
  return py::make_tuple(sc, ac);
}

}  // namespace

ds_batch *import_arrow_object(py::handle obj, const ds_batch *like) {
  py::object method = py::getattr(obj, "__arrow_c_array__", py::none());
  if (method.is_none())
    throw py::type_error(std::string("expected an object with __arrow_c_array__ (a pyarrow.RecordBatch), got ") +
                         Py_TYPE(obj.ptr())->tp_name);
  py::object result = method();
  if (!py::isinstance<py::tuple>(result) || py::len(result) != 2)
    throw py::type_error("__arrow_c_array__() must return a tuple (schema capsule, array capsule)");
  py::tuple pair = result;
  PyObject *sc = pair[0].ptr();
  PyObject *ac = pair[1].ptr();
  if (!PyCapsule_IsValid(sc, kSchemaCapsule) || !PyCapsule_IsValid(ac, kArrayCapsule))
    throw py::type_error("__arrow_c_array__() must return PyCapsules named 'arrow_schema' and 'arrow_array'");
  auto *schema = static_cast<ArrowSchema *>(PyCapsule_GetPointer(sc, kSchemaCapsule));
  auto *array = static_cast<ArrowArray *>(PyCapsule_GetPointer(ac, kArrayCapsule));
  if (!schema->release || !array->release) throw py::value_error("the Arrow capsules were already consumed (released)");
  // Move both structs out of the capsules: the capsules' own destructors then
  // see release == NULL and do nothing. The library consumes the moved structs.
  ArrowSchema moved_schema = *schema;
  schema->release = nullptr;
  ArrowArray moved_array = *array;
  array->release = nullptr;
  ds_batch *out = nullptr;
  ds_error *err = nullptr;
  ds_status st = ds_batch_import_arrow(&moved_schema, &moved_array, like, &out, &err);
  if (st != DS_OK) throw_status(st, err);
  return out;
}

// --------------------------------------------------------- value accessors

namespace {

std::string ds_type_label(ds_type t) {
  switch (t) {
    case DS_TYPE_BOOL: return "bool";
    case DS_TYPE_INT8: return "int8";
    case DS_TYPE_INT16: return "int16";
    case DS_TYPE_INT32: return "int32";
    case DS_TYPE_INT64: return "int64";
    case DS_TYPE_UINT64: return "uint64";
    case DS_TYPE_FLOAT32: return "float32";
    case DS_TYPE_FLOAT64: return "float64";
    case DS_TYPE_DECIMAL: return "decimal";
    case DS_TYPE_STRING: return "string";
    case DS_TYPE_BINARY: return "binary";
    case DS_TYPE_DATE: return "date";
    case DS_TYPE_TIME: return "time";
    case DS_TYPE_TIMESTAMP: return "timestamp";
    case DS_TYPE_TIMESTAMP_TZ: return "timestamp_tz";
    case DS_TYPE_INTERVAL: return "interval";
    case DS_TYPE_JSON: return "json";
    case DS_TYPE_UUID: return "uuid";
    case DS_TYPE_UNKNOWN: return "unknown";
    default: return "type" + std::to_string(t);
  }
}

size_t column_arg(const ds_batch *b, py::handle key) {
  if (py::isinstance<py::str>(key)) {
    std::string name = key.cast<std::string>();
    int64_t i = ds_batch_column_index(b, name.c_str());
    if (i < 0) throw py::key_error("no column named '" + name + "' in table " + ds_batch_table(b));
    return static_cast<size_t>(i);
  }
  int64_t i = key.cast<int64_t>();
  int64_t n = static_cast<int64_t>(ds_batch_num_columns(b));
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw py::index_error("column index out of range");
  return static_cast<size_t>(i);
}

int64_t get_int(const ds_batch *b, size_t col, int64_t row) {
  int64_t v = 0;
  ds_error *err = nullptr;
  ds_status st = ds_batch_get_int64(b, col, row, &v, &err);
  if (st != DS_OK) throw_status(st, err);
  return v;
}

// Values of one column as Python objects. Integer-like types come back as
// int (temporal ones as their raw count; datasync/_batch.py converts them);
// decimal, uuid and interval as their fixed-width bytes (see fixed_column).
py::list column_values(const ds_batch *b, size_t col) {
  ds_type t = ds_batch_column_type(b, col);
  int64_t n = ds_batch_num_rows(b);
  py::list out(static_cast<size_t>(n));
  for (int64_t row = 0; row < n; ++row) {
    py::object v;
    if (ds_batch_is_null(b, col, row)) {
      v = py::none();
    } else {
      switch (t) {
        case DS_TYPE_BOOL: v = py::bool_(get_int(b, col, row) != 0); break;
        case DS_TYPE_INT8:
        case DS_TYPE_INT16:
        case DS_TYPE_INT32:
        case DS_TYPE_INT64:
        case DS_TYPE_DATE:
        case DS_TYPE_TIME:
        case DS_TYPE_TIMESTAMP:
        case DS_TYPE_TIMESTAMP_TZ: v = py::int_(get_int(b, col, row)); break;
        case DS_TYPE_UINT64: v = py::int_(static_cast<uint64_t>(get_int(b, col, row))); break;
        case DS_TYPE_FLOAT32:
        case DS_TYPE_FLOAT64: {
          double d = 0;
          ds_error *err = nullptr;
          ds_status st = ds_batch_get_double(b, col, row, &d, &err);
          if (st != DS_OK) throw_status(st, err);
          v = py::float_(d);
          break;
        }
        case DS_TYPE_STRING:
        case DS_TYPE_JSON:
        case DS_TYPE_UNKNOWN:
        case DS_TYPE_BINARY: {
          const char *data = nullptr;
          size_t len = 0;
          ds_error *err = nullptr;
          ds_status st = ds_batch_get_bytes(b, col, row, &data, &len, &err);
          if (st != DS_OK) throw_status(st, err);
          if (t == DS_TYPE_BINARY)
            v = py::bytes(data ? data : "", len);
          else
            v = text(data, len);
          break;
        }
        default:
          throw_error(DS_ERR_UNSUPPORTED, "column '" + std::string(ds_batch_column_name(b, col)) + "' has type " +
                                              ds_type_label(t) + ", which has no plain accessor; use fixed_column()");
      }
    }
    out[static_cast<size_t>(row)] = std::move(v);
  }
  return out;
}

// Decimal, uuid and interval have no plain-C accessor: read them from the
// zero-copy Arrow export. Returns (arrow format, [bytes | None]).
py::tuple fixed_column(const ds_batch *b, size_t col) {
  ArrowSchema schema{};
  ArrowArray array{};
  ds_error *err = nullptr;
  ds_status st = ds_batch_export_arrow(b, &schema, &array, &err);
  if (st != DS_OK) throw_status(st, err);
  struct Releaser {
    ArrowSchema *s;
    ArrowArray *a;
    ~Releaser() {
      if (s->release) s->release(s);
      if (a->release) a->release(a);
    }
  } releaser{&schema, &array};
  std::string name = ds_batch_column_name(b, col);
  int64_t child = -1;
  for (int64_t i = 0; i < schema.n_children; ++i) {
    if (schema.children[i]->name && name == schema.children[i]->name) {
      child = i;
      break;
    }
  }
  if (child < 0 || child >= array.n_children)
    throw_error(DS_ERR_INTERNAL, "column '" + name + "' missing from the Arrow export");
  const ArrowSchema *cs = schema.children[child];
  const ArrowArray *ca = array.children[child];
  std::string format = cs->format ? cs->format : "";
  int width = 0;
  if (format.rfind("d:", 0) == 0) {
    width = 16;  // decimal128 (a ",256" suffix would mean decimal256)
    if (format.size() > 4 && format.compare(format.size() - 4, 4, ",256") == 0) width = 32;
  } else if (format.rfind("w:", 0) == 0) {
    width = std::atoi(format.c_str() + 2);
  } else if (format == "tin") {
    width = 16;  // month_day_nano: int32 months, int32 days, int64 nanoseconds
  } else {
    throw_error(DS_ERR_UNSUPPORTED, "column '" + name + "' has Arrow format '" + format + "', not a fixed-width type");
  }
  if (ca->n_buffers < 2 || width <= 0)
    throw_error(DS_ERR_INTERNAL, "unexpected Arrow layout for column '" + name + "'");
  const auto *validity = static_cast<const uint8_t *>(ca->buffers[0]);
  const auto *values = static_cast<const char *>(ca->buffers[1]);
  py::list out(static_cast<size_t>(ca->length));
  for (int64_t row = 0; row < ca->length; ++row) {
    int64_t j = row + ca->offset;
    bool valid = !validity || ((validity[j >> 3] >> (j & 7)) & 1);
    if (valid)
      out[static_cast<size_t>(row)] = py::bytes(values + j * width, static_cast<size_t>(width));
    else
      out[static_cast<size_t>(row)] = py::none();
  }
  return py::make_tuple(py::str(format), out);
}

// A new owned batch: `in` plus one column built with ds_column_builder.
// Values are None, int, float, str or bytes as the type asks (datasync/_batch.py
// converts dates and times to their integer counts first).
std::shared_ptr<NativeBatch> with_column(const ds_batch *in, const std::string &name, ds_type type,
                                         py::iterable values) {
  ds_column_builder *cb = nullptr;
  ds_error *err = nullptr;
  ds_status st = ds_column_builder_create(type, &cb, &err);
  if (st != DS_OK) throw_status(st, err);
  std::unique_ptr<ds_column_builder, void (*)(ds_column_builder *)> guard(cb, ds_column_builder_destroy);
  for (py::handle v : values) {
    err = nullptr;
    if (v.is_none()) {
      st = ds_column_builder_append_null(cb, &err);
    } else {
      switch (type) {
        case DS_TYPE_BOOL: st = ds_column_builder_append_int64(cb, py::cast<bool>(v) ? 1 : 0, &err); break;
        case DS_TYPE_INT8:
        case DS_TYPE_INT16:
        case DS_TYPE_INT32:
        case DS_TYPE_INT64:
        case DS_TYPE_DATE:
        case DS_TYPE_TIME:
        case DS_TYPE_TIMESTAMP:
        case DS_TYPE_TIMESTAMP_TZ: st = ds_column_builder_append_int64(cb, py::cast<int64_t>(v), &err); break;
        case DS_TYPE_UINT64:
          st = ds_column_builder_append_int64(cb, static_cast<int64_t>(py::cast<uint64_t>(v)), &err);
          break;
        case DS_TYPE_FLOAT32:
        case DS_TYPE_FLOAT64: st = ds_column_builder_append_double(cb, py::cast<double>(v), &err); break;
        case DS_TYPE_STRING:
        case DS_TYPE_JSON: {
          if (!py::isinstance<py::str>(v)) throw py::type_error("a string column takes str values");
          std::string s = py::cast<std::string>(v);
          st = ds_column_builder_append_bytes(cb, s.data(), s.size(), &err);
          break;
        }
        case DS_TYPE_BINARY: {
          if (!py::isinstance<py::bytes>(v)) throw py::type_error("a binary column takes bytes values");
          std::string s = py::cast<std::string>(v);
          st = ds_column_builder_append_bytes(cb, s.data(), s.size(), &err);
          break;
        }
        default: throw_error(DS_ERR_UNSUPPORTED, "with_column() cannot build a column of type " + ds_type_label(type));
      }
    }
    if (st != DS_OK) throw_status(st, err);
  }
  ds_batch *out = nullptr;
  err = nullptr;
  st = ds_batch_add_column(in, name.c_str(), guard.release(), &out, &err);  // consumes the builder
  if (st != DS_OK) throw_status(st, err);
  return NativeBatch::own(out);
}

}  // namespace

void bind_batch(py::module_ &m) {
  py::dict types;
  const std::pair<const char *, ds_type> all_types[] = {
      {"bool", DS_TYPE_BOOL},         {"int8", DS_TYPE_INT8},           {"int16", DS_TYPE_INT16},
      {"int32", DS_TYPE_INT32},       {"int64", DS_TYPE_INT64},         {"uint64", DS_TYPE_UINT64},
      {"float32", DS_TYPE_FLOAT32},   {"float64", DS_TYPE_FLOAT64},     {"decimal", DS_TYPE_DECIMAL},
      {"string", DS_TYPE_STRING},     {"binary", DS_TYPE_BINARY},       {"date", DS_TYPE_DATE},
      {"time", DS_TYPE_TIME},         {"timestamp", DS_TYPE_TIMESTAMP}, {"timestamp_tz", DS_TYPE_TIMESTAMP_TZ},
      {"interval", DS_TYPE_INTERVAL}, {"json", DS_TYPE_JSON},           {"uuid", DS_TYPE_UUID},
      {"unknown", DS_TYPE_UNKNOWN}};
  for (const auto &t : all_types) types[py::str(t.first)] = py::int_(t.second);
  m.attr("TYPES") = types;

  py::class_<NativeBatch, std::shared_ptr<NativeBatch>>(m, "Batch", "A ds_batch (internal; see datasync.Batch).")
      .def_property_readonly("valid", &NativeBatch::valid)
      .def_property_readonly("owned", &NativeBatch::owned)
      .def_property_readonly("num_rows", [](const NativeBatch &nb) { return ds_batch_num_rows(nb.get()); })
      .def_property_readonly("num_columns", [](const NativeBatch &nb) { return ds_batch_num_columns(nb.get()); })
      .def_property_readonly("table", [](const NativeBatch &nb) { return text(ds_batch_table(nb.get())); })
      .def_property_readonly("position", [](const NativeBatch &nb) { return text(ds_batch_position(nb.get())); })
      .def_property_readonly("kind", [](const NativeBatch &nb) { return ds_batch_kind(nb.get()); })
      .def_property_readonly("schema_change",
                             [](const NativeBatch &nb) { return text(ds_batch_schema_change(nb.get())); })
      .def_property_readonly("column_names",
                             [](const NativeBatch &nb) {
                               const ds_batch *b = nb.get();
                               py::list names;
                               for (size_t i = 0; i < ds_batch_num_columns(b); ++i)
                                 names.append(text(ds_batch_column_name(b, i)));
                               return names;
                             })
      .def_property_readonly("column_types",
                             [](const NativeBatch &nb) {
                               const ds_batch *b = nb.get();
                               py::list codes;
                               for (size_t i = 0; i < ds_batch_num_columns(b); ++i)
                                 codes.append(py::int_(ds_batch_column_type(b, i)));
                               return codes;
                             })
      .def("column_index", [](const NativeBatch &nb, py::handle key) { return column_arg(nb.get(), key); })
      .def("column",
           [](const NativeBatch &nb, py::handle key) {
             const ds_batch *b = nb.get();
             return column_values(b, column_arg(b, key));
           })
      .def("fixed_column",
           [](const NativeBatch &nb, py::handle key) {
             const ds_batch *b = nb.get();
             return fixed_column(b, column_arg(b, key));
           })
      .def("ops",
           [](const NativeBatch &nb) {
             const ds_batch *b = nb.get();
             int64_t n = ds_batch_num_rows(b);
             py::list out(static_cast<size_t>(n));
             for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = py::int_(ds_batch_op(b, i));
             return out;
           })
      .def("with_column", [](const NativeBatch &nb, const std::string &name, ds_type type,
                             py::iterable values) { return with_column(nb.get(), name, type, values); })
      .def(
          "__arrow_c_array__",
          [](const NativeBatch &nb, py::object /*requested_schema*/) { return export_capsules(nb.get()); },
          py::arg("requested_schema") = py::none(),
          "Arrow PyCapsule interface: (arrow_schema, arrow_array) capsules of a struct array, zero-copy. "
          "requested_schema is ignored (the batch is exported in its own schema).");
}

}  // namespace dspy
