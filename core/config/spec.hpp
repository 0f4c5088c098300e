// A parsed, validated pipeline definition. core/config is the only place that
// reads YAML/JSON; everything after it sees these typed specs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/options.hpp"

namespace ds::config {

// Where a value came from, for error messages: "pipeline.yaml:12:5".
struct Mark {
  std::string file;  // "<string>" for YAML text without a file
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based
  std::string to_string() const;
};

struct ConnectorSpec {
  std::string type;        // registry key: "sqlite", "generator", "discard", ...
  std::string name;        // optional display name
  model::Options options;  // validated against the keys the connector type registered
  Mark mark;
};

struct RouteSpec {
  std::string source_table;  // regex matched against the whole "schema.table" (or "table")
  std::string sink_table;  // target "schema.table" or "table"; "<>" in it is replaced by the matched source table name
  std::string description;
  Mark mark;
};

// Built-in per-table projection: keep, drop and rename columns.
struct TransformSpec {
  std::string source_table;               // regex, as in RouteSpec
  std::vector<std::string> projection;    // "col", "col AS alias", or "*"; empty keeps every column
  std::vector<std::string> drop_columns;  // removed after projection
  std::string filter;                     // row predicate in the source's SQL dialect, pushed down to the source
  std::string description;
  Mark mark;
};

enum class Mode { snapshot, cdc, snapshot_and_cdc };

struct PipelineSpec {
  std::string name = "pipeline";
  Mode mode = Mode::snapshot;
  int parallelism = 1;                    // reader threads and writer lanes (capped by the sink)
  int64_t batch_rows = 4096;              // rows per batch
  int queue_batches = 8;                  // capacity of each bounded queue, in batches
  std::string checkpoint_store = "sink";  // "sink", "file", "none"
  std::string checkpoint_path;            // for "file"
  int64_t split_rows = 1000000;           // rows per snapshot split (source hint)
  int max_retries = 3;                    // retriable errors per split before the pipeline fails
  std::string invalid_values = "error";   // "error", "null", "clamp" (model/value_policy.hpp)

  ConnectorSpec source;
  ConnectorSpec sink;
  model::Options schema;  // the `schema` section's keys (config::detail::schema_keys), defaults applied
  std::vector<RouteSpec> routes;
  std::vector<TransformSpec> transforms;
};

}  // namespace ds::config
