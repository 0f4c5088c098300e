// Reads the catalog of one MariaDB/MySQL database from information_schema:
// its BASE TABLEs, their columns (types through types.hpp), primary key,
// unique keys and indexes, comments and size estimates.
//
// model::TableSchema gets what a copy and a portable CREATE TABLE need:
// columns, types, nullability, defaults (COLUMN_DEFAULT's own text), comments,
// AUTO_INCREMENT, generated flags, enum values, the primary key, whole-column
// BTREE/HASH indexes, TABLE_ROWS and DATA_LENGTH, and the dialect ("mariadb"
// or "mysql"). TableInfo keeps everything as the server spells it besides
// (engine, collations, EXTRA, generation expressions, invisible columns,
// prefix, FULLTEXT and SPATIAL indexes), for a faithful same-dialect copy.
//
// Each catalog table is read with one query for the whole database, not one
// per table, so databases with thousands of tables are listed quickly.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "connectors/mariadb/connection.hpp"
#include "connectors/mariadb/types.hpp"
#include "model/table.hpp"

namespace ds::connectors::mariadb {

struct ColumnInfo {
  std::string name;
  std::string column_type;  // COLUMN_TYPE as the server spells it
  std::string extra;        // EXTRA: "auto_increment", "VIRTUAL GENERATED", "INVISIBLE", ...
  std::string comment;
  std::string generation_expression;  // "" for ordinary columns
  std::string charset, collation;     // "" for non-text columns
  bool generated = false;
  bool invisible = false;
  bool json_check = false;  // MariaDB JSON: a json_valid(`col`) CHECK
};

struct IndexInfo {
  std::string name;  // "PRIMARY" for the primary key
  bool primary = false;
  bool unique = false;
  std::string type;  // BTREE, HASH, FULLTEXT, SPATIAL
  std::string comment;
  std::vector<std::string> columns;  // in SEQ_IN_INDEX order ("" for a functional part)
  std::vector<int> prefix_lengths;   // SUB_PART per column, 0 for the whole column
};

struct TableInfo {
  model::TableSchemaPtr schema;  // id = {"", database, table}
  std::string engine;
  std::string comment;
  std::string collation;
  int64_t row_estimate = 0;         // TABLE_ROWS (InnoDB: an estimate, 0 until statistics exist)
  int64_t data_bytes = 0;           // DATA_LENGTH
  int64_t index_bytes = 0;          // INDEX_LENGTH
  std::vector<ColumnInfo> columns;  // parallel to schema->columns
  std::vector<IndexInfo> indexes;   // primary key first, then by name
};

// Every BASE TABLE of `database` for which `wanted(id)` holds, by name.
// `types` decides how tinyint(1) reads.
std::vector<TableInfo> read_catalog(Connection &conn, const std::string &database, const TypeOptions &types,
                                    const std::function<bool(const model::TableId &)> &wanted);

// Names of every BASE TABLE of `database` ("db.table"), for messages.
std::vector<std::string> list_table_names(Connection &conn, const std::string &database);

// TABLE_ROWS of one table; throws not_found naming it when it does not exist.
int64_t table_row_estimate(Connection &conn, const model::TableId &table);

}  // namespace ds::connectors::mariadb
