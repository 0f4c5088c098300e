// Change data capture from PostgreSQL: a logical replication slot with the
// pgoutput plugin, streamed over a replication connection (COPY BOTH), its
// messages decoded by our pgoutput decoder into batches of +I/-U/+U/-D rows.
//
// Delivery: each source transaction's last batch carries the commit's end LSN
// as its position; the sink commits that position with the data, and only
// then is it acknowledged to the server (standby status update: write, flush
// and apply all report the durable LSN). A restart resumes from the stored
// LSN: no change is lost or applied twice. Between transactions with
// everything acknowledged, keepalives move the reported position to the
// server's WAL end, so an idle slot does not hold WAL.
//
// Rows: inserts are +I; updates +U (preceded by -D of the old key when the
// key changed); deletes -D with the old key (other columns NULL unless
// REPLICA IDENTITY FULL). Unchanged TOASTed values ('u') are not sent by the
// server: such rows go in a batch without those columns, so the sink's
// upsert leaves them as they are instead of writing NULL.
//
// Large transactions (protocol 2, PostgreSQL 14+): with `streaming` the
// server sends a transaction bigger than logical_decoding_work_mem in chunks
// while it runs; they are spooled to a temporary file (stream_spool.hpp) and
// replayed at its stream commit, so memory stays bounded on both sides and
// a transaction still reaches the sink whole, in commit order.
//
// Schema changes: a Relation message whose columns differ from the last one
// for that table (or, at the stream's first sight of it, from the columns the
// pipeline says the sink has) becomes add_column / drop_column /
// alter_column_type events (pgoutput carries names only, so a rename looks
// like a drop and an add).
#pragma once
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"
#include "connectors/postgres/pgoutput.hpp"
#include "model/connector.hpp"

namespace ds::connectors::postgres {

struct SlotInfo {
  std::string name;
  bool created = false;          // false: it existed already
  std::string consistent_point;  // LSN where a new slot's stream starts ("" for an existing one)
  std::string snapshot;          // exported snapshot of a new slot ("" when none)
};

// "datasync_<pipeline>", lower case, [a-z0-9_] only, at most 63 bytes.
std::string default_slot_name(const std::string &pipeline_name);

// Checks that logical replication can work for `params.user` (wal_level,
// REPLICATION attribute), creating the publication when missing for the
// given tables ("schema.table"). Throws clear errors naming what to change.
void ensure_publication(Connection &conn, const std::string &publication, const std::vector<std::string> &tables);

// Creates the slot when missing, on `replication` (a replication=database
// connection that must stay open, idle, while the exported snapshot is used).
SlotInfo ensure_slot(Connection &replication, Connection &conn, const std::string &slot, bool export_snapshot);

// Drops the slot and the publication when they exist (datasync cleanup).
void drop_slot_and_publication(Connection &conn, const std::string &slot, const std::string &publication);

struct ChangeStreamOptions {
  std::string slot, publication;
  bool streaming = true;           // ask for protocol 2 streaming when the server has it (14+)
  bool group_transactions = true;  // under load, a batch takes several whole transactions (see stream())
  std::string decoding_work_mem;   // the walsender's logical_decoding_work_mem ("" = the server's)
  // The slot was created by this run, at this LSN: a stored position other
  // than it belongs to a slot that is gone (changes since then are lost).
  std::string created_at;
  int64_t retained_wal_warning = int64_t{1} << 30;  // warn when the slot holds more WAL (bytes)
  std::shared_ptr<model::ChangeStreamStatus> status = std::make_shared<model::ChangeStreamStatus>();
  std::function<void(const std::string &table, const std::string &message)> warn;  // may be empty
};

class PostgresChangeStream : public model::ChangeSource {
 public:
  // `replication` may be the connection that created the slot (after the
  // snapshot is read), or null to open a new one.
  PostgresChangeStream(ConnParams params, ChangeStreamOptions options, std::unique_ptr<Connection> replication);
  ~PostgresChangeStream() override;

  void stream(const std::string &resume_after, int64_t batch_rows, const model::BatchEmitter &emit,
              const std::function<void(const model::SchemaChange &)> &on_schema_change,
              const model::CancelToken &cancel) override;
  void acknowledge(const std::string &position) override;
  void set_known_columns(const std::map<std::string, model::KnownColumns> &tables) override;

 private:
  struct Table;
  Table &table_for(const pgoutput::Relation &rel, const std::function<void(const model::SchemaChange &)> &notify);
  void send_status(uint64_t lsn, bool reply_requested = false);
  Connection &catalog();
  void check_retained_wal();

  ConnParams params_;
  ChangeStreamOptions options_;
  std::unique_ptr<Connection> repl_;
  std::unique_ptr<Connection> catalog_;  // type lookups
  std::map<uint32_t, std::unique_ptr<Table>> tables_;
  std::map<std::string, model::KnownColumns> known_;  // by "schema.table", before the stream's first sight
  std::map<std::pair<uint32_t, int32_t>, model::DataType> types_;
  std::atomic<uint64_t> acknowledged_{0};
  // Commit times (µs since 2000) of transactions emitted and not yet acknowledged, for the lag.
  std::mutex pending_mutex_;
  std::deque<std::pair<uint64_t, int64_t>> pending_commits_;
  int64_t last_wal_check_us_ = 0;
  bool warned_retained_ = false;
};

}  // namespace ds::connectors::postgres
