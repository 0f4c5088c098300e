#pragma once

namespace ds::connectors::sqlite {
// Registers the sqlite connector's factories and configuration keys.
void register_connector();
}  // namespace ds::connectors::sqlite
