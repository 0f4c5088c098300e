// The mariadb connector (MariaDB and MySQL): source and sink.
#pragma once

namespace ds::connectors::mariadb {
void register_connector();
}
