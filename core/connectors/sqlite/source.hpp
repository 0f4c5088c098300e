// The SQLite source: snapshot reads of the tables of one database file.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/sqlite/db.hpp"
#include "model/connector.hpp"

namespace ds::connectors::sqlite {

struct SourceConfig {
  std::string path;
  std::vector<std::string> tables;          // regexes; empty: every table
  std::vector<std::string> exclude_tables;  // regexes; win over `tables`
  int64_t split_rows = 1000000;             // at most about this many rows per split
  int64_t min_split_rows = 10000;           // small tables are not cut finer than this
  int busy_timeout_ms = 10000;
};

// Splits of a rowid table are contiguous rowid ranges, range "rowid:<lo>:<hi>"
// (both inclusive, together covering [min(rowid), max(rowid)]), stream
// "main.<table>#<n>" numbered from 0 in rowid order. Positions are "rowid=<n>",
// the last rowid read. A WITHOUT ROWID table is one split, range "pk", read in
// primary-key order; its positions are "pk=" followed by the last key as a
// JSON array (integers, reals, strings, {"blob":"<hex>"}), resumed with a
// row-value comparison. "pk=[]" means nothing read yet.
class SqliteSource : public model::Source {
 public:
  explicit SqliteSource(SourceConfig config);

  std::vector<model::TableSchemaPtr> discover(const model::TableSelector &selector) override;
  std::vector<model::Split> plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                        int64_t split_rows) override;
  std::unique_ptr<model::SplitReader> open_reader() override;
  std::string describe() const override;

 private:
  Connection &connection();  // lazily opened; call with mutex_ held

  SourceConfig config_;
  std::string context_;  // "source=sqlite path=..."
  std::mutex mutex_;
  Connection conn_;
};

// Reads splits planned by SqliteSource over its own read-only connection.
// Values whose storage class does not fit the column's type fail with
// Code::data (context "source=sqlite table=main.t column=c rowid=N"). When the
// cancel token is set, read() returns between batches without marking the
// stream done.
class SqliteSplitReader : public model::SplitReader {
 public:
  explicit SqliteSplitReader(const SourceConfig &config);
  void read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
            const model::BatchEmitter &emit, const model::CancelToken &cancel) override;

 private:
  Connection conn_;
};

}  // namespace ds::connectors::sqlite
