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
  config::KeySpec port = key("port", KeyType::integer, "Server port.", "5432");
  port.min = 1;
  port.max = 65535;
  config::KeySpec timeout = key("connect_timeout", KeyType::integer, "Seconds to wait for a connection.", "10");
  timeout.min = 1;
  timeout.max = 3600;
  register_source(
      "postgres",
      "Reads the tables of a PostgreSQL database (one consistent snapshot shared by parallel readers), split into "
      "primary-key or ctid ranges and read with binary COPY.",
      {key("host", KeyType::string, "Server host name or address.", "127.0.0.1"), port,
       key("user", KeyType::string, "User name.", "", true),
       key("password", KeyType::string, "Password (never printed).", "", false, true),
       key("database", KeyType::string, "Database to read.", "", true),
       key("tables", KeyType::list,
           "Regular expressions selecting tables; each must match the whole 'schema.table' or 'table' name. "
           "Default: every table of the non-system schemas."),
       key("exclude_tables", KeyType::list, "Regular expressions of tables to leave out; they win over `tables`."),
       timeout},
      [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Source> {
        SourceConfig c;
        c.conn.host = o.get_string("host", "127.0.0.1");
        c.conn.port = static_cast<int>(o.get_int("port", 5432));
        c.conn.user = o.get_string("user");
        c.conn.password = o.get_string("password");
        c.conn.database = o.get_string("database");
        c.conn.connect_timeout = static_cast<int>(o.get_int("connect_timeout", 10));
        c.conn.application_name = ctx.pipeline_name.empty() ? "datasync" : "datasync " + ctx.pipeline_name;
        c.conn.role = "source";
        c.tables = o.get_list("tables");
        c.exclude_tables = o.get_list("exclude_tables");
        return std::make_unique<PostgresSource>(std::move(c));
      });
}

}  // namespace ds::connectors::postgres
