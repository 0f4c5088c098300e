// DDL and catalog helpers of the postgres sink: the PostgreSQL type a new
// column gets, whether an existing column can take an engine type, the target
// table's columns, and CREATE TABLE text.
#pragma once
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"
#include "model/table.hpp"

namespace ds::connectors::postgres {

// One column of an existing target table.
struct TargetColumn {
  std::string name;
  std::string type;      // format_type(atttypid, atttypmod): "character varying(20)", "mood"
  std::string typname;   // pg_type.typname of the base type (domains resolved): "varchar", "int4"
  char category = 'X';   // pg_type.typcategory of the base type
  bool is_enum = false;  // the base type is an enum
  bool not_null = false;
  bool has_default = false;  // a default, an identity or a generated column
  bool generated = false;
  int pk_position = 0;  // 1-based position in the primary key, 0 when not part of it
};

// The PostgreSQL spelling of an engine type when the source's own spelling is
// not kept: int64 → "bigint", decimal(12,2) → "numeric(12,2)", json → "jsonb" ...
std::string mapped_type(const model::DataType &type);

// Whether a PostgreSQL type (base typname and typcategory) holds values of the
// engine type exactly, so a same-engine source spelling can be kept as is.
bool same_engine_type(const model::DataType &type, const std::string &typname, char category, bool is_enum);

// Whether an existing column of type (typname, category) can take values of the
// engine type (directly or through an explicit cast of the natural type).
bool target_accepts(const model::DataType &type, const TargetColumn &target);

// The type a new column gets: the source spelling when PostgreSQL knows it as a
// type that holds the engine type (to_regtype), else mapped_type().
std::string column_type_for_create(Connection &conn, const model::DataType &type);

// "schema"."table", quoted.
std::string qualified_name(const std::string &schema, const std::string &table);

// The target table's kind ('r' table, 'p' partitioned, 'v' view, ... ; '\0' when missing).
char relation_kind(Connection &conn, const std::string &schema, const std::string &table);

// Columns of an existing table in attnum order (empty when it does not exist).
std::vector<TargetColumn> target_columns(Connection &conn, const std::string &schema, const std::string &table);

// The column of `target` named `name`: exact match first, else the only one
// matching case-insensitively; null when none.
const TargetColumn *find_target_column(const std::vector<TargetColumn> &target, const std::string &name);

}  // namespace ds::connectors::postgres
