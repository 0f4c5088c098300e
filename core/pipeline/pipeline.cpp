#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include "connectors/host/host.hpp"
#include "connectors/sqlite/sqlite.hpp"
#include "pipeline/bounded_queue.hpp"
#include "pipeline/routing.hpp"
#include "schema/naming.hpp"

namespace ds::pipeline {
namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kPollUs = 20000;         // how often blocked threads re-check stop and failure
constexpr int64_t kChangeLingerUs = 1000;  // a change stream's committed transaction waits at most this for company
// The checkpoint entry holding Source::consistent_position().
const char *const kSnapshotPositionStream = "source:snapshot_position";

enum State : int { created = 0, running = 1, finished = 2, failed = 3, cancelled = 4 };

const char *state_name(int s) {
  switch (s) {
    case running: return "running";
    case finished: return "finished";
    case failed: return "failed";
    case cancelled: return "cancelled";
    default: return "created";
  }
}

}  // namespace

struct Pipeline::HostTransform {
  std::string pattern_text;
  std::regex pattern;
  bool serial = false;
  std::mutex serial_mutex;
  TransformFn fn;
};

// Everything that lives for one run.
struct Pipeline::Run {
  struct TablePlan : RoutedTable {
    std::shared_ptr<TableCounters> counters;
    std::vector<HostTransform *> transforms;
  };
  struct WorkItem {
    model::Split split;
    std::string resume_after;
    TablePlan *plan = nullptr;
    int lane = 0;
  };
  struct Envelope {
    model::BatchPtr batch;
    TablePlan *plan = nullptr;
    bool end = false;
    std::shared_ptr<const model::SchemaChange> change;  // a schema change to apply between batches
    bool reset = false;  // drop everything staged and uncommitted (the change stream restarts)
    // A source table's columns from now on, for the checkpoint (model::KnownColumns).
    std::string known_table, known_columns;
    // A table to prepare in the sink before any change arrives (see cdc_run).
    model::TableSchemaPtr prepare;

    static Envelope of(model::BatchPtr batch, TablePlan *plan) {
      Envelope e;
      e.batch = std::move(batch);
      e.plan = plan;
      return e;
    }
    static Envelope end_marker() {
      Envelope e;
      e.end = true;
      return e;
    }
  };

  Pipeline &owner;
  std::unique_ptr<model::Source> source;
  std::unique_ptr<model::Sink> sink;
  std::unique_ptr<model::CheckpointStore> store;
  bool transactional_checkpoint = false;
  std::vector<std::unique_ptr<TablePlan>> plans;
  std::vector<WorkItem> items;
  std::map<std::string, TablePlan *> plan_of_stream;  // filled before threads start, read-only after
  std::atomic<size_t> next_item{0};
  std::vector<std::unique_ptr<BoundedQueue<Envelope>>> lanes;
  // Batches pushed per lane. The queue orders items per producer only, so the
  // end marker may overtake batches: a lane ends once it has seen them all.
  std::unique_ptr<std::atomic<int64_t>[]> pushed;
  std::shared_ptr<model::CancelToken> cancel_owner = std::make_shared<model::CancelToken>();
  model::CancelToken &cancel = *cancel_owner;
  std::mutex prepare_mutex;
  // Change capture: the stream, per-table plans of the stream's reader, and
  // what the lane committed last (where a restarted stream resumes).
  std::unique_ptr<model::ChangeSource> change_stream;
  bool sink_acknowledges = false;                 // the sink tells the source what is durable (a host change stream)
  std::vector<model::TableSchemaPtr> discovered;  // the snapshot's tables (or the catalog's, for a stream alone)
  // Source columns added while schema.evolution is ignore, by source table (reader thread).
  std::map<std::string, std::set<std::string>> ignored_columns;
  std::map<std::string, std::unique_ptr<TablePlan>> cdc_plans;
  std::vector<std::unique_ptr<TablePlan>> retired_plans;  // replaced by a changed schema (rare), kept for the run
  // Change capture: the lane's sink lost its connection (a retriable error, kept for the reader).
  std::atomic<bool> sink_lost{false};
  model::CancelToken stream_cancel{&cancel};  // declared after `cancel`
  std::mutex sink_error_mutex;
  std::unique_ptr<Error> sink_error;
  std::mutex committed_mutex;
  std::string committed_change_position;
  std::atomic<int64_t> resets_done{0};
  std::map<std::string, model::TableSchemaPtr> prepared;  // target table → schema the sink was prepared for

  std::mutex error_mutex;
  std::unique_ptr<Error> first_error;
  std::atomic<bool> failed{false};

  explicit Run(Pipeline &p) : owner(p) {}

  bool stopping() const {
    return failed.load(std::memory_order_acquire) || owner.stop_requested_.load(std::memory_order_acquire);
  }

  void fail(const Error &e) {
    {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::make_unique<Error>(e);
    }
    owner.errors_.fetch_add(1);
    failed.store(true, std::memory_order_release);
    cancel.cancel();
  }

  std::string where() const { return "pipeline=" + owner.spec_.name; }

