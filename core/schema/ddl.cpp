#include "schema/ddl.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

#include "model/error.hpp"

namespace ds::schema {
namespace {

using model::ColumnSchema;
using model::TableSchema;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string &s) {
  size_t a = s.find_first_not_of(" \t\n\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\n\r");
  return s.substr(a, b - a + 1);
}

// Spellings compared loosely: case and runs of spaces do not matter.
std::string normalise_spelling(const std::string &s) {
  std::string out;
  bool space = false;
  for (char c : lower(trim(s))) {
    if (c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty() && c != '(' && c != ',' && out.back() != '(' && out.back() != ',') out += ' ';
    space = false;
    out += c;
  }
  return out;
}

const char *dialect_title(Dialect d) {
  switch (d) {
    case Dialect::postgres: return "PostgreSQL";
    case Dialect::mariadb: return "MariaDB";
    case Dialect::mysql: return "MySQL";
    case Dialect::sqlite: return "SQLite";
  }
  return "the target";
}

bool is_mysql_family(Dialect d) { return d == Dialect::mariadb || d == Dialect::mysql; }

bool in_any_key(const TableSchema &s, int column) {
  if (std::find(s.primary_key.begin(), s.primary_key.end(), column) != s.primary_key.end()) return true;
  for (const auto &index : s.indexes)
    if (std::find(index.columns.begin(), index.columns.end(), column) != index.columns.end()) return true;
  return false;
}

bool in_primary_key(const TableSchema &s, int column) {
  return std::find(s.primary_key.begin(), s.primary_key.end(), column) != s.primary_key.end();
}

// First column of the primary key or of an index: MariaDB's condition for AUTO_INCREMENT.
bool leads_a_key(const TableSchema &s, int column) {
  if (!s.primary_key.empty() && s.primary_key[0] == column) return true;
  for (const auto &index : s.indexes)
    if (!index.columns.empty() && index.columns[0] == column) return true;
  return false;
}

bool is_integer_spelling(const std::string &spelling) {
  static const std::regex integer("(smallint|integer|int|bigint|tinyint|mediumint|int2|int4|int8)( unsigned)?",
                                  std::regex::icase);
  return std::regex_match(trim(spelling), integer);
}

void check_identifier(Dialect d, const std::string &name, const std::string &what, const std::string &hint) {
  size_t limit = identifier_limit(d);
  if (name.empty()) throw Error(Code::schema, what + " has an empty name");
  if (limit && name.size() > limit)
    throw Error(Code::schema, what + " '" + name + "' is " + std::to_string(name.size()) + " bytes long; " +
                                  dialect_title(d) + " allows " + std::to_string(limit) + " — " + hint);
}

// A generated index name, unique per table and within the limit (a hash suffix when shortened).
std::string index_name(Dialect d, const std::string &table, const std::string &index) {
  std::string name = (d == Dialect::mariadb || d == Dialect::mysql) ? index : table + "_" + index;
  size_t limit = identifier_limit(d);
  if (limit && name.size() > limit) {
    size_t h = std::hash<std::string>{}(name);
    char suffix[10];
    std::snprintf(suffix, sizeof suffix, "_%08x", static_cast<unsigned>(h & 0xffffffffu));
    name = name.substr(0, limit - 9) + suffix;
  }
  return name;
}

// A single INTEGER key column of a SQLite table is the rowid: declared inline,
// as SQLite's own tables write it.
bool is_sqlite_rowid_key(const TableSchema &s, int index, const std::string &type, Dialect d) {
  return d == Dialect::sqlite && s.primary_key.size() == 1 && s.primary_key[0] == index && type == "INTEGER";
}

struct Chosen {
  std::string type;
  std::string fidelity;
  std::string note;
  std::string check;  // a CHECK constraint body for enums held as text, "" when none
};

Chosen choose_type(const TableSchema &s, int index, const TargetInfo &t) {
  const ColumnSchema &c = s.columns[static_cast<size_t>(index)];
  const std::string q = quote_identifier(t.dialect, c.name);
  if (!c.target_type.empty()) return {c.target_type, "override", "forced by schema.type_overrides", ""};
  const bool is_enum =
      !c.enum_values.empty() && (c.type.id == model::TypeId::string || c.type.id == model::TypeId::unknown);
  // SQLite takes any word as a type name: a kept enum name there would hold anything.
  std::string kept = t.keep_spelling && !(is_enum && t.dialect == Dialect::sqlite) ? t.keep_spelling(s, index) : "";
  TargetContext ctx;
  ctx.in_key = in_any_key(s, index);
  ctx.server_version = t.server_version;
  if (!kept.empty()) {
    // Another dialect's spelling names a type holding the engine type, with
    // the target's own limits: PostgreSQL's "date" in MariaDB still ends at
    // 9999, its "real" in SQLite is a widened float. A type the engine does
    // not know is the very type of the source, known by that name.
    std::optional<Dialect> from = parse_dialect(s.source_dialect);
    const bool same_dialect = from && (*from == t.dialect || (is_mysql_family(*from) && is_mysql_family(t.dialect)));
    if (same_dialect || c.type.id == model::TypeId::unknown) return {kept, "exact", "", ""};
    // PostgreSQL's json keeps the text; only jsonb, the mapping's choice, normalises it.
    if (t.dialect == Dialect::postgres && c.type.id == model::TypeId::json && lower(kept) == "json")
      return {kept, "exact", "", ""};
    TargetType mapped = map_to(t.dialect, c.type, ctx);
    return {kept, fidelity_name(mapped.fidelity), mapped.note, ""};
  }
  if (is_enum) {
    std::string values;
    for (size_t i = 0; i < c.enum_values.size(); ++i)
      values += (i ? "," : "") + quote_literal(t.dialect, c.enum_values[i]);
    if (is_mysql_family(t.dialect)) return {"enum(" + values + ")", "exact", "", ""};
    std::string text = t.dialect == Dialect::sqlite ? "TEXT" : "text";
    return {text, "exact", "an enum: text with a CHECK of its values", q + " IN (" + values + ")"};
  }
  TargetType mapped = map_to(t.dialect, c.type, ctx);
  return {mapped.spelling, fidelity_name(mapped.fidelity), mapped.note, ""};
}

std::string column_definition(const TableSchema &s, int index, const Chosen &chosen, const TargetInfo &t,
                              std::vector<std::string> &notes) {
  const ColumnSchema &c = s.columns[static_cast<size_t>(index)];
  std::string sql = quote_identifier(t.dialect, c.name) + " " + chosen.type;
  if (is_sqlite_rowid_key(s, index, chosen.type, t.dialect)) return sql + " PRIMARY KEY";  // never NULL anyway
  if (!c.nullable)
    sql += " NOT NULL";
  else if (is_mysql_family(t.dialect) && !in_primary_key(s, index))
    sql += " NULL";  // never the implicit NOT NULL of a TIMESTAMP under explicit_defaults_for_timestamp=OFF
  bool identity = false;
  if (c.auto_increment) {
    if (!is_integer_spelling(chosen.type)) {
      notes.push_back("column " + c.name + ": auto-increment left out (target type " + chosen.type +
                      " is not an integer)");
    } else if (t.dialect == Dialect::postgres) {
      sql += " GENERATED BY DEFAULT AS IDENTITY";
      identity = true;
    } else if (is_mysql_family(t.dialect)) {
      if (leads_a_key(s, index)) {
        sql += " AUTO_INCREMENT";
        identity = true;
      } else {
        notes.push_back("column " + c.name + ": auto-increment left out (MariaDB/MySQL need it to lead a key)");
      }
    } else {
      notes.push_back("column " + c.name +
                      ": auto-increment left out (SQLite numbers INTEGER PRIMARY KEY rows itself)");
    }
  }
  if (!identity && !c.default_expression.empty()) {
    std::string d = portable_default(c.default_expression, s.source_dialect, t.dialect, chosen.type);
    if (d.empty())
      notes.push_back("column " + c.name + ": default " + c.default_expression + " has no portable form; left out");
    else if (d != "NULL")
      sql += " DEFAULT " + d;
  }
  if (!chosen.check.empty()) sql += " CHECK (" + chosen.check + ")";
  if (is_mysql_family(t.dialect) && !c.comment.empty()) sql += " COMMENT " + quote_literal(t.dialect, c.comment);
  return sql;
}

std::string column_list(Dialect d, const TableSchema &s, const std::vector<int> &columns) {
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i)
    out += (i ? ", " : "") + quote_identifier(d, s.columns[static_cast<size_t>(columns[i])].name);
  return out;
}

