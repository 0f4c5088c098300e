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
        return std::make_unique<PostgresSource>(std::move(c));
      });
}

}  // namespace ds::connectors::postgres
