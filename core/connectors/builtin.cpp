// The connectors compiled into the library. One line per connector folder.
#include <mutex>

#include "connectors/discard/discard.hpp"
#include "connectors/generator/generator.hpp"
#include "connectors/host/host.hpp"
#include "connectors/mariadb/mariadb.hpp"
#include "connectors/postgres/postgres.hpp"
#include "connectors/registry.hpp"
#include "connectors/sqlite/sqlite.hpp"

namespace ds::connectors {

void register_builtin_connectors() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite::register_connector();
    generator::register_connector();
    discard::register_connector();
    postgres::register_connector();
    mariadb::register_connector();
    host::register_connector();
  });
}

}  // namespace ds::connectors
