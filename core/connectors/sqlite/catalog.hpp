// What the sqlite connector knows about a database's tables: listing them,
// their columns, and the mapping between SQLite declared types and the
// engine's types in both directions.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "connectors/sqlite/db.hpp"
#include "model/table.hpp"

namespace ds::connectors::sqlite {

// The sink's checkpoint table; never listed as a source table.
constexpr const char *kCheckpointTable = "_datasync_checkpoint";

// SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html §3.1).
enum class Affinity { integer, text, blob, real, numeric };
Affinity affinity_of(std::string_view declared);

// The engine type of a SQLite declared type; source_name keeps `declared` as written.
//   BOOL, BOOLEAN -> boolean           DATE -> date
//   DATETIME, TIMESTAMP -> timestamp   TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE -> timestamp_tz
//   TIME -> time   JSON, JSONB, JSON_TEXT (TEXT affinity) -> json   UUID -> uuid
//   DECIMAL(p[,s]), NUMERIC(p[,s]) with 1 <= p <= 38 -> decimal(p,s)
//   DECIMAL_TEXT(p[,s]) -> decimal(p,s) (TEXT affinity: what the sink declares
//   for decimals with more digits than NUMERIC affinity keeps)
//   otherwise by affinity: INTEGER -> int64 (SQLite integers are all 64-bit),
//   TEXT -> string, BLOB (or no declared type) -> binary, REAL -> float64,
//   NUMERIC (bare NUMERIC/DECIMAL included) -> unknown, read and written as text.
model::DataType map_declared_type(const std::string &declared);
// The declared type the sink gives a new column of `type` when its source_name
// is not usable (core/schema's mapping table): INTEGER, REAL, DECIMAL(p,s), TEXT,
// BLOB, BOOLEAN, DATE, DATETIME, TIMESTAMPTZ (holding UTC), TIME, JSON_TEXT, UUID;
// DECIMAL_TEXT(p,s) for decimals beyond 15 digits; TEXT for interval and unknown.
std::string declared_type_for(const model::DataType &type);
// Whether SQLite stores the values the sink binds for `type` into a column
// declared `declared` unchanged by the column's affinity.
bool affinity_keeps(const std::string &declared, const model::DataType &type);
// The declared type for a new column: the source's own spelling when it is a
// valid SQLite type name that maps back to the same kind of engine type (so a
// SQLite-to-SQLite copy keeps its types exactly) and, for spellings of other
// dialects (`from_sqlite` false), whose affinity keeps the values; else
// declared_type_for().
std::string create_column_type(const model::DataType &type, bool from_sqlite);
// A sequence of names optionally followed by "(n)" or "(n, m)".
bool is_valid_declared_type(std::string_view declared);
// Whether a target column declared `target_declared` can take values of `source`
// such that reading it back gives the same values.
bool target_accepts(const std::string &target_declared, const model::DataType &source);
// "INTEGER", or "untyped" for a column without a declared type.
std::string display_declared(const std::string &declared);
bool is_integer_type(model::TypeId id);

struct ColumnInfo {
  std::string name;
  std::string declared;
  bool not_null = false;
  std::string default_value;  // dflt_value as SQLite keeps it, "" when none
  int pk = 0;                 // 1-based position in the primary key, 0 when not in it
  int hidden = 0;             // table_xinfo: 1 hidden (virtual tables), 2/3 generated
};

struct TableEntry {
  std::string name;
  bool without_rowid = false;
};

// User tables of the main schema, by name: no sqlite_% tables, no views, no
// virtual or shadow tables, no checkpoint table.
std::vector<TableEntry> list_tables(const Connection &conn);
// Every column, hidden ones included, in declaration order. Empty when the table does not exist.
std::vector<ColumnInfo> table_columns(const Connection &conn, const std::string &table);
// Whether `table` exists and is WITHOUT ROWID.
bool is_without_rowid(const Connection &conn, const std::string &table);
// The first of rowid, _rowid_, oid that no column shadows; nullptr when all are taken.
const char *rowid_alias(const std::vector<ColumnInfo> &columns);
// The engine schema of `table` (id "main".table). Hidden and generated columns
// are left out for now: they cannot be written back and virtual-table hidden
// columns are not data.
model::TableSchemaPtr table_schema(const Connection &conn, const std::string &table);

}  // namespace ds::connectors::sqlite
