// Factories of connectors keyed by their `type:`. Adding a system means adding
// a folder under core/connectors/ and one line in builtin.cpp, not editing the engine.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/registry.hpp"
#include "config/spec.hpp"
#include "model/connector.hpp"
#include "model/value_policy.hpp"

namespace ds::connectors {

namespace host {
class Feed;
}

struct ConnectorContext {
  std::string pipeline_name;
  std::string base_dir;  // directory of the pipeline file, for relative paths ("" = current directory)
  int parallelism = 1;   // the pipeline's reader threads (a source may prepare that many connections)
  // What to do with values the other side cannot hold, and where to tally them.
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report = std::make_shared<model::ValueReport>();
  // schema.evolution: what sinks do with source schema changes (core/schema/naming.hpp).
  std::string evolution = "lenient";
  // Change streams report lag and retained source log here (the pipeline's metrics).
  std::shared_ptr<model::ChangeStreamStatus> stream_status = std::make_shared<model::ChangeStreamStatus>();
  // A warning event for the pipeline's listeners (table may be ""); thread-safe.
  std::function<void(const std::string &table, const std::string &message)> warn;
  // Where the "host" sink hands batches to a change stream; null when the
  // pipeline is not read through one.
  std::shared_ptr<host::Feed> host_feed;
};

using SourceFactory = std::function<std::unique_ptr<model::Source>(const model::Options &, const ConnectorContext &)>;
using SinkFactory = std::function<std::unique_ptr<model::Sink>(const model::Options &, const ConnectorContext &)>;

// Also registers `keys` with config::Registry for the role.
void register_source(const std::string &type, std::string doc, std::vector<config::KeySpec> keys,
                     SourceFactory factory);
void register_sink(const std::string &type, std::string doc, std::vector<config::KeySpec> keys, SinkFactory factory);

// Throws ds::Error(config) naming the type and the nearest registered one.
std::unique_ptr<model::Source> create_source(const config::ConnectorSpec &spec, const ConnectorContext &ctx);
std::unique_ptr<model::Sink> create_sink(const config::ConnectorSpec &spec, const ConnectorContext &ctx);

// Registers every connector compiled into the library; idempotent, thread-safe.
void register_builtin_connectors();

}  // namespace ds::connectors