  Error contextual(const Error &e, const std::string &extra) const {
    // A host callback's own error comes back untouched (libgit2's GIT_EUSER idea).
    if (e.from_host() || e.code() == Code::callback) return e;
    return e.with_context(extra.empty() ? where() : where() + " " + extra);
  }

  // ------------------------------------------------------------ set-up
  void open_checkpoint_store(bool fresh) {
    const auto &spec = owner.spec_;
    if (spec.checkpoint_store == "sink") {
      store = sink->open_checkpoint_store(spec.name);
      transactional_checkpoint = store != nullptr;
      if (!store)
        owner.emit({EventKind::warning, "",
                    "the sink (" + sink->describe() +
                        ") cannot hold a checkpoint; this run cannot be resumed (set pipeline.checkpoint_store: file)",
                    0});
    } else if (spec.checkpoint_store == "file") {
      std::string path = spec.checkpoint_path;
      if (path.empty()) {
        path = spec.name + ".checkpoint.db";
        if (!owner.context_.base_dir.empty()) path = owner.context_.base_dir + "/" + path;
      }
      store = connectors::sqlite::open_file_checkpoint_store(path, spec.name);
    }
    if (store && fresh) store->clear();
  }

  model::TableSelector selector() const {
    model::TableSelector s;
    s.include = owner.spec_.source.options.get_list("tables");
    s.exclude = owner.spec_.source.options.get_list("exclude_tables");
    return s;
  }

  void plan(model::CheckpointState &state) {
    const auto &spec = owner.spec_;
    auto tables = source->discover(selector());
    discovered = tables;

    std::vector<std::unique_ptr<HostTransform>> &host = owner.transforms_;
    int parallelism = std::max(1, spec.parallelism);
    std::vector<model::Position> new_plan_entries;
    for (const auto &schema : tables) {
      auto plan = std::make_unique<TablePlan>();
      static_cast<RoutedTable &>(*plan) = route_table(schema, spec);
      for (auto &t : host)
        if (t->pattern_text.empty() || table_matches(t->pattern, plan->routed_schema->id))
          plan->transforms.push_back(t.get());
      plan->counters = std::make_shared<TableCounters>();
      plan->counters->name = schema->id.to_string();

      // A stored split plan wins over a new one, so resumed stream names keep
      // meaning the same ranges even if the source grew in between.
      std::vector<model::Split> splits;
      const std::string plan_prefix = "plan:" + schema->id.to_string() + "#";
      for (const auto &kv : state) {
        if (kv.first.rfind(plan_prefix, 0) != 0) continue;
        model::Split s;
        s.schema = schema;
        s.stream = kv.first.substr(5);
        s.range = kv.second.value;
        splits.push_back(s);
      }
      if (splits.empty()) {
        splits = source->plan_splits(schema, parallelism, spec.split_rows);
        for (const auto &s : splits) new_plan_entries.push_back({"plan:" + s.stream, s.range, false});
      }
      int left = 0;
      for (auto &s : splits) {
        auto it = state.find(s.stream);
        if (it != state.end() && it->second.stream_done) continue;
        WorkItem item;
        item.split = s;
        item.split.filter = plan->filter;
        item.resume_after = it == state.end() ? "" : it->second.value;
        item.plan = plan.get();
        plan_of_stream[s.stream] = plan.get();
        items.push_back(std::move(item));
        owner.rows_estimated_.fetch_add(s.estimated_rows);
        ++left;
      }
      plan->counters->splits_left.store(left);
      {
        std::lock_guard<std::mutex> lock(owner.tables_mutex_);
        owner.tables_.push_back(plan->counters);
      }
      owner.tables_total_.fetch_add(1);
      if (left == 0) owner.tables_done_.fetch_add(1);
      plans.push_back(std::move(plan));
    }
    // Where the source's log stood at the snapshot: kept from the first run so
    // a later change stream starts exactly where this copy ends.
    const std::string log_position = source->consistent_position();
    if (!log_position.empty() && state.find(kSnapshotPositionStream) == state.end())
      new_plan_entries.push_back({kSnapshotPositionStream, log_position, true});
    if (store && !new_plan_entries.empty()) store->save(new_plan_entries);

    int lane_count = std::max(1, std::min(parallelism, sink->max_lanes()));
    for (int i = 0; i < lane_count; ++i) lanes.push_back(std::make_unique<BoundedQueue<Envelope>>(spec.queue_batches));
    pushed.reset(new std::atomic<int64_t>[static_cast<size_t>(lane_count)]);
    for (int i = 0; i < lane_count; ++i) pushed[static_cast<size_t>(i)].store(0);
    // All batches of one split go to one lane, in order, so a lane may commit a
    // split's position together with its rows. Key-hash partitioning of change
    // streams arrives with CDC.
    std::hash<std::string> hasher;
    for (auto &item : items) item.lane = static_cast<int>(hasher(item.split.stream) % lanes.size());
  }

