#include "connectors/generator/generator.hpp"

#include "connectors/generator/generator_source.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::generator {

void register_connector() {
  using config::KeySpec;
  using config::KeyType;
  std::vector<KeySpec> keys;
  {
    KeySpec k;
    k.name = "rows";
    k.type = KeyType::integer;
    k.default_value = "1000000";
    k.doc = "Rows per table (ids 1..rows).";
    k.min = 0;
    k.max = GeneratorConfig::kMaxRows;
    keys.push_back(k);
  }
  {
    KeySpec k;
    k.name = "table_count";
    k.type = KeyType::integer;
    k.default_value = "1";
    k.doc = "Number of tables, named main.gen_1 .. main.gen_N.";
    k.min = 1;
    k.max = 100;
    keys.push_back(k);
  }
  {
    KeySpec k;
    k.name = "seed";
    k.type = KeyType::integer;
    k.default_value = "42";
    k.doc = "Seed of every generated value; the same seed always yields the same rows.";
    keys.push_back(k);
  }
  {
    KeySpec k;
    k.name = "null_fraction";
    k.type = KeyType::integer;
    k.default_value = "10";
    k.doc = "Percentage (0..100) of rows whose nullable `note` column is NULL.";
    k.min = 0;
    k.max = 100;
    keys.push_back(k);
  }
  register_source("generator",
                  "Synthetic tables for benchmarks and tests: main.gen_1 .. main.gen_N, each with 8 columns "
                  "(id int64 primary key, qty int32, price decimal(12,2), score float64, name string, active bool, "
                  "created_at timestamp, note string nullable). Every value is a pure function of (seed, table, id), "
                  "so splits regenerate identically and resume exactly. Positions are `id=<n>`.",
                  std::move(keys),
                  [](const model::Options &options, const ConnectorContext &) -> std::unique_ptr<model::Source> {
                    return std::make_unique<GeneratorSource>(GeneratorConfig::from_options(options));
                  });
}

}  // namespace ds::connectors::generator
