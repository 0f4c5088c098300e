#include "connectors/postgres/catalog.hpp"

#include <cstdlib>
#include <map>
#include <memory>

namespace ds::connectors::postgres {

using model::TypeId;

std::vector<TableEntry> list_tables(Connection &conn) {
  Result r = conn.exec(
      "SELECT n.nspname, c.relname, c.oid, c.relkind, greatest(c.reltuples, 0)::bigint, c.relpages "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
      "AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
      "ORDER BY 1, 2");
  std::vector<TableEntry> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    TableEntry t;
    t.id = model::TableId{"", r.value(i, 0), r.value(i, 1)};
    t.oid = static_cast<uint32_t>(r.int_value(i, 2));
    t.relkind = r.value(i, 3)[0];
    t.row_estimate = r.int_value(i, 4);
    t.pages = r.int_value(i, 5);
    out.push_back(std::move(t));
  }
  return out;
}

model::DataType map_type(const std::string &typname, int typmod, const std::string &formatted) {
  model::DataType t;
  t.source_name = formatted;
  static const struct {
    const char *name;
    TypeId id;
  } simple[] = {{"bool", TypeId::boolean},      {"int2", TypeId::int16},          {"int4", TypeId::int32},
                {"int8", TypeId::int64},        {"float4", TypeId::float32},      {"float8", TypeId::float64},
                {"text", TypeId::string},       {"varchar", TypeId::string},      {"bpchar", TypeId::string},
                {"name", TypeId::string},       {"bytea", TypeId::binary},        {"date", TypeId::date},
                {"time", TypeId::time},         {"timestamp", TypeId::timestamp}, {"timestamptz", TypeId::timestamp_tz},
                {"interval", TypeId::interval}, {"uuid", TypeId::uuid},           {"json", TypeId::json},
                {"jsonb", TypeId::json}};
  for (const auto &s : simple) {
    if (typname == s.name) {
      t.id = s.id;
      return t;
    }
  }
  if (typname == "numeric" && typmod >= 4) {
    int p = ((typmod - 4) >> 16) & 0xffff;
    int s = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;  // PostgreSQL 15 allows negative scales
    if (p >= 1 && p <= 38 && s >= 0 && s <= p) {
      t.id = TypeId::decimal;
      t.precision = static_cast<int16_t>(p);
      t.scale = static_cast<int16_t>(s);
      return t;
    }
  }
  t.id = TypeId::unknown;  // arrays, enums, inet, money, bit, unconstrained numeric...: their text output
  return t;
}