  // ------------------------------------------------------------ readers
  model::BatchPtr transform(const std::shared_ptr<model::Batch> &raw, const TablePlan &plan) {
    model::BatchPtr current = apply_route(raw, plan);
    for (HostTransform *t : plan.transforms) {
      model::BatchPtr replaced;
      if (t->serial) {
        std::lock_guard<std::mutex> lock(t->serial_mutex);
        replaced = t->fn(current);
      } else {
        replaced = t->fn(current);
      }
      if (!replaced) continue;
      // The engine, not the callback, owns routing and positions.
      if (replaced->schema->id != plan.routed_schema->id || replaced->position.stream != current->position.stream ||
          replaced->position.value != current->position.value) {
        auto fixed = std::make_shared<model::Batch>(*replaced);
        auto schema = std::make_shared<model::TableSchema>(*replaced->schema);
        schema->id = plan.routed_schema->id;
        fixed->schema = schema;
        fixed->position = current->position;
        replaced = fixed;
      }
      current = replaced;
    }
    return current;
  }

  void read_item(model::SplitReader *&reader, std::unique_ptr<model::SplitReader> &reader_owner, WorkItem &item) {
    const auto &spec = owner.spec_;
    TablePlan &plan = *item.plan;
    if (!plan.counters->started.exchange(true))
      owner.emit({EventKind::table_started, plan.counters->name, "", item.split.estimated_rows});
    BoundedQueue<Envelope> &lane = *lanes[static_cast<size_t>(item.lane)];
    std::string resume = item.resume_after;
    int attempts = 0;
    auto emit_batch = [&](const std::shared_ptr<model::Batch> &batch) -> bool {
      int64_t bytes = batch->byte_size();
      plan.counters->rows_read.fetch_add(batch->num_rows, std::memory_order_relaxed);
      plan.counters->bytes_read.fetch_add(bytes, std::memory_order_relaxed);
      owner.batches_.fetch_add(1, std::memory_order_relaxed);
      std::string position = batch->position.value;
      Envelope env = Envelope::of(transform(batch, plan), &plan);
      while (!lane.push(env, kPollUs))
        if (stopping()) return false;
      pushed[static_cast<size_t>(item.lane)].fetch_add(1, std::memory_order_release);
      resume = position;
      return true;
    };
    for (;;) {
      try {
        reader->read(item.split, resume, spec.batch_rows, emit_batch, cancel);
        return;
      } catch (const Error &e) {
        if (!e.retriable() || e.from_host() || attempts >= spec.max_retries || stopping())
          throw contextual(e, "split=" + item.split.stream);
        ++attempts;
        owner.retries_.fetch_add(1);
        owner.emit({EventKind::retry, plan.counters->name,
                    std::string(e.what()) + " (attempt " + std::to_string(attempts) + " of " +
                        std::to_string(spec.max_retries) + ")",
                    0});
        std::this_thread::sleep_for(std::chrono::milliseconds(100LL << std::min(attempts, 6)));
        reader_owner = source->open_reader();  // a fresh connection after a lost one
        reader = reader_owner.get();
      }
    }
  }

  void reader_thread() {
    try {
      std::unique_ptr<model::SplitReader> reader_owner = source->open_reader();
      model::SplitReader *reader = reader_owner.get();
      while (!stopping()) {
        size_t i = next_item.fetch_add(1);
        if (i >= items.size()) break;
        read_item(reader, reader_owner, items[i]);
      }
    } catch (const Error &e) {
      fail(contextual(e, ""));
    } catch (const std::bad_alloc &) {
      fail(Error(Code::nomem, "out of memory while reading", where()));
    } catch (const std::exception &e) {
      fail(Error(Code::internal, std::string("unexpected failure while reading: ") + e.what(), where()));
    }
  }

  // ------------------------------------------------------------ writer lanes
  struct Staged {
    TableCounters *counters;
    int64_t rows;
    int64_t bytes;
  };

  void ensure_prepared(const model::TableSchemaPtr &schema, model::SinkWriter &writer, std::vector<Staged> &staged,
                       std::map<std::string, model::Position> &pending, int lane) {
    std::string target = schema->id.to_string();
    std::lock_guard<std::mutex> lock(prepare_mutex);
    auto it = prepared.find(target);
    if (it != prepared.end() && (it->second == schema || covers_columns(*it->second, *schema))) return;
    // Schema preparation may need locks our own open transaction holds.
    if (!staged.empty() || !pending.empty()) commit(writer, staged, pending, lane);
    sink->prepare_table(*schema);
    prepared[target] = schema;
  }

  void commit(model::SinkWriter &writer, std::vector<Staged> &staged, std::map<std::string, model::Position> &pending,
              int /*lane*/) {
    std::vector<model::Position> positions;
    positions.reserve(pending.size());
    for (auto &kv : pending) positions.push_back(kv.second);
    if (transactional_checkpoint) {
      writer.commit(&positions);
    } else {
      writer.commit(nullptr);
      if (store && !positions.empty()) store->save(positions);
    }
    if (change_stream) {
      for (const auto &p : positions) {
        if (p.stream != change_stream->stream_name()) continue;
        if (!sink_acknowledges) change_stream->acknowledge(p.value);
        std::lock_guard<std::mutex> lock(committed_mutex);
        committed_change_position = p.value;
      }
    }
    for (const Staged &s : staged) {
      s.counters->rows_written.fetch_add(s.rows, std::memory_order_relaxed);
      s.counters->bytes_written.fetch_add(s.bytes, std::memory_order_relaxed);
    }
    staged.clear();
    for (const auto &p : positions) {
      if (!p.stream_done) continue;
      owner.emit({EventKind::split_finished, "", p.stream, 0});
    }
    finish_tables(positions);
    if (!positions.empty()) owner.emit({EventKind::checkpoint, "", "", static_cast<int64_t>(positions.size())});
    pending.clear();
  }

