#include "model/table.hpp"

namespace ds::model {

std::string TableId::to_string() const {
  std::string out;
  if (!namespace_name.empty()) out = namespace_name + ".";
  if (!schema_name.empty()) out += schema_name + ".";
  return out + table_name;
}

int TableSchema::find_column(const std::string &name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

const char *schema_change_name(SchemaChangeKind kind) {
  switch (kind) {
    case SchemaChangeKind::create_table: return "create_table";
    case SchemaChangeKind::add_column: return "add_column";
    case SchemaChangeKind::drop_column: return "drop_column";
    case SchemaChangeKind::rename_column: return "rename_column";
    case SchemaChangeKind::alter_column_type: return "alter_column_type";
    case SchemaChangeKind::truncate_table: return "truncate_table";
    case SchemaChangeKind::drop_table: return "drop_table";
  }
  return "unknown";
}

}  // namespace ds::model
