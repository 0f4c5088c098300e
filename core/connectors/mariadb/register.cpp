// The mariadb connector's entry point in the connector registry.
#include "connectors/mariadb/register.hpp"

#include "connectors/mariadb/mariadb.hpp"

namespace ds::connectors::mariadb {

std::vector<config::KeySpec> connection_keys(const std::string &database_doc) {
  using config::key_spec;
  using config::KeyType;
  config::KeySpec port = key_spec("port", KeyType::integer, "TCP port of the server.", "3306");
  port.min = 1;
  port.max = 65535;
  config::KeySpec password = key_spec("password", KeyType::string, "Password of the user (never printed).");
  password.secret = true;
  config::KeySpec timeout = key_spec("connect_timeout", KeyType::integer, "Seconds to wait for a connection.", "10");
  timeout.min = 1;
  timeout.max = 3600;
  return {key_spec("host", KeyType::string, "Host name or address of the server.", "127.0.0.1"),
          port,
          key_spec("user", KeyType::string, "User to connect as.", "", true),
          password,
          key_spec("database", KeyType::string, database_doc, "", true),
          timeout};
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
