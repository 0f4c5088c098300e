// The SQLite sink: creates or checks target tables and writes batches in
// transactions, with the checkpoint of the data in the same transaction.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "connectors/sqlite/db.hpp"
#include "model/connector.hpp"
#include "model/value_policy.hpp"
#include "schema/changelog.hpp"
#include "schema/ddl.hpp"

namespace ds::connectors::sqlite {

struct SinkConfig {
  std::string path;
  std::string pipeline_name;  // checkpoint rows written by the writers belong to it
  bool create_tables = true;
  std::string journal_mode = "wal";    // wal, delete, truncate, memory, off
  std::string synchronous = "normal";  // off, normal, full
  std::string write_mode = "insert";   // insert, upsert, changelog
  int busy_timeout_ms = 10000;
  std::string evolution = "lenient";  // schema.evolution (core/schema/naming.hpp)
  // Values SQLite cannot hold as sent (a NaN, a uint64 beyond INTEGER, a date
  // outside years 0000..9999, a time of 24:00:00): fail, write NULL or clamp;
  // each adjusted value is counted in value_report.
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report;
};

// Tables are written into the database's main schema under the source table's
// name. New columns take the source's declared type when it is a SQLite type
// name that reads back as the same engine type, else a mapped one (see
// catalog.hpp); a single integer key becomes INTEGER PRIMARY KEY (the rowid).
// Values are written as SQLite's own kinds: integers, reals, text, blobs;
// decimals, dates ('YYYY-MM-DD'), times, timestamps ('YYYY-MM-DD HH:MM:SS[.ffffff]',
// timestamp_tz in UTC without suffix), intervals (ISO 8601) and UUIDs
// (36-char lowercase text) as text.
class SqliteSink : public model::Sink {
 public:
  explicit SqliteSink(SinkConfig config);

  void prepare_table(const model::TableSchema &schema) override;
  std::string apply_schema_change(const model::SchemaChange &change) override;
  std::unique_ptr<model::SinkWriter> open_writer(int lane) override;
  int max_lanes() const override { return 1; }
  std::unique_ptr<model::CheckpointStore> open_checkpoint_store(const std::string &pipeline_name) override;
  std::string describe() const override;
  model::TableDdlPlan plan_table(const model::TableSchema &schema) override;
  void apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) override;

 private:
  Connection &connection();  // lazily opened; call with mutex_ held
  model::TableDdlPlan plan_locked(Connection &conn, const model::TableSchema &schema);
  schema::TargetInfo target_info(Connection &conn, const model::TableId &routed);
  void run_ddl(Connection &conn, const std::vector<std::string> &statements, const std::string &ctx);

  SinkConfig config_;
  std::string context_;  // "sink=sqlite path=..."
  std::mutex mutex_;
  Connection conn_;
};

// One transaction at a time over its own read-write connection: the first
// write() begins it (BEGIN IMMEDIATE), commit() ends it, with the positions
// upserted into _datasync_checkpoint for the configured pipeline.
class SqliteSinkWriter : public model::SinkWriter {
 public:
  explicit SqliteSinkWriter(const SinkConfig &config);
  ~SqliteSinkWriter() override;  // rolls back uncommitted work

  void write(const model::Batch &batch) override;
  void commit(const std::vector<model::Position> *positions) override;
  void rollback() override;

  struct TableState;

 private:
  TableState &state_for(const model::Batch &batch);
  void begin();
  void fill_changelog_positions(const std::string &position);

  SinkConfig config_;
  std::string context_;
  Connection conn_;
  std::map<std::string, std::unique_ptr<TableState>> tables_;  // by lower-case table name
  Statement checkpoint_upsert_;
  bool checkpoint_ready_ = false;  // the table exists and the upsert is prepared
  // write_mode changelog (schema/changelog.hpp): tables whose rows of this
  // transaction wait for its position, filled in by one UPDATE each.
  schema::ChangelogRows changelog_;
  std::set<std::string> changelog_pending_;
};

// Applies journal_mode, synchronous (validating both) to a connection.
void configure_connection(const Connection &conn, const SinkConfig &config);

}  // namespace ds::connectors::sqlite
