// The mariadb connector's entry point in the connector registry.
#include "connectors/mariadb/register.hpp"

#include "connectors/mariadb/mariadb.hpp"

namespace ds::connectors::mariadb {

std::vector<config::KeySpec> connection_keys(const std::string &database_doc) {
  return config::server_connection_keys("3306", database_doc);
}

ConnParams connection_params(const model::Options &o, const std::string &role) {
  ConnParams p;
  p.host = o.get_string("host", "127.0.0.1");
  p.port = static_cast<int>(o.get_int("port", 3306));
  p.user = o.get_string("user");
  p.password = o.get_string("password");
  p.database = o.get_string("database");
  p.connect_timeout = static_cast<int>(o.get_int("connect_timeout", 10));
  p.role = role;
  return p;
}

void register_connector() {
  register_source_type();
  register_sink_type();
}

}  // namespace ds::connectors::mariadb
