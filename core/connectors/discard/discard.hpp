#pragma once

namespace ds::connectors::discard {
// Registers the discard connector's factories and configuration keys.
void register_connector();
}  // namespace ds::connectors::discard
