// DDL for a target dialect from a routed source schema: the plan that creates
// a missing table (columns with mapped types, NOT NULL, portable defaults,
// auto-increment ↔ identity, primary and unique keys, secondary indexes,
// comments, enums), or the differences of an existing one and the statements
// that bring it closer (add columns and widen types freely; drops and
// narrowings only as "destructive" statements the caller must allow).
//
// Every identifier is quoted, so reserved words need no rewrite (they are
// noted); an identifier longer than the target allows is a Code::schema
// error naming it (rename it with schema.column_names / schema.table_names).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/connector.hpp"
#include "schema/type_mapping.hpp"

namespace ds::schema {

struct TargetInfo {
  Dialect dialect = Dialect::postgres;
  int server_version = 0;  // MMmmpp, 0 = newest
  model::TableId target;   // schema_name: PostgreSQL schema, MariaDB database ("" = the connection's), SQLite "main"
  // The existing target table as its catalog reads it (column types'
  // source_name = the target's spelling); null when it does not exist.
  model::TableSchemaPtr existing;
  // The sink's own choice for column `column` of the source schema, "" to
  // use the mapping table: typically the source spelling when the target
  // knows it as a type holding the engine type exactly. May be empty.
  std::function<std::string(const model::TableSchema &, int column)> keep_spelling;
};

// The plan for `source` (routed: final table and column names) on `target`.
model::TableDdlPlan plan_table(const model::TableSchema &source, const TargetInfo &target);

// Identifier quoting of a dialect: "a""b" (postgres, sqlite), `a``b` (mariadb, mysql).
std::string quote_identifier(Dialect dialect, const std::string &name);
// The quoted, qualified table name ("s"."t", `db`.`t`, "main"."t"; unqualified when schema_name is "").
std::string qualified_name(Dialect dialect, const model::TableId &table);
// A SQL string literal valid in the dialect's default modes.
std::string quote_literal(Dialect dialect, const std::string &text);

// The longest identifier the dialect allows, in bytes (0 = no limit).
size_t identifier_limit(Dialect dialect);
bool is_reserved_word(Dialect dialect, const std::string &name);

// A source default expression in the target dialect: literals, booleans and
// the current timestamp or date translate; "" when it has no portable form
// (the caller notes that it was left out) — also between two databases of the
// same kind, where a function the default calls may not exist on the target.
// "NULL" for a NULL default. `target_type` is the column's target spelling.
std::string portable_default(const std::string &expression, const std::string &source_dialect, Dialect target,
                             const std::string &target_type);

}  // namespace ds::schema
