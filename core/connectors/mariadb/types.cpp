#include "connectors/mariadb/types.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace ds::connectors::mariadb {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

model::DataType make(model::TypeId id, const std::string &spelling, int16_t precision = 0, int16_t scale = 0) {
  model::DataType t;
  t.id = id;
  t.precision = precision;
  t.scale = scale;
  t.source_name = spelling;
  return t;
}

}  // namespace

std::string base_type_name(const std::string &column_type) {
  std::string s = lower(column_type);
  size_t end = s.find_first_of("( ");
  std::string base = s.substr(0, end);
  return base;
}

bool is_unsigned(const std::string &column_type) { return lower(column_type).find("unsigned") != std::string::npos; }

int type_length(const std::string &column_type, int fallback) {
  size_t open = column_type.find('(');
  if (open == std::string::npos || open + 1 >= column_type.size() ||
      !std::isdigit(static_cast<unsigned char>(column_type[open + 1])))
    return fallback;
  return std::atoi(column_type.c_str() + open + 1);
}

int type_scale(const std::string &column_type, int fallback) {
  size_t open = column_type.find('(');
  if (open == std::string::npos) return fallback;
  size_t comma = column_type.find(',', open);
  size_t close = column_type.find(')', open);
  if (comma == std::string::npos || (close != std::string::npos && comma > close)) return fallback;
  return std::atoi(column_type.c_str() + comma + 1);
}

bool is_spatial(const std::string &base) {
  static const char *const names[] = {"geometry",      "point",           "linestring",   "polygon",
                                      "multipoint",    "multilinestring", "multipolygon", "geometrycollection",
                                      "geomcollection"};
  for (const char *n : names)
    if (base == n) return true;
  return false;
}

std::optional<model::DataType> type_from_spelling(const std::string &column_type, bool json_column,
                                                  const TypeOptions &options) {
  using model::TypeId;
  const std::string base = base_type_name(column_type);
  const bool uns = is_unsigned(column_type);
  const std::string &s = column_type;
  if (base == "tinyint") {
    if (!uns && options.tinyint1_as_boolean && type_length(s, 0) == 1) return make(TypeId::boolean, s);
    return make(uns ? TypeId::int16 : TypeId::int8, s);
  }
  if (base == "bool" || base == "boolean") return make(TypeId::boolean, s);
  if (base == "smallint") return make(uns ? TypeId::int32 : TypeId::int16, s);
  if (base == "mediumint") return make(TypeId::int32, s);
  if (base == "int" || base == "integer") return make(uns ? TypeId::int64 : TypeId::int32, s);
  if (base == "bigint") return make(uns ? TypeId::uint64 : TypeId::int64, s);
  if (base == "year") return make(TypeId::int16, s);
  if (base == "bit") return type_length(s, 1) == 1 ? make(TypeId::boolean, s) : make(TypeId::unknown, s);
  if (base == "decimal" || base == "numeric" || base == "dec" || base == "fixed") {
    int p = type_length(s, 10), sc = type_scale(s, 0);
    if (p <= 38) return make(TypeId::decimal, s, static_cast<int16_t>(p), static_cast<int16_t>(sc));
    return make(TypeId::unknown, s);
  }
  if (base == "float")
    return make(type_length(s, 0) > 24 && type_scale(s, -1) < 0 ? TypeId::float64 : TypeId::float32, s);
  if (base == "double" || base == "real") return make(TypeId::float64, s);
  if (base == "json") return make(TypeId::json, s);
  if (base == "char" || base == "varchar" || base == "tinytext" || base == "text" || base == "mediumtext" ||
      base == "longtext")
    return make(json_column ? TypeId::json : TypeId::string, s);
  if (base == "binary" || base == "varbinary" || base == "tinyblob" || base == "blob" || base == "mediumblob" ||
      base == "longblob")
    return make(TypeId::binary, s);
  if (base == "enum" || base == "set" || base == "inet4" || base == "inet6") return make(TypeId::string, s);
  if (base == "date") return make(TypeId::date, s);
  if (base == "datetime") return make(TypeId::timestamp, s);
  if (base == "timestamp") return make(TypeId::timestamp_tz, s);
  if (base == "time") return make(TypeId::interval, s);
  if (base == "uuid") return make(TypeId::uuid, s);
  if (is_spatial(base)) return make(TypeId::binary, s);
  return std::nullopt;
}

}  // namespace ds::connectors::mariadb