  void finish_tables(const std::vector<model::Position> &positions) {
    for (const auto &p : positions) {
      if (!p.stream_done) continue;
      auto it = plan_of_stream.find(p.stream);
      if (it == plan_of_stream.end()) continue;
      TableCounters &counters = *it->second->counters;
      if (counters.splits_left.fetch_sub(1) == 1) {
        owner.tables_done_.fetch_add(1);
        owner.emit({EventKind::table_finished, counters.name, "", counters.rows_written.load()});
      }
    }
  }

  void lane_thread(int lane_index) {
    BoundedQueue<Envelope> &queue = *lanes[static_cast<size_t>(lane_index)];
    std::unique_ptr<model::SinkWriter> writer;
    std::vector<Staged> staged;
    std::map<std::string, model::Position> pending;
    int64_t staged_rows = 0;
    int64_t consumed = 0;
    bool ending = false;
    bool open_txn = false;  // a source transaction is partly staged: no commit before its end
    // Stopping or ending inside a source transaction drops its part: the next
    // run streams the whole transaction again from the committed position.
    auto settle = [&] {
      if (open_txn) {
        writer->rollback();
        staged.clear();
        pending.clear();
        open_txn = false;
      } else {
        commit(*writer, staged, pending, lane_index);
      }
    };
    const int64_t commit_rows = std::max<int64_t>(owner.spec_.batch_rows * 16, 65536);
    // A change stream's sink that lost its connection: what was staged is
    // gone; envelopes are skipped until the reader restarts the stream from
    // the committed position (its reset envelope).
    bool draining = false;
    for (;;) {
      try {
        if (!writer) writer = sink->open_writer(lane_index);
        for (;;) {
          if (failed.load(std::memory_order_acquire)) break;
          if (owner.stop_requested_.load(std::memory_order_acquire)) {
            // Stopping keeps what is staged: rows and positions commit together.
            settle();
            break;
          }
          if (ending && consumed == pushed[static_cast<size_t>(lane_index)].load(std::memory_order_acquire)) {
            settle();
            break;
          }
          Envelope env;
          // Changes: a closed transaction waiting alone commits within a
          // millisecond (replication lag); copies wait longer to batch commits.
          const bool linger = change_stream != nullptr && !open_txn && (!staged.empty() || !pending.empty());
          if (!queue.pop(env, linger ? kChangeLingerUs : kPollUs)) {
            // Idle: commit at once (low latency when there is little to do).
            if (!open_txn && (!staged.empty() || !pending.empty())) {
              commit(*writer, staged, pending, lane_index);
              staged_rows = 0;
            }
            continue;
          }
          if (env.end) {
            ending = true;
            continue;
          }
          ++consumed;
          if (draining && !env.reset) continue;
          if (env.reset) {
            draining = false;
            sink_lost.store(false, std::memory_order_release);
            safe_rollback(*writer);
            staged.clear();
            pending.clear();
            staged_rows = 0;
            open_txn = false;
            resets_done.fetch_add(1, std::memory_order_release);
            continue;
          }
          if (env.prepare) {
            ensure_prepared(env.prepare, *writer, staged, pending, lane_index);
            continue;
          }
          if (env.change || !env.known_table.empty()) {
            if (env.change) apply_schema_change(*env.change, *writer, staged, pending, lane_index);
            if (!env.known_table.empty()) {
              // Committed with the next position: the checkpoint's columns match its position.
              const std::string stream = model::kKnownColumnsPrefix + env.known_table;
              pending[stream] = model::Position{stream, env.known_columns, false};
            }
            continue;
          }
          const model::Batch &b = *env.batch;
          if (b.num_rows > 0) {
            ensure_prepared(env.batch->schema, *writer, staged, pending, lane_index);
            writer->write(b);
            staged.push_back({env.plan->counters.get(), b.num_rows, b.byte_size()});
            staged_rows += b.num_rows;
          }
          if (!b.position.stream.empty()) pending[b.position.stream] = b.position;
          open_txn = b.transaction_open;
          // A lone transaction from a source at rest commits at once; under
          // load the next ones are already queued and join this commit.
          const bool at_rest = b.source_idle && queue.size_approx() == 0;
          if (!open_txn && (staged_rows >= commit_rows || b.position.stream_done || at_rest)) {
            commit(*writer, staged, pending, lane_index);
            staged_rows = 0;
          }
        }
        if (failed.load() && writer) writer->rollback();
        return;
      } catch (const Error &e) {
        if (writer) safe_rollback(*writer);
        if (change_stream && e.retriable() && !e.from_host() && !stopping()) {
          // The reader restarts the stream (with its backoff and retry count)
          // when it next hands on a batch; the sink reconnects on its next write.
          staged.clear();
          pending.clear();
          staged_rows = 0;
          open_txn = false;
          draining = true;
          {
            std::lock_guard<std::mutex> lock(sink_error_mutex);
            sink_error = std::make_unique<Error>(contextual(e, ""));
          }
          sink_lost.store(true, std::memory_order_release);
          stream_cancel.cancel();
          continue;
        }
        fail(contextual(e, ""));
      } catch (const std::bad_alloc &) {
        if (writer) safe_rollback(*writer);
        fail(Error(Code::nomem, "out of memory while writing", where()));
      } catch (const std::exception &e) {
        if (writer) safe_rollback(*writer);
        fail(Error(Code::internal, std::string("unexpected failure while writing: ") + e.what(), where()));
      }
      return;
    }
  }

