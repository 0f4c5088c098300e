// The small interfaces every connector implements. They depend on the model
// only; the engine (core/pipeline) knows connectors through these alone.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/batch.hpp"
#include "model/options.hpp"

namespace ds::model {

// Cooperative cancellation, checked between batches (never per row).
class CancelToken {
 public:
  CancelToken() = default;
  // Cancelled with `parent` too (which must outlive it), or on its own.
  explicit CancelToken(const CancelToken *parent) : parent_(parent) {}
  void cancel() noexcept { cancelled_.store(true, std::memory_order_release); }
  void reset() noexcept { cancelled_.store(false, std::memory_order_release); }
  bool cancelled() const noexcept {
    return cancelled_.load(std::memory_order_acquire) || (parent_ && parent_->cancelled());
  }

 private:
  std::atomic<bool> cancelled_{false};
  const CancelToken *parent_ = nullptr;
};

// One independently readable, ordered piece of a table (a key range, a rowid
// range, a file). Its `stream` names its checkpoint entry.
struct Split {
  TableSchemaPtr schema;
  std::string stream;  // unique and stable across runs, e.g. "main.orders#3"
  std::string range;   // opaque to the engine; the source's own description of the range
  int64_t estimated_rows = 0;
  // A row predicate in the source's own SQL dialect, pushed into its query;
  // "" means every row. Sources that cannot filter refuse a non-empty one.
  std::string filter;
};

// Selects source tables: regex alternatives on "schema.table" (and bare "table").
struct TableSelector {
  std::vector<std::string> include;  // empty: every table
  std::vector<std::string> exclude;
  bool matches(const TableId &id) const;
};

// Called by readers for each batch; returns false when the reader must stop.
using BatchEmitter = std::function<bool(std::shared_ptr<Batch>)>;

class SplitReader {
 public:
  virtual ~SplitReader() = default;
  // Reads `split` from just after `resume_after` ("" = from the start), handing
  // batches of about `batch_rows` rows to `emit`. Every batch's position.value
  // must be a valid resume_after; the last batch has position.stream_done set
  // (an empty split emits one empty batch so its completion is recorded).
  virtual void read(const Split &split, const std::string &resume_after, int64_t batch_rows, const BatchEmitter &emit,
                    const CancelToken &cancel) = 0;
};

// What a running change stream reports; written by its thread, read by metrics.
struct ChangeStreamStatus {
  // Source commit → durable in the sink, of the latest durable transaction;
  // the age of the oldest transaction emitted but not yet durable when that
  // is larger. -1 until a transaction is durable.
  std::atomic<int64_t> lag_ms{-1};
  // What the source keeps for this stream (WAL retained by a replication
  // slot), -1 when unknown.
  std::atomic<int64_t> retained_bytes{-1};
};

// A table's columns as a change stream last delivered them to the sink:
// (name, to_string(type)) in order. Kept in the checkpoint as "schema:<table>"
// so a change stream that first sees a table after a snapshot or a restart
// still knows what changed since.
using KnownColumns = std::vector<std::pair<std::string, std::string>>;
KnownColumns known_columns_of(const TableSchema &schema);
std::string encode_known_columns(const KnownColumns &columns);  // one "name\ttype" line per column
KnownColumns decode_known_columns(const std::string &text);
constexpr const char *kKnownColumnsPrefix = "schema:";

// A source's change log (PostgreSQL logical replication, MariaDB binlog...).
// One stream per pipeline, read by one thread.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Streams changes committed after `resume_after` (a position this stream
  // emitted before; "" = from where the stream was created, e.g. the
  // consistent point of the snapshot it exported). Emits batches of one table
  // each, with an ops column, in commit order; the last batch of every source
  // transaction carries position {stream, value} (the transaction's end) and
  // the ones before it transaction_open = true. `on_schema_change` is called
  // (between batches, with no batch of that table pending) when a table's
  // columns change. Returns after `cancel`, or throws (lost connection: a
  // retriable Code::connection).
  virtual void stream(const std::string &resume_after, int64_t batch_rows, const BatchEmitter &emit,
                      const std::function<void(const SchemaChange &)> &on_schema_change, const CancelToken &cancel) = 0;
  // Everything up to `position` is durable in the sink: the source may tell
  // its upstream (standby status update) and release what it keeps for it.
  // Thread-safe; called by the writer after each commit.
  virtual void acknowledge(const std::string &position) = 0;
  // The columns the sink last received, per source table ("schema.table"):
  // the stream compares its first sight of a table with them, so a change
  // made before it (right after the snapshot, or while the pipeline was
  // stopped) is still reported as a schema change. Called before stream().
  virtual void set_known_columns(const std::map<std::string, KnownColumns> &tables) { (void)tables; }
  // The stream name of its positions in the checkpoint ("cdc").
  virtual std::string stream_name() const { return "cdc"; }
};

