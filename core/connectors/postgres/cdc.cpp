#include "connectors/postgres/cdc.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <utility>

#include "connectors/postgres/catalog.hpp"
#include "connectors/postgres/stream_spool.hpp"
#include "connectors/postgres/text_values.hpp"
#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

using pgoutput::Kind;

constexpr int64_t kStatusIntervalUs = 1000000;  // standby status at least this often
// A held batch (whole transactions waiting for company) is handed on when
// the socket runs dry, unless messages came faster than kBusyMessagesPerS
// over the last kRateWindowUs: under load the reader outpaces the walsender
// and finds the socket dry between messages, and handing on each sliver made
// the sink commit each (a WAL flush and the staged statements per commit).
constexpr int64_t kBusyMessagesPerS = 50000;
constexpr int64_t kRateWindowUs = 2000;
constexpr int64_t kMaxHoldUs = 20000;                // what a busy stream's batch may wait for more (lag under load)
constexpr int64_t kPgEpochUnixUs = 946684800000000;  // 2000-01-01 in Unix microseconds

int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void put_u64(std::string &out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

uint64_t get_u64(const char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

bool same_value(const pgoutput::Value &a, const pgoutput::Value &b) { return a.kind == b.kind && a.data == b.data; }

}  // namespace

// -------------------------------------------------------------- slot and publication

std::string default_slot_name(const std::string &pipeline_name) {
  std::string out = "datasync_";
  for (char c : pipeline_name) {
    unsigned char u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '_';
  }
  return out.substr(0, 63);
}

void ensure_publication(Connection &conn, const std::string &publication, const std::vector<std::string> &tables) {
  const ConnParams &p = conn.params();
  const std::string where = " on " + p.host + ":" + std::to_string(p.port);
  Result level = conn.exec("SHOW wal_level");
  if (level.value(0, 0) != "logical")
    throw Error(Code::unsupported,
                "wal_level is '" + level.value(0, 0) + "'" + where +
                    "; streaming changes needs wal_level = logical in postgresql.conf (then restart the server)",
                conn.context());
  Result role = conn.exec("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user");
  if (role.rows() != 1 || role.value(0, 0) != "t")
    throw Error(Code::auth,
                "user \"" + p.user + "\" lacks the REPLICATION attribute needed to stream changes" + where +
                    " — run ALTER ROLE " + quote_identifier(p.user) + " REPLICATION as a superuser",
                conn.context());
  Result exists = conn.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication});
  if (exists.rows() > 0) return;  // reused as it is: its owner decides its tables
  if (tables.empty())
    throw Error(Code::not_found, "no table to publish for publication \"" + publication + "\"", conn.context());
  std::string list;
  for (const std::string &t : tables) {
    size_t dot = t.find('.');
    list += (list.empty() ? "" : ", ") + quote_identifier(t.substr(0, dot)) + "." + quote_identifier(t.substr(dot + 1));
  }
  conn.exec("CREATE PUBLICATION " + quote_identifier(publication) + " FOR TABLE " + list);
}

