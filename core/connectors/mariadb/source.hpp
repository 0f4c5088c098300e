// The MariaDB/MySQL source: one consistent snapshot read by parallel
// connections, streamed from the text protocol straight into columnar batches.
//
// Snapshot (the mydumper way). InnoDB cannot export a snapshot for other
// connections to import (PostgreSQL's pg_export_snapshot has no equivalent),
// so N connections see one instant only if they all start their transactions
// while no transaction can commit. On first need (discover, plan_splits,
// open_reader or consistent_position) the source opens a coordinator and
// `parallelism` reader connections, then, on the coordinator, takes
// FLUSH TABLES WITH READ LOCK, starts `START TRANSACTION WITH CONSISTENT
// SNAPSHOT, READ ONLY` (REPEATABLE READ) on every connection, reads the
// binlog GTID position and releases the lock with UNLOCK TABLES. Connecting
// happens before the lock, so writes are blocked only for N statement round
// trips. FTWRL first waits for running statements to finish (while already
// blocking writes), so it is bounded by lock_wait_timeout (default 30 s) and
// fails with Code::timeout naming the cause rather than stalling the server.
//
// Without the RELOAD privilege (FTWRL refused, errno 1227) every connection
// starts its own consistent snapshot without the lock, the coordinator first:
// each reader is consistent, but the readers are not at one instant, and
// describe() says so. The log position is then the coordinator's, the
// earliest of them, so a change stream started there replays rather than
// misses what the later readers already saw.
//
// Binlog position: MariaDB's Binlog_snapshot_file/position status variables
// belong to the consistent snapshot itself (exact even without the lock);
// the GTID is @@gtid_binlog_pos under the lock, BINLOG_GTID_POS(file, pos)
// without it. MySQL has neither: SHOW MASTER STATUS (File, Position,
// Executed_Gtid_Set) under the lock, or just before the coordinator's
// snapshot without it (at or before the snapshot, never after).
//
// Readers: open_reader() hands out the pre-snapshotted connections one per
// call. Once they are all taken (a retry after a lost connection asks for a
// new reader), a reader opens a fresh connection with a consistent snapshot
// of its own: the copy stays complete, but that split is read at a later
// instant (the same fallback as the PostgreSQL source after its coordinator
// is lost). A reader whose connection was lost does the same on its next read.
//
// Splits. A table whose primary key is one integer column (any width, signed
// or not: bounds and positions are decimal text, arithmetic in 128 bits) is
// cut into contiguous key ranges "pk:<lo>:<hi>" (inclusive; the first range
// has no lower bound and the last no upper one, so a reader with a later
// snapshot of its own still reads rows beyond MIN/MAX exactly once; "pk::"
// is the whole table) from MIN/MAX read inside the snapshot, about
// split_rows each (TABLE_ROWS, or the key span without statistics), and at
// least 2 x parallelism of them as far as each gets 1000 rows; positions
// are the last key read, resumed with `key > last`. A table with any other
// primary key is one split "keyset" read in key order; its positions are the
// last key's values, each as hex of its text: "(6162,3132)"; resumed with
// `(a > x) OR (a = x AND b > y) ...` (the expanded form lets the optimizer
// use the key's range). A table without a primary key is one split "full",
// read in no particular order; its positions count the rows emitted
// ("rows=4096") but it cannot be resumed: a resume position for it is
// Code::state, because reading it again from the start would write its first
// rows twice. Stream names are "<database>.<table>#<n>".
//
// Values: see values.hpp for the parsers. FLOAT columns are selected as
// CAST(col AS DOUBLE) because the server prints FLOAT with 6 digits (lossy);
// spatial columns as ST_AsBinary(col) (WKB); zero and invalid dates follow
// the pipeline's invalid_values policy (error, null, clamp) and every
// adjusted value is counted in the ValueReport, once per batch per column.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/mariadb/catalog.hpp"
#include "connectors/mariadb/connection.hpp"
#include "connectors/mariadb/types.hpp"
#include "model/connector.hpp"
#include "model/value_policy.hpp"

namespace ds::connectors::mariadb {

struct SourceConfig {
  ConnParams conn;
  std::vector<std::string> tables;          // regexes on "database.table" or "table"; empty: every table
  std::vector<std::string> exclude_tables;  // win over `tables`
  bool tinyint1_as_boolean = true;
  int parallelism = 1;           // reader connections prepared in the snapshot
  int64_t split_rows = 1000000;  // used when plan_splits gets no hint
  int lock_wait_timeout = 30;    // seconds FLUSH TABLES WITH READ LOCK may wait
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report;  // null: adjustments are not tallied
  std::string pipeline_name;
};

enum class SnapshotMode {
  none,            // not taken yet
  one_instant,     // FLUSH TABLES WITH READ LOCK held while every transaction started
  per_connection,  // no lock: each connection is consistent on its own
};

// What reader connections need, shared by the source and every reader.
struct ReaderSettings {
  ConnParams conn;
  model::InvalidValuePolicy invalid_values = model::InvalidValuePolicy::error;
  std::shared_ptr<model::ValueReport> value_report;
};

class MariadbSource : public model::Source {
 public:
  explicit MariadbSource(SourceConfig config);
  ~MariadbSource() override;

  std::vector<model::TableSchemaPtr> discover(const model::TableSelector &selector) override;
  std::vector<model::Split> plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                        int64_t split_rows) override;
  std::unique_ptr<model::SplitReader> open_reader() override;
  std::string describe() const override;
  // "file=mariadb-bin.000003 pos=1234 gtid=0-1-42" ("gtid=" left out when the
  // server has none; "" when binary logging is off or its status is hidden).
  std::string consistent_position() override;

  // Indexes, comments and sizes of a discovered table (null when not discovered).
  std::shared_ptr<const TableInfo> table_info(const model::TableId &id) const;
  // Takes the snapshot when not taken yet and says which kind it is.
  SnapshotMode snapshot_mode();

 private:
  void take_snapshot();  // call with mutex_ held

  SourceConfig config_;
  std::shared_ptr<const ReaderSettings> settings_;
  mutable std::mutex mutex_;
  std::unique_ptr<Connection> coordinator_;
  std::vector<std::unique_ptr<Connection>> pool_;  // snapshotted, not yet handed out
  SnapshotMode mode_ = SnapshotMode::none;
  std::string position_;
  std::map<std::string, std::shared_ptr<const TableInfo>> infos_;  // by "database.table"
};

// Reads splits over its own connection. Errors: ds::Error with context
// "host=... port=... database=... table=db.t"; a lost connection is
// Code::connection, retriable (the next read reconnects with a snapshot of
// its own). Cancellation and errors stop the server's statement (KILL QUERY
// from a second connection) instead of draining the rest of the result.
class MariadbSplitReader : public model::SplitReader {
 public:
  // `conn` already inside the shared snapshot, or null for a fresh one at first read.
  MariadbSplitReader(std::shared_ptr<const ReaderSettings> settings, std::unique_ptr<Connection> conn);
  void read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
            const model::BatchEmitter &emit, const model::CancelToken &cancel) override;
  // Server thread id of the current connection (0 before it exists); for tests.
  unsigned long thread_id() const { return conn_ ? conn_->thread_id() : 0; }
  // Whether the current connection shares the source's snapshot.
  bool in_shared_snapshot() const { return conn_ && shared_snapshot_; }

 private:
  void connect(const std::string &table);
  void stop_statement();

  std::shared_ptr<const ReaderSettings> settings_;
  std::unique_ptr<Connection> conn_;
  bool shared_snapshot_ = false;
};

}  // namespace ds::connectors::mariadb