  static void safe_rollback(model::SinkWriter &writer) {
    try {
      writer.rollback();
    } catch (...) {
      // The first error is the one worth reporting; a failed rollback leaves
      // nothing committed, which is what rollback was for.
    }
  }

  // A source schema change, between batches: what is staged commits first,
  // then the sink applies it under its policy. The sink's DDL runs on its own
  // connection (and MariaDB's commits implicitly), so it must not wait on the
  // writer's locks: a change inside a source transaction (an ALTER TABLE
  // between its statements) splits that transaction in two sink
  // transactions. The position still commits only at its end, so a crash in
  // between replays the whole transaction, whose rows apply idempotently by
  // key (change batches are upserted).
  void apply_schema_change(const model::SchemaChange &change, model::SinkWriter &writer, std::vector<Staged> &staged,
                           std::map<std::string, model::Position> &pending, int lane) {
    if (!staged.empty() || !pending.empty()) commit(writer, staged, pending, lane);
    std::string note = sink->apply_schema_change(change);
    {
      std::lock_guard<std::mutex> lock(prepare_mutex);
      prepared.erase(change.table.to_string());
    }
    std::string what =
        std::string(model::schema_change_name(change.kind)) + (change.column.empty() ? "" : " " + change.column);
    owner.emit({EventKind::schema_change, change.table.to_string(), note.empty() ? what : what + ": " + note, 0});
  }

  TablePlan &cdc_plan(const model::TableSchemaPtr &schema) {
    // Batches of unchanged-TOAST rows carry fewer columns: a plan of their own.
    std::string key = schema->id.to_string();
    for (const auto &c : schema->columns) key += '\x1f' + c.name;
    auto found = cdc_plans.find(key);
    if (found != cdc_plans.end()) {
      // The server re-sends a table's definition after any cache invalidation
      // (an ANALYZE will do): the same columns keep their plan.
      const model::TableSchema &known = *found->second->source_schema;
      if (found->second->source_schema == schema ||
          (same_columns(known, *schema) && known.primary_key == schema->primary_key))
        return *found->second;
      // Envelopes still queued for the lane point at the old plan: it stays alive.
      retired_plans.push_back(std::move(found->second));
    }
    auto plan = std::make_unique<TablePlan>();
    auto ignored = ignored_columns.find(schema->id.to_string());
    static_cast<RoutedTable &>(*plan) =
        route_table(schema, owner.spec_, ignored == ignored_columns.end() ? nullptr : &ignored->second);
    for (auto &t : owner.transforms_)
      if (t->pattern_text.empty() || table_matches(t->pattern, plan->routed_schema->id))
        plan->transforms.push_back(t.get());
    const std::string name = schema->id.to_string();
    {
      std::lock_guard<std::mutex> lock(owner.tables_mutex_);
      for (const auto &c : owner.tables_)
        if (c->name == name) plan->counters = c;
      if (!plan->counters) {
        plan->counters = std::make_shared<TableCounters>();
        plan->counters->name = name;
        owner.tables_.push_back(plan->counters);
        owner.tables_total_.fetch_add(1);
      }
    }
    TablePlan &out = *plan;
    cdc_plans[key] = std::move(plan);
    return out;
  }

  // The source's schema change in target terms (routes and the schema
  // section); null when it concerns a column the target does not get.
  std::shared_ptr<model::SchemaChange> routed_change(const model::SchemaChange &change) {
    auto out = std::make_shared<model::SchemaChange>(change);
    if (!change.schema_after) return out;
    RoutedTable routed = route_table(change.schema_after, owner.spec_);
    out->table = routed.routed_schema->id;
    out->schema_after = routed.routed_schema;
    if (change.column.empty()) return out;
    int source_index = change.schema_after->find_column(change.column);
    if (source_index >= 0) {
      if (routed.projection.empty()) return out;
      for (size_t i = 0; i < routed.projection.size(); ++i)
        if (routed.projection[i] == source_index) {
          out->column = routed.routed_schema->columns[i].name;
          return out;
        }
      return nullptr;  // projected away or pruned
    }
    // A dropped column: named as the schema section would name it.
    out->column = schema::SchemaOptions::from(owner.spec_.schema).column_name(out->table.table_name, change.column);
    return out;
  }

