// The MariaDB/MySQL sink: creates or checks target tables, and writes batches
// in transactions through LOAD DATA LOCAL INFILE fed from memory, with
// updates and deletes applied set-based from a staging table and the
// checkpoint in the data's transaction.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/mariadb/connection.hpp"
#include "connectors/mariadb/ddl.hpp"
#include "connectors/mariadb/encode.hpp"
#include "model/connector.hpp"
#include "schema/ddl.hpp"
#include "model/value_policy.hpp"

namespace ds::connectors::mariadb {

struct SinkConfig {
  ConnParams params;          // role "sink"; every table goes into params.database
  std::string pipeline_name;  // checkpoint rows written by the writers belong to it
  bool create_tables = true;
  std::string write_mode = "insert";  // insert, upsert
  std::string checkpoint_database;    // "" = params.database
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report = std::make_shared<model::ValueReport>();
  std::string evolution = "lenient";  // schema.evolution (core/schema/naming.hpp)
};

// State shared by the sink and its writers: one administrative connection
// (DDL, catalog checks, the checkpoint table's creation). MariaDB commits
// implicitly before DDL, so DDL never runs on a writer's connection.
struct SinkShared {
  explicit SinkShared(SinkConfig c) : config(std::move(c)) {}
  Connection &connection();  // lazily opened; call with mutex held
  void ensure_checkpoint_table();

  SinkConfig config;
  std::mutex mutex;
  std::unique_ptr<Connection> conn;
  bool checkpoint_ready = false;
};

// Tables go into the configured database whatever the source's schema (the
// routed table name is kept). New columns keep the source's spelling when it
// is a MariaDB type holding the engine type exactly, else the mapped type
// (see ddl.hpp and schema/type_mapping.hpp).
class MariadbSink : public model::Sink {
 public:
  explicit MariadbSink(SinkConfig config);

  void prepare_table(const model::TableSchema &schema) override;
  std::string apply_schema_change(const model::SchemaChange &change) override;
  std::unique_ptr<model::SinkWriter> open_writer(int lane) override;
  int max_lanes() const override { return 8; }
  std::unique_ptr<model::CheckpointStore> open_checkpoint_store(const std::string &pipeline_name) override;
  std::string describe() const override;
  model::TableDdlPlan plan_table(const model::TableSchema &schema) override;
  void apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) override;

 private:
  model::TableDdlPlan plan_locked(Connection &conn, const model::TableSchema &schema);  // with shared_->mutex held
  // The target as core/schema sees it; `source` (may be null) decides this sink's own column types.
  schema::TargetInfo target_info(Connection &conn, const model::TableId &routed, const model::TableSchema *source);
  void check_existing_table(Connection &conn, const model::TableSchema &schema, const std::string &display,
                            const std::string &ctx);

  std::shared_ptr<SinkShared> shared_;
  std::string context_;  // "sink=mariadb host=... port=... database=..."
};

// One connection and one transaction at a time (START TRANSACTION on the first
// write after a commit).
//  - Insert-only batches in insert mode, and every batch for a table without
//    a primary key: LOAD DATA LOCAL INFILE straight into the table (-U rows
//    skipped; -D rows are unsupported without a key).
//  - Otherwise (upsert mode, or a batch with -D/+U rows): LOAD DATA ... REPLACE
//    into a temporary staging table keyed like the target, so the last row of
//    each key wins, then `DELETE t FROM t JOIN stage` for the -D rows and
//    `INSERT INTO t SELECT ... FROM stage ON DUPLICATE KEY UPDATE` for the rest.
// LOAD DATA LOCAL turns errors into warnings (the client cannot be stopped
// mid-file), so every load is followed by a look at the warnings: any one of
// them is a data error and nothing is silently truncated or skipped.
class MariadbSinkWriter : public model::SinkWriter {
 public:
  explicit MariadbSinkWriter(std::shared_ptr<SinkShared> shared);
  ~MariadbSinkWriter() override;  // rolls back uncommitted work

  void write(const model::Batch &batch) override;
  void commit(const std::vector<model::Position> *positions) override;
  void rollback() override;

  struct TableState;

 private:
  Connection &connection();
  TableState &state_for(const model::Batch &batch);
  void begin();
  void load(TableState &ts, const std::string &sql, const model::Batch &batch, const FeedShape &shape);
  void write_staged(TableState &ts, const model::Batch &batch, const FeedShape &shape, bool any_delete);

  std::shared_ptr<SinkShared> shared_;
  const SinkConfig &config_;
  std::string context_;
  std::unique_ptr<Connection> conn_;
  bool mariadb_ = true;
  int server_version_ = 0;
  bool in_transaction_ = false;
  std::map<std::string, std::unique_ptr<TableState>> tables_;  // by `db`.`table`
  int next_stage_ = 0;
};

}  // namespace ds::connectors::mariadb
