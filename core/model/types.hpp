// The engine's type system. Every connector maps its native types onto these;
// the physical layout of each is the Arrow columnar format (see arrow_format()).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ds::model {

enum class TypeId : uint8_t {
  boolean,
  int8,
  int16,
  int32,
  int64,
  uint64,
  float32,
  float64,
  decimal,  // exact decimal(p, s), p <= 38, stored as Arrow decimal128
  string,   // UTF-8
  binary,
  date,          // days since 1970-01-01
  time,          // microseconds since midnight
  timestamp,     // microseconds since epoch, no time zone
  timestamp_tz,  // microseconds since epoch, UTC
  interval,      // months, days, nanoseconds (Arrow month_day_nano)
  json,          // UTF-8 text, tagged arrow.json
  uuid,          // 16 bytes, tagged arrow.uuid
  unknown,       // UTF-8 text of a type the engine does not know; source_name keeps its name
};

struct DataType {
  TypeId id = TypeId::unknown;
  int16_t precision = 0;    // decimal only
  int16_t scale = 0;        // decimal only
  std::string source_name;  // the source system's own spelling, e.g. "VARCHAR(20)"

  bool operator==(const DataType &o) const { return id == o.id && precision == o.precision && scale == o.scale; }
  bool operator!=(const DataType &o) const { return !(*this == o); }
};

enum class Layout : uint8_t { bitmap, fixed, variable };

// Bytes per value for fixed layouts, 0 for bitmap and variable ones.
int fixed_width(TypeId id);
Layout layout_of(TypeId id);
bool is_variable(TypeId id);

// Arrow C Data Interface format string ("l", "tsu:UTC", "d:12,2", ...).
std::string arrow_format(const DataType &type);
// Inverse of arrow_format; throws ds::Error(unsupported) for formats the engine cannot hold.
DataType from_arrow_format(const std::string &format);

const char *type_name(TypeId id);             // "int64", "timestamp_tz", ...
std::string to_string(const DataType &type);  // "decimal(12,2)", "int64", ...

}  // namespace ds::model
