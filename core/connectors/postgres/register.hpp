// The two halves of the postgres connector's registration.
#pragma once

namespace ds::connectors::postgres {
// Registers source type "postgres" (register_source.cpp).
void register_source_type();
// Registers sink type "postgres" (register_sink.cpp).
void register_sink_type();
}  // namespace ds::connectors::postgres