  void cdc_reader(std::string position) {
    const auto &spec = owner.spec_;
    BoundedQueue<Envelope> &lane = *lanes[0];
    auto push = [&](Envelope env) {
      while (!lane.push(env, kPollUs))
        if (stopping()) return false;
      pushed[0].fetch_add(1, std::memory_order_release);
      return true;
    };
    auto emit = [&](const std::shared_ptr<model::Batch> &batch) -> bool {
      if (sink_lost.load(std::memory_order_acquire)) {
        // The lane's sink lost its connection: restart from the committed position.
        std::lock_guard<std::mutex> lock(sink_error_mutex);
        throw Error(*sink_error);
      }
      owner.batches_.fetch_add(1, std::memory_order_relaxed);
      if (!batch->schema) return push(Envelope::of(batch, nullptr)) && !stopping();  // a commit without rows
      TablePlan &plan = cdc_plan(batch->schema);
      if (!plan.counters->started.exchange(true)) owner.emit({EventKind::table_started, plan.counters->name, "", 0});
      plan.counters->rows_read.fetch_add(batch->num_rows, std::memory_order_relaxed);
      plan.counters->bytes_read.fetch_add(batch->byte_size(), std::memory_order_relaxed);
      model::BatchPtr out = transform(batch, plan);
      if (!out->same_marks(*batch)) {
        auto fixed = std::make_shared<model::Batch>(*out);  // a host transform built a new batch
        fixed->keep_marks_of(*batch);
        out = fixed;
      }
      return push(Envelope::of(out, &plan)) && !stopping();
    };
    const bool ignore_changes = owner.context_.evolution == "ignore";
    auto on_change = [&](const model::SchemaChange &change) {
      Envelope env;
      env.change = routed_change(change);
      if (ignore_changes) {
        // The target keeps its columns: an added column's values are left
        // out, and the checkpoint keeps the columns the target has, so a
        // restart sees the same change (and ignores it) again.
        auto &ignored = ignored_columns[change.table.to_string()];
        if (change.kind == model::SchemaChangeKind::add_column) ignored.insert(change.column);
        if (change.kind == model::SchemaChangeKind::drop_column) ignored.erase(change.column);
      } else if (change.schema_after) {
        env.known_table = change.table.to_string();
        env.known_columns = model::encode_known_columns(model::known_columns_of(*change.schema_after));
      }
      if (env.change || !env.known_table.empty()) push(env);
    };
    int attempts = 0;
    for (;;) {
      std::string before;
      {
        std::lock_guard<std::mutex> lock(committed_mutex);
        before = committed_change_position;
      }
      try {
        // Its own token: the lane ends this attempt when the sink loses its connection.
        stream_cancel.reset();
        if (sink_lost.load(std::memory_order_acquire)) stream_cancel.cancel();
        change_stream->stream(position, spec.batch_rows, emit, on_change, stream_cancel);
        if (sink_lost.load(std::memory_order_acquire)) {
          std::lock_guard<std::mutex> lock(sink_error_mutex);
          throw Error(*sink_error);
        }
        return;
      } catch (const Error &e) {
        if (!e.retriable() || e.from_host() || stopping())
          throw contextual(e, "stream=" + change_stream->stream_name());
        std::string committed;
        {
          std::lock_guard<std::mutex> lock(committed_mutex);
          committed = committed_change_position;
        }
        if (committed != before) attempts = 0;  // progress since the last failure
        if (attempts >= spec.max_retries) throw contextual(e, "stream=" + change_stream->stream_name());
        ++attempts;
        owner.retries_.fetch_add(1);
        owner.emit({EventKind::retry, "",
                    std::string(e.what()) + " (attempt " + std::to_string(attempts) + " of " +
                        std::to_string(spec.max_retries) + ")",
                    0});
        std::this_thread::sleep_for(std::chrono::milliseconds(100LL << std::min(attempts, 6)));
        // What the lane staged but did not commit is dropped; the stream
        // starts again after the last committed transaction.
        const int64_t target = resets_done.load() + 1;
        Envelope reset;
        reset.reset = true;
        if (!push(reset)) return;
        while (resets_done.load(std::memory_order_acquire) < target)
          if (stopping())
            return;
          else
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::lock_guard<std::mutex> lock(committed_mutex);
        if (!committed_change_position.empty()) position = committed_change_position;
      }
    }
  }

