#include "connectors/generator/generator.hpp"

#include <limits>

#include "connectors/generator/generator_source.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::generator {

void register_connector() {
  using config::KeySpec;
  using config::KeyType;
  auto integer = [](const char *name, const char *default_value, const char *doc, int64_t min, int64_t max) {
    KeySpec k = config::key_spec(name, KeyType::integer, doc, default_value);
    k.min = min;
    k.max = max;
    return k;
  };
  std::vector<KeySpec> keys = {
      integer("rows", "1000000", "Rows per table (ids 1..rows).", 0, GeneratorConfig::kMaxRows),
      integer("table_count", "1", "Number of tables, named main.gen_1 .. main.gen_N.", 1, 100),
      integer("seed", "42", "Seed of every generated value; the same seed always yields the same rows.",
              std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()),
      integer("null_fraction", "10", "Percentage (0..100) of rows whose nullable `note` column is NULL.", 0, 100),
  };
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
