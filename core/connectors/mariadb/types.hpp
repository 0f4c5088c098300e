// MariaDB/MySQL column types ↔ engine types. One place, used by the source
// (what a column reads as) and by the sink (whether a source spelling can be
// kept as is on a MariaDB target because it holds the engine type exactly).
//
//   tinyint(1)            boolean (TypeOptions::tinyint1_as_boolean; else int8)
//   tinyint / unsigned    int8 / int16       smallint / unsigned  int16 / int32
//   mediumint (either)    int32              int / unsigned       int32 / int64
//   bigint / unsigned     int64 / uint64     year                 int16
//   bit(1)                boolean            bit(n>1)             unknown: the bits as text "0101…"
//   decimal(p,s) p<=38    decimal(p,s)       decimal(p>38,s)      unknown: the decimal's text
//   float / double        float32 / float64
//   char, varchar, *text  string (read in utf8mb4 whatever the column's charset)
//   binary, varbinary, *blob  binary         enum(...), set(...)  string
//   json (MySQL), longtext with a json_valid() check (MariaDB)    json
//   date / datetime(n)    date / timestamp   timestamp(n)         timestamp_tz (read and written in UTC)
//   time(n)               interval: TIME spans -838:59:59..838:59:59, beyond a time of day
//   uuid (MariaDB 10.7+)  uuid               geometry and its subtypes  binary (WKB)
//   inet4, inet6          string
// source_name keeps the column's own spelling ("int(10) unsigned", "enum('a','b')").
#pragma once
#include <optional>
#include <string>

#include "model/types.hpp"

namespace ds::connectors::mariadb {

struct TypeOptions {
  bool tinyint1_as_boolean = true;
};

// The engine type of a column spelled `column_type` (information_schema
// COLUMN_TYPE, case-insensitive). `json_column` marks a MariaDB JSON column
// (a longtext whose CHECK is json_valid(col)). nullopt for spellings this
// connector does not know (the source reads those as `unknown` text).
std::optional<model::DataType> type_from_spelling(const std::string &column_type, bool json_column = false,
                                                  const TypeOptions &options = {});

// The base name of a spelling: "int(10) unsigned" → "int", "DOUBLE PRECISION" → "double".
std::string base_type_name(const std::string &column_type);
// Whether the spelling says unsigned.
bool is_unsigned(const std::string &column_type);
// The first number in parentheses ("decimal(12,2)" → 12), or `fallback`.
int type_length(const std::string &column_type, int fallback);
// The second number in parentheses ("decimal(12,2)" → 2), or `fallback`.
int type_scale(const std::string &column_type, int fallback);
// Whether the base name is a spatial type (read with ST_AsBinary, written with ST_GeomFromWKB).
bool is_spatial(const std::string &base_name);

}  // namespace ds::connectors::mariadb