void plan_create(const TableSchema &s, const TargetInfo &t, const std::vector<Chosen> &chosen,
                 model::TableDdlPlan &plan) {
  const Dialect d = t.dialect;
  const std::string table = qualified_name(d, t.target);
  if (d == Dialect::postgres && !t.target.schema_name.empty() && t.target.schema_name != "public")
    plan.statements.push_back("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(d, t.target.schema_name));
  std::string sql = "CREATE TABLE IF NOT EXISTS " + table + " (";
  for (size_t i = 0; i < s.columns.size(); ++i)
    sql += (i ? ", " : "") + column_definition(s, static_cast<int>(i), chosen[i], t, plan.notes);
  if (!s.primary_key.empty() &&
      !is_sqlite_rowid_key(s, s.primary_key[0], chosen[static_cast<size_t>(s.primary_key[0])].type, d))
    sql += ", PRIMARY KEY (" + column_list(d, s, s.primary_key) + ")";
  std::vector<const model::IndexSchema *> secondary;
  for (const auto &index : s.indexes) {
    if (index.columns.empty()) continue;
    if (index.unique && is_mysql_family(d))
      sql += ", UNIQUE KEY " + quote_identifier(d, index_name(d, t.target.table_name, index.name)) + " (" +
             column_list(d, s, index.columns) + ")";
    else if (index.unique)
      sql += ", UNIQUE (" + column_list(d, s, index.columns) + ")";
    else if (is_mysql_family(d))
      sql += ", KEY " + quote_identifier(d, index_name(d, t.target.table_name, index.name)) + " (" +
             column_list(d, s, index.columns) + ")";
    else
      secondary.push_back(&index);
  }
  sql += ")";
  if (is_mysql_family(d)) {
    // A binary collation: source keys that differ only in case or accents stay distinct.
    sql += " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
    if (!s.comment.empty()) sql += " COMMENT=" + quote_literal(d, s.comment);
  }
  plan.statements.push_back(sql);
  for (const auto *index : secondary) {
    std::string name = index_name(d, t.target.table_name, index->name);
    std::string qualified_index = d == Dialect::sqlite && !t.target.schema_name.empty()
                                      ? quote_identifier(d, t.target.schema_name) + "." + quote_identifier(d, name)
                                      : quote_identifier(d, name);
    std::string on = d == Dialect::sqlite ? quote_identifier(d, t.target.table_name) : table;
    plan.statements.push_back("CREATE INDEX IF NOT EXISTS " + qualified_index + " ON " + on + " (" +
                              column_list(d, s, index->columns) + ")");
  }
  if (d == Dialect::postgres) {
    if (!s.comment.empty())
      plan.statements.push_back("COMMENT ON TABLE " + table + " IS " + quote_literal(d, s.comment));
    for (const auto &c : s.columns)
      if (!c.comment.empty())
        plan.statements.push_back("COMMENT ON COLUMN " + table + "." + quote_identifier(d, c.name) + " IS " +
                                  quote_literal(d, c.comment));
  } else if (d == Dialect::sqlite) {
    bool any = !s.comment.empty();
    for (const auto &c : s.columns) any = any || !c.comment.empty();
    if (any) plan.notes.push_back("comments left out (SQLite has none)");
  }
}

const ColumnSchema *find_existing(const TableSchema &existing, const std::string &name) {
  for (const auto &c : existing.columns)
    if (c.name == name) return &c;
  const ColumnSchema *found = nullptr;
  for (const auto &c : existing.columns) {
    if (lower(c.name) == lower(name)) {
      if (found) return nullptr;  // ambiguous
      found = &c;
    }
  }
  return found;
}

std::string alter_type_sql(Dialect d, const std::string &table, const std::string &column, const std::string &type,
                           bool not_null) {
  const std::string q = quote_identifier(d, column);
  if (d == Dialect::postgres)
    return "ALTER TABLE " + table + " ALTER COLUMN " + q + " TYPE " + type + " USING " + q + "::" + type;
  return "ALTER TABLE " + table + " MODIFY COLUMN " + q + " " + type + (not_null ? " NOT NULL" : "");
}

void plan_diff(const TableSchema &s, const TargetInfo &t, const std::vector<Chosen> &chosen,
               model::TableDdlPlan &plan) {
  const Dialect d = t.dialect;
  const TableSchema &existing = *t.existing;
  const std::string table = qualified_name(d, t.target);
  for (size_t i = 0; i < s.columns.size(); ++i) {
    const ColumnSchema &c = s.columns[i];
    const ColumnSchema *e = find_existing(existing, c.name);
    if (!e) {
      plan.differences.push_back("column " + c.name + " is missing in the target (source " + model::to_string(c.type) +
                                 ", added as " + chosen[i].type + ")");
      std::string add = "ALTER TABLE " + table + " ADD COLUMN " + quote_identifier(d, c.name) + " " + chosen[i].type;
      if (!chosen[i].check.empty()) add += " CHECK (" + chosen[i].check + ")";
      plan.statements.push_back(add);
      if (!c.nullable) plan.notes.push_back("column " + c.name + " added as nullable (existing rows have no value)");
      continue;
    }
    const std::string have = e->type.source_name.empty() ? model::to_string(e->type) : e->type.source_name;
    if (normalise_spelling(have) != normalise_spelling(chosen[i].type) && !type_holds(e->type, c.type)) {
      if (d == Dialect::sqlite) {
        plan.differences.push_back("column " + c.name + ": target type " + have + " cannot hold source " +
                                   model::to_string(c.type) +
                                   " (SQLite cannot change a column's type: recreate the table)");
      } else if (type_holds(c.type, e->type)) {
        plan.differences.push_back("column " + c.name + ": target type " + have + " is narrower than the source's " +
                                   model::to_string(c.type) + " (widened to " + chosen[i].type + ")");
        plan.statements.push_back(alter_type_sql(d, table, e->name, chosen[i].type, !e->nullable));
      } else {
        plan.differences.push_back("column " + c.name + ": target type " + have + " cannot hold the source's " +
                                   model::to_string(c.type) + " (changing it to " + chosen[i].type +
                                   " is destructive)");
        plan.destructive.push_back(alter_type_sql(d, table, e->name, chosen[i].type, !e->nullable));
      }
    }
    if (c.nullable && !e->nullable) {
      plan.differences.push_back("column " + c.name + " is NOT NULL in the target but nullable in the source");
      if (d == Dialect::postgres)
        plan.statements.push_back("ALTER TABLE " + table + " ALTER COLUMN " + quote_identifier(d, e->name) +
                                  " DROP NOT NULL");
      else if (is_mysql_family(d))
        plan.statements.push_back("ALTER TABLE " + table + " MODIFY COLUMN " + quote_identifier(d, e->name) + " " +
                                  have + " NULL");
    }
  }
  for (const auto &e : existing.columns) {
    if (find_existing(s, e.name)) continue;
    plan.differences.push_back("column " + e.name + " exists only in the target");
    plan.destructive.push_back("ALTER TABLE " + table + " DROP COLUMN " + quote_identifier(d, e.name));
  }
  auto key_names = [](const TableSchema &x) {
    std::vector<std::string> names;
    for (int k : x.primary_key) names.push_back(lower(x.columns[static_cast<size_t>(k)].name));
    return names;
  };
  if (key_names(s) != key_names(existing))
    plan.differences.push_back("primary key differs: source (" + column_list(d, s, s.primary_key) + "), target (" +
                               column_list(d, existing, existing.primary_key) + ")");
}

}  // namespace

