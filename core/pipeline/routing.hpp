// Routing (source table → sink table, regex many-to-one) and the built-in
// projection transform. Both are resolved once per table, then applied to
// each batch without copying column data.
#pragma once
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "config/spec.hpp"
#include "model/batch.hpp"

namespace ds::pipeline {

struct RoutedTable {
  model::TableSchemaPtr source_schema;
  model::TableSchemaPtr routed_schema;  // target id, projected columns
  std::vector<int> projection;          // source column per routed column; empty = all, in order
  std::string filter;                   // conjunction of the matching transforms' filters, "" = none
};

// True when the regex matches the whole "schema.table" or the bare table name.
bool table_matches(const std::regex &pattern, const model::TableId &id);

// Applies the first matching route and every matching projection transform.
// Throws ds::Error(config) naming the spec's file:line:col for a projection
// that names a missing column or leaves no column.
// `left_out`: more source columns the target does not get (added at the
// source while schema.evolution is ignore).
RoutedTable route_table(const model::TableSchemaPtr &source, const config::PipelineSpec &spec,
                        const std::set<std::string> *left_out = nullptr);

// The batch under the routed schema, sharing the source batch's buffers.
model::BatchPtr apply_route(const std::shared_ptr<model::Batch> &batch, const RoutedTable &table);

// Same names, types and nullability, in the same order.
bool same_columns(const model::TableSchema &a, const model::TableSchema &b);
// Every column of `part` is in `whole` under the same name, type and
// nullability (a change batch without its unchanged TOAST values).
bool covers_columns(const model::TableSchema &whole, const model::TableSchema &part);

}  // namespace ds::pipeline
