#include "connectors/mariadb/ddl.hpp"

#include <algorithm>
#include <cctype>

#include "connectors/mariadb/types.hpp"
#include "schema/type_mapping.hpp"

namespace ds::connectors::mariadb {
namespace {

using model::TypeId;

// Bytes of varchar a new utf8mb4 row may declare: the 65,535-byte row limit
// less room for the other columns' fixed parts.
constexpr int kVarcharRowBudget = 65535 - 4096;
// InnoDB's longest key (DYNAMIC rows), in bytes.
constexpr int kKeyBytes = 3072;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool one_of(const std::string &s, std::initializer_list<const char *> names) {
  for (const char *n : names)
    if (s == n) return true;
  return false;
}

// Whether `s` reads as one MariaDB column type: a name, optional arguments in
// parentheses (quoted strings allowed, as enum values), then only unsigned,
// signed or zerofill. Other dialects' multi-word spellings ("double
// precision", "timestamp with time zone", "character varying(20)") fail.
bool is_plain_spelling(const std::string &s) {
  size_t i = 0, n = s.size();
  auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (n == 0 || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  while (i < n && is_ident(s[i])) ++i;
  while (i < n && s[i] == ' ') ++i;
  if (i < n && s[i] == '(') {
    int depth = 0;
    for (; i < n; ++i) {
      char c = s[i];
      if (c == '\'') {
        for (++i; i < n; ++i) {
          if (s[i] == '\\') {
            ++i;
          } else if (s[i] == '\'') {
            if (i + 1 < n && s[i + 1] == '\'')
              ++i;
            else
              break;
          }
        }
        if (i >= n) return false;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (--depth == 0) {
          ++i;
          break;
        }
      }
    }
    if (depth != 0) return false;
  }
  while (i < n) {
    while (i < n && s[i] == ' ') ++i;
    size_t start = i;
    while (i < n && is_ident(s[i])) ++i;
    if (start == i) return i == n;
    if (!one_of(lower(s.substr(start, i - start)), {"unsigned", "signed", "zerofill"})) return false;
  }
  return true;
}

bool is_unbounded(const std::string &base) {
  return one_of(base,
                {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json"});
}

// Spellings other dialects read wider than MariaDB does.
bool is_ambiguous(const std::string &base, const std::string &spelling) {
  if (one_of(base, {"text", "blob"})) return true;
  return one_of(base, {"datetime", "time", "timestamp"}) && spelling.find('(') == std::string::npos;
}

bool is_text_type(const std::string &t) {
  return one_of(
      t, {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json", "inet4", "inet6"});
}

bool is_binary_type(const std::string &t) {
  return one_of(t, {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"});
}

bool is_numeric_type(const std::string &t) {
  return one_of(t, {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
                    "double", "real", "year", "bit", "bool", "boolean"});
}

// Bytes a varchar/char column of this spelling declares in a utf8mb4 row (0 for others).
int varchar_bytes(const std::string &spelling) {
  const std::string base = base_type_name(spelling);
  if (base == "varchar" || base == "char") return 4 * type_length(spelling, 1) + 2;
  if (base == "varbinary" || base == "binary") return type_length(spelling, 1) + 2;
  return 0;
}

}  // namespace

int server_version_number(const std::string &version) {
  int parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int p = 0; p < 3 && i < version.size(); ++p) {
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i])))
      parts[p] = parts[p] * 10 + (version[i++] - '0');
    if (i < version.size() && version[i] == '.')
      ++i;
    else
      break;
  }
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

std::string column_type_for_create(const model::DataType &type, bool in_key, bool mariadb, int server_version,
                                   bool same_dialect) {
  schema::TargetContext context;
  context.in_key = in_key;
  context.server_version = server_version;
  const std::string &spelling = type.source_name;
  if (!spelling.empty() && is_plain_spelling(spelling)) {
    std::optional<model::DataType> parsed = type_from_spelling(spelling);
    if (parsed && *parsed == type) {
      const std::string base = base_type_name(spelling);
      const bool uuid_missing = base == "uuid" && !(mariadb && (server_version == 0 || server_version >= 100700));
      const bool ambiguous = !same_dialect && is_ambiguous(base, spelling);
      if (!ambiguous && !(in_key && is_unbounded(base)) && !uuid_missing) return spelling;
    }
  }
  // PostgreSQL's blank-padded character(n) is MariaDB's char(n): both give
  // 'a' back for 'a' (varchar(n) would keep PostgreSQL's padding as data).
  const std::string base = base_type_name(spelling);
  const int length = type_length(spelling, 0);
  if (type.id == TypeId::string && (base == "character" || base == "bpchar") && is_plain_spelling(spelling) &&
      length > 0 && length <= 255)
    return "char(" + std::to_string(length) + ")";
  return schema::map_to(mariadb ? schema::Dialect::mariadb : schema::Dialect::mysql, type, context).spelling;
}

std::vector<std::string> column_types_for_create(const model::TableSchema &schema, bool mariadb, int server_version) {
  std::vector<bool> in_key(schema.columns.size(), false);
  for (int k : schema.primary_key) in_key[static_cast<size_t>(k)] = true;
  const bool same_dialect = schema.source_dialect == "mariadb" || schema.source_dialect == "mysql";
  std::vector<std::string> types;
  types.reserve(schema.columns.size());
  std::vector<bool> forced(schema.columns.size(), false);
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const model::ColumnSchema &c = schema.columns[i];
    forced[i] = !c.target_type.empty();
    types.push_back(forced[i] ? c.target_type
                              : column_type_for_create(c.type, in_key[i], mariadb, server_version, same_dialect));
  }
  auto becomes_unbounded = [&](size_t i) {
    const std::string base = base_type_name(types[i]);
    types[i] = base == "varbinary" || base == "binary" ? "longblob" : "longtext";
  };
  // A single varchar beyond the row limit (a latin1 varchar(20000) kept in utf8mb4) cannot exist at all.
  for (size_t i = 0; i < types.size(); ++i)
    if (!in_key[i] && !forced[i] && varchar_bytes(types[i]) > 65535) becomes_unbounded(i);
  // InnoDB keys hold 3072 bytes: when the bounded types mapped for key columns
  // exceed that together, they share what the other key columns leave.
  int key_total = 0, key_fixed = 0;
  std::vector<size_t> shrinkable;
  for (int k : schema.primary_key) {
    const size_t i = static_cast<size_t>(k);
    const int bytes = varchar_bytes(types[i]) > 0 ? varchar_bytes(types[i]) - 2 : 8;
    key_total += bytes;
    const std::string base = base_type_name(types[i]);
    if (!forced[i] && types[i] != schema.columns[i].type.source_name && (base == "varchar" || base == "varbinary"))
      shrinkable.push_back(i);
    else
      key_fixed += bytes;
  }
  if (key_total > kKeyBytes && !shrinkable.empty() && key_fixed < kKeyBytes) {
    const int share = (kKeyBytes - key_fixed) / static_cast<int>(shrinkable.size());
    for (size_t i : shrinkable)
      types[i] = base_type_name(types[i]) == "varbinary" ? "varbinary(" + std::to_string(share) + ")"
                                                         : "varchar(" + std::to_string(share / 4) + ")";
  }
  for (;;) {
    int total = 0;
    size_t widest = types.size();
    for (size_t i = 0; i < types.size(); ++i) {
      int bytes = varchar_bytes(types[i]);
      total += bytes;
      if (!in_key[i] && !forced[i] && bytes > 0 && (widest == types.size() || bytes > varchar_bytes(types[widest])))
        widest = i;
    }
    if (total <= kVarcharRowBudget || widest == types.size()) break;
    becomes_unbounded(widest);
  }
  return types;
}

bool target_accepts(const model::DataType &type, const TargetColumn &target) {
  const std::string &t = target.data_type;
  if (type.id == TypeId::unknown) return true;  // its text, converted by the server
  if (is_text_type(t)) return true;             // every engine value has a text form
  switch (type.id) {
    case TypeId::boolean:
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64:
    case TypeId::uint64:
    case TypeId::decimal:
    case TypeId::float32:
    case TypeId::float64: return is_numeric_type(t);
    case TypeId::string: return is_binary_type(t) || t == "uuid" || is_spatial_column(target);
    case TypeId::json: return is_binary_type(t);
    case TypeId::binary: return is_binary_type(t) || is_spatial_column(target);
    case TypeId::date:
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return one_of(t, {"date", "datetime", "timestamp"});
    case TypeId::time:
    case TypeId::interval: return t == "time";
    case TypeId::uuid: return t == "uuid";
    case TypeId::unknown: return true;
  }
  return false;
}

bool is_spatial_column(const TargetColumn &target) { return is_spatial(target.data_type); }

LoadVia load_via(const model::DataType &type, const TargetColumn &target, bool mariadb) {
  if (target.data_type == "bit") {
    switch (type.id) {
      case TypeId::boolean:
      case TypeId::int8:
      case TypeId::int16:
      case TypeId::int32:
      case TypeId::int64:
      case TypeId::uint64:
      case TypeId::decimal:
      case TypeId::float32:
      case TypeId::float64: return LoadVia::bits_number;
      default: return LoadVia::bits_text;
    }
  }
  if (is_spatial_column(target)) return type.id == TypeId::binary ? LoadVia::geometry_wkb : LoadVia::geometry_text;
  if (!mariadb && target.data_type == "json") return LoadVia::as_text;
  if (one_of(target.data_type, {"uuid", "inet4", "inet6"})) return LoadVia::as_text;
  if (!target.charset.empty() && target.charset != "utf8mb4" && target.charset != "binary") return LoadVia::as_text;
  return LoadVia::direct;
}

TimeRange time_range_of(const TargetColumn &target) {
  return target.data_type == "timestamp" ? TimeRange::timestamp() : TimeRange::datetime();
}

std::string qualified_name(const std::string &database, const std::string &table) {
  return quote_identifier(database) + "." + quote_identifier(table);
}

std::string table_type(Connection &conn, const std::string &database, const std::string &table) {
  Result r =
      conn.query("SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = " + quote_literal(database) +
                     " AND TABLE_NAME = " + quote_literal(table),
                 database + "." + table);
  return r.rows() == 0 ? std::string() : r.value(0, 0);
}

std::vector<TargetColumn> target_columns(Connection &conn, const std::string &database, const std::string &table) {
  Result r = conn.query(
      "SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), c.COLUMN_TYPE, c.CHARACTER_SET_NAME, c.COLLATION_NAME,"
      " c.IS_NULLABLE = 'NO', c.COLUMN_DEFAULT IS NOT NULL OR c.EXTRA LIKE '%auto_increment%', c.EXTRA,"
      " COALESCE(k.ORDINAL_POSITION, 0)"
      " FROM information_schema.COLUMNS c"
      " LEFT JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA"
      " AND k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME"
      " AND k.CONSTRAINT_NAME = 'PRIMARY'"
      " WHERE c.TABLE_SCHEMA = " +
          quote_literal(database) + " AND c.TABLE_NAME = " + quote_literal(table) + " ORDER BY c.ORDINAL_POSITION",
      database + "." + table);
  std::vector<TargetColumn> out;
  out.reserve(r.rows());
  for (size_t i = 0; i < r.rows(); ++i) {
    TargetColumn c;
    c.name = r.value(i, 0);
    c.data_type = r.value(i, 1);
    c.column_type = r.value(i, 2);
    c.charset = r.value(i, 3);
    c.collation = r.value(i, 4);
    c.not_null = r.value(i, 5) == "1";
    const std::string extra = lower(r.value(i, 7));
    c.generated = extra.find("virtual") != std::string::npos || extra.find("stored") != std::string::npos ||
                  extra.find("persistent") != std::string::npos;
    c.has_default = r.value(i, 6) == "1" || c.generated;
    c.pk_position = static_cast<int>(r.int_value(i, 8));
    out.push_back(std::move(c));
  }
  return out;
}

const TargetColumn *find_target_column(const std::vector<TargetColumn> &target, const std::string &name) {
  for (const TargetColumn &c : target)
    if (c.name == name) return &c;
  const std::string wanted = lower(name);
  const TargetColumn *found = nullptr;
  for (const TargetColumn &c : target) {
    if (lower(c.name) != wanted) continue;
    if (found) return nullptr;  // ambiguous
    found = &c;
  }
  return found;
}

}  // namespace ds::connectors::mariadb
