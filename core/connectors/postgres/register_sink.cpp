// The postgres sink's entry in the connector registry: its configuration keys
// and factory. (The source side registers itself in register.cpp.)
#include "connectors/postgres/register.hpp"
#include "connectors/postgres/sink.hpp"
#include "connectors/registry.hpp"
#include "schema/changelog.hpp"

namespace ds::connectors::postgres {
namespace {

config::KeySpec sink_key(std::string name, config::KeyType type, std::string doc, std::string default_value = "",
                         bool required = false, std::vector<std::string> choices = {}) {
  return config::key_spec(std::move(name), type, std::move(doc), std::move(default_value), required,
                          std::move(choices));
}

}  // namespace

void register_sink_type() {
  using config::KeyType;
  std::vector<config::KeySpec> keys = connection_keys("Database to write into.");
  keys.push_back(sink_key("schema", KeyType::string,
                          "Schema to write every table into. Default: the source table's schema (created when "
                          "missing; public when the source has none)."));
  keys.push_back(
      sink_key("create_tables", KeyType::boolean, "Create missing target tables from the source schema.", "true"));
  keys.push_back(sink_key("write_mode", KeyType::choice,
                          "insert: binary COPY (a duplicate key fails); upsert: INSERT ... ON CONFLICT (primary key) "
                          "DO UPDATE through a staging table; " +
                              std::string(schema::kChangelogWriteModeDoc),
                          "insert", false, {"insert", "upsert", "changelog"}));
  keys.push_back(sink_key("checkpoint_schema", KeyType::string,
                          "Schema of the _datasync_checkpoint table in the target database.", "public"));
  register_sink(
      "postgres",
      "Writes into a PostgreSQL database: binary COPY for inserts, a staging table for upserts and deletes, the "
      "checkpoint in the data's transaction.",
      std::move(keys), [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Sink> {
        SinkConfig c;
        c.params = connection_params(o, ctx, "sink");
        c.schema = o.get_string("schema");
        c.pipeline_name = ctx.pipeline_name;
        c.create_tables = o.get_bool("create_tables", true);
        c.write_mode = o.get_string("write_mode", "insert");
        c.checkpoint_schema = o.get_string("checkpoint_schema", "public");
        c.evolution = ctx.evolution;
        c.invalid_values = ctx.invalid_values;
        c.value_report = ctx.value_report;
        return std::make_unique<PostgresSink>(std::move(c));
      });
}

}  // namespace ds::connectors::postgres