std::string quote_identifier(Dialect d, const std::string &name) {
  const char q = is_mysql_family(d) ? '`' : '"';
  std::string out(1, q);
  for (char c : name) {
    if (c == q) out += q;
    out += c;
  }
  return out + q;
}

std::string qualified_name(Dialect d, const model::TableId &t) {
  if (t.schema_name.empty()) return quote_identifier(d, t.table_name);
  return quote_identifier(d, t.schema_name) + "." + quote_identifier(d, t.table_name);
}

std::string quote_literal(Dialect d, const std::string &text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "''";
    else if (c == '\\' && is_mysql_family(d))
      out += "\\\\";  // backslash escapes are on by default there
    else
      out += c;
  }
  return out + "'";
}

size_t identifier_limit(Dialect d) {
  switch (d) {
    case Dialect::postgres: return 63;
    case Dialect::mariadb:
    case Dialect::mysql: return 64;
    case Dialect::sqlite: return 0;
  }
  return 0;
}

bool is_reserved_word(Dialect d, const std::string &name) {
  static const char *const common[] = {
      "all",   "and",   "as",     "by",     "case", "check", "column",  "create",     "default", "desc",  "distinct",
      "else",  "from",  "group",  "having", "in",   "index", "insert",  "into",       "is",      "join",  "key",
      "limit", "not",   "null",   "on",     "or",   "order", "primary", "references", "select",  "table", "then",
      "to",    "union", "unique", "update", "user", "using", "values",  "when",       "where"};
  static const char *const mysql_only[] = {"range", "read", "interval", "rank", "row", "rows", "status"};
  static const char *const postgres_only[] = {"analyse", "analyze", "offset", "window", "current_user", "session_user"};
  const std::string n = lower(name);
  for (const char *w : common)
    if (n == w) return true;
  if (is_mysql_family(d))
    for (const char *w : mysql_only)
      if (n == w) return true;
  if (d == Dialect::postgres)
    for (const char *w : postgres_only)
      if (n == w) return true;
  return false;
}

