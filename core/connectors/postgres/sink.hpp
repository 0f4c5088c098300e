// The PostgreSQL sink: creates or checks target tables, and writes batches in
// transactions through binary COPY, with updates and deletes applied
// set-based from a staging table and the checkpoint in the data's transaction.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "connectors/postgres/connection.hpp"
#include "model/connector.hpp"
#include "model/value_policy.hpp"
#include "schema/changelog.hpp"
#include "schema/ddl.hpp"

namespace ds::connectors::postgres {

struct SinkConfig {
  ConnParams params;          // role "sink"
  std::string schema;         // target schema for every table ("" = the source table's own, "public" when none)
  std::string pipeline_name;  // checkpoint rows written by the writers belong to it
  bool create_tables = true;
  std::string write_mode = "insert";  // insert, upsert, changelog
  std::string checkpoint_schema = "public";
  // Batches of at most this many rows are written a prepared statement per
  // row, pipelined with the transaction's commit (one round trip for a small
  // transaction); larger ones by COPY. 0: always COPY (tests of that path).
  int64_t row_statement_rows = 16;
  // An open stage (change batches shared until the commit) is applied early,
  // inside the transaction, once it holds this many rows: the writer's key
  // index stays bounded for a huge source transaction.
  int64_t stage_rows_limit = 131072;
  std::string evolution = "lenient";  // schema.evolution (core/schema/naming.hpp)
  // Text with NUL characters, which PostgreSQL cannot store, follows this policy and is counted here.
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report = std::make_shared<model::ValueReport>();
};

// State shared by the sink and its writers: one administrative connection
// (DDL, catalog checks, the checkpoint table's creation).
struct SinkShared {
  explicit SinkShared(SinkConfig c) : config(std::move(c)) {}
  Connection &connection();  // lazily opened; call with mutex held
  void ensure_checkpoint_table();

  SinkConfig config;
  std::mutex mutex;
  std::unique_ptr<Connection> conn;
  bool checkpoint_ready = false;
};

// Tables go into config.schema, else the routed table's schema (created when
// missing). New columns keep the source's type spelling when PostgreSQL knows
// it as a type holding the engine type exactly (same-engine copies: "numeric(12,2)",
// "character varying(20)", "integer[]"), else a mapped type (see ddl.hpp).
class PostgresSink : public model::Sink {
 public:
  explicit PostgresSink(SinkConfig config);

  void prepare_table(const model::TableSchema &schema) override;
  std::string apply_schema_change(const model::SchemaChange &change) override;
  std::unique_ptr<model::SinkWriter> open_writer(int lane) override;
  int max_lanes() const override { return 8; }
  model::TableDdlPlan plan_table(const model::TableSchema &schema) override;
  void apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) override;
  std::unique_ptr<model::CheckpointStore> open_checkpoint_store(const std::string &pipeline_name) override;
  std::string describe() const override;

  // The schema a table is written into.
  std::string target_schema(const model::TableId &id) const;

 private:
  model::TableDdlPlan plan_locked(Connection &conn, const model::TableSchema &schema);  // with shared_->mutex held
  // Tables are change logs (schema/changelog.hpp): planned, created and
  // checked as the routed schema's changelog_schema().
  bool changelog_mode() const;
  schema::TargetInfo target_info(Connection &conn, const model::TableId &routed);
  void run_ddl(Connection &conn, const std::vector<std::string> &statements, const std::string &table);

  std::shared_ptr<SinkShared> shared_;
  std::string context_;  // "sink=postgres host=... port=... database=..."
};

// One connection and one transaction at a time. write() begins the transaction
// (BEGIN on the first write after a commit).
//  - Insert-only batches in insert mode whose every column has a direct binary
//    encoding for its target column: `COPY t (cols) FROM STDIN (FORMAT binary)`.
//  - Otherwise (upsert mode, batches with -D/+U rows, or columns whose target
//    type has no binary encoding here, e.g. `unknown` engine columns into
//    arrays, inet, ...): binary COPY into a temporary staging table (direct
//    columns typed as the target, others in their natural type; plus a row
//    sequence and the op), then set-based statements cast the staged columns
//    to the target types: -D rows `DELETE ... USING`, the others
//    `INSERT ... ON CONFLICT (pk) DO UPDATE`.
//    Without a primary key on the target, rows are plainly inserted and
//    deletes are unsupported. -U rows are ignored (their +U follows). Inserts
//    use OVERRIDING SYSTEM VALUE so identity columns take the source's values.
//  Change batches of a keyed table share one open stage until the commit (or
//  until another table or kind of write needs the connection): its COPY stays
//  open across batches, and its statements run once, in one round trip. Only
//  each key's last change is applied (model::last_change_per_key within a
//  batch; across batches a key's earlier stage row is left out by its _ds_seq):
//  the batches commit in one target transaction, so the earlier ones are never
//  seen. In insert mode, a key whose first change since the stage opened is
//  +I should not exist before: its last row (unless a -D) is inserted
//  plainly, after the other keys' statements, behind a savepoint — if a key
//  is there after all (a transaction replayed after a crash that a schema
//  change had split), those rows are upserted instead, as change rows always
//  were. The others are upserted (a +I may follow an earlier -D).
//  In changelog mode every row of every op is appended as an insert with its
//  op, position and sequence (schema/changelog.hpp); the rows of a source
//  transaction's batches before its last have a null position until the
//  last one (or the commit) brings it: then one UPDATE per table sets it.
class PostgresSinkWriter : public model::SinkWriter {
 public:
  explicit PostgresSinkWriter(std::shared_ptr<SinkShared> shared);
  ~PostgresSinkWriter() override;  // rolls back uncommitted work

  void write(const model::Batch &batch) override;
  void commit(const std::vector<model::Position> *positions) override;
  void rollback() override;

  struct TableState;

 private:
  Connection &connection();
  TableState &state_for(const model::Batch &batch);
  void begin();
  void begin_pipelined();
  void copy_direct(TableState &ts, const model::Batch &batch);
  void begin_stage_copy(TableState &ts);
  void stage_changes(TableState &ts, const model::Batch &batch);
  void apply_stage(TableState &ts);
  void write_staged(TableState &ts, const model::Batch &batch);
  void write_rows(TableState &ts, const model::Batch &batch, bool changes);
  void fill_changelog_positions(const std::string &position);

  std::shared_ptr<SinkShared> shared_;
  const SinkConfig &config_;
  std::string context_;
  std::unique_ptr<Connection> conn_;
  std::map<std::string, std::unique_ptr<TableState>> tables_;  // by "schema"."table"
  int next_stage_ = 0;
  std::string row_buffer_;  // one row's binary parameters (write_rows)
  std::string buffer_;      // encoded COPY data not yet sent
  schema::ChangelogRows changelog_;
  std::set<std::string> changelog_pending_;  // "schema"."table" with rows waiting for their position
};

}  // namespace ds::connectors::postgres
