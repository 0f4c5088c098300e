#include "model/types.hpp"

#include <cstdio>
#include <cstdlib>

#include "model/error.hpp"

namespace ds::model {

int fixed_width(TypeId id) {
  switch (id) {
    case TypeId::int8: return 1;
    case TypeId::int16: return 2;
    case TypeId::int32:
    case TypeId::float32:
    case TypeId::date: return 4;
    case TypeId::int64:
    case TypeId::uint64:
    case TypeId::float64:
    case TypeId::time:
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return 8;
    case TypeId::decimal:
    case TypeId::interval:
    case TypeId::uuid: return 16;
    default: return 0;
  }
}

bool is_variable(TypeId id) {
  return id == TypeId::string || id == TypeId::binary || id == TypeId::json || id == TypeId::unknown;
}

Layout layout_of(TypeId id) {
  if (id == TypeId::boolean) return Layout::bitmap;
  return is_variable(id) ? Layout::variable : Layout::fixed;
}

std::string arrow_format(const DataType &t) {
  switch (t.id) {
    case TypeId::boolean: return "b";
    case TypeId::int8: return "c";
    case TypeId::int16: return "s";
    case TypeId::int32: return "i";
    case TypeId::int64: return "l";
    case TypeId::uint64: return "L";
    case TypeId::float32: return "f";
    case TypeId::float64: return "g";
    case TypeId::decimal: return "d:" + std::to_string(t.precision) + "," + std::to_string(t.scale);
    case TypeId::string:
    case TypeId::json:
    case TypeId::unknown: return "u";
    case TypeId::binary: return "z";
    case TypeId::date: return "tdD";
    case TypeId::time: return "ttu";
    case TypeId::timestamp: return "tsu:";
    case TypeId::timestamp_tz: return "tsu:UTC";
    case TypeId::interval: return "tin";
    case TypeId::uuid: return "w:16";
  }
  return "u";
}

DataType from_arrow_format(const std::string &f) {
  DataType t;
  if (f == "b")
    t.id = TypeId::boolean;
  else if (f == "c")
    t.id = TypeId::int8;
  else if (f == "s")
    t.id = TypeId::int16;
  else if (f == "i")
    t.id = TypeId::int32;
  else if (f == "l")
    t.id = TypeId::int64;
  else if (f == "L")
    t.id = TypeId::uint64;
  else if (f == "f")
    t.id = TypeId::float32;
  else if (f == "g")
    t.id = TypeId::float64;
  else if (f == "u")
    t.id = TypeId::string;
  else if (f == "z")
    t.id = TypeId::binary;
  else if (f == "tdD")
    t.id = TypeId::date;
  else if (f == "ttu")
    t.id = TypeId::time;
  else if (f == "tsu:")
    t.id = TypeId::timestamp;
  else if (f.rfind("tsu:", 0) == 0)
    t.id = TypeId::timestamp_tz;  // any zone: values are UTC instants
  else if (f == "tin")
    t.id = TypeId::interval;
  else if (f == "w:16")
    t.id = TypeId::uuid;
  else if (f.rfind("d:", 0) == 0) {
    int p = 0, s = 0, bits = 128;
    int n = std::sscanf(f.c_str(), "d:%d,%d,%d", &p, &s, &bits);
    if (n < 2 || bits != 128 || p < 1 || p > 38)
      throw Error(Code::unsupported,
                  "Arrow decimal format '" + f + "' is not supported (only decimal128, precision 1..38)");
    t.id = TypeId::decimal;
    t.precision = static_cast<int16_t>(p);
    t.scale = static_cast<int16_t>(s);
  } else {
    throw Error(Code::unsupported,
                "Arrow type format '" + f +
                    "' has no datasync type (supported: b c s i l L f g d:p,s u z tdD ttu tsu: tsu:TZ tin w:16)");
  }
  return t;
}

const char *type_name(TypeId id) {
  switch (id) {
    case TypeId::boolean: return "bool";
    case TypeId::int8: return "int8";
    case TypeId::int16: return "int16";
    case TypeId::int32: return "int32";
    case TypeId::int64: return "int64";
    case TypeId::uint64: return "uint64";
    case TypeId::float32: return "float32";
    case TypeId::float64: return "float64";
    case TypeId::decimal: return "decimal";
    case TypeId::string: return "string";
    case TypeId::binary: return "binary";
    case TypeId::date: return "date";
    case TypeId::time: return "time";
    case TypeId::timestamp: return "timestamp";
    case TypeId::timestamp_tz: return "timestamp_tz";
    case TypeId::interval: return "interval";
    case TypeId::json: return "json";
    case TypeId::uuid: return "uuid";
    case TypeId::unknown: return "unknown";
  }
  return "unknown";
}

std::string to_string(const DataType &t) {
  if (t.id == TypeId::decimal) return "decimal(" + std::to_string(t.precision) + "," + std::to_string(t.scale) + ")";
  if (t.id == TypeId::unknown) return "unknown(" + t.source_name + ")";
  return type_name(t.id);
}

}  // namespace ds::model
