// Reads the PostgreSQL catalog: tables of the non-system schemas and their
// columns with exact types mapped onto the engine's types.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"
#include "model/table.hpp"

namespace ds::connectors::postgres {

struct TableEntry {
  model::TableId id;  // namespace "", schema = PostgreSQL schema
  uint32_t oid = 0;
  char relkind = 'r';        // 'r' ordinary, 'p' partitioned
  int64_t row_estimate = 0;  // reltuples (0 when never analyzed)
  int64_t pages = 0;         // relpages
};

// Ordinary and partitioned tables (not partitions: they are read through their
// parent) of every schema but pg_catalog, information_schema, pg_toast and temp ones.
std::vector<TableEntry> list_tables(Connection &conn);

// Maps a (base) type: `typname` from pg_type, `typmod` the attribute's typmod,
// `formatted` its format_type text (kept as source_name).
model::DataType map_type(const std::string &typname, int typmod, const std::string &formatted);

// Columns in attnum order (domains resolved to their base type, source_name =
// the domain's format_type, except over jsonb where it is "jsonb"),
// nullability, defaults and primary key order.
model::TableSchemaPtr load_schema(Connection &conn, const TableEntry &table);

// The schema of table schema.table, or null when there is no such table.
model::TableSchemaPtr load_schema_if_exists(Connection &conn, const std::string &schema, const std::string &table);

}  // namespace ds::connectors::postgres