model::TableSchemaPtr load_schema(Connection &conn, const TableEntry &table) {
  const std::string name = table.id.to_string();
  const std::string oid = std::to_string(table.oid);
  // Walks domain chains to the base type; a domain's own typmod wins over the column's.
  Result r = conn.exec_params(
      "WITH RECURSIVE cols AS ("
      " SELECT a.attnum, a.attname, a.attnotnull, a.atttypid AS tid, a.atttypmod AS tmod, 0 AS depth,"
      "  coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS dflt, format_type(a.atttypid, a.atttypmod) AS declared"
      " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
      " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
      " UNION ALL"
      " SELECT c.attnum, c.attname, c.attnotnull OR t.typnotnull, t.typbasetype,"
      "  CASE WHEN t.typtypmod <> -1 THEN t.typtypmod ELSE c.tmod END, c.depth + 1, c.dflt, c.declared"
      " FROM cols c JOIN pg_type t ON t.oid = c.tid WHERE t.typtype = 'd')"
      "SELECT DISTINCT ON (c.attnum) c.attname, c.attnotnull, t.typname, c.tmod, format_type(c.tid, c.tmod), c.dflt, "
      "c.declared, c.attnum, t.typtype, coalesce(col_description($1::oid, c.attnum), ''), a.attidentity, "
      "a.attgenerated, c.tid "
      "FROM cols c JOIN pg_type t ON t.oid = c.tid "
      "JOIN pg_attribute a ON a.attrelid = $1::oid AND a.attnum = c.attnum "
      "ORDER BY c.attnum, c.depth DESC",
      {oid}, name);
  auto schema = std::make_shared<model::TableSchema>();
  schema->id = table.id;
  schema->source_dialect = "postgres";
  std::map<int64_t, int> attnum_to_index;
  if (r.rows() == 0)
    throw Error(Code::not_found, "table " + name + " does not exist or has no columns",
                conn.context() + " table=" + name);
  for (int i = 0; i < r.rows(); ++i) {
    model::ColumnSchema c;
    c.name = r.value(i, 0);
    c.nullable = r.value(i, 1) != "t";
    // A domain keeps its own name as source_name, so that a same-engine sink
    // where it exists recreates the column with it (the model type is the
    // base's); not over jsonb, which field_kind_for tells apart by that name.
    const std::string base = r.value(i, 2);
    c.type = map_type(base, static_cast<int>(r.int_value(i, 3)), base == "jsonb" ? r.value(i, 4) : r.value(i, 6));
    c.default_expression = r.value(i, 5);
    c.comment = r.value(i, 9);
    const std::string identity = r.value(i, 10), generated = r.value(i, 11);
    c.auto_increment = !identity.empty() || c.default_expression.rfind("nextval(", 0) == 0;
    c.generated = !generated.empty();
    if (r.value(i, 8) == "e") {
      Result labels = conn.exec_params("SELECT enumlabel FROM pg_enum WHERE enumtypid = $1::oid ORDER BY enumsortorder",
                                       {r.value(i, 12)}, name);
      for (int k = 0; k < labels.rows(); ++k) c.enum_values.push_back(labels.value(k, 0));
    }
    attnum_to_index[r.int_value(i, 7)] = static_cast<int>(schema->columns.size());
    schema->columns.push_back(std::move(c));
  }
  schema->row_estimate = table.row_estimate;
  schema->size_bytes = table.pages * 8192;
  Result info = conn.exec_params("SELECT coalesce(obj_description($1::oid, 'pg_class'), '')", {oid}, name);
  if (info.rows() == 1) schema->comment = info.value(0, 0);
  // Unique constraints and plain secondary indexes; expression and partial
  // indexes have no portable form and are left out.
  Result idx = conn.exec_params(
      "SELECT i.relname, x.indisunique, array_to_string(x.indkey::int2[], ' ') FROM pg_index x "
      "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::oid AND NOT x.indisprimary "
      "AND x.indexprs IS NULL AND x.indpred IS NULL ORDER BY i.relname",
      {oid}, name);
  for (int i = 0; i < idx.rows(); ++i) {
    model::IndexSchema index;
    index.name = idx.value(i, 0);
    index.unique = idx.value(i, 1) == "t";
    std::string keys = idx.value(i, 2);
    size_t at = 0;
    bool complete = true;
    while (at < keys.size()) {
      size_t end = keys.find(' ', at);
      if (end == std::string::npos) end = keys.size();
      auto found = attnum_to_index.find(std::atoll(keys.substr(at, end - at).c_str()));
      if (found == attnum_to_index.end())
        complete = false;
      else
        index.columns.push_back(found->second);
      at = end + 1;
    }
    if (complete && !index.columns.empty()) schema->indexes.push_back(std::move(index));
  }
  Result pk = conn.exec_params(
      "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
      "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord",
      {oid}, name);
  for (int i = 0; i < pk.rows(); ++i) {
    int idx = schema->find_column(pk.value(i, 0));
    if (idx >= 0) schema->primary_key.push_back(idx);
  }
  return schema;
}

model::TableSchemaPtr load_schema_if_exists(Connection &conn, const std::string &schema, const std::string &table) {
  Result r = conn.exec_params(
      "SELECT c.oid, c.relkind, greatest(c.reltuples, 0)::bigint, c.relpages FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', "
      "'p')",
      {schema, table});
  if (r.rows() == 0) return nullptr;
  TableEntry entry;
  entry.id = model::TableId{"", schema, table};
  entry.oid = static_cast<uint32_t>(r.int_value(0, 0));
  entry.relkind = r.value(0, 1)[0];
  entry.row_estimate = r.int_value(0, 2);
  entry.pages = r.int_value(0, 3);
  return load_schema(conn, entry);
}

}  // namespace ds::connectors::postgres
