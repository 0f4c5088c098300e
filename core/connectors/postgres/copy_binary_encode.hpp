// Encodes engine batches straight into PostgreSQL's binary COPY format
// (`COPY ... FROM STDIN (FORMAT binary)`): the 19-byte header, then per row an
// int16 field count and per field an int32 length (-1 = NULL) followed by the
// value in the type's binary send format (network byte order), then the int16
// -1 trailer. Each column is written in one "wire" format chosen from its
// engine type and the target column's type (see wire_for()).
#pragma once
#include <cstddef>
#include <cstdint>
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

// Appends binary COPY data to a growable byte buffer.
class CopyBinaryEncoder {
 public:
  // Wire format of each field, in order.
  explicit CopyBinaryEncoder(std::vector<Wire> wires) : wires_(std::move(wires)) {}

  static void append_header(std::string &out);
  static void append_trailer(std::string &out);

  // Starts a row of `fields` fields.
  static void begin_row(std::string &out, int16_t fields);
  // Appends field `field` (index into wires) of row `row` of `column` (engine
  // type `type`). Throws Code::data when the value does not fit the wire type
  // (an integer out of range, a decimal scale the wire cannot hold).
  void append_field(std::string &out, size_t field, const model::Column &column, const model::DataType &type,
                    int64_t row) const;

  static void append_null(std::string &out);
  static void append_int2(std::string &out, int16_t v);
  static void append_int8(std::string &out, int64_t v);

  size_t fields() const { return wires_.size(); }
  Wire wire(size_t field) const { return wires_[field]; }

 private:
  std::vector<Wire> wires_;
};

// PostgreSQL's binary numeric from an unscaled 128-bit integer (two's
// complement, the value is `unscaled` * 10^-scale), with dscale = max(scale, 0).
void append_numeric(std::string &out, const uint8_t *int128_le, int scale);
void append_numeric_u64(std::string &out, uint64_t v, bool negative);

}  // namespace ds::connectors::postgres
