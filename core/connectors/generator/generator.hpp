#pragma once

namespace ds::connectors::generator {
// Registers the generator connector's factories and configuration keys.
void register_connector();
}  // namespace ds::connectors::generator
