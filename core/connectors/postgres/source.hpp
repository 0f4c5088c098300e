// The PostgreSQL source: consistent parallel snapshot reads through binary COPY.
//
// Snapshot: the source keeps a coordinator connection with an open
// `REPEATABLE READ READ ONLY` transaction whose snapshot it exports
// (pg_export_snapshot()) on first use; discover() and plan_splits() run in
// it, and every reader imports it (SET TRANSACTION SNAPSHOT) before each
// split, so all splits see the database at one instant. The coordinator
// transaction stays open until the source is destroyed. When the snapshot can
// no longer be imported (the coordinator's connection was lost), readers fall
// back to a fresh REPEATABLE READ snapshot of their own: the copy stays
// complete for rows that existed at planning time but is no longer one instant.
//
// Splits: a table with a single-column int2/int4/int8 primary key is cut into
// contiguous key ranges, range "pk:<lo>:<hi>" (inclusive, together covering
// min..max; "pk::" for an empty table: unbounded), positions are the last key
// read ("42"), resumed with `key > 42`. Other ordinary tables are cut into
// ctid block ranges "ctid:<lo>:<hi>" (blocks lo <= b < hi, hi empty on the
// last range: open-ended), positions are the last ctid "(page,item)". A
// partitioned table without such a key is one split "full" read without a
// resumable order (resume_after must be "").
// Stream names are "<schema>.<table>#<n>".
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/postgres/cdc.hpp"
#include "connectors/postgres/connection.hpp"
#include "model/connector.hpp"

namespace ds::connectors::postgres {

struct SourceConfig {
  ConnParams conn;
  std::vector<std::string> tables;          // regexes on "schema.table"; empty: every table
  std::vector<std::string> exclude_tables;  // win over `tables`
  int64_t split_rows = 1000000;             // used when plan_splits gets no hint
  std::string pipeline_name;                // names the slot and publication by default
  std::string slot_name;                    // "" = default_slot_name(pipeline_name)
  std::string publication_name;             // "" = the slot's name
  ChangeStreamOptions stream;               // slot and publication are filled in by prepare_change_capture()
};

// The exported snapshot shared by the source and its readers.
struct SnapshotState {
  std::mutex mutex;
  std::string id;  // "" until exported, or after the coordinator was lost
};

class PostgresSource : public model::Source {
 public:
  explicit PostgresSource(SourceConfig config);
  ~PostgresSource() override;

  std::vector<model::TableSchemaPtr> discover(const model::TableSelector &selector) override;
  std::vector<model::Split> plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                        int64_t split_rows) override;
  std::unique_ptr<model::SplitReader> open_reader() override;
  std::string describe() const override;

  // The exported snapshot id (opens the coordinator when needed); for tests.
  std::string snapshot_id();

  // Change capture (cdc.hpp): the publication and slot are created when
  // missing; a new slot exports the snapshot every reader then shares, and
  // its consistent point is where the change stream starts.
  void prepare_change_capture(bool with_snapshot) override;
  std::unique_ptr<model::ChangeSource> open_change_stream() override;
  std::string consistent_position() override;
  std::vector<std::string> cleanup_change_capture() override;
  const std::string &slot_name() const { return slot_; }
  const std::string &publication_name() const { return publication_; }

 private:
  Connection &coordinator();  // call with mutex_ held

  SourceConfig config_;
  std::mutex mutex_;
  std::unique_ptr<Connection> coord_;
  std::shared_ptr<SnapshotState> snapshot_;
  std::string slot_, publication_;
  std::unique_ptr<Connection> replication_;  // created the slot; holds its exported snapshot while idle
  std::string slot_snapshot_;                // the slot's exported snapshot, "" when none
  std::string consistent_point_;             // a new slot's consistent point
};

// Reads splits over its own connection (reconnecting after a lost one).
// Errors: ds::Error with context "host=... port=... database=... table=s.t";
// a lost connection is Code::connection, retriable. Cancellation stops
// between batches without marking the stream done.
class PostgresSplitReader : public model::SplitReader {
 public:
  PostgresSplitReader(ConnParams params, std::shared_ptr<SnapshotState> snapshot);
  void read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
            const model::BatchEmitter &emit, const model::CancelToken &cancel) override;
  // Backend pid of the current connection (0 before the first read); for tests.
  int backend_pid() const { return conn_ ? conn_->backend_pid() : 0; }

 private:
  void begin_snapshot(const std::string &table);

  ConnParams params_;
  std::shared_ptr<SnapshotState> snapshot_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace ds::connectors::postgres
