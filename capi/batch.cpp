#include <cstring>

#include "internal.hpp"
#include "model/arrow.hpp"

using ds::capi::guard;
using ds::capi::require;
using ds::model::TypeId;

namespace ds::capi {

ds_type to_c_type(TypeId id) { return static_cast<ds_type>(id); }  // same order, checked below

TypeId from_c_type(ds_type t) {
  if (t < DS_TYPE_BOOL || t > DS_TYPE_UNKNOWN)
    throw ds::Error(ds::Code::invalid_argument, "unknown ds_type " + std::to_string(t));
  return static_cast<TypeId>(t);
}

static_assert(static_cast<int>(TypeId::boolean) == DS_TYPE_BOOL &&
                  static_cast<int>(TypeId::decimal) == DS_TYPE_DECIMAL &&
                  static_cast<int>(TypeId::timestamp_tz) == DS_TYPE_TIMESTAMP_TZ &&
                  static_cast<int>(TypeId::unknown) == DS_TYPE_UNKNOWN,
              "ds_type numbering must follow model::TypeId");

}  // namespace ds::capi

namespace {

const ds::model::Column &checked_cell(const ds_batch *b, size_t col, int64_t row, const char *fn) {
  require(b != nullptr, "batch is NULL");
  if (col >= b->batch->columns.size())
    throw ds::Error(ds::Code::invalid_argument, std::string(fn) + ": column " + std::to_string(col) + " out of range");
  if (row < 0 || row >= b->batch->num_rows)
    throw ds::Error(ds::Code::invalid_argument, std::string(fn) + ": row " + std::to_string(row) + " out of range");
  const auto &c = b->batch->columns[col];
  if (!c.is_valid(row))
    throw ds::Error(ds::Code::invalid_argument, std::string(fn) + ": value is NULL (check ds_batch_is_null first)");
  return c;
}

const std::string &column_name(const ds_batch *b, size_t col) { return b->batch->schema->columns[col].name; }

ds_batch *wrap(ds::model::BatchPtr batch) {
  auto *out = new ds_batch();
  out->batch = std::move(batch);
  out->table_name = out->batch->schema->id.to_string();
  return out;
}

}  // namespace

