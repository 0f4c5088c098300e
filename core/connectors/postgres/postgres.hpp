#pragma once

namespace ds::connectors::postgres {
// Registers the postgres connector's factories and configuration keys.
void register_connector();
}  // namespace ds::connectors::postgres
