// Encodes engine batches straight into PostgreSQL's binary COPY format
// (`COPY ... FROM STDIN (FORMAT binary)`): the 19-byte header, then per row an
// int16 field count and per field an int32 length (-1 = NULL) followed by the
// value in the type's binary send format (network byte order), then the int16
// -1 trailer. Each column is written in one "wire" format chosen from its
// engine type and the target column's type (see wire_for()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "model/batch.hpp"

namespace ds::connectors::postgres {

// The binary formats the encoder writes.
enum class Wire : uint8_t {
  boolean,    // bool
  int2,       // from any engine integer that fits
  int4,       // from int8/int16/int32
  int8,       // from int8..int64
  float4,     // from float32
  float8,     // from float32/float64
  numeric,    // from decimal (dscale = column scale), int8..int64, uint64
  text,       // text, varchar, bpchar, json, enums: the UTF-8 bytes
  jsonb,      // version byte 1 + the JSON text
  bytea,      // raw bytes
  date,       // int32 days since 2000-01-01
  time,       // int64 microseconds since midnight
  timestamp,  // int64 microseconds since 2000-01-01 (timestamp and timestamptz)
  interval,   // int64 microseconds, int32 days, int32 months
  uuid,       // 16 bytes
};

// The PostgreSQL type (pg_type.typname) a wire format is received as.
const char *wire_type_name(Wire wire);

// The wire format that writes `type` into a target column whose (base) type is
// `typname` (pg_type.typname, e.g. "int4", "varchar", "jsonb"; `is_enum` for
// enum types, which receive text), or nullopt when there is no direct binary
// encoding (the caller then stages the natural type and casts in SQL).
std::optional<Wire> wire_for(const model::DataType &type, const std::string &typname, bool is_enum = false);

// The wire format of the engine type's natural PostgreSQL type (the type a
// created table gets when the source spelling is not kept; staging tables use
// it for columns written through a cast).
Wire natural_wire(model::TypeId id);

// COPY data under construction. It writes into a caller-owned std::string
// used as plain storage (its size() is the capacity), so one allocation, and
// its already touched pages, serve every batch of a writer. Callers reserve()
// the most the next values can take, then store them with unchecked put*()
// calls: a value costs a few stores instead of a std::string::append each.
class CopyBuffer {
 public:
  explicit CopyBuffer(std::string &storage)
      : storage_(storage), pos_(storage.data()), end_(storage.data() + storage.size()) {}
  CopyBuffer(const CopyBuffer &) = delete;
  CopyBuffer &operator=(const CopyBuffer &) = delete;

  void reserve(size_t n) {
    if (static_cast<size_t>(end_ - pos_) < n) grow(n);
  }
  void put8(uint8_t v) { *pos_++ = static_cast<char>(v); }
  void put16(uint16_t v) {
    v = __builtin_bswap16(v);
    std::memcpy(pos_, &v, 2);
    pos_ += 2;
  }
  void put32(uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(pos_, &v, 4);
    pos_ += 4;
  }
  void put64(uint64_t v) {
    v = __builtin_bswap64(v);
    std::memcpy(pos_, &v, 8);
    pos_ += 8;
  }
  void put_bytes(const void *data, size_t n) {
    if (n) std::memcpy(pos_, data, n);
    pos_ += n;
  }

  const char *data() const { return storage_.data(); }
  size_t size() const { return static_cast<size_t>(pos_ - storage_.data()); }
  bool empty() const { return pos_ == storage_.data(); }
  void clear() { pos_ = storage_.data(); }

 private:
  void grow(size_t n);
  std::string &storage_;
  char *pos_;
  char *end_;
};

// One batch column as the encoder reads it: its buffers resolved to raw
// pointers once per batch rather than through shared pointers per value.
struct EncodeColumn {
  const uint8_t *validity = nullptr;  // null when every value is valid
  const uint8_t *values = nullptr;
  const int32_t *offsets = nullptr;  // variable-width types
  int64_t offset = 0;                // slice offset, still to apply to bitmaps (validity, bool values)
  model::TypeId type = model::TypeId::string;
  int scale = 0;
  Wire wire = Wire::text;
};

// Encodes rows of engine batches.
class CopyBinaryEncoder {
 public:
  // Wire format of each field, in order.
  explicit CopyBinaryEncoder(std::vector<Wire> wires) : wires_(std::move(wires)) {}

  static void append_header(CopyBuffer &out);
  static void append_trailer(CopyBuffer &out);
  // Starts a row of `fields` fields.
  static void begin_row(CopyBuffer &out, int16_t fields);

  // The first fields() columns of `batch` (engine types from `schema`) ready
  // for append_row(); the pointers live as long as the batch.
  std::vector<EncodeColumn> bind(const model::Batch &batch, const std::vector<model::ColumnSchema> &schema) const;
  // Appends the fields (not the field count) of row `row` of the bound
  // columns. Throws Code::data when a value does not fit its wire type (an
  // integer out of range, a timestamp before the wire's range); `field` then
  // holds the failing column.
  void append_row(CopyBuffer &out, const std::vector<EncodeColumn> &columns, int64_t row, size_t &field) const;
  // One field, for callers that encode value by value.
  void append_field(CopyBuffer &out, size_t field, const model::Column &column, const model::DataType &type,
                    int64_t row) const;

  static void append_null(CopyBuffer &out);
  static void append_int2(CopyBuffer &out, int16_t v);
  static void append_int8(CopyBuffer &out, int64_t v);

  size_t fields() const { return wires_.size(); }
  Wire wire(size_t field) const { return wires_[field]; }

 private:
  std::vector<Wire> wires_;
};

// PostgreSQL's binary numeric (length word included) from an unscaled 128-bit
// integer (two's complement little-endian; the value is `unscaled` *
// 10^-scale), with dscale = max(scale, 0).
void append_numeric(CopyBuffer &out, const uint8_t *int128_le, int scale);
void append_numeric_u64(CopyBuffer &out, uint64_t v, bool negative);
// The same, appended to a std::string.
void append_numeric(std::string &out, const uint8_t *int128_le, int scale);
void append_numeric_u64(std::string &out, uint64_t v, bool negative);

}  // namespace ds::connectors::postgres
