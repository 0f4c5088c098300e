// Table identity, table schemas and schema-change events.
#pragma once
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
  std::string default_expression;  // the source's own text, "" when none
};

struct TableSchema {
  TableId id;
  std::vector<ColumnSchema> columns;
  std::vector<int> primary_key;  // indexes into columns, in key order

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
