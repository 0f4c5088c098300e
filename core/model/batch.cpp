#include "model/batch.hpp"

#include <algorithm>
#include <new>
#include <unordered_map>

#include "model/error.hpp"

namespace ds::model {

const char *op_symbol(Op op) {
  switch (op) {
    case Op::insert: return "+I";
    case Op::update_before: return "-U";
    case Op::update_after: return "+U";
    case Op::remove: return "-D";
  }
  return "?";
}

BufferPtr Buffer::adopt(uint8_t *malloced, size_t size) {
  std::shared_ptr<void> owner(malloced, [](void *p) { std::free(p); });
  return std::make_shared<const Buffer>(malloced, size, std::move(owner));
}

BufferPtr Buffer::copy_of(const void *data, size_t size) {
  auto *p = static_cast<uint8_t *>(std::malloc(size ? size : 1));
  if (!p) throw std::bad_alloc();
  if (size) std::memcpy(p, data, size);
  return adopt(p, size);
}

void ByteArray::grow(size_t at_least) {
  size_t cap = capacity_ ? capacity_ : 64;
  while (cap < at_least) cap *= 2;
  reallocate(cap);
}

void ByteArray::reallocate(size_t capacity) {
  uint8_t *p;
  if (size_ == 0) {
    // Nothing to keep: realloc would copy the whole old block.
    p = static_cast<uint8_t *>(std::malloc(capacity));
    if (!p) throw std::bad_alloc();
    std::free(data_);
  } else {
    p = static_cast<uint8_t *>(std::realloc(data_, capacity));
    if (!p) throw std::bad_alloc();
  }
  data_ = p;
  capacity_ = capacity;
}

BufferPtr ByteArray::finish() {
  if (!data_) grow(8);  // consumers may dereference a zero-length buffer's pointer
  BufferPtr out = Buffer::adopt(data_, size_);
  data_ = nullptr;
  size_ = capacity_ = 0;
  return out;
}

int64_t Batch::byte_size() const {
  int64_t n = ops ? static_cast<int64_t>(ops->size()) : 0;
  for (const Column &c : columns) {
    if (c.validity) n += static_cast<int64_t>(c.validity->size());
    if (c.offsets) n += static_cast<int64_t>(c.offsets->size());
    if (c.values) n += static_cast<int64_t>(c.values->size());
  }
  return n;
}

std::shared_ptr<Batch> Batch::take(const uint32_t *rows, size_t count) const {
  auto out = std::make_shared<Batch>();
  out->schema = schema;
  out->position = position;
  out->num_rows = static_cast<int64_t>(count);
  out->columns.reserve(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    ColumnBuilder b(schema->columns[c].type, static_cast<int64_t>(count));
    for (size_t i = 0; i < count; ++i) b.append_from(columns[c], rows[i]);
    out->columns.push_back(b.finish());
  }
  if (ops) {
    ByteArray o;
    uint8_t *dst = o.append(count);
    for (size_t i = 0; i < count; ++i) dst[i] = ops->data()[rows[i]];
    out->ops = o.finish();
  }
  return out;
}

void append_key_bytes(const Batch &batch, const std::vector<int> &key_columns, int64_t row, std::string &out) {
  for (int k : key_columns) {
    const Column &col = batch.columns[static_cast<size_t>(k)];
    const TypeId type = batch.schema->columns[static_cast<size_t>(k)].type.id;
    if (!col.is_valid(row)) {
      out += '\0';
      continue;
    }
    out += '\1';
    switch (layout_of(type)) {
      case Layout::bitmap: out += col.bool_value(row) ? '\1' : '\0'; break;
      case Layout::fixed:
        out.append(reinterpret_cast<const char *>(col.fixed_bytes(row, fixed_width(type))),
                   static_cast<size_t>(fixed_width(type)));
        break;
      case Layout::variable: {
        const std::string_view v = col.bytes(row);
        const auto size = static_cast<uint32_t>(v.size());
        out.append(reinterpret_cast<const char *>(&size), sizeof size);
        out.append(v);
        break;
      }
    }
  }
}

std::vector<LastChange> last_change_per_key(const Batch &batch, const std::vector<int> &key_columns) {
  std::vector<LastChange> out;
  out.reserve(static_cast<size_t>(batch.num_rows));
  std::unordered_map<std::string, size_t> seen;  // key bytes -> index in out
  seen.reserve(static_cast<size_t>(batch.num_rows));
  std::string key;
  bool repeated = false;
  for (int64_t r = 0; r < batch.num_rows; ++r) {
    const Op op = batch.op(r);
    if (op == Op::update_before) continue;
    key.clear();
    append_key_bytes(batch, key_columns, r, key);
    const auto [it, fresh] = seen.try_emplace(key, out.size());
    if (fresh) {
      out.push_back({static_cast<uint32_t>(r), op == Op::insert});
    } else {
      out[it->second].row = static_cast<uint32_t>(r);
      repeated = true;
    }
  }
  if (!repeated) return out;  // already in row order
  std::sort(out.begin(), out.end(), [](const LastChange &a, const LastChange &b) { return a.row < b.row; });
  return out;
}

ColumnBuilder::ColumnBuilder(const DataType &type, int64_t expected_rows) : type_(type), width_(fixed_width(type.id)) {
  size_t n = static_cast<size_t>(expected_rows > 0 ? expected_rows : 1);
  switch (layout_of(type.id)) {
    case Layout::bitmap: values_.reserve(n / 8 + 1); break;
    case Layout::fixed: values_.reserve(n * static_cast<size_t>(width_)); break;
    case Layout::variable:
      offsets_.reserve((n + 1) * sizeof(int32_t));
      values_.reserve(n * 16);
      std::memset(offsets_.append(sizeof(int32_t)), 0, sizeof(int32_t));
      break;
  }
}

void ColumnBuilder::ensure_validity() {
  // First null: every earlier value was valid.
  size_t bytes = static_cast<size_t>(length_ / 8 + 1);
  uint8_t *p = validity_.append(bytes);
  std::memset(p, 0xff, bytes);
}

void ColumnBuilder::append_null() {
  if (validity_.size() == 0) ensure_validity();
  set_validity_bit(false);
  ++null_count_;
  switch (layout_of(type_.id)) {
    case Layout::bitmap:
      if ((length_ & 7) == 0) values_.append_zeros(1);
      break;
    case Layout::fixed: values_.append_zeros(static_cast<size_t>(width_)); break;
    case Layout::variable: {
      int32_t end = static_cast<int32_t>(values_.size());
      std::memcpy(offsets_.append(sizeof end), &end, sizeof end);
      break;
    }
  }
  ++length_;
}

void ColumnBuilder::append_int(int64_t v) {
  switch (type_.id) {
    case TypeId::boolean: append_bool(v != 0); break;
    case TypeId::int8: append_fixed(static_cast<int8_t>(v)); break;
    case TypeId::int16: append_fixed(static_cast<int16_t>(v)); break;
    case TypeId::int32:
    case TypeId::date: append_fixed(static_cast<int32_t>(v)); break;
    case TypeId::float32: append_fixed(static_cast<float>(v)); break;
    case TypeId::float64: append_fixed(static_cast<double>(v)); break;
    default: append_fixed(v); break;
  }
}

void ColumnBuilder::append_double(double v) {
  if (type_.id == TypeId::float32)
    append_fixed(static_cast<float>(v));
  else
    append_fixed(v);
}

void ColumnBuilder::too_large() {
  throw Error(Code::data, "a column of one batch exceeds 2 GiB of variable-width data");
}

void ColumnBuilder::append_from(const Column &src, int64_t row) {
  if (!src.is_valid(row)) return append_null();
  switch (layout_of(type_.id)) {
    case Layout::bitmap: return append_bool(src.bool_value(row));
    case Layout::fixed: return append_fixed_bytes(src.fixed_bytes(row, width_));
    case Layout::variable: {
      std::string_view v = src.bytes(row);
      return append_bytes(v.data(), v.size());
    }
  }
}

Column ColumnBuilder::finish() {
  Column c;
  c.length = length_;
  c.null_count = null_count_;
  if (validity_.size() != 0) c.validity = validity_.finish();
  if (layout_of(type_.id) == Layout::variable) c.offsets = offsets_.finish();
  c.values = values_.finish();
  length_ = 0;
  null_count_ = 0;
  return c;
}

BatchBuilder::BatchBuilder(TableSchemaPtr schema, int64_t expected_rows, bool with_ops)
    : schema_(std::move(schema)), with_ops_(with_ops) {
  columns_.reserve(schema_->columns.size());
  for (const auto &col : schema_->columns) columns_.emplace_back(col.type, expected_rows);
  if (with_ops_) ops_.reserve(static_cast<size_t>(expected_rows > 0 ? expected_rows : 1));
}

std::shared_ptr<Batch> BatchBuilder::finish(Position position) {
  auto b = std::make_shared<Batch>();
  b->schema = schema_;
  b->num_rows = rows_;
  b->position = std::move(position);
  b->columns.reserve(columns_.size());
  for (auto &c : columns_) {
    if (c.length() != rows_)
      throw Error(Code::internal, "column builder holds " + std::to_string(c.length()) + " values for " +
                                      std::to_string(rows_) + " rows");
    b->columns.push_back(c.finish());
  }
  if (with_ops_) b->ops = ops_.finish();
  rows_ = 0;
  return b;
}

}  // namespace ds::model
