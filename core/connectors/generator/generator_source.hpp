// The "generator" source: synthetic tables for benchmarks and tests.
//
// Tables main.gen_1 .. main.gen_N, each with `rows` rows of 8 mixed columns.
// Every cell is a pure function of (seed, table number, row id), so any id
// range can be regenerated on its own, in any order, and resumed anywhere.
// Generation is allocation-free per row: strings are copied from pools built
// once per source, and the only hashing is splitmix64.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/connector.hpp"
#include "model/options.hpp"

namespace ds::connectors::generator {

struct GeneratorConfig {
  static constexpr int64_t kMaxRows = 1000000000000;  // 10^12: keeps every derived value in range

  int64_t rows = 1000000;  // per table
  int tables = 1;          // key `table_count`, 1..100 (`tables` is the engine's table selector)
  uint64_t seed = 42;
  int null_fraction = 10;  // percent of NULL notes, 0..100

  // Reads and checks the connector's options; throws ds::Error(config).
  static GeneratorConfig from_options(const model::Options &options);
};

// Strings of printable ASCII laid end to end, picked by index.
class StringPool {
 public:
  static constexpr uint32_t kMaxNameLength = 24;
  static constexpr uint32_t kMaxNoteLength = 48;
  static constexpr uint32_t kMaxCopy = 48;  // the pool is padded so this many bytes are readable from any string

  StringPool(uint64_t seed, uint32_t count, uint32_t min_len, uint32_t max_len);
  uint32_t size() const { return static_cast<uint32_t>(offsets_.size() - 1); }
  const char *data(uint32_t i) const { return chars_.data() + offsets_[i]; }
  uint32_t length(uint32_t i) const { return offsets_[i + 1] - offsets_[i]; }

 private:
  std::string chars_;
  std::vector<uint32_t> offsets_;
};

// Shared, immutable state of one generator source (readers hold it too).
struct GeneratorData {
  static constexpr uint32_t kNamePoolSize = 4096;            // power of two
  static constexpr uint32_t kNotePoolSize = 1024;            // power of two
  static constexpr int64_t kEpochMicros = 1577836800000000;  // 2020-01-01T00:00:00Z

  GeneratorConfig config;
  StringPool names;                            // 8..24 chars
  StringPool notes;                            // 12..48 chars
  std::vector<model::TableSchemaPtr> schemas;  // gen_1 .. gen_N

  explicit GeneratorData(const GeneratorConfig &config);
  // Per-table hash key, mixed from the seed and the table number (1-based).
  uint64_t table_key(int table) const;
};

// The values of one row, as the reader writes them (for tests and checks).
struct RowValues {
  int64_t id;
  int32_t qty;
  int64_t price_cents;  // decimal(12,2) unscaled
  double score;
  uint32_t name_index;
  bool active;
  int64_t created_at;  // microseconds since epoch
  bool note_null;
  uint32_t note_index;
};
RowValues row_values(uint64_t table_key, int64_t id, int null_fraction);

// The 8-column schema of table `gen_<n>`.
model::TableSchemaPtr make_schema(int n);

// Split ranges are written "first..last" (inclusive ids; last < first when empty).
std::string format_range(int64_t first, int64_t last);
void parse_range(const std::string &range, int64_t &first, int64_t &last);  // throws ds::Error(state)
// "id=<n>" <-> n; "" means before the first row (returns INT64_MIN).
int64_t parse_resume(const std::string &resume_after);  // throws ds::Error(state)

class GeneratorReader : public model::SplitReader {
 public:
  // Larger batch_rows are read as several batches (keeps string offsets in int32 range).
  static constexpr int64_t kMaxBatchRows = int64_t{1} << 22;

  explicit GeneratorReader(std::shared_ptr<const GeneratorData> data) : data_(std::move(data)) {}
  void read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
            const model::BatchEmitter &emit, const model::CancelToken &cancel) override;

  // Builds one batch of ids [first, last] of table `schema` (no position set);
  // at most kMaxBatchRows rows.
  std::shared_ptr<model::Batch> generate(const model::TableSchemaPtr &schema, int64_t first, int64_t last) const;

 private:
  std::shared_ptr<const GeneratorData> data_;
};

class GeneratorSource : public model::Source {
 public:
  explicit GeneratorSource(const GeneratorConfig &config);
  std::vector<model::TableSchemaPtr> discover(const model::TableSelector &selector) override;
  // Contiguous id ranges: about four per reader, none smaller than kMinSplitRows
  // (so small tables stay whole), at least one split even for an empty table.
  std::vector<model::Split> plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                        int64_t split_rows) override;
  std::unique_ptr<model::SplitReader> open_reader() override;
  std::string describe() const override;

  static constexpr int64_t kMinSplitRows = 65536;
  static constexpr int kSplitsPerReader = 4;

 private:
  std::shared_ptr<const GeneratorData> data_;
};

}  // namespace ds::connectors::generator