std::string portable_default(const std::string &expression, const std::string &source_dialect, Dialect target,
                             const std::string &target_type) {
  std::string e = trim(expression);
  if (e.empty()) return "";
  // PostgreSQL casts ('x'::character varying, 0::numeric) and wrapping parentheses.
  static const std::regex cast("^(.*)::[A-Za-z_ ]+(\\([0-9, ]+\\))?(\\[\\])?$");
  for (std::smatch m; std::regex_match(e, m, cast);) e = trim(m[1].str());
  while (e.size() >= 2 && e.front() == '(' && e.back() == ')') e = trim(e.substr(1, e.size() - 2));
  const std::string l = lower(e);
  const std::string tl = lower(target_type);
  const bool boolean_target = tl == "boolean" || tl == "bool";
  if (l == "null") return "NULL";
  if (l == "true" || l == "false") return target == Dialect::postgres ? l : (l == "true" ? "1" : "0");
  static const std::regex number("^[-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$");
  if (std::regex_match(e, number)) {
    if (boolean_target && target == Dialect::postgres) {
      if (e == "0") return "false";
      if (e == "1") return "true";
      return "";
    }
    return e;
  }
  if (e.size() >= 2 && e.front() == '\'' && e.back() == '\'') {
    std::string text;
    for (size_t i = 1; i + 1 < e.size(); ++i) {
      if ((e[i] == '\'' || e[i] == '\\') && i + 2 < e.size()) {
        // '' (standard) and \' or \\ (MariaDB's COLUMN_DEFAULT) stand for one character.
        if (e[i] == '\'' && e[i + 1] == '\'') {
          text += '\'';
          ++i;
          continue;
        }
        if (e[i] == '\\' && source_dialect != "postgres") {
          text += e[i + 1];
          ++i;
          continue;
        }
      }
      text += e[i];
    }
    return quote_literal(target, text);
  }
  static const std::regex now(
      "^(current_timestamp|now|localtimestamp|transaction_timestamp|statement_timestamp)"
      "(\\( *[0-9]* *\\))?$");
  const bool temporal = tl.find("time") != std::string::npos || tl.find("date") != std::string::npos;
  if (std::regex_match(l, now) && temporal) {
    if (is_mysql_family(target)) {
      size_t open = tl.find('(');
      int precision = open == std::string::npos ? 0 : std::atoi(tl.c_str() + open + 1);
      return precision > 0 ? "CURRENT_TIMESTAMP(" + std::to_string(precision) + ")" : "CURRENT_TIMESTAMP";
    }
    return "CURRENT_TIMESTAMP";
  }
  static const std::regex today("^(current_date|curdate)(\\( *\\))?$");
  if (std::regex_match(l, today) && tl.find("date") != std::string::npos)
    return is_mysql_family(target) ? "(CURRENT_DATE)" : "CURRENT_DATE";
  return "";
}