  // The change-capture phase: one reader (the stream) and one lane, so a
  // source transaction commits in the sink as one transaction, in order.
  void execute_cdc(const model::CheckpointState &state) {
    change_stream = source->open_change_stream();
    sink_acknowledges = sink->take_acknowledgement(change_stream.get());
    struct Detach {  // before change_stream goes, on every path
      Run &run;
      ~Detach() {
        try {
          if (run.sink_acknowledges) run.sink->take_acknowledgement(nullptr);
        } catch (...) {
          // Detaching only takes a lock; nothing here is worth more than the run's own error.
        }
      }
    } detach{*this};
    std::string position;
    auto stored = state.find(change_stream->stream_name());
    if (stored != state.end()) {
      position = stored->second.value;
    } else {
      auto snapshot = state.find(kSnapshotPositionStream);
      position = snapshot != state.end() ? snapshot->second.value : source->consistent_position();
    }
    {
      std::lock_guard<std::mutex> lock(committed_mutex);
      committed_change_position = position;
    }
    lanes.clear();
    lanes.push_back(std::make_unique<BoundedQueue<Envelope>>(owner.spec_.queue_batches));
    pushed.reset(new std::atomic<int64_t>[1]);
    pushed[0].store(0);
    std::thread lane([this] { lane_thread(0); });
    try {
      // The columns the sink has, so a change before the stream's first sight
      // of a table still counts: the checkpoint's (as of its position), else
      // the snapshot's (as of the slot's consistent point), else the catalog's
      // now (a stream without a snapshot starts now).
      std::map<std::string, model::KnownColumns> known;
      for (const auto &[stream, stored_position] : state)
        if (stream.rfind(model::kKnownColumnsPrefix, 0) == 0)
          known[stream.substr(std::strlen(model::kKnownColumnsPrefix))] =
              model::decode_known_columns(stored_position.value);
      if (discovered.empty()) discovered = source->discover(selector());
      for (const auto &table : discovered) {
        const std::string name = table->id.to_string();
        auto baseline = known.find(name);
        // Prepared now, not at the table's first change: preparing commits
        // what is staged, which inside a source transaction would commit part
        // of it without its position. Not when the sink's columns differ
        // from the catalog's (a schema change the stream will report first),
        // nor when host transforms may reshape the batches: those tables are
        // prepared at their first batch.
        if (baseline == known.end() || baseline->second == model::known_columns_of(*table)) {
          TablePlan &plan = cdc_plan(table);
          if (plan.transforms.empty()) {
            Envelope env;
            env.prepare = plan.routed_schema;
            lanes[0]->push_unbounded(std::move(env));
            pushed[0].fetch_add(1, std::memory_order_release);
          }
        }
        if (baseline != known.end()) continue;
        known[name] = model::known_columns_of(*table);
        Envelope env;
        env.known_table = name;
        env.known_columns = model::encode_known_columns(known[name]);
        lanes[0]->push_unbounded(std::move(env));
        pushed[0].fetch_add(1, std::memory_order_release);
      }
      change_stream->set_known_columns(known);
      cdc_reader(position);
    } catch (const Error &e) {
      fail(e);
    } catch (const std::exception &e) {
      fail(Error(Code::internal, std::string("unexpected failure while streaming changes: ") + e.what(), where()));
    }
    lanes[0]->push_unbounded(Envelope::end_marker());
    lane.join();
  }

  void execute() {
    std::vector<std::thread> lane_threads;
    for (size_t i = 0; i < lanes.size(); ++i)
      lane_threads.emplace_back([this, i] { lane_thread(static_cast<int>(i)); });
    int reader_count = std::max(1, std::min<int>(owner.spec_.parallelism, static_cast<int>(items.size())));
    std::vector<std::thread> readers;
    if (!items.empty())
      for (int i = 0; i < reader_count; ++i) readers.emplace_back([this] { reader_thread(); });
    for (auto &t : readers) t.join();
    for (auto &q : lanes) q->push_unbounded(Envelope::end_marker());
    for (auto &t : lane_threads) t.join();
  }
};

Pipeline::Pipeline(config::PipelineSpec spec, connectors::ConnectorContext context)
    : spec_(std::move(spec)), context_(std::move(context)) {
  if (context_.pipeline_name.empty()) context_.pipeline_name = spec_.name;
  context_.parallelism = std::max(1, spec_.parallelism);
  context_.invalid_values = model::parse_invalid_value_policy(spec_.invalid_values);
  context_.value_report = std::make_shared<model::ValueReport>();
  context_.evolution = spec_.schema.get_string("evolution", "lenient");
  context_.stream_status = std::make_shared<model::ChangeStreamStatus>();
  context_.warn = [this](const std::string &table, const std::string &message) {
    emit({EventKind::warning, table, message, 0});
  };
}

Pipeline::~Pipeline() = default;

void Pipeline::add_transform(const std::string &table_pattern, bool serial, TransformFn fn) {
  if (started_.load())
    throw Error(Code::state, "transforms can only be added before the pipeline runs", "pipeline=" + spec_.name);
  auto t = std::make_unique<HostTransform>();
  t->pattern_text = table_pattern;
  try {
    t->pattern = std::regex(table_pattern.empty() ? ".*" : table_pattern);
  } catch (const std::regex_error &e) {
    throw Error(Code::invalid_argument,
                "transform table pattern '" + table_pattern + "' is not a valid regex: " + e.what(),
                "pipeline=" + spec_.name);
  }
  t->serial = serial;
  t->fn = std::move(fn);
  transforms_.push_back(std::move(t));
}

void Pipeline::add_event_listener(EventListener listener) {
  if (started_.load())
    throw Error(Code::state, "event listeners can only be added before the pipeline runs", "pipeline=" + spec_.name);
  listeners_.push_back(std::move(listener));
}

