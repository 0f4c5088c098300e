#include "connectors/sqlite/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "schema/type_mapping.hpp"

namespace ds::connectors::sqlite {
namespace {

// Upper case, trimmed, whitespace runs collapsed to one space, no space before '('.
std::string normalize(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space && c != '(' && c != ')' && c != ',' && out.back() != '(' && out.back() != ',') out += ' ';
    space = false;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

bool is_one_of(const std::string &s, std::initializer_list<const char *> names) {
  for (const char *n : names)
    if (s == n) return true;
  return false;
}

bool is_float_type(model::TypeId id) { return id == model::TypeId::float32 || id == model::TypeId::float64; }

}  // namespace

bool is_integer_type(model::TypeId id) {
  using model::TypeId;
  return id == TypeId::int8 || id == TypeId::int16 || id == TypeId::int32 || id == TypeId::int64 ||
         id == TypeId::uint64;
}

Affinity affinity_of(std::string_view declared) {
  std::string u = normalize(declared);
  if (u.find("INT") != std::string::npos) return Affinity::integer;
  if (u.find("CHAR") != std::string::npos || u.find("CLOB") != std::string::npos || u.find("TEXT") != std::string::npos)
    return Affinity::text;
  if (u.empty() || u.find("BLOB") != std::string::npos) return Affinity::blob;
  if (u.find("REAL") != std::string::npos || u.find("FLOA") != std::string::npos || u.find("DOUB") != std::string::npos)
    return Affinity::real;
  return Affinity::numeric;
}

model::DataType map_declared_type(const std::string &declared) {
  using model::TypeId;
  model::DataType t;
  size_t b = declared.find_first_not_of(" \t\r\n");
  size_t e = declared.find_last_not_of(" \t\r\n");
  t.source_name = b == std::string::npos ? std::string() : declared.substr(b, e - b + 1);
  std::string u = normalize(declared);
  size_t paren = u.find('(');
  std::string base = u.substr(0, paren);
  while (!base.empty() && base.back() == ' ') base.pop_back();

  if (is_one_of(base, {"BOOL", "BOOLEAN"}))
    t.id = TypeId::boolean;
  else if (base == "DATE")
    t.id = TypeId::date;
  else if (is_one_of(base, {"DATETIME", "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"}))
    t.id = TypeId::timestamp;
  else if (is_one_of(base, {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}))
    t.id = TypeId::timestamp_tz;
  else if (is_one_of(base, {"TIME", "TIME WITHOUT TIME ZONE"}))
    t.id = TypeId::time;
  else if (is_one_of(base, {"JSON", "JSONB", "JSON_TEXT"}))
    t.id = TypeId::json;
  else if (base == "UUID")
    t.id = TypeId::uuid;
  else if (is_one_of(base, {"DECIMAL", "NUMERIC", "DECIMAL_TEXT"})) {
    t.id = TypeId::unknown;  // bare DECIMAL/NUMERIC: no fixed scale, kept as text
    if (paren != std::string::npos && u.back() == ')') {
      std::string args = u.substr(paren + 1, u.size() - paren - 2);
      char *end = nullptr;
      long p = std::strtol(args.c_str(), &end, 10);
      long s = 0;
      bool ok = end != args.c_str();
      if (ok && *end == ',') {
        const char *start = end + 1;
        s = std::strtol(start, &end, 10);
        ok = end != start;
      }
      if (ok && *end == '\0' && p >= 1 && p <= 38 && s >= 0 && s <= p) {
        t.id = TypeId::decimal;
        t.precision = static_cast<int16_t>(p);
        t.scale = static_cast<int16_t>(s);
      }
    }
  } else {
    switch (affinity_of(u)) {
      case Affinity::integer: t.id = TypeId::int64; break;
      case Affinity::text: t.id = TypeId::string; break;
      case Affinity::blob: t.id = TypeId::binary; break;
      case Affinity::real: t.id = TypeId::float64; break;
      case Affinity::numeric: t.id = TypeId::unknown; break;
    }
  }
  return t;
}

std::string declared_type_for(const model::DataType &type) {
  return schema::map_to(schema::Dialect::sqlite, type).spelling;
}

bool is_valid_declared_type(std::string_view s) {
  static const char *const reserved[] = {"PRIMARY",    "NOT",     "NULL",  "DEFAULT", "CONSTRAINT",
                                         "REFERENCES", "COLLATE", "CHECK", "UNIQUE",  "GENERATED",
                                         "AS",         "ON",      "KEY"};
  size_t i = 0, n = s.size();
  auto skip_spaces = [&] {
    while (i < n && s[i] == ' ') ++i;
  };
  auto ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  int words = 0;
  skip_spaces();
  while (i < n && ident_start(s[i])) {
    size_t start = i;
    while (i < n && ident_char(s[i])) ++i;
    std::string word = normalize(s.substr(start, i - start));
    for (const char *r : reserved)
      if (word == r) return false;
    ++words;
    skip_spaces();
  }
  if (words == 0) return false;
  if (i == n) return true;
  if (s[i] != '(') return false;
  ++i;
  auto number = [&] {
    skip_spaces();
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
    skip_spaces();
    return true;
  };
  if (!number()) return false;
  if (i < n && s[i] == ',') {
    ++i;
    if (!number()) return false;
  }
  if (i >= n || s[i] != ')') return false;
  ++i;
  skip_spaces();
  return i == n;
}

bool affinity_keeps(const std::string &declared, const model::DataType &type) {
  Affinity affinity = affinity_of(declared);
  if (affinity == Affinity::text || affinity == Affinity::blob) return true;
  // The sink binds these as text, which other affinities turn into numbers
  // when it looks like one: bits '0101' become 101, long decimals and JSON
  // documents that are a bare number a REAL.
  if (type.id == model::TypeId::unknown || type.id == model::TypeId::json) return false;
  if (type.id == model::TypeId::decimal) return schema::sqlite_numeric_affinity_holds(type.precision, type.scale);
  return true;
}

std::string create_column_type(const model::DataType &type, bool from_sqlite) {
  if (!type.source_name.empty() && is_valid_declared_type(type.source_name)) {
    model::DataType back = map_declared_type(type.source_name);
    bool same = back == type || (is_integer_type(type.id) && back.id == model::TypeId::int64) ||
                (is_float_type(type.id) && back.id == model::TypeId::float64);
    // A SQLite source's values already went through the same affinity.
    if (same && (from_sqlite || affinity_keeps(type.source_name, type))) return type.source_name;
  }
  return declared_type_for(type);
}

bool target_accepts(const std::string &target_declared, const model::DataType &source) {
  using model::TypeId;
  model::DataType target = map_declared_type(target_declared);
  TypeId s = source.id;
  bool textual = s == TypeId::string || s == TypeId::json || s == TypeId::unknown;
  switch (target.id) {
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64:
    case TypeId::uint64: return s == TypeId::boolean || is_integer_type(s);
    case TypeId::float32:
    case TypeId::float64: return is_integer_type(s) || is_float_type(s);
    case TypeId::boolean: return s == TypeId::boolean;
    case TypeId::decimal:
      if (is_integer_type(s)) return true;
      return s == TypeId::decimal && source.scale <= target.scale &&
             source.precision - source.scale <= target.precision - target.scale;
    case TypeId::string: return s != TypeId::binary;
    case TypeId::binary: return s == TypeId::binary || textual;
    case TypeId::date: return s == TypeId::date;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return s == TypeId::timestamp || s == TypeId::timestamp_tz || s == TypeId::date;
    case TypeId::time: return s == TypeId::time;
    case TypeId::json: return textual;
    case TypeId::uuid: return s == TypeId::uuid;
    case TypeId::interval:
    case TypeId::unknown: return s != TypeId::binary;
  }
  return false;
}

std::string display_declared(const std::string &declared) { return declared.empty() ? "untyped" : declared; }

std::vector<TableEntry> list_tables(const Connection &conn) {
  Statement st = conn.prepare(
      "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
      "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?1 COLLATE NOCASE ORDER BY name");
  st.bind(1, std::string_view(kCheckpointTable));
  std::vector<TableEntry> out;
  while (st.step("cannot list the tables")) out.push_back(TableEntry{st.column_text(0), st.column_int64(1) != 0});
  st.reset();
  return out;
}

std::vector<ColumnInfo> table_columns(const Connection &conn, const std::string &table) {
  Statement st = conn.prepare(
      "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid");
  st.bind(1, table);
  std::vector<ColumnInfo> out;
  while (st.step("cannot read the columns of main." + table)) {
    ColumnInfo c;
    c.name = st.column_text(0);
    c.declared = st.column_text(1);
    c.not_null = st.column_int64(2) != 0;
    c.default_value = st.column_text(3);
    c.pk = static_cast<int>(st.column_int64(4));
    c.hidden = static_cast<int>(st.column_int64(5));
    out.push_back(std::move(c));
  }
  st.reset();
  return out;
}

bool is_without_rowid(const Connection &conn, const std::string &table) {
  Statement st = conn.prepare("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1");
  st.bind(1, table);
  bool wr = st.step("cannot read the table list") && st.column_int64(0) != 0;
  st.reset();
  return wr;
}

const char *rowid_alias(const std::vector<ColumnInfo> &columns) {
  for (const char *alias : {"rowid", "_rowid_", "oid"}) {
    bool taken =
        std::any_of(columns.begin(), columns.end(), [&](const ColumnInfo &c) { return iequals(c.name, alias); });
    if (!taken) return alias;
  }
  return nullptr;
}

model::TableSchemaPtr table_schema(const Connection &conn, const std::string &table) {
  std::vector<ColumnInfo> cols = table_columns(conn, table);
  bool without_rowid = is_without_rowid(conn, table);
  auto schema = std::make_shared<model::TableSchema>();
  schema->id = model::TableId{"", "main", table};
  schema->source_dialect = "sqlite";
  std::vector<std::pair<int, int>> pk;  // (position in key, column index)
  int pk_columns = 0;
  for (const ColumnInfo &c : cols)
    if (c.pk > 0) ++pk_columns;
  for (const ColumnInfo &c : cols) {
    // Hidden (virtual-table) and generated columns are skipped for now: they
    // cannot be inserted into a copy, and generated ones can be recomputed there.
    if (c.hidden != 0) continue;
    model::ColumnSchema col;
    col.name = c.name;
    col.type = map_declared_type(c.declared);
    col.default_expression = c.default_value;
    // An INTEGER PRIMARY KEY is the rowid and never reads as NULL; WITHOUT ROWID
    // tables enforce NOT NULL on their key.
    bool rowid_key = !without_rowid && pk_columns == 1 && c.pk == 1 && normalize(c.declared) == "INTEGER";
    col.nullable = !(c.not_null || rowid_key || (without_rowid && c.pk > 0));
    if (c.pk > 0) pk.emplace_back(c.pk, static_cast<int>(schema->columns.size()));
    schema->columns.push_back(std::move(col));
  }
  std::sort(pk.begin(), pk.end());
  for (const auto &p : pk) schema->primary_key.push_back(p.second);
  return schema;
}

}  // namespace ds::connectors::sqlite
