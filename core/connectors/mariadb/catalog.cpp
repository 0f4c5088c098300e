#include "connectors/mariadb/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

#include "model/error.hpp"

namespace ds::connectors::mariadb {
namespace {

// Beyond this many selected tables, one query over the whole database is
// cheaper than a long IN list.
constexpr size_t kMaxInList = 200;

bool contains(const std::string &text, const char *word) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find(word) != std::string::npos;
}

// The column a MariaDB JSON CHECK names: "json_valid(`col`)" → "col"; "" for any other clause.
std::string json_valid_column(const std::string &clause) {
  static const std::string prefix = "json_valid(`";
  if (clause.size() < prefix.size() + 2 || clause.compare(clause.size() - 2, 2, "`)") != 0) return "";
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(clause[i])) != prefix[i]) return "";
  std::string name;
  const size_t end = clause.size() - 2;
  for (size_t i = prefix.size(); i < end; ++i) {
    if (clause[i] == '`') {
      if (i + 1 >= end || clause[i + 1] != '`') return "";  // a second identifier: not a lone json_valid(col)
      ++i;
    }
    name += clause[i];
  }
  return name;
}

// The values of "enum('a','it''s','c\\d')": quotes doubled, backslashes escaped.
std::vector<std::string> enum_values(const std::string &column_type) {
  std::vector<std::string> out;
  size_t at = column_type.find('(');
  if (at == std::string::npos) return out;
  for (++at; at < column_type.size(); ++at) {
    if (column_type[at] != '\'') continue;
    std::string value;
    for (++at; at < column_type.size(); ++at) {
      const char c = column_type[at];
      if (c == '\\' && at + 1 < column_type.size()) {
        value += column_type[++at];
      } else if (c == '\'' && at + 1 < column_type.size() && column_type[at + 1] == '\'') {
        value += '\'';
        ++at;
      } else if (c == '\'') {
        break;
      } else {
        value += c;
      }
    }
    out.push_back(std::move(value));
  }
  return out;
}

std::string schema_filter(const std::string &column, const std::string &database,
                          const std::vector<std::string> &tables, bool all) {
  std::string sql = column + " = " + quote_literal(database);
  if (all) return sql;
  sql += " AND TABLE_NAME IN (";
  for (size_t i = 0; i < tables.size(); ++i) sql += (i ? ", " : "") + quote_literal(tables[i]);
  return sql + ")";
}

}  // namespace

std::vector<std::string> list_table_names(Connection &conn, const std::string &database) {
  Result r =
      conn.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = " + quote_literal(database) +
                 " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME");
  std::vector<std::string> out;
  for (size_t i = 0; i < r.rows(); ++i) out.push_back(database + "." + r.value(i, 0));
  return out;
}

int64_t table_row_estimate(Connection &conn, const model::TableId &table) {
  const std::string name = table.schema_name + "." + table.table_name;
  Result r = conn.query(
      "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = " + quote_literal(table.schema_name) +
          " AND TABLE_NAME = " + quote_literal(table.table_name) + " AND TABLE_TYPE = 'BASE TABLE'",
      name);
  if (r.rows() == 0) {
    const ConnParams &p = conn.params();
    throw Error(Code::not_found,
                "table " + name + " does not exist (host " + p.host + ":" + std::to_string(p.port) + ", database " +
                    p.database + ")",
                conn.context() + " table=" + name);
  }
  return r.int_value(0, 0);
}

