// Source type "mariadb": its configuration keys and factory.
#include "connectors/mariadb/register.hpp"
#include "connectors/mariadb/source.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::mariadb {

void register_source_type() {
  using config::key_spec;
  using config::KeyType;
  std::vector<config::KeySpec> keys = connection_keys("Database to read.");
  keys.push_back(key_spec("tables", KeyType::list,
                          "Regular expressions selecting tables; each must match the whole 'database.table' or "
                          "'table' name. Default: every base table of the database."));
  keys.push_back(
      key_spec("exclude_tables", KeyType::list, "Regular expressions of tables to leave out; they win over `tables`."));
  keys.push_back(key_spec("tinyint1_as_boolean", KeyType::boolean,
                          "Read tinyint(1) columns as boolean (a value other than 0 or 1 is then an error); false "
                          "reads them as 8-bit integers.",
                          "true"));
  {
    config::KeySpec k = key_spec("lock_wait_timeout", KeyType::integer,
                                 "Seconds FLUSH TABLES WITH READ LOCK may wait for running statements when the "
                                 "snapshot starts (writes are blocked while it waits); then the copy fails with "
                                 "DS_ERR_TIMEOUT and is retried.",
                                 "30");
    k.min = 1;
    k.max = 31536000;
    keys.push_back(std::move(k));
  }
  register_source(
      "mariadb",
      "Reads the tables of a MariaDB or MySQL database: one consistent snapshot (FLUSH TABLES WITH READ LOCK while "
      "the parallel readers start their transactions) split into primary-key ranges, streamed row by row into "
      "columnar batches; the binlog position of the snapshot is kept for change capture.",
      std::move(keys), [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Source> {
        SourceConfig c;
        c.conn = connection_params(o, "source");
        c.tables = o.get_list("tables");
        c.exclude_tables = o.get_list("exclude_tables");
        c.tinyint1_as_boolean = o.get_bool("tinyint1_as_boolean", true);
        c.lock_wait_timeout = static_cast<int>(o.get_int("lock_wait_timeout", 30));
        c.parallelism = ctx.parallelism;
        c.invalid_values = ctx.invalid_values;
        c.value_report = ctx.value_report;
        c.pipeline_name = ctx.pipeline_name;
        return std::make_unique<MariadbSource>(std::move(c));
      });
}

}  // namespace ds::connectors::mariadb