model::TableDdlPlan plan_table(const model::TableSchema &source, const TargetInfo &target) {
  model::TableDdlPlan plan;
  plan.source = source.id;
  plan.target = target.target;
  plan.exists = target.existing != nullptr;
  const Dialect d = target.dialect;
  const std::string hint = "rename it with schema.table_names or schema.column_names (rename: \"pattern => name\")";
  check_identifier(d, target.target.table_name, "table", hint);
  std::vector<Chosen> chosen;
  for (size_t i = 0; i < source.columns.size(); ++i) {
    const ColumnSchema &c = source.columns[i];
    check_identifier(d, c.name, "column " + source.id.to_string() + "." + c.name + " (the name", hint + ")");
    if (is_reserved_word(d, c.name))
      plan.notes.push_back("column " + c.name + " is a reserved word in " + dialect_title(d) + ": it is always quoted");
    if (c.generated) plan.notes.push_back("column " + c.name + " is generated in the source: a plain column here");
    chosen.push_back(choose_type(source, static_cast<int>(i), target));
    model::ColumnTypeChoice choice;
    choice.column = c.name;
    choice.source_type = c.type.source_name.empty() ? model::to_string(c.type) : c.type.source_name;
    choice.engine_type = model::to_string(c.type);
    choice.target_type = chosen.back().type;
    choice.fidelity = chosen.back().fidelity;
    choice.note = chosen.back().note;
    plan.columns.push_back(std::move(choice));
  }
  if (is_reserved_word(d, target.target.table_name))
    plan.notes.push_back("table " + target.target.table_name + " is a reserved word in " + dialect_title(d) +
                         ": it is always quoted");
  if (plan.exists)
    plan_diff(source, target, chosen, plan);
  else
    plan_create(source, target, chosen, plan);
  return plan;
}

}  // namespace ds::schema
