// DDL and catalog helpers of the mariadb sink: the column type a new column
// gets, whether an existing column can take an engine type, the target
// table's columns, and CREATE TABLE text.
//
// New tables: ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin. The
// binary collation keeps distinct source keys distinct: under the default
// case- and accent-insensitive collations 'a', 'A' and 'á' are one key and a
// copy would fail on (or, upserting, merge) rows the source holds apart.
// Columns get NOT NULL from the source and an explicit NULL otherwise (so a
// kept `timestamp` spelling never gets MariaDB's implicit NOT NULL DEFAULT
// CURRENT_TIMESTAMP). Source default expressions are not copied: their
// dialects differ and the schema-migration work owns translating them.
#pragma once
#include <string>
#include <vector>

#include "connectors/mariadb/connection.hpp"
#include "connectors/mariadb/encode.hpp"
#include "model/table.hpp"

namespace ds::connectors::mariadb {

// One column of an existing target table (information_schema.COLUMNS).
struct TargetColumn {
  std::string name;
  std::string data_type;    // DATA_TYPE, lower case: "int", "varchar", "bit", "longtext", "geometry"
  std::string column_type;  // COLUMN_TYPE: "int(10) unsigned", "enum('a','b')", "varchar(20)"
  std::string charset;      // CHARACTER_SET_NAME ("" for non-text columns)
  std::string collation;    // COLLATION_NAME ("" for non-text columns)
  bool not_null = false;
  bool has_default = false;  // a default, auto_increment, or generated
  bool generated = false;    // VIRTUAL / STORED / PERSISTENT: cannot be written
  int pk_position = 0;       // 1-based position in the primary key, 0 when not part of it
};

// The server's version as MMmmpp: "10.11.19-MariaDB-log" → 101119, "8.0.36" → 80036.
int server_version_number(const std::string &version);

// The column type a new column gets. The source's own spelling when it is a
// MariaDB spelling of the same engine type (same-engine copies keep
// "int(10) unsigned", "enum('a','b')", "datetime(6)", "bit(12)",
// "decimal(65,30)"), except spellings other dialects read wider ("text" and
// "blob" are 64 KB here but unbounded in PostgreSQL and SQLite; "datetime",
// "time" and "timestamp" without digits keep whole seconds here but fractions
// in SQLite) and unbounded text or blobs in a key; otherwise
// schema::map_to(mariadb or mysql). `in_key`: the column is in the primary
// key; `same_dialect`: the source is MariaDB/MySQL itself, so its spellings
// mean what they say here.
std::string column_type_for_create(const model::DataType &type, bool in_key, bool mariadb, int server_version,
                                   bool same_dialect = false);

// Column types for every column of `schema`: a column's forced target_type
// (schema.type_overrides) as given, else column_type_for_create(). A utf8mb4
// row holds at most 65,535 bytes of varchar: when the varchar columns would
// not fit, the longest non-key, non-forced ones become longtext.
std::vector<std::string> column_types_for_create(const model::TableSchema &schema, bool mariadb, int server_version);

// Whether an existing column can take values of the engine type (the server
// converts the text; a value that does not fit is then a data error).
bool target_accepts(const model::DataType &type, const TargetColumn &target);

// How the target column takes values of the engine type through LOAD DATA.
LoadVia load_via(const model::DataType &type, const TargetColumn &target, bool mariadb);
// The value range of a date/time target column.
TimeRange time_range_of(const TargetColumn &target);
// Whether the base type is a spatial one (geometry, point, ...).
bool is_spatial_column(const TargetColumn &target);

// `database`.`table`, quoted.
std::string qualified_name(const std::string &database, const std::string &table);

// information_schema.TABLES.TABLE_TYPE of the table ("BASE TABLE", "VIEW",
// "SYSTEM VERSIONED", ...), "" when it does not exist.
std::string table_type(Connection &conn, const std::string &database, const std::string &table);

// Columns of an existing table in ordinal order (empty when it does not exist).
std::vector<TargetColumn> target_columns(Connection &conn, const std::string &database, const std::string &table);

// The column of `target` named `name`: exact match first, else the only one
// matching case-insensitively (MariaDB column names are case-insensitive); null when none.
const TargetColumn *find_target_column(const std::vector<TargetColumn> &target, const std::string &name);

}  // namespace ds::connectors::mariadb
