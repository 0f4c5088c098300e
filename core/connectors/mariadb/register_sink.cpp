// The mariadb sink's entry in the connector registry: its configuration keys
// and factory.
#include "connectors/mariadb/register.hpp"
#include "connectors/mariadb/sink.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::mariadb {

void register_sink_type() {
  using config::key_spec;
  using config::KeyType;
  std::vector<config::KeySpec> keys = connection_keys("Database to write into.");
  keys.push_back(
      key_spec("create_tables", KeyType::boolean, "Create missing target tables from the source schema.", "true"));
  keys.push_back(key_spec("write_mode", KeyType::choice,
                          "insert: LOAD DATA LOCAL INFILE (a duplicate key fails); upsert: INSERT ... ON DUPLICATE "
                          "KEY UPDATE (primary key) through a staging table.",
                          "insert", false, {"insert", "upsert"}));
  keys.push_back(key_spec("checkpoint_database", KeyType::string,
                          "Database of the _datasync_checkpoint table (created when missing). Default: the sink's "
                          "database."));
  register_sink("mariadb",
                "Writes into a MariaDB or MySQL database: LOAD DATA LOCAL INFILE for inserts (the server needs "
                "local_infile=ON), a staging table for upserts and deletes, the checkpoint in the data's transaction.",
                std::move(keys),
                [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Sink> {
                  SinkConfig c;
                  c.params = connection_params(o, "sink");
                  c.pipeline_name = ctx.pipeline_name;
                  c.create_tables = o.get_bool("create_tables", true);
                  c.write_mode = o.get_string("write_mode", "insert");
                  c.checkpoint_database = o.get_string("checkpoint_database");
                  c.invalid_values = ctx.invalid_values;
                  c.value_report = ctx.value_report;
                  c.evolution = ctx.evolution;
                  return std::make_unique<MariadbSink>(std::move(c));
                });
}

}  // namespace ds::connectors::mariadb