void Pipeline::emit(const Event &event) {
  std::lock_guard<std::mutex> lock(listener_mutex_);
  for (auto &l : listeners_) l(event);
}

void Pipeline::set_host_feed(std::shared_ptr<connectors::host::Feed> feed) {
  if (started_.load())
    throw Error(Code::state, "a change stream opens before the pipeline runs", "pipeline=" + spec_.name);
  std::lock_guard<std::mutex> lock(cancel_mutex_);  // stop() may read it from another thread
  context_.host_feed = std::move(feed);
}

void Pipeline::stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  try {
    std::lock_guard<std::mutex> lock(cancel_mutex_);
    if (run_cancel_) run_cancel_->cancel();
    // A writer waiting for the host to take a batch must not outlive the host.
    if (context_.host_feed) context_.host_feed->stop();
  } catch (...) {
    // A lock that cannot be taken: readers still see stop_requested_ between batches.
  }
}

void Pipeline::run(bool fresh) {
  if (started_.exchange(true))
    throw Error(Code::state, "a pipeline runs once; create a new one to run again", "pipeline=" + spec_.name);
  start_us_.store(now_us());
  state_.store(running);
  Run run(*this);
  {
    std::lock_guard<std::mutex> lock(cancel_mutex_);
    run_cancel_ = run.cancel_owner;
  }
  struct ForgetCancel {
    Pipeline &p;
    ~ForgetCancel() {
      std::lock_guard<std::mutex> lock(p.cancel_mutex_);
      p.run_cancel_.reset();
    }
  } forget{*this};
  auto finish = [&](int state) {
    end_us_.store(now_us());
    state_.store(state);
  };
  try {
    if (stop_requested_.load())
      throw Error(Code::cancelled, "pipeline stopped before it started", "pipeline=" + spec_.name);
    run.source = connectors::create_source(spec_.source, context_);
    run.sink = connectors::create_sink(spec_.sink, context_);
    run.open_checkpoint_store(fresh);
    model::CheckpointState state = run.store ? run.store->load() : model::CheckpointState{};
    const bool snapshot = spec_.mode != config::Mode::cdc;
    const bool changes = spec_.mode != config::Mode::snapshot;
    if (changes) run.source->prepare_change_capture(snapshot);
    if (snapshot) run.plan(state);
    emit({EventKind::pipeline_started, "", run.source->describe() + " -> " + run.sink->describe(),
          rows_estimated_.load()});
    if (snapshot) run.execute();
    if (changes && !run.failed.load() && !stop_requested_.load()) run.execute_cdc(state);
  } catch (const Error &e) {
    run.fail(run.contextual(e, ""));
  } catch (const std::bad_alloc &) {
    run.fail(Error(Code::nomem, "out of memory", "pipeline=" + spec_.name));
  } catch (const std::exception &e) {
    run.fail(Error(Code::internal, std::string("unexpected failure: ") + e.what(), "pipeline=" + spec_.name));
  }
  for (const auto &entry : context_.value_report->entries())
    emit({EventKind::warning, entry.table,
          "column " + entry.column + ": " + std::to_string(entry.count) + " value(s) " + entry.reason +
              " (pipeline.invalid_values=" + model::invalid_value_policy_name(context_.invalid_values) + ")",
          entry.count});
  if (run.first_error) {
    Error e = *run.first_error;
    finish(e.code() == Code::cancelled ? cancelled : failed);
    emit({EventKind::pipeline_failed, "", std::string(e.what()), 0});
    throw e;
  }
  if (stop_requested_.load()) {
    finish(cancelled);
    Error e(Code::cancelled, "pipeline stopped; the checkpoint holds everything written, the next run resumes from it",
            "pipeline=" + spec_.name);
    emit({EventKind::pipeline_failed, "", e.what(), 0});
    throw e;
  }
  finish(finished);
  emit({EventKind::pipeline_finished, "", "", metrics().rows_written});
}

MetricsSnapshot Pipeline::metrics() const {
  MetricsSnapshot m;
  {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    for (const auto &t : tables_) {
      TableMetrics tm;
      tm.name = t->name;
      tm.rows_read = t->rows_read.load();
      tm.rows_written = t->rows_written.load();
      tm.bytes_read = t->bytes_read.load();
      tm.bytes_written = t->bytes_written.load();
      m.rows_read += tm.rows_read;
      m.rows_written += tm.rows_written;
      m.bytes_read += tm.bytes_read;
      m.bytes_written += tm.bytes_written;
      m.tables.push_back(tm);
    }
  }
  m.batches = batches_.load();
  m.errors = errors_.load();
  m.retries = retries_.load();
  m.tables_total = tables_total_.load();
  m.tables_done = tables_done_.load();
  m.rows_estimated = rows_estimated_.load();
  int64_t start = start_us_.load(), end = end_us_.load();
  m.elapsed_us = start == 0 ? 0 : (end ? end : now_us()) - start;
  m.lag_ms = context_.stream_status->lag_ms.load();
  m.source_retained_bytes = context_.stream_status->retained_bytes.load();
  m.values_adjusted = context_.value_report->total();
  m.state = state_name(state_.load());
  return m;
}

}  // namespace ds::pipeline