std::vector<TableInfo> read_catalog(Connection &conn, const std::string &database, const TypeOptions &types,
                                    const std::function<bool(const model::TableId &)> &wanted) {
  Result tables = conn.query(
      "SELECT TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, TABLE_COMMENT, TABLE_COLLATION "
      "FROM information_schema.TABLES WHERE TABLE_SCHEMA = " +
      quote_literal(database) + " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME");
  std::vector<TableInfo> out;
  std::map<std::string, size_t> by_name;
  std::vector<std::string> names;
  for (size_t i = 0; i < tables.rows(); ++i) {
    model::TableId id{"", database, tables.value(i, 0)};
    if (!wanted(id)) continue;
    TableInfo t;
    auto schema = std::make_shared<model::TableSchema>();
    schema->id = id;
    t.schema = schema;
    t.engine = tables.value(i, 1);
    t.row_estimate = tables.int_value(i, 2);
    t.data_bytes = tables.int_value(i, 3);
    t.index_bytes = tables.int_value(i, 4);
    t.comment = tables.value(i, 5);
    t.collation = tables.value(i, 6);
    by_name[id.table_name] = out.size();
    names.push_back(id.table_name);
    out.push_back(std::move(t));
  }
  if (out.empty()) return out;
  const bool all = names.size() > kMaxInList;
  auto table_of = [&](const std::string &name) -> TableInfo * {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &out[it->second];
  };
  // Only schemas under construction here; they become const once published.
  auto schema_of = [](TableInfo &t) { return std::const_pointer_cast<model::TableSchema>(t.schema); };
  const std::string dialect = conn.is_mariadb() ? "mariadb" : "mysql";
  for (TableInfo &t : out) {
    auto schema = schema_of(t);
    schema->source_dialect = dialect;
    schema->comment = t.comment;
    schema->row_estimate = t.row_estimate;
    schema->size_bytes = t.data_bytes;
  }

  // MariaDB spells JSON as longtext with a json_valid() CHECK. MySQL has a
  // real JSON type and no TABLE_NAME in CHECK_CONSTRAINTS (nor the view
  // before 8.0.16): nothing to detect there.
  std::map<std::string, std::vector<std::string>> json_columns;
  try {
    Result checks = conn.query("SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE " +
                               schema_filter("CONSTRAINT_SCHEMA", database, names, all));
    for (size_t i = 0; i < checks.rows(); ++i) {
      std::string column = json_valid_column(checks.value(i, 1));
      if (!column.empty()) json_columns[checks.value(i, 0)].push_back(column);
    }
  } catch (const Error &e) {
    if (e.code() != Code::schema && e.code() != Code::io && e.code() != Code::not_found) throw;
  }

  Result cols = conn.query(
      "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, "
      "GENERATION_EXPRESSION, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS WHERE " +
      schema_filter("TABLE_SCHEMA", database, names, all) + " ORDER BY TABLE_NAME, ORDINAL_POSITION");
  for (size_t i = 0; i < cols.rows(); ++i) {
    TableInfo *t = table_of(cols.value(i, 0));
    if (!t) continue;
    ColumnInfo info;
    info.name = cols.value(i, 1);
    info.column_type = cols.value(i, 2);
    info.extra = cols.value(i, 5);
    info.comment = cols.value(i, 6);
    info.generation_expression = cols.value(i, 7);
    info.charset = cols.value(i, 8);
    info.collation = cols.value(i, 9);
    // Not "generated" alone: MySQL 8 says DEFAULT_GENERATED of expression defaults.
    info.generated = !info.generation_expression.empty() || contains(info.extra, "virtual generated") ||
                     contains(info.extra, "stored generated") || contains(info.extra, "persistent");
    info.invisible = contains(info.extra, "invisible");
    const auto &json = json_columns[t->schema->id.table_name];
    info.json_check = std::find(json.begin(), json.end(), info.name) != json.end();

    model::ColumnSchema c;
    c.name = info.name;
    std::optional<model::DataType> type = type_from_spelling(info.column_type, info.json_check, types);
    if (type) {
      c.type = *type;
    } else {
      c.type.id = model::TypeId::unknown;  // read as its text
      c.type.source_name = info.column_type;
    }
    c.nullable = cols.value(i, 3) == "YES";
    c.default_expression = cols.is_null(i, 4) ? "" : cols.value(i, 4);
    c.comment = info.comment;
    c.auto_increment = contains(info.extra, "auto_increment");
    c.generated = info.generated;
    if (base_type_name(info.column_type) == "enum") c.enum_values = enum_values(info.column_type);
    schema_of(*t)->columns.push_back(std::move(c));
    t->columns.push_back(std::move(info));
  }

  Result stats = conn.query(
      "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE, INDEX_COMMENT "
      "FROM information_schema.STATISTICS WHERE " +
      schema_filter("TABLE_SCHEMA", database, names, all) + " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX");
  for (size_t i = 0; i < stats.rows(); ++i) {
    TableInfo *t = table_of(stats.value(i, 0));
    if (!t) continue;
    const std::string &index = stats.value(i, 1);
    if (t->indexes.empty() || t->indexes.back().name != index) {
      IndexInfo x;
      x.name = index;
      x.primary = index == "PRIMARY";
      x.unique = stats.int_value(i, 2) == 0;
      x.type = stats.value(i, 5);
      x.comment = stats.value(i, 6);
      t->indexes.push_back(std::move(x));
    }
    t->indexes.back().columns.push_back(stats.value(i, 3));
    t->indexes.back().prefix_lengths.push_back(static_cast<int>(stats.int_value(i, 4)));
  }
  for (TableInfo &t : out) {
    std::stable_sort(t.indexes.begin(), t.indexes.end(),
                     [](const IndexInfo &a, const IndexInfo &b) { return a.primary && !b.primary; });
    auto schema = schema_of(t);
    if (schema->columns.empty()) {
      const std::string name = database + "." + schema->id.table_name;
      throw Error(Code::not_found, "table " + name + " has no readable columns (dropped while being listed?)",
                  conn.context() + " table=" + name);
    }
    if (!t.indexes.empty() && t.indexes.front().primary)
      for (const std::string &column : t.indexes.front().columns) {
        int idx = schema->find_column(column);
        if (idx >= 0) schema->primary_key.push_back(idx);
      }
    // The model's indexes are the portable ones: whole columns of a BTREE or
    // HASH index. Prefix, functional, FULLTEXT and SPATIAL indexes stay in
    // TableInfo only.
    for (const IndexInfo &x : t.indexes) {
      if (x.primary || (x.type != "BTREE" && x.type != "HASH")) continue;
      model::IndexSchema index;
      index.name = x.name;
      index.unique = x.unique;
      for (size_t i = 0; i < x.columns.size(); ++i) {
        const int idx = schema->find_column(x.columns[i]);
        if (idx < 0 || x.prefix_lengths[i] != 0) {
          index.columns.clear();
          break;
        }
        index.columns.push_back(idx);
      }
      if (!index.columns.empty()) schema->indexes.push_back(std::move(index));
    }
  }
  return out;
}

}  // namespace ds::connectors::mariadb