SlotInfo ensure_slot(Connection &replication, Connection &conn, const std::string &slot, bool export_snapshot) {
  SlotInfo info;
  info.name = slot;
  Result r = conn.exec_params(
      "SELECT plugin, slot_type, coalesce(database::text, '') FROM pg_replication_slots WHERE slot_name = $1", {slot});
  if (r.rows() > 0) {
    if (r.value(0, 1) != "logical" || r.value(0, 0) != "pgoutput" || r.value(0, 2) != conn.params().database)
      throw Error(Code::state,
                  "replication slot \"" + slot + "\" exists but is not a pgoutput slot of database \"" +
                      conn.params().database + "\" (plugin " + r.value(0, 0) + ", database " + r.value(0, 2) +
                      "); choose another source.slot_name or drop it",
                  conn.context());
    return info;
  }
  Result created = replication.exec("CREATE_REPLICATION_SLOT " + quote_identifier(slot) + " LOGICAL pgoutput " +
                                    (export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT"));
  info.created = true;
  info.consistent_point = created.value(0, 1);
  if (!created.is_null(0, 2)) info.snapshot = created.value(0, 2);
  return info;
}

void drop_slot_and_publication(Connection &conn, const std::string &slot, const std::string &publication) {
  conn.exec_params("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", {slot});
  conn.exec("DROP PUBLICATION IF EXISTS " + quote_identifier(publication));
}

// ---------------------------------------------------------------- the stream

struct PostgresChangeStream::Table {
  pgoutput::Relation rel;
  model::TableSchemaPtr schema;
  std::string display;  // "schema.table"
};

PostgresChangeStream::PostgresChangeStream(ConnParams params, ChangeStreamOptions options,
                                           std::unique_ptr<Connection> replication)
    : params_(std::move(params)), options_(std::move(options)), repl_(std::move(replication)) {
  if (!options_.status) options_.status = std::make_shared<model::ChangeStreamStatus>();
}

PostgresChangeStream::~PostgresChangeStream() = default;

void PostgresChangeStream::set_known_columns(const std::map<std::string, model::KnownColumns> &tables) {
  known_ = tables;
}

void PostgresChangeStream::acknowledge(const std::string &position) {
  if (position.empty()) return;
  const uint64_t lsn = pgoutput::lsn_from_string(position);
  uint64_t seen = acknowledged_.load();
  while (lsn > seen && !acknowledged_.compare_exchange_weak(seen, lsn)) {
  }
  std::lock_guard<std::mutex> lock(pending_mutex_);
  int64_t committed_at = -1;
  while (!pending_commits_.empty() && pending_commits_.front().first <= lsn) {
    committed_at = pending_commits_.front().second;
    pending_commits_.pop_front();
  }
  if (committed_at >= 0)
    options_.status->lag_ms.store(std::max<int64_t>(0, (now_unix_us() - kPgEpochUnixUs - committed_at) / 1000));
}

void PostgresChangeStream::send_status(uint64_t lsn, bool reply_requested) {
  std::string msg = "r";
  put_u64(msg, lsn);  // written
  put_u64(msg, lsn);  // flushed: durable in the sink
  put_u64(msg, lsn);  // applied
  put_u64(msg, static_cast<uint64_t>(now_unix_us() - kPgEpochUnixUs));
  msg += static_cast<char>(reply_requested ? 1 : 0);
  PGconn *raw = repl_->raw();
  if (PQputCopyData(raw, msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(raw) != 0)
    throw repl_->error(nullptr);
}

Connection &PostgresChangeStream::catalog() {
  if (!catalog_ || !catalog_->ok()) {
    ConnParams p = params_;
    p.replication = false;
    p.application_name += " cdc catalog";
    catalog_ = std::make_unique<Connection>(p);
  }
  return *catalog_;
}

void PostgresChangeStream::check_retained_wal() {
  constexpr int64_t kEveryUs = 10000000;
  const int64_t now = now_unix_us();
  if (now - last_wal_check_us_ < kEveryUs) return;
  last_wal_check_us_ = now;
  {
    // The age of the oldest transaction not yet durable counts as lag too.
    std::lock_guard<std::mutex> lock(pending_mutex_);
    if (!pending_commits_.empty()) {
      const int64_t age = (now - kPgEpochUnixUs - pending_commits_.front().second) / 1000;
      if (age > options_.status->lag_ms.load()) options_.status->lag_ms.store(age);
    }
  }
  int64_t retained = -1;
  try {
    Result r = catalog().exec_params(
        "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM pg_replication_slots "
        "WHERE slot_name = $1",
        {options_.slot});
    if (r.rows() == 1) retained = r.int_value(0, 0);
  } catch (const Error &) {
    return;  // a metric is not worth failing the stream for; the stream's own connection reports real trouble
  }
  options_.status->retained_bytes.store(retained);
  const int64_t limit = options_.retained_wal_warning;
  if (limit > 0 && retained > limit && !warned_retained_) {
    warned_retained_ = true;
    if (options_.warn)
      options_.warn("", "replication slot \"" + options_.slot + "\" holds " + std::to_string(retained >> 20) +
                            " MiB of WAL on " + params_.host + ":" + std::to_string(params_.port) +
                            " (source.retained_wal_warning is " + std::to_string(limit >> 20) +
                            " MiB): the sink is behind, or the pipeline was stopped for long; " +
                            "`datasync cleanup` drops the slot if it is no longer needed");
  } else if (retained >= 0 && retained < limit / 2) {
    warned_retained_ = false;
  }
}

PostgresChangeStream::Table &PostgresChangeStream::table_for(
    const pgoutput::Relation &rel, const std::function<void(const model::SchemaChange &)> &notify) {
  auto schema = std::make_shared<model::TableSchema>();
  schema->id = model::TableId{"", rel.schema.empty() ? "pg_catalog" : rel.schema, rel.name};
  schema->source_dialect = "postgres";
  for (const pgoutput::RelationColumn &rc : rel.columns) {
    auto key = std::make_pair(rc.type_oid, rc.typmod);
    auto found = types_.find(key);
    if (found == types_.end()) {
      // Domains resolve to their base type, as the snapshot reader's catalog does.
      Result t = catalog().exec_params(
          "WITH RECURSIVE d AS (SELECT oid, typname, typtype, typbasetype, typtypmod, 0 AS depth FROM pg_type "
          "WHERE oid = $1::oid UNION ALL SELECT b.oid, b.typname, b.typtype, b.typbasetype, b.typtypmod, d.depth + 1 "
          "FROM d JOIN pg_type b ON b.oid = d.typbasetype WHERE d.typtype = 'd') "
          "SELECT typname, CASE WHEN typtypmod <> -1 THEN typtypmod ELSE $2::int END, format_type($1::oid, $2::int) "
          "FROM d ORDER BY depth DESC LIMIT 1",
          {std::to_string(rc.type_oid), std::to_string(rc.typmod)});
      if (t.rows() != 1)
        throw Error(Code::schema, "type oid " + std::to_string(rc.type_oid) + " of column " + rc.name + " is unknown",
                    catalog().context());
      const std::string base = t.value(0, 0);
      found = types_
                  .emplace(key, map_type(base, static_cast<int>(t.int_value(0, 1)),
                                         base == "jsonb" ? "jsonb" : t.value(0, 2)))
                  .first;
    }
    model::ColumnSchema c;
    c.name = rc.name;
    c.type = found->second;
    if (rc.key) {
      c.nullable = false;
      schema->primary_key.push_back(static_cast<int>(schema->columns.size()));
    }
    schema->columns.push_back(std::move(c));
  }
  auto &slot = tables_[rel.oid];
  // What the sink has: this stream's last sight of the table, else what the
  // pipeline knew before the stream started (snapshot or checkpoint).
  model::KnownColumns before;
  bool known = false;
  if (slot) {
    before = model::known_columns_of(*slot->schema);
    known = true;
  } else if (auto k = known_.find(schema->id.to_string()); k != known_.end()) {
    before = k->second;
    known = true;
  }
  if (known && notify) {
    auto type_before = [&](const std::string &name) -> const std::string * {
      for (const auto &[n, t] : before)
        if (n == name) return &t;
      return nullptr;
    };
    for (const auto &c : schema->columns) {
      const std::string *old_type = type_before(c.name);
      if (old_type && *old_type == model::to_string(c.type)) continue;
      model::SchemaChange change;
      change.kind = old_type ? model::SchemaChangeKind::alter_column_type : model::SchemaChangeKind::add_column;
      change.table = schema->id;
      change.schema_after = schema;
      change.column = c.name;
      change.new_type = c.type;
      notify(change);
    }
    for (const auto &[name, type] : before) {
      if (schema->find_column(name) >= 0) continue;
      model::SchemaChange change;
      change.kind = model::SchemaChangeKind::drop_column;
      change.table = schema->id;
      change.schema_after = schema;
      change.column = name;
      notify(change);
    }
  }
  if (!slot) slot = std::make_unique<Table>();
  slot->rel = rel;
  slot->schema = schema;
  slot->display = schema->id.to_string();
  return *slot;
}

void PostgresChangeStream::stream(const std::string &resume_after, int64_t batch_rows, const model::BatchEmitter &emit,
                                  const std::function<void(const model::SchemaChange &)> &on_schema_change,
                                  const model::CancelToken &cancel) {
  if (!repl_ || !repl_->ok()) {
    ConnParams p = params_;
    p.replication = true;
    p.application_name += " cdc";
    repl_ = std::make_unique<Connection>(p);
  }
  // Leaving by an exception (ours or the emitter's) abandons the COPY BOTH
  // stream: the connection cannot start another one, so it closes.
  struct CloseOnThrow {
    std::unique_ptr<Connection> &conn;
    int exceptions = std::uncaught_exceptions();
    ~CloseOnThrow() {
      if (std::uncaught_exceptions() > exceptions) conn.reset();
    }
  } close_on_throw{repl_};
  // Only the first stream of a run checks: later ones resume after their own commits.
  const std::string created_at = std::exchange(options_.created_at, std::string());
  if (!created_at.empty() && !resume_after.empty() &&
      pgoutput::lsn_from_string(resume_after) != pgoutput::lsn_from_string(created_at))
    throw Error(Code::not_found,
                "replication slot \"" + options_.slot + "\" was created by this run at " + created_at +
                    ", but the checkpoint resumes at " + resume_after +
                    ": the slot it was reading was dropped, and changes committed meanwhile are gone — run the "
                    "pipeline with --fresh to copy the tables again",
                params_.context());
  const uint64_t resume_lsn = resume_after.empty() ? 0 : pgoutput::lsn_from_string(resume_after);
  acknowledge(resume_after);
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    pending_commits_.clear();  // emitted before a reconnect: emitted again if not durable
  }
  // The walsender decodes with its own session's setting: how much of a
  // transaction it keeps in memory before streaming (or spilling) it.
  if (!options_.decoding_work_mem.empty())
    repl_->exec("SET logical_decoding_work_mem = " + quote_literal(options_.decoding_work_mem));
  const bool streaming = options_.streaming && PQserverVersion(repl_->raw()) >= 140000;
  const std::string start = "START_REPLICATION SLOT " + quote_identifier(options_.slot) + " LOGICAL " +
                            pgoutput::lsn_to_string(resume_lsn) + " (proto_version '" +
                            (streaming ? "2', streaming 'on'" : "1'") + ", publication_names " +
                            quote_literal(quote_identifier(options_.publication)) + ")";
  {
    Result r(PQexec(repl_->raw(), start.c_str()));
    if (r.status() != PGRES_COPY_BOTH) {
      Error e = repl_->error(r.get());
      const char *state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
      if (state && std::string(state) == "55006")  // the slot's previous reader has not exited yet
        throw Error(Code::connection, std::string(e.what()) + " (retrying: a previous stream may still be closing)",
                    repl_->context(), true);
      if (e.code() == Code::not_found || std::string(e.what()).find("does not exist") != std::string::npos)
        throw Error(Code::not_found,
                    std::string(e.what()) + " — the replication slot \"" + options_.slot + "\" or publication \"" +
                        options_.publication + "\" is gone; run the pipeline with --fresh to create them again",
                    repl_->context());
      throw e;
    }
  }

  // The transaction being assembled: batches of one table at a time.
  bool in_txn = false, skip_txn = false;
  uint64_t last_emitted = resume_lsn;  // end LSN of the last transaction handed on
  Table *current = nullptr;
  std::unique_ptr<model::BatchBuilder> builder;
  bool stopped = false;
  // Under load, a transaction's batch is held open at its commit to take the
  // next transactions too (whole ones: a batch never ends inside one, and
  // carries the last commit's position), so the sink applies few large
  // set-based batches instead of one per source transaction. It is handed
  // on as soon as nothing more is buffered (idle: no added latency), when it
  // is full, or when a later transaction must flush mid-way (its commit
  // position then supersedes the held one).
  model::Position held;
  bool holding = false;
  int64_t held_since = 0;
  auto flush = [&](bool transaction_open, const model::Position &position, bool idle = false) {
    holding = false;
    std::shared_ptr<model::Batch> batch;
    if (builder && builder->num_rows() > 0) {
      batch = builder->finish(position);
    } else if (!transaction_open) {
      batch = std::make_shared<model::Batch>();  // the commit alone: records the position
      batch->position = position;
    }
    builder.reset();
    current = nullptr;
    if (!batch) return;
    batch->transaction_open = transaction_open;
    batch->source_idle = idle;
    if (!emit(batch)) stopped = true;
  };
  auto commit_transaction = [&](uint64_t end_lsn, int64_t commit_time) {
    {
      std::lock_guard<std::mutex> lock(pending_mutex_);
      pending_commits_.emplace_back(end_lsn, commit_time);
    }
    last_emitted = end_lsn;
    held = model::Position{stream_name(), pgoutput::lsn_to_string(end_lsn), false};
    if (options_.group_transactions && builder && builder->num_rows() > 0 && builder->num_rows() < batch_rows) {
      if (!holding) held_since = now_unix_us();
      holding = true;
      return;
    }
    flush(false, held);
  };
  auto builder_for = [&](Table &t) -> model::BatchBuilder & {
    if (current != &t || !builder || builder->num_rows() >= batch_rows) {
      if (builder) flush(true, {});
      builder = std::make_unique<model::BatchBuilder>(t.schema, std::min<int64_t>(batch_rows, 4096), true);
      current = &t;
    }
    return *builder;
  };
  auto append_tuple = [&](model::BatchBuilder &b, Table &t, const pgoutput::Tuple &tuple, const std::vector<int> &cols,
                          bool keys_only) {
    for (size_t out = 0; out < cols.size(); ++out) {
      const int i = cols[out];
      const model::ColumnSchema &c = t.schema->columns[static_cast<size_t>(i)];
      const pgoutput::Value &v = tuple.values.at(static_cast<size_t>(i));
      const bool is_key =
          std::find(t.schema->primary_key.begin(), t.schema->primary_key.end(), i) != t.schema->primary_key.end();
      if (v.kind == 'n' || v.kind == 'u' || (keys_only && !is_key)) {
        b.column(out).append_null();
      } else {
        append_text_value(b.column(out), c.type, v.data, "column " + c.name + " of " + t.display);
      }
    }
  };
  auto all_columns = [](const Table &t) {
    std::vector<int> cols(t.schema->columns.size());
    for (size_t i = 0; i < cols.size(); ++i) cols[i] = static_cast<int>(i);
    return cols;
  };
  auto key_changed = [](const Table &t, const pgoutput::Message &m) {
    if (!m.has_old) return false;
    if (m.old_kind == 'K') return true;  // the server sends the old key only when it changed
    for (int k : t.schema->primary_key)
      if (!same_value(m.old_tuple.values.at(static_cast<size_t>(k)), m.new_tuple.values.at(static_cast<size_t>(k))))
        return true;
    return false;
  };
  auto table_of = [&](const pgoutput::Message &m) -> Table & {
    auto found = tables_.find(m.relation);
    if (found == tables_.end())
      throw Error(Code::data,
                  "a change of relation oid " + std::to_string(m.relation) + " came before its Relation message",
                  repl_->context());
    return *found->second;
  };

  // A change, relation or truncate of the transaction being applied (live,
  // or replayed from a streamed transaction's spool).
  auto apply_message = [&](const pgoutput::Message &m) {
    switch (m.kind) {
      case Kind::relation: {
        // A changed table: its pending rows go first, then its schema change.
        if (builder && current && current->rel.oid == m.rel.oid) flush(true, {});
        table_for(m.rel, skip_txn ? std::function<void(const model::SchemaChange &)>() : on_schema_change);
        break;
      }
      case Kind::insert: {
        if (skip_txn) break;
        Table &t = table_of(m);
        model::BatchBuilder &b = builder_for(t);
        append_tuple(b, t, m.new_tuple, all_columns(t), false);
        b.end_row(model::Op::insert);
        break;
      }
      case Kind::update: {
        if (skip_txn) break;
        Table &t = table_of(m);
        if (key_changed(t, m)) {
          model::BatchBuilder &b = builder_for(t);
          append_tuple(b, t, m.old_tuple, all_columns(t), true);
          b.end_row(model::Op::remove);
        }
        std::vector<int> present;
        for (size_t i = 0; i < m.new_tuple.values.size(); ++i)
          if (m.new_tuple.values[i].kind != 'u') present.push_back(static_cast<int>(i));
        if (present.size() == t.schema->columns.size()) {
          model::BatchBuilder &b = builder_for(t);
          append_tuple(b, t, m.new_tuple, present, false);
          b.end_row(model::Op::update_after);
          break;
        }
        // Unchanged TOASTed values were not sent: a row of the other columns only.
        flush(true, {});
        auto partial = std::make_shared<model::TableSchema>(*t.schema);
        partial->columns.clear();
        partial->primary_key.clear();
        partial->indexes.clear();
        for (int i : present) {
          if (std::find(t.schema->primary_key.begin(), t.schema->primary_key.end(), i) != t.schema->primary_key.end())
            partial->primary_key.push_back(static_cast<int>(partial->columns.size()));
          partial->columns.push_back(t.schema->columns[static_cast<size_t>(i)]);
        }
        model::BatchBuilder one(partial, 1, true);
        append_tuple(one, t, m.new_tuple, present, false);
        one.end_row(model::Op::update_after);
        auto batch = one.finish({});
        batch->transaction_open = true;
        if (!emit(batch)) stopped = true;
        break;
      }
      case Kind::remove: {
        if (skip_txn) break;
        Table &t = table_of(m);
        model::BatchBuilder &b = builder_for(t);
        append_tuple(b, t, m.old_tuple, all_columns(t), m.old_kind == 'K');
        b.end_row(model::Op::remove);
        break;
      }
      case Kind::truncate: {
        if (skip_txn) break;
        flush(true, {});
        for (uint32_t oid : m.truncated) {
          auto it = tables_.find(oid);
          if (it == tables_.end()) continue;
          model::SchemaChange change;
          change.kind = model::SchemaChangeKind::truncate_table;
          change.table = it->second->schema->id;
          change.schema_after = it->second->schema;
          on_schema_change(change);
        }
        break;
      }
      default: break;  // types, origins, logical messages: nothing to apply
    }
  };

  // Streamed transactions in progress (protocol 2), by top-level xid.
  std::map<uint32_t, std::unique_ptr<TransactionSpool>> spools;
  TransactionSpool *streaming_into = nullptr;  // between stream start and stop
  int64_t last_status = 0;
  uint64_t server_wal_end = 0;
  PGconn *raw = repl_->raw();
  auto report_progress = [&](bool reply_requested) {
    // With nothing in flight, the server's WAL end is as good as durable:
    // nothing of ours lies before it, and reporting it lets the slot free WAL.
    // A streamed transaction in progress does not count: it commits later,
    // beyond today's WAL end, so a restart still receives it whole.
    const uint64_t acked = acknowledged_.load();
    const bool idle = !in_txn && acked >= last_emitted;
    send_status(idle ? std::max(acked, server_wal_end) : acked, reply_requested);
    last_status = now_unix_us();
  };
  auto replay_spool = [&](TransactionSpool &spool, uint64_t end_lsn, int64_t commit_time) {
    in_txn = true;
    skip_txn = false;
    int64_t checked = now_unix_us();
    uint64_t count = 0;
    spool.replay([&](std::string_view payload) {
      if (stopped || cancel.cancelled()) return;
      apply_message(pgoutput::decode(payload, true));
      // A long replay reads nothing from the server: keep the walsender from
      // timing us out by reporting (the unchanged durable position) meanwhile.
      if ((++count & 4095) == 0 && now_unix_us() - checked >= kStatusIntervalUs) {
        send_status(acknowledged_.load());
        checked = now_unix_us();
      }
    });
    in_txn = false;
    if (stopped || cancel.cancelled()) return;
    commit_transaction(end_lsn, commit_time);
  };

  int64_t window_start = now_unix_us(), window_messages = 0;
  bool busy = false;
  while (!stopped && !cancel.cancelled()) {
    char *buf = nullptr;
    int n = PQgetCopyData(raw, &buf, 1);
    if (n == 0) {
      // libpq's buffer is empty; what the socket already holds is not idle.
      if (PQconsumeInput(raw) == 0) throw repl_->error(nullptr);
      n = PQgetCopyData(raw, &buf, 1);
    }
    if (n == 0) {
      const int64_t now = now_unix_us();
      if (now - window_start >= kRateWindowUs) {
        busy = window_messages * 1000000 >= kBusyMessagesPerS * (now - window_start);
        window_start = now;
        window_messages = 0;
      }
      // Idle: what is held goes at once — unless messages are coming fast,
      // when it keeps growing until they stop, it is full or kMaxHoldUs old.
      if (holding && (!busy || now - held_since >= kMaxHoldUs)) flush(false, held, !busy);
      // Nothing buffered: report progress, then wait for the socket (briefly, to notice cancel).
      if (now - last_status >= kStatusIntervalUs) report_progress(false);
      check_retained_wal();
      pollfd pfd{PQsocket(raw), POLLIN, 0};
      ::poll(&pfd, 1, holding ? static_cast<int>(kRateWindowUs / 1000) : 100);
      if (PQconsumeInput(raw) == 0) throw repl_->error(nullptr);
      continue;
    }
    if (n == -1) {
      Result end(PQgetResult(raw));
      if (end.status() == PGRES_FATAL_ERROR) {
        Error e = repl_->error(end.get());
        const char *state = PQresultErrorField(end.get(), PG_DIAG_SQLSTATE);
        if (state && std::string(state) == "42704")  // undefined_object: the publication (or slot) is gone
          throw Error(Code::not_found,
                      std::string(e.what()) + " — the publication \"" + options_.publication + "\" or slot \"" +
                          options_.slot + "\" is gone; run the pipeline with --fresh to create them again",
                      repl_->context());
        throw Error(Code::connection, std::string("the server ended the replication stream: ") + e.what(),
                    repl_->context(), true);
      }
      throw Error(Code::connection, "the server ended the replication stream", repl_->context(), true);
    }
    if (n < 0) throw repl_->error(nullptr);
    std::unique_ptr<char, decltype(&PQfreemem)> owner(buf, PQfreemem);
    ++window_messages;
    if (buf[0] == 'k' && n >= 18) {
      server_wal_end = std::max(server_wal_end, get_u64(buf + 1));
      if (buf[17]) report_progress(false);
      continue;
    }
    if (buf[0] != 'w' || n < 25) continue;
    server_wal_end = std::max(server_wal_end, get_u64(buf + 9));
    const std::string_view payload(buf + 25, static_cast<size_t>(n - 25));
    if (streaming_into && payload[0] != static_cast<char>(Kind::stream_stop) &&
        payload[0] != static_cast<char>(Kind::origin)) {
      // A chunk of a transaction in progress: kept as it came, decoded at its commit.
      if (payload.size() < 5) pgoutput::decode(payload, true);  // throws: malformed
      const auto *x = reinterpret_cast<const unsigned char *>(payload.data() + 1);
      const uint32_t subxid = (uint32_t{x[0]} << 24) | (uint32_t{x[1]} << 16) | (uint32_t{x[2]} << 8) | x[3];
      streaming_into->append(subxid, payload);
      continue;
    }
    pgoutput::Message m = pgoutput::decode(payload);
    switch (m.kind) {
      case Kind::begin:
        in_txn = true;
        // Already applied (the server restarts from its own, older, confirmed position).
        skip_txn = m.lsn < resume_lsn;
        break;
      case Kind::commit:
        in_txn = false;
        if (!skip_txn && m.lsn > last_emitted) {
          commit_transaction(m.lsn, m.commit_time);
        } else {
          builder.reset();
          current = nullptr;
        }
        break;
      case Kind::stream_start: {
        auto &spool = spools[m.xid];
        if (!spool && !m.first_segment)
          throw Error(Code::connection,
                      "the server resumed streamed transaction xid " + std::to_string(m.xid) +
                          " past its first chunk; restarting the stream to receive it whole",
                      repl_->context(), true);
        if (m.first_segment) spool = std::make_unique<TransactionSpool>(m.xid);
        streaming_into = spool.get();
        break;
      }
      case Kind::stream_stop: streaming_into = nullptr; break;
      case Kind::stream_abort: {
        auto found = spools.find(m.xid);
        if (found == spools.end()) break;
        if (m.subxid == m.xid) {
          spools.erase(found);
        } else {
          found->second->abort_subtransaction(m.subxid);
        }
        break;
      }
      case Kind::stream_commit: {
        auto found = spools.find(m.xid);
        std::unique_ptr<TransactionSpool> spool;
        if (found != spools.end()) {
          spool = std::move(found->second);
          spools.erase(found);
        }
        if (m.lsn < resume_lsn || m.end_lsn <= last_emitted) break;  // applied before
        if (spool) {
          replay_spool(*spool, m.end_lsn, m.commit_time);
        } else {
          commit_transaction(m.end_lsn, m.commit_time);
        }
        break;
      }
      default: apply_message(m); break;
    }
    if (!in_txn) check_retained_wal();
  }
  // Everything emitted may not be durable yet: report only what is. Then
  // close the connection: a COPY BOTH stream cannot be restarted on it, and
  // closing frees the slot for the next reader at once.
  try {
    send_status(acknowledged_.load());
  } catch (const Error &) {
  }
  repl_.reset();
}

}  // namespace ds::connectors::postgres