extern "C" {

DS_API int64_t ds_batch_num_rows(const ds_batch *b) { return b ? b->batch->num_rows : 0; }
DS_API size_t ds_batch_num_columns(const ds_batch *b) { return b ? b->batch->columns.size() : 0; }
DS_API const char *ds_batch_table(const ds_batch *b) { return b ? b->table_name.c_str() : ""; }

DS_API const char *ds_batch_column_name(const ds_batch *b, size_t col) {
  if (!b || col >= b->batch->columns.size()) return "";
  return column_name(b, col).c_str();
}

DS_API ds_type ds_batch_column_type(const ds_batch *b, size_t col) {
  if (!b || col >= b->batch->columns.size()) return -1;
  return ds::capi::to_c_type(b->batch->schema->columns[col].type.id);
}

DS_API int64_t ds_batch_column_index(const ds_batch *b, const char *name) {
  if (!b || !name) return -1;
  return b->batch->schema->find_column(name);
}

DS_API int32_t ds_batch_op(const ds_batch *b, int64_t row) {
  if (!b || row < 0 || row >= b->batch->num_rows) return DS_OP_INSERT;
  return static_cast<int32_t>(b->batch->op(row));
}

DS_API const char *ds_batch_position(const ds_batch *b) {
  if (!b) return "";
  return b->has_commit_position ? b->commit_position.c_str() : b->batch->position.value.c_str();
}

DS_API int32_t ds_batch_kind(const ds_batch *b) { return b ? b->kind : DS_BATCH_ROWS; }

DS_API const char *ds_batch_schema_change(const ds_batch *b) { return b ? b->schema_change.c_str() : ""; }

DS_API bool ds_batch_is_null(const ds_batch *b, size_t col, int64_t row) {
  if (!b || col >= b->batch->columns.size() || row < 0 || row >= b->batch->num_rows) return true;
  return !b->batch->columns[col].is_valid(row);
}

DS_API ds_status ds_batch_get_int64(const ds_batch *b, size_t col, int64_t row, int64_t *out, ds_error **err) {
  return guard(err, [&] {
    require(out != nullptr, "ds_batch_get_int64: out is NULL");
    const auto &c = checked_cell(b, col, row, "ds_batch_get_int64");
    switch (b->batch->schema->columns[col].type.id) {
      case TypeId::boolean: *out = c.bool_value(row) ? 1 : 0; break;
      case TypeId::int8: *out = c.value<int8_t>(row); break;
      case TypeId::int16: *out = c.value<int16_t>(row); break;
      case TypeId::int32:
      case TypeId::date: *out = c.value<int32_t>(row); break;
      case TypeId::int64:
      case TypeId::uint64:
      case TypeId::time:
      case TypeId::timestamp:
      case TypeId::timestamp_tz: *out = c.value<int64_t>(row); break;
      default:
        throw ds::Error(ds::Code::invalid_argument, "ds_batch_get_int64: column '" + column_name(b, col) + "' is " +
                                                        ds::model::to_string(b->batch->schema->columns[col].type));
    }
  });
}

DS_API ds_status ds_batch_get_double(const ds_batch *b, size_t col, int64_t row, double *out, ds_error **err) {
  return guard(err, [&] {
    require(out != nullptr, "ds_batch_get_double: out is NULL");
    const auto &c = checked_cell(b, col, row, "ds_batch_get_double");
    switch (b->batch->schema->columns[col].type.id) {
      case TypeId::float32: *out = c.value<float>(row); break;
      case TypeId::float64: *out = c.value<double>(row); break;
      default:
        throw ds::Error(ds::Code::invalid_argument, "ds_batch_get_double: column '" + column_name(b, col) + "' is " +
                                                        ds::model::to_string(b->batch->schema->columns[col].type));
    }
  });
}

DS_API ds_status ds_batch_get_bytes(const ds_batch *b, size_t col, int64_t row, const char **out_data, size_t *out_len,
                                    ds_error **err) {
  return guard(err, [&] {
    require(out_data && out_len, "ds_batch_get_bytes: out_data and out_len must not be NULL");
    const auto &c = checked_cell(b, col, row, "ds_batch_get_bytes");
    if (!ds::model::is_variable(b->batch->schema->columns[col].type.id))
      throw ds::Error(ds::Code::invalid_argument, "ds_batch_get_bytes: column '" + column_name(b, col) + "' is " +
                                                      ds::model::to_string(b->batch->schema->columns[col].type));
    std::string_view v = c.bytes(row);
    *out_data = v.data();
    *out_len = v.size();
  });
}

DS_API void ds_batch_destroy(ds_batch *b) { delete b; }

DS_API ds_status ds_batch_export_arrow(const ds_batch *b, struct ArrowSchema *out_schema, struct ArrowArray *out_array,
                                       ds_error **err) {
  return guard(err, [&] {
    require(b && out_schema && out_array, "ds_batch_export_arrow: arguments must not be NULL");
    ds::model::export_batch(b->batch, out_schema, out_array);
  });
}

DS_API ds_status ds_batch_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array, const ds_batch *like,
                                       ds_batch **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    // Consumed whatever happens: release what we were given before checking the rest.
    if (!out) {
      if (schema && schema->release) schema->release(schema);
      if (array && array->release) array->release(array);
    }
    require(schema && array && out, "ds_batch_import_arrow: arguments must not be NULL");
    auto batch = ds::model::import_batch(schema, array, like ? like->batch->schema.get() : nullptr);
    if (like) batch->position = like->batch->position;
    *out = wrap(batch);
  });
}

