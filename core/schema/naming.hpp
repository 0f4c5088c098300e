// The `schema` section of a pipeline, compiled: target table and column
// names (case, prefix/suffix, regex renames), pruned columns, forced column
// types, and the policy for source schema changes. The pipeline applies the
// names and pruning when it routes a table, so writers and sinks only ever
// see target names.
#pragma once
#include <regex>
#include <string>
#include <vector>

#include "model/options.hpp"
#include "model/table.hpp"

namespace ds::schema {

// What a source schema change does to the target, as Flink CDC 3 defines it.
enum class EvolutionPolicy : uint8_t {
  evolve,      // apply every change; a failure fails the pipeline
  try_evolve,  // apply every change; a failure is reported and the pipeline goes on
  lenient,     // never lose data: add columns, widen types, never drop; a rename becomes an add
  ignore,      // change nothing in the target
  exception,   // fail at the first change
};
EvolutionPolicy parse_evolution_policy(const std::string &name);  // throws Code::config
const char *evolution_policy_name(EvolutionPolicy policy);

struct NameRule {
  std::string text;  // as written: "pattern => replacement"
  std::regex pattern;
  std::string replacement;
  bool matches_type = false;  // type_overrides written "type:pattern"
};

struct SchemaOptions {
  std::string table_case = "keep";  // keep, lower, upper
  std::string table_prefix, table_suffix;
  std::vector<NameRule> rename_tables;
  std::string column_case = "keep";
  std::vector<NameRule> rename_columns;
  std::vector<NameRule> prune_columns;  // pattern only
  std::vector<NameRule> type_overrides;
  EvolutionPolicy evolution = EvolutionPolicy::lenient;

  // From the `schema` section's options (config::detail::schema_keys); throws Code::config.
  static SchemaOptions from(const model::Options &options);

  std::string table_name(const std::string &routed_name) const;
  // `table` is the target table name (for "table.column" rename patterns).
  std::string column_name(const std::string &table, const std::string &column) const;
  bool pruned(const model::TableId &source, const std::string &column) const;
  // The forced target type of a column, "" when no override matches.
  std::string type_override(const model::TableId &source, const model::ColumnSchema &column) const;
};

}  // namespace ds::schema
