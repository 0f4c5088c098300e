// The sqlite connector's entry in the connector registry: its configuration
// keys and factories.
#include "connectors/registry.hpp"
#include "connectors/sqlite/sink.hpp"
#include "connectors/sqlite/source.hpp"
#include "connectors/sqlite/sqlite.hpp"
#include "schema/changelog.hpp"

namespace ds::connectors::sqlite {
namespace {

config::KeySpec key(std::string name, config::KeyType type, std::string doc, std::string default_value = "",
                    bool required = false, std::vector<std::string> choices = {}) {
  return config::key_spec(std::move(name), type, std::move(doc), std::move(default_value), required,
                          std::move(choices));
}

}  // namespace

void register_connector() {
  using config::KeyType;
  register_source(
      "sqlite", "Reads the tables of a SQLite database file (snapshot), split into rowid ranges.",
      {key("path", KeyType::path, "SQLite database file to read; opened read-only.", "", true),
       key("tables", KeyType::list,
           "Regular expressions selecting tables; each must match the whole 'main.table' or 'table' name. Default: "
           "every table."),
       key("exclude_tables", KeyType::list, "Regular expressions of tables to leave out; they win over `tables`.")},
      [](const model::Options &o, const ConnectorContext &) -> std::unique_ptr<model::Source> {
        SourceConfig c;
        c.path = o.get_string("path");
        c.tables = o.get_list("tables");
        c.exclude_tables = o.get_list("exclude_tables");
        return std::make_unique<SqliteSource>(std::move(c));
      });

  register_sink(
      "sqlite", "Writes into a SQLite database file, creating it and its tables when missing.",
      {key("path", KeyType::path, "SQLite database file to write; created when missing.", "", true),
       key("create_tables", KeyType::boolean, "Create missing target tables from the source schema.", "true"),
       key("journal_mode", KeyType::choice, "SQLite journal mode of the target database.", "wal", false,
           {"wal", "delete", "truncate", "memory", "off"}),
       key("synchronous", KeyType::choice, "SQLite synchronous setting of the writer connections.", "normal", false,
           {"off", "normal", "full"}),
       key("write_mode", KeyType::choice,
           "insert: plain INSERT (a duplicate key fails); upsert: INSERT ... ON CONFLICT(primary key) DO UPDATE "
           "(INSERT OR REPLACE when the target has no primary key); " +
               std::string(schema::kChangelogWriteModeDoc),
           "insert", false, {"insert", "upsert", "changelog"})},
      [](const model::Options &o, const ConnectorContext &ctx) -> std::unique_ptr<model::Sink> {
        SinkConfig c;
        c.path = o.get_string("path");
        c.pipeline_name = ctx.pipeline_name;
        c.create_tables = o.get_bool("create_tables", true);
        c.journal_mode = o.get_string("journal_mode", "wal");
        c.synchronous = o.get_string("synchronous", "normal");
        c.write_mode = o.get_string("write_mode", "insert");
        c.evolution = ctx.evolution;
        c.invalid_values = ctx.invalid_values;
        c.value_report = ctx.value_report;
        return std::make_unique<SqliteSink>(std::move(c));
      });
}

}  // namespace ds::connectors::sqlite
