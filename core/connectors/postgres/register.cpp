// The postgres connector's entry point in the connector registry.
#include "connectors/postgres/postgres.hpp"
#include "connectors/postgres/register.hpp"

namespace ds::connectors::postgres {

void register_connector() {
  register_source_type();
  register_sink_type();
}

}  // namespace ds::connectors::postgres