class Source {
 public:
  virtual ~Source() = default;
  // Lists the selected tables with their schemas. Throws not_found naming the
  // selector when nothing matches, so a typo never copies nothing silently.
  virtual std::vector<TableSchemaPtr> discover(const TableSelector &selector) = 0;
  // `split_rows` is the pipeline's hint for rows per split.
  virtual std::vector<Split> plan_splits(const TableSchemaPtr &table, int parallelism, int64_t split_rows) = 0;
  // One reader per worker thread; each owns its own connection.
  virtual std::unique_ptr<SplitReader> open_reader() = 0;
  virtual std::string describe() const = 0;  // "sqlite path=/x/y.db" (no secrets)
  // The source log's position at the snapshot's instant ("" when the source has
  // no log or took no snapshot yet), e.g. MariaDB "file=mariadb-bin.000003
  // pos=1234 gtid=0-1-42". Asked after plan_splits(); the pipeline stores it
  // with the checkpoint so a change stream can start exactly where the copy ends.
  virtual std::string consistent_position() { return ""; }
  // Prepares change capture before discover() and plan_splits() when the
  // pipeline will stream changes after its snapshot, so the snapshot and the
  // stream meet without gap or overlap (PostgreSQL: the slot exports the
  // snapshot the readers share). Sources without a change log throw Code::unsupported.
  virtual void prepare_change_capture(bool with_snapshot);
  // The change stream (after prepare_change_capture()).
  virtual std::unique_ptr<ChangeSource> open_change_stream();
  // Drops what change capture keeps in the source (PostgreSQL: the slot and
  // the publication), so it holds no log for a pipeline that is gone.
  // Returns what was dropped, one line each. Sources without a change log: nothing.
  virtual std::vector<std::string> cleanup_change_capture() { return {}; }
};

// Committed positions by stream, e.g. {"main.orders#3": "rowid=1200", ...}.
using CheckpointState = std::map<std::string, Position>;

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual CheckpointState load() = 0;
  // Records these stream positions durably (merging into what is stored).
  virtual void save(const std::vector<Position> &positions) = 0;
  virtual void clear() = 0;
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  // Stages a batch; it becomes durable at the next commit().
  virtual void write(const Batch &batch) = 0;
  // Makes every staged batch durable. When `positions` is non-null and the sink
  // offers transactional checkpoints, they are committed in the same
  // transaction as the data (exactly-once); otherwise the engine saves them to
  // its checkpoint store after this returns.
  virtual void commit(const std::vector<Position> *positions) = 0;
  // Drops staged, uncommitted work after a failure.
  virtual void rollback() = 0;
};

// What a sink would run to make its target table match a routed source
// schema, built by core/schema; `datasync schema` prints it, prepare_table()
// and apply_plan() run it.
struct ColumnTypeChoice {
  std::string column;       // target column name
  std::string source_type;  // the source's spelling (or the engine type's name)
  std::string engine_type;  // "decimal(12,2)", "string", ...
  std::string target_type;  // the column type in the target
  std::string fidelity;     // "exact", "widened", "lossy"
  std::string note;         // what is widened or lost, "" when exact
};

struct TableDdlPlan {
  TableId source;  // the routed source table
  TableId target;  // where the sink writes it
  bool exists = false;
  std::vector<ColumnTypeChoice> columns;
  std::vector<std::string> statements;   // create the table, or bring an existing one closer (add, widen)
  std::vector<std::string> destructive;  // drops and narrowings: run only when explicitly allowed
  std::vector<std::string> differences;  // an existing table's differences, one line each
  std::vector<std::string> notes;        // rewrites made: a name shortened or mapped, a default left out...
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Creates the target table when missing, or checks that an existing one can
  // take every column (throws schema naming the misfit). Returns the schema the
  // writers will receive (the target's column order may differ).
  virtual void prepare_table(const TableSchema &schema) = 0;
  // Applies a source schema change under the pipeline's schema.evolution
  // policy (core/schema/evolution.hpp). Returns "" when applied whole, else
  // what was left out or (try_evolve) failed, for the pipeline to report.
  virtual std::string apply_schema_change(const SchemaChange &change) = 0;
  virtual std::unique_ptr<SinkWriter> open_writer(int lane) = 0;
  // How many writers can usefully run at once (SQLite: one).
  virtual int max_lanes() const = 0;
  // The sink's own checkpoint table, used when the pipeline's checkpoint store
  // is "sink"; null when the sink cannot hold one.
  virtual std::unique_ptr<CheckpointStore> open_checkpoint_store(const std::string &pipeline_name) = 0;
  virtual std::string describe() const = 0;

  // Schema migration (SQL sinks; others throw Code::unsupported): the plan
  // for `schema` (a routed source schema) without running anything, and
  // running a plan — its destructive statements only when allowed.
  virtual TableDdlPlan plan_table(const TableSchema &schema);
  virtual void apply_plan(const TableDdlPlan &plan, bool allow_destructive);

  // A sink whose consumer commits later than its writers do (the host change
  // stream) returns true and acknowledges `source` itself once its consumer
  // committed; the engine then leaves acknowledging to it. Called when the
  // change stream opens, and with nullptr before the stream is destroyed.
  virtual bool take_acknowledgement(ChangeSource *source) {
    (void)source;
    return false;
  }
};

}  // namespace ds::model
