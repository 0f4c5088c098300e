// Table identity, table schemas and schema-change events.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/types.hpp"

namespace ds::model {

// (namespace, schema, table) as in Flink CDC's TableId. SQLite uses schema
// "main"; a PostgreSQL source uses namespace = database.
struct TableId {
  std::string namespace_name;
  std::string schema_name;
  std::string table_name;

  // "schema.table", or "namespace.schema.table" when a namespace is set.
  std::string to_string() const;
  bool operator==(const TableId &o) const {
    return namespace_name == o.namespace_name && schema_name == o.schema_name && table_name == o.table_name;
  }
  bool operator!=(const TableId &o) const { return !(*this == o); }
  bool operator<(const TableId &o) const { return to_string() < o.to_string(); }
};

struct ColumnSchema {
  std::string name;
  DataType type;
  bool nullable = true;
  std::string default_expression;        // the source's own text, "" when none
  std::string comment;                   // "" when none
  bool auto_increment = false;           // MariaDB AUTO_INCREMENT, a PostgreSQL identity or serial
  bool generated = false;                // computed by the source; its values are copied as data
  std::vector<std::string> enum_values;  // the allowed values of an enum column, in the source's order
  // A column type forced on the target (schema.type_overrides), "" to let the sink choose.
  std::string target_type;
};

// A unique constraint or a secondary index (the primary key is TableSchema::primary_key).
struct IndexSchema {
  std::string name;
  std::vector<int> columns;  // indexes into TableSchema::columns, in key order
  bool unique = false;
};

struct TableSchema {
  TableId id;
  std::vector<ColumnSchema> columns;
  std::vector<int> primary_key;  // indexes into columns, in key order
  std::vector<IndexSchema> indexes;
  std::string comment;        // "" when none
  int64_t row_estimate = -1;  // the source catalog's estimate, -1 when unknown
  int64_t size_bytes = -1;    // data size in the source, -1 when unknown
  // The source's SQL dialect ("postgres", "mariadb", "mysql", "sqlite"; "" when
  // not SQL): a same-dialect target keeps default expressions verbatim.
  std::string source_dialect;

  int find_column(const std::string &name) const;  // -1 when absent
};

using TableSchemaPtr = std::shared_ptr<const TableSchema>;

enum class SchemaChangeKind : uint8_t {
  create_table,
  add_column,
  drop_column,
  rename_column,
  alter_column_type,
  truncate_table,
  drop_table
};

struct SchemaChange {
  SchemaChangeKind kind = SchemaChangeKind::create_table;
  TableId table;
  TableSchemaPtr schema_after;  // the whole schema once the change applies (null for drop_table)
  std::string column;           // the column concerned, "" for table-level changes
  std::string new_name;         // rename_column only
  DataType new_type;            // alter_column_type and add_column
};

const char *schema_change_name(SchemaChangeKind kind);

}  // namespace ds::model