DS_API ds_status ds_column_builder_create(ds_type type, ds_column_builder **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(out != nullptr, "ds_column_builder_create: out is NULL");
    TypeId id = ds::capi::from_c_type(type);
    if (id == TypeId::decimal || id == TypeId::interval || id == TypeId::uuid || id == TypeId::unknown)
      throw ds::Error(ds::Code::unsupported, std::string("ds_column_builder does not build ") +
                                                 ds::model::type_name(id) + " columns; use ds_batch_import_arrow");
    ds::model::DataType t;
    t.id = id;
    *out = new ds_column_builder{type, ds::model::ColumnBuilder(t, 1024)};
  });
}

DS_API ds_status ds_column_builder_append_null(ds_column_builder *cb, ds_error **err) {
  return guard(err, [&] {
    require(cb != nullptr, "column builder is NULL");
    cb->builder.append_null();
  });
}

DS_API ds_status ds_column_builder_append_int64(ds_column_builder *cb, int64_t v, ds_error **err) {
  return guard(err, [&] {
    require(cb != nullptr, "column builder is NULL");
    TypeId id = cb->builder.type().id;
    if (ds::model::is_variable(id) || id == TypeId::float32 || id == TypeId::float64)
      throw ds::Error(ds::Code::invalid_argument,
                      std::string("append_int64 on a ") + ds::model::type_name(id) + " column");
    cb->builder.append_int(v);
  });
}

DS_API ds_status ds_column_builder_append_double(ds_column_builder *cb, double v, ds_error **err) {
  return guard(err, [&] {
    require(cb != nullptr, "column builder is NULL");
    TypeId id = cb->builder.type().id;
    if (id != TypeId::float32 && id != TypeId::float64)
      throw ds::Error(ds::Code::invalid_argument,
                      std::string("append_double on a ") + ds::model::type_name(id) + " column");
    cb->builder.append_double(v);
  });
}

DS_API ds_status ds_column_builder_append_bytes(ds_column_builder *cb, const char *data, size_t len, ds_error **err) {
  return guard(err, [&] {
    require(cb != nullptr && (data != nullptr || len == 0), "column builder or data is NULL");
    TypeId id = cb->builder.type().id;
    if (!ds::model::is_variable(id))
      throw ds::Error(ds::Code::invalid_argument,
                      std::string("append_bytes on a ") + ds::model::type_name(id) + " column");
    cb->builder.append_bytes(data, len);
  });
}

DS_API void ds_column_builder_destroy(ds_column_builder *cb) { delete cb; }

DS_API ds_status ds_batch_add_column(const ds_batch *in, const char *name, ds_column_builder *column, ds_batch **out,
                                     ds_error **err) {
  if (out) *out = nullptr;
  std::unique_ptr<ds_column_builder> owned(column);  // consumed in every case
  return guard(err, [&] {
    require(in && name && column && out, "ds_batch_add_column: arguments must not be NULL");
    if (in->batch->schema->find_column(name) >= 0)
      throw ds::Error(ds::Code::invalid_argument, std::string("batch already has a column named '") + name + "'",
                      "table=" + in->table_name);
    if (column->builder.length() != in->batch->num_rows)
      throw ds::Error(ds::Code::invalid_argument,
                      "new column '" + std::string(name) + "' has " + std::to_string(column->builder.length()) +
                          " values for " + std::to_string(in->batch->num_rows) + " rows",
                      "table=" + in->table_name);
    auto schema = std::make_shared<ds::model::TableSchema>(*in->batch->schema);
    ds::model::ColumnSchema c;
    c.name = name;
    c.type = column->builder.type();
    c.nullable = true;
    schema->columns.push_back(c);
    auto batch = std::make_shared<ds::model::Batch>(*in->batch);
    batch->schema = schema;
    batch->columns.push_back(column->builder.finish());
    *out = wrap(batch);
  });
}

}  // extern "C"
