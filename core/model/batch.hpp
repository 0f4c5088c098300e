// Columnar batches in Arrow layout: one validity bitmap, optional offsets and
// one values buffer per column, all reference-counted so a batch can leave the
// process through the Arrow C Data Interface without a copy.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/table.hpp"

namespace ds::model {

// An immutable run of bytes: either our own allocation or foreign memory kept
// alive by `owner` (an imported Arrow array, for instance).
class Buffer {
 public:
  Buffer(const uint8_t *data, size_t size, std::shared_ptr<void> owner)
      : data_(data), size_(size), owner_(std::move(owner)) {}
  // Takes a malloc'ed block.
  static std::shared_ptr<const Buffer> adopt(uint8_t *malloced, size_t size);
  static std::shared_ptr<const Buffer> copy_of(const void *data, size_t size);

  const uint8_t *data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  const uint8_t *data_;
  size_t size_;
  std::shared_ptr<void> owner_;
};
using BufferPtr = std::shared_ptr<const Buffer>;

struct Column {
  int64_t length = 0;
  int64_t null_count = 0;
  int64_t offset = 0;  // in values, as Arrow's offset; non-zero only for imported slices
  BufferPtr validity;  // null when no value is null
  BufferPtr offsets;   // int32 offsets, variable-width types only
  BufferPtr values;    // bit-packed for bool

  bool is_valid(int64_t i) const {
    if (!validity) return true;
    int64_t j = i + offset;
    return (validity->data()[j >> 3] >> (j & 7)) & 1;
  }
  template <typename T>
  T value(int64_t i) const {
    T v;
    std::memcpy(&v, values->data() + static_cast<size_t>(i + offset) * sizeof(T), sizeof(T));
    return v;
  }
  bool bool_value(int64_t i) const {
    int64_t j = i + offset;
    return (values->data()[j >> 3] >> (j & 7)) & 1;
  }
  std::string_view bytes(int64_t i) const {
    const int32_t *off = reinterpret_cast<const int32_t *>(offsets->data()) + offset;
    return std::string_view(reinterpret_cast<const char *>(values->data()) + off[i],
                            static_cast<size_t>(off[i + 1] - off[i]));
  }
  const uint8_t *fixed_bytes(int64_t i, int width) const {
    return values->data() + static_cast<size_t>(i + offset) * width;
  }
};

// Row kinds, as Flink's RowKind: +I, -U, +U, -D.
enum class Op : int8_t { insert = 0, update_before = 1, update_after = 2, remove = 3 };
const char *op_symbol(Op op);

// Where a source stands. `stream` names an independent ordered stream (one
// snapshot split, or the change log); `value` is opaque to everyone but the source.
struct Position {
  std::string stream;
  std::string value;
  bool stream_done = false;  // no more batches will follow on this stream
};

struct Batch {
  TableSchemaPtr schema;
  std::vector<Column> columns;
  BufferPtr ops;  // int8 Op per row; null means every row is +I
  int64_t num_rows = 0;
  Position position;
  // More batches of the same source transaction follow: the sink must not
  // commit after this one (change streams; snapshot batches never set it).
  bool transaction_open = false;
  // The source had nothing more to send when it handed this batch on (a
  // change stream at rest): the sink commits at once instead of waiting for
  // company, so a lone transaction is not delayed (replication lag).
  bool source_idle = false;

  // A batch built from another keeps its delivery marks (the two above).
  void keep_marks_of(const Batch &from) {
    transaction_open = from.transaction_open;
    source_idle = from.source_idle;
  }
  bool same_marks(const Batch &other) const {
    return transaction_open == other.transaction_open && source_idle == other.source_idle;
  }

