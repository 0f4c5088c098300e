// Source schema changes (from a change stream, or a create before a copy)
// translated into the target dialect's DDL under the pipeline's evolution
// policy (schema.evolution, Flink CDC 3's five):
//   evolve      every change as DDL; a statement that fails fails the pipeline
//   try_evolve  every change as DDL; a failure is reported and the stream goes on
//   lenient     no data lost: add columns (nullable), widen types, a rename
//               becomes an added column, a dropped column stays (made
//               nullable); truncates and drops are not applied
//   ignore      nothing changes in the target
//   exception   the first change fails the pipeline
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/table.hpp"
#include "schema/ddl.hpp"
#include "schema/naming.hpp"

namespace ds::schema {

struct ChangePlan {
  std::vector<std::string> statements;  // to run in order; empty when nothing is applied
  std::string skipped;                  // why (part of) the change is not applied, "" when applied whole
  bool tolerate_failure = false;        // try_evolve: a failing statement is reported, not fatal
};

// `target` describes the target table as it is now (existing: null when it
// does not exist). Throws Code::schema under `exception`, and
// Code::unsupported when the dialect cannot express the change (SQLite
// cannot change a column's type) under `evolve`.
ChangePlan plan_change(const model::SchemaChange &change, EvolutionPolicy policy, const TargetInfo &target);

// What sinks do in apply_schema_change: plans the change and hands the
// statements to `run`. Returns "" when applied whole, else what was left out,
// or — under try_evolve — the failure that was tolerated.
std::string apply_change(const model::SchemaChange &change, EvolutionPolicy policy, const TargetInfo &target,
                         const std::function<void(const std::vector<std::string> &)> &run);

}  // namespace ds::schema
