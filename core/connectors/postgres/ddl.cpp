#include "connectors/postgres/ddl.hpp"

#include "model/error.hpp"
#include "schema/type_mapping.hpp"

namespace ds::connectors::postgres {
namespace {

using model::TypeId;

bool iequals(const std::string &a, const std::string &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_string_category(char c) { return c == 'S'; }

}  // namespace

std::string mapped_type(const model::DataType &t) { return schema::map_to(schema::Dialect::postgres, t).spelling; }

bool same_engine_type(const model::DataType &type, const std::string &t, char category, bool is_enum) {
  switch (type.id) {
    case TypeId::boolean: return t == "bool";
    case TypeId::int8:
    case TypeId::int16: return t == "int2";
    case TypeId::int32: return t == "int4";
    case TypeId::int64: return t == "int8";
    case TypeId::uint64:
    case TypeId::decimal: return t == "numeric";
    case TypeId::float32: return t == "float4";
    case TypeId::float64: return t == "float8";
    case TypeId::string: return is_string_category(category) || is_enum;
    case TypeId::binary: return t == "bytea";
    case TypeId::date: return t == "date";
    case TypeId::time: return t == "time";
    case TypeId::timestamp: return t == "timestamp";
    case TypeId::timestamp_tz: return t == "timestamptz";
    case TypeId::interval: return t == "interval";
    case TypeId::json: return t == "json" || t == "jsonb";
    case TypeId::uuid: return t == "uuid";
    case TypeId::unknown: return true;  // the engine does not know it: the source's type is the only truth
  }
  return false;
}

bool target_accepts(const model::DataType &type, const TargetColumn &c) {
  const std::string &t = c.typname;
  const char cat = c.category;
  if (type.id == TypeId::unknown) return true;  // text cast to whatever the target is
  if (is_string_category(cat)) return true;     // every engine value has a text form
  switch (type.id) {
    case TypeId::boolean: return cat == 'B';
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64:
    case TypeId::uint64:
    case TypeId::decimal:
    case TypeId::float32:
    case TypeId::float64: return cat == 'N' && t != "oid" && t != "regclass" && t != "regtype";
    case TypeId::string: return cat != 'N' && cat != 'B' && t != "bytea";
    case TypeId::json: return t == "json" || t == "jsonb";
    case TypeId::binary: return t == "bytea";
    case TypeId::date: return t == "date" || t == "timestamp" || t == "timestamptz";
    case TypeId::time: return t == "time" || t == "timetz" || t == "interval";
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return t == "timestamp" || t == "timestamptz" || t == "date";
    case TypeId::interval: return t == "interval";
    case TypeId::uuid: return t == "uuid";
    case TypeId::unknown: return true;
  }
  return false;
}

std::string column_type_for_create(Connection &conn, const model::DataType &type) {
  if (!type.source_name.empty()) {
    // Another engine's spelling ("int(10) unsigned") is a syntax error to
    // to_regtype() before PostgreSQL 16 rather than NULL: such a spelling is
    // simply not a PostgreSQL type. A savepoint keeps an open transaction usable.
    const bool in_tx = conn.in_transaction();
    if (in_tx) conn.exec("SAVEPOINT ds_regtype");
    Result r;
    try {
      r = conn.exec_params(
          "SELECT b.typname, b.typcategory, b.typtype FROM pg_type t"
          " JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
          " WHERE t.oid = to_regtype($1)",
          {type.source_name});
    } catch (const Error &e) {
      if (e.code() == Code::connection) throw;
      if (in_tx) conn.exec("ROLLBACK TO SAVEPOINT ds_regtype");
      return mapped_type(type);
    }
    if (in_tx) conn.exec("RELEASE SAVEPOINT ds_regtype");
    if (r.rows() == 1) {
      std::string cat = r.value(0, 1), kind = r.value(0, 2);
      if (same_engine_type(type, r.value(0, 0), cat.empty() ? 'X' : cat[0], kind == "e")) return type.source_name;
    }
  }
  return mapped_type(type);
}

std::string qualified_name(const std::string &schema, const std::string &table) {
  return quote_identifier(schema) + "." + quote_identifier(table);
}

char relation_kind(Connection &conn, const std::string &schema, const std::string &table) {
  Result r = conn.exec_params(
      "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = $1 AND c.relname = $2",
      {schema, table});
  if (r.rows() == 0) return '\0';
  std::string k = r.value(0, 0);
  return k.empty() ? '\0' : k[0];
}

std::vector<TargetColumn> target_columns(Connection &conn, const std::string &schema, const std::string &table) {
  Result r = conn.exec_params(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), b.typname, b.typcategory, b.typtype = 'e',"
      " a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', a.attgenerated <> '',"
      " COALESCE((SELECT k.n FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
      "           WHERE i.indrelid = a.attrelid AND i.indisprimary AND k.attnum = a.attnum), 0)"
      " FROM pg_attribute a"
      " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_type t ON t.oid = a.atttypid"
      " JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
      " WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
      {schema, table}, schema + "." + table);
  std::vector<TargetColumn> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    TargetColumn c;
    c.name = r.value(i, 0);
    c.type = r.value(i, 1);
    c.typname = r.value(i, 2);
    std::string cat = r.value(i, 3);
    c.category = cat.empty() ? 'X' : cat[0];
    c.is_enum = r.value(i, 4) == "t";
    c.not_null = r.value(i, 5) == "t";
    c.has_default = r.value(i, 6) == "t";
    c.generated = r.value(i, 7) == "t";
    c.pk_position = static_cast<int>(r.int_value(i, 8));
    out.push_back(std::move(c));
  }
  return out;
}

const TargetColumn *find_target_column(const std::vector<TargetColumn> &target, const std::string &name) {
  for (const TargetColumn &c : target)
    if (c.name == name) return &c;
  const TargetColumn *found = nullptr;
  for (const TargetColumn &c : target) {
    if (!iequals(c.name, name)) continue;
    if (found) return nullptr;  // ambiguous
    found = &c;
  }
  return found;
}

}  // namespace ds::connectors::postgres
