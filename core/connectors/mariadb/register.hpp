// The two halves of the mariadb connector's registration, and what they share.
#pragma once
#include <string>
#include <vector>

#include "config/registry.hpp"
#include "connectors/mariadb/connection.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::mariadb {
// Registers source type "mariadb" (register_source.cpp).
void register_source_type();
// Registers sink type "mariadb" (register_sink.cpp).
void register_sink_type();

// host, port, user, password, database, connect_timeout: the keys both roles
// take; `database_doc` says what the database is for in that role.
std::vector<config::KeySpec> connection_keys(const std::string &database_doc);
// The connection parameters those keys describe, for role "source" or "sink".
ConnParams connection_params(const model::Options &options, const std::string &role);
}  // namespace ds::connectors::mariadb
