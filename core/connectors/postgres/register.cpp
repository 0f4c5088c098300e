// The postgres connector's entry point in the connector registry.
#include "connectors/postgres/register.hpp"

#include "connectors/postgres/postgres.hpp"

namespace ds::connectors::postgres {

std::vector<config::KeySpec> connection_keys(const std::string &database_doc) {
  return config::server_connection_keys("5432", database_doc);
}

ConnParams connection_params(const model::Options &o, const ConnectorContext &ctx, const std::string &role) {
  ConnParams p;
  p.host = o.get_string("host", "127.0.0.1");
  p.port = static_cast<int>(o.get_int("port", 5432));
  p.user = o.get_string("user");
  p.password = o.get_string("password");
  p.database = o.get_string("database");
  p.connect_timeout = static_cast<int>(o.get_int("connect_timeout", 10));
  p.application_name = ctx.pipeline_name.empty() ? "datasync" : "datasync " + ctx.pipeline_name;
  p.role = role;
  return p;
}

void register_connector() {
  register_source_type();
  register_sink_type();
}

}  // namespace ds::connectors::postgres
