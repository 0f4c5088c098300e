// Source type "postgres": its configuration keys and factory.
#include "connectors/postgres/register.hpp"
#include "connectors/postgres/source.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::postgres {
namespace {

config::KeySpec key(std::string name, config::KeyType type, std::string doc, std::string default_value = "",
                    bool required = false, bool secret = false) {
  config::KeySpec k = config::key_spec(std::move(name), type, std::move(doc), std::move(default_value), required);
  k.secret = secret;
  return k;
}

}  // namespace

void register_source_type() {
  using config::KeyType;
  std::vector<config::KeySpec> keys = connection_keys("Database to read.");
  keys.push_back(key("tables", KeyType::list,
                     "Regular expressions selecting tables; each must match the whole 'schema.table' or 'table' name. "
                     "Default: every table of the non-system schemas."));
  keys.push_back(
      key("exclude_tables", KeyType::list, "Regular expressions of tables to leave out; they win over `tables`."));
  keys.push_back(key("slot_name", KeyType::string,
                     "Logical replication slot for pipeline.mode cdc and snapshot+cdc (created when missing). "
                     "Default: datasync_<pipeline name>."));
  keys.push_back(key("publication_name", KeyType::string,
                     "Publication streamed by the slot (created for the selected tables when missing; an existing "
                     "one is used as it is). Default: the slot's name."));
  keys.push_back(key("streaming", KeyType::boolean,
                     "Change capture: let the server stream large transactions while they run (pgoutput protocol "
                     "2, PostgreSQL 14+); they are spooled to a temporary file and applied whole at their commit. "
                     "Off: the server sends each transaction at its commit (spilling big ones to its own disk).",
                     "true"));
  {
    config::KeySpec k = key("decoding_work_mem_kb", KeyType::integer,
                            "Change capture: the walsender's logical_decoding_work_mem for this stream (kB): how much "
                            "of a transaction the server decodes in memory before streaming or spilling it. Default: "
                            "the server's setting.");
    k.min = 64;
    keys.push_back(std::move(k));
  }
  {
    config::KeySpec k = key("retained_wal_warning_mb", KeyType::integer,
                            "Change capture: warn (an event, once per excursion) when the replication slot holds more "
                            "WAL than this many MiB; the metric source_retained_bytes shows it always. 0 = never warn.",
                            "1024");
    k.min = 0;
    keys.push_back(std::move(k));
  }
  register_source(
      "postgres",
      "Reads the tables of a PostgreSQL database (one consistent snapshot shared by parallel readers), split into "
      "primary-key or ctid ranges and read with binary COPY.",
      std::move(keys), [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Source> {
        SourceConfig c;
        c.conn = connection_params(o, ctx, "source");
        c.tables = o.get_list("tables");
        c.exclude_tables = o.get_list("exclude_tables");
        c.pipeline_name = ctx.pipeline_name.empty() ? "pipeline" : ctx.pipeline_name;
        c.slot_name = o.get_string("slot_name");
        c.publication_name = o.get_string("publication_name");
        c.stream.streaming = o.get_bool("streaming", true);
        if (o.has("decoding_work_mem_kb"))
          c.stream.decoding_work_mem = std::to_string(o.get_int("decoding_work_mem_kb")) + "kB";
        c.stream.retained_wal_warning = o.get_int("retained_wal_warning_mb", 1024) << 20;
        c.stream.status = ctx.stream_status;
        c.stream.warn = ctx.warn;
        return std::make_unique<PostgresSource>(std::move(c));
      });
}

}  // namespace ds::connectors::postgres
