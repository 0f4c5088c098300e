// The "discard" sink: accepts every table and drops every row, counting them.
// Used to measure the engine and sources alone, and (with fail_after_rows) to
// inject a write failure at a known point in fault tests.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "model/connector.hpp"
#include "model/options.hpp"

namespace ds::connectors::discard {

struct DiscardCounters {
  std::atomic<int64_t> written{0};    // rows handed to write() and accepted
  std::atomic<int64_t> committed{0};  // rows of writes that a commit() made "durable"
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> commits{0};
};

class DiscardWriter : public model::SinkWriter {
 public:
  DiscardWriter(std::shared_ptr<DiscardCounters> counters, int64_t fail_after_rows)
      : counters_(std::move(counters)), fail_after_rows_(fail_after_rows) {}
  // Throws ds::Error(io) once the sink's accepted rows would pass fail_after_rows (when > 0).
  void write(const model::Batch &batch) override;
  void commit(const std::vector<model::Position> *positions) override;
  void rollback() override { staged_ = 0; }

 private:
  std::shared_ptr<DiscardCounters> counters_;
  int64_t fail_after_rows_;
  int64_t staged_ = 0;
};

class DiscardSink : public model::Sink {
 public:
  explicit DiscardSink(int64_t fail_after_rows = 0);
  static std::unique_ptr<DiscardSink> from_options(const model::Options &options);  // throws ds::Error(config)

  void prepare_table(const model::TableSchema &) override {}
  std::string apply_schema_change(const model::SchemaChange &) override { return ""; }
  std::unique_ptr<model::SinkWriter> open_writer(int lane) override;
  int max_lanes() const override { return 64; }
  std::unique_ptr<model::CheckpointStore> open_checkpoint_store(const std::string &) override { return nullptr; }
  std::string describe() const override;

  int64_t rows_written() const { return counters_->written.load(); }
  int64_t rows_committed() const { return counters_->committed.load(); }
  int64_t batches() const { return counters_->batches.load(); }
  int64_t commits() const { return counters_->commits.load(); }

 private:
  std::shared_ptr<DiscardCounters> counters_;
  int64_t fail_after_rows_;
};

}  // namespace ds::connectors::discard