  Op op(int64_t row) const { return ops ? static_cast<Op>(ops->data()[row]) : Op::insert; }
  bool insert_only() const { return !ops; }
  int64_t byte_size() const;  // bytes of the buffers this batch references
  // A new batch made of the given rows, in that order (copies values).
  std::shared_ptr<Batch> take(const uint32_t *rows, size_t count) const;
};
using BatchPtr = std::shared_ptr<const Batch>;

// The last change of one key in a change batch. A sink that applies a batch
// set-based inside one target transaction only needs these: a key's earlier
// changes are superseded before anyone can see them.
struct LastChange {
  uint32_t row;           // the key's last change (not an update_before)
  bool first_was_insert;  // its first change in the batch inserted it: it did not exist before the batch
};
// One entry per key, ordered by `row`. Keys are compared by their bytes (as
// the sinks' staging compared them), with NULL distinct from every value.
std::vector<LastChange> last_change_per_key(const Batch &batch, const std::vector<int> &key_columns);
// Appends the bytes last_change_per_key compares for `row`'s key to `out`
// (for a sink that follows keys across batches).
void append_key_bytes(const Batch &batch, const std::vector<int> &key_columns, int64_t row, std::string &out);

// Growable malloc'ed byte array; finish() hands the block over to a Buffer.
class ByteArray {
 public:
  ByteArray() = default;
  ByteArray(const ByteArray &) = delete;
  ByteArray &operator=(const ByteArray &) = delete;
  ByteArray(ByteArray &&o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  ~ByteArray() { std::free(data_); }

  void reserve(size_t n) {
    if (n > capacity_) reallocate(n);
  }
  uint8_t *append(size_t n) {
    if (size_ + n > capacity_) grow(size_ + n);
    uint8_t *p = data_ + size_;
    size_ += n;
    return p;
  }
  void append_zeros(size_t n) { std::memset(append(n), 0, n); }
  uint8_t *data() { return data_; }
  size_t size() const { return size_; }
  BufferPtr finish();

 private:
  void grow(size_t at_least);
  void reallocate(size_t capacity);
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Builds one column value by value. The validity bitmap is only allocated at
// the first null, so columns without nulls carry none (as Arrow allows).
class ColumnBuilder {
 public:
  ColumnBuilder(const DataType &type, int64_t expected_rows);

  // The appends are inline: a decoder calls one per value.
  void append_null();
  void append_bool(bool v) {
    if ((length_ & 7) == 0) *values_.append(1) = 0;
    if (v) values_.data()[length_ >> 3] |= static_cast<uint8_t>(1u << (length_ & 7));
    mark_valid();
  }
  template <typename T>
  void append_fixed(T v) {
    std::memcpy(values_.append(sizeof(T)), &v, sizeof(T));
    mark_valid();
  }
  void append_int(int64_t v);  // narrows to the column's width
  void append_double(double v);
  // Variable-width types.
  void append_bytes(const void *data, size_t size) {
    if (values_.size() + size > static_cast<size_t>(INT32_MAX)) too_large();
    if (size) std::memcpy(values_.append(size), data, size);
    const int32_t end = static_cast<int32_t>(values_.size());
    std::memcpy(offsets_.append(sizeof end), &end, sizeof end);
    mark_valid();
  }
  // Room for one fixed_width() value that the caller fills in place: a value
  // assembled in a temporary and copied costs a store-forwarding stall.
  uint8_t *append_fixed_slot() {
    uint8_t *slot = values_.append(static_cast<size_t>(width_));
    mark_valid();
    return slot;
  }
  // decimal, interval, uuid: fixed_width() bytes (16 for all three, which a
  // constant-size copy makes a pair of moves).
  void append_fixed_bytes(const void *data) {
    if (width_ == 16)
      std::memcpy(values_.append(16), data, 16);
    else
      std::memcpy(values_.append(static_cast<size_t>(width_)), data, static_cast<size_t>(width_));
    mark_valid();
  }
  // Copies value `row` of `src` (same type) into this builder.
  void append_from(const Column &src, int64_t row);
  // Room for `bytes` bytes of variable-width values, for a caller that knows
  // more than the 16 bytes per row the constructor guesses: growing a large
  // column by doubling copies it several times.
  void reserve_values(size_t bytes) { values_.reserve(bytes); }

  int64_t length() const { return length_; }
  const DataType &type() const { return type_; }
  Column finish();

 private:
  void mark_valid() {
    if (validity_.size() != 0) set_validity_bit(true);
    ++length_;
  }
  void set_validity_bit(bool valid) {
    if ((length_ & 7) == 0 && static_cast<size_t>(length_ >> 3) >= validity_.size()) validity_.append_zeros(1);
    uint8_t &byte = validity_.data()[length_ >> 3];
    const uint8_t mask = static_cast<uint8_t>(1u << (length_ & 7));
    byte = valid ? static_cast<uint8_t>(byte | mask) : static_cast<uint8_t>(byte & ~mask);
  }
  void ensure_validity();
  [[noreturn]] static void too_large();

  DataType type_;
  int width_;
  ByteArray validity_;
  ByteArray offsets_;
  ByteArray values_;
  int64_t length_ = 0;
  int64_t null_count_ = 0;
};

// Builds a whole batch row by row for one table schema.
class BatchBuilder {
 public:
  BatchBuilder(TableSchemaPtr schema, int64_t expected_rows, bool with_ops = false);
  ColumnBuilder &column(size_t i) { return columns_[i]; }
  void end_row(Op op = Op::insert) {
    if (with_ops_) *ops_.append(1) = static_cast<uint8_t>(op);
    ++rows_;
  }
  int64_t num_rows() const { return rows_; }
  std::shared_ptr<Batch> finish(Position position);

 private:
  TableSchemaPtr schema_;
  std::vector<ColumnBuilder> columns_;
  bool with_ops_;
  ByteArray ops_;
  int64_t rows_ = 0;
};

}  // namespace ds::model
