#include "connectors/postgres/sink.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/checkpoint.hpp"
#include "connectors/postgres/copy_binary_encode.hpp"
#include "connectors/postgres/catalog.hpp"
#include "connectors/postgres/ddl.hpp"
#include "model/error.hpp"
#include "schema/changelog.hpp"
#include "schema/ddl.hpp"
#include "schema/evolution.hpp"

namespace ds::connectors::postgres {
namespace {

constexpr size_t kChunkBytes = 1 << 20;  // COPY data is sent in chunks of about this size
// Statements queued in pipeline mode before their results are read, so that
// the results never fill the socket while the client still sends.
constexpr size_t kPipelineDepth = 512;
// The staging table's _ds_op: what the row's statement does to its key.
constexpr int16_t kStageUpsert = 0, kStageInsert = 1, kStageDelete = 3;
constexpr const char *kDdlLock = "SELECT pg_advisory_xact_lock(7308462419870435)";

void rollback_quietly(Connection &conn) {
  if (!conn.ok() || !conn.in_transaction()) return;
  try {
    conn.exec("ROLLBACK");
  } catch (...) {
  }
}

bool same_columns(const model::TableSchema &a, const model::TableSchema &b) {
  if (a.id != b.id || a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i)
    if (a.columns[i].name != b.columns[i].name || a.columns[i].type != b.columns[i].type) return false;
  return true;
}

std::string source_column(const model::ColumnSchema &c) {
  std::string s = c.name + " " + model::to_string(c.type);
  if (!c.type.source_name.empty()) s += " (" + c.type.source_name + ")";
  return s;
}

}  // namespace

// ------------------------------------------------------------------ SinkShared

Connection &SinkShared::connection() {
  if (!conn || !conn->ok()) {
    conn.reset();
    conn = std::make_unique<Connection>(config.params);
    conn->exec("SET client_min_messages = warning");  // no "already exists, skipping" notices
  }
  return *conn;
}

void SinkShared::ensure_checkpoint_table() {
  std::lock_guard<std::mutex> lock(mutex);
  if (checkpoint_ready) return;
  postgres::ensure_checkpoint_table(connection(), config.checkpoint_schema);
  checkpoint_ready = true;
}

// ---------------------------------------------------------------- PostgresSink

PostgresSink::PostgresSink(SinkConfig config) {
  config.params.role = "sink";
  context_ = "sink=postgres " + config.params.context();
  if (config.params.user.empty()) throw Error(Code::config, "the postgres sink needs a user", context_);
  if (config.params.database.empty()) throw Error(Code::config, "the postgres sink needs a database", context_);
  if (config.write_mode != "insert" && config.write_mode != "upsert" && config.write_mode != "changelog")
    throw Error(Code::config, "write_mode '" + config.write_mode + "' is not one of insert, upsert, changelog",
                context_);
  if (config.checkpoint_schema.empty()) config.checkpoint_schema = "public";
  shared_ = std::make_shared<SinkShared>(std::move(config));
}

std::string PostgresSink::describe() const {
  const ConnParams &p = shared_->config.params;
  return "postgres host=" + p.host + " port=" + std::to_string(p.port) + " database=" + p.database;
}

std::string PostgresSink::target_schema(const model::TableId &id) const {
  if (!shared_->config.schema.empty()) return shared_->config.schema;
  return id.schema_name.empty() ? "public" : id.schema_name;
}

void PostgresSink::prepare_table(const model::TableSchema &routed) {
  const model::TableSchemaPtr changelog = changelog_mode() ? schema::changelog_schema(routed) : nullptr;
  const model::TableSchema &schema = changelog ? *changelog : routed;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  Connection &conn = shared_->connection();
  const std::string ns = target_schema(schema.id);
  const std::string &name = schema.id.table_name;
  const std::string display = ns + "." + name;
  const std::string ctx = context_ + " table=" + display;
  if (schema.columns.empty()) throw Error(Code::schema, "table " + display + " has no columns to write", ctx);

  char kind = relation_kind(conn, ns, name);
  if (kind == '\0') {
    if (!shared_->config.create_tables)
      throw Error(Code::not_found, "target table " + display + " does not exist and create_tables is false", ctx);
    model::TableDdlPlan plan = plan_locked(conn, schema);
    std::vector<std::string> statements = {"CREATE SCHEMA IF NOT EXISTS " + quote_identifier(ns)};
    statements.insert(statements.end(), plan.statements.begin(), plan.statements.end());
    run_ddl(conn, statements, display);
    return;
  }
  if (kind != 'r' && kind != 'p')
    throw Error(Code::schema, "target " + display + " is not a table (relkind '" + std::string(1, kind) + "')", ctx);

  std::vector<TargetColumn> target = target_columns(conn, ns, name);
  for (const model::ColumnSchema &c : schema.columns) {
    const TargetColumn *t = find_target_column(target, c.name);
    if (!t)
      throw Error(
          Code::schema,
          "target table " + display + " has no column '" + c.name + "' (source column " + source_column(c) + ")", ctx);
    if (t->generated)
      throw Error(Code::schema,
                  "column '" + t->name + "' of target table " + display + " is generated and cannot be written", ctx);
    if (!target_accepts(c.type, *t))
      throw Error(Code::schema,
                  "column '" + c.name + "' of target table " + display + " is " + t->type + " but the source sends " +
                      source_column(c),
                  ctx);
  }
  for (const TargetColumn &t : target) {
    if (!t.not_null || t.has_default) continue;
    bool found = false;
    for (const model::ColumnSchema &c : schema.columns) found = found || find_target_column(target, c.name) == &t;
    if (!found)
      throw Error(Code::schema,
                  "column '" + t.name + "' of target table " + display + " (" + t.type +
                      ") is NOT NULL without a default and the source has no such column",
                  ctx);
  }
}

model::TableDdlPlan PostgresSink::plan_table(const model::TableSchema &routed) {
  const model::TableSchemaPtr changelog = changelog_mode() ? schema::changelog_schema(routed) : nullptr;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return plan_locked(shared_->connection(), changelog ? *changelog : routed);
}

bool PostgresSink::changelog_mode() const { return shared_->config.write_mode == "changelog"; }

schema::TargetInfo PostgresSink::target_info(Connection &conn, const model::TableId &routed) {
  schema::TargetInfo target;
  target.dialect = schema::Dialect::postgres;
  target.target = model::TableId{"", target_schema(routed), routed.table_name};
  target.existing = load_schema_if_exists(conn, target.target.schema_name, target.target.table_name);
  target.keep_spelling = [&conn](const model::TableSchema &source, int column) {
    const model::DataType &type = source.columns[static_cast<size_t>(column)].type;
    std::string chosen = column_type_for_create(conn, type);
    return !type.source_name.empty() && chosen == type.source_name ? chosen : std::string();
  };
  return target;
}

model::TableDdlPlan PostgresSink::plan_locked(Connection &conn, const model::TableSchema &schema) {
  model::TableDdlPlan plan = schema::plan_table(schema, target_info(conn, schema.id));
  // The writers fill in the positions of a source transaction's first
  // batches at its end, finding them through this (only ever small) index.
  if (changelog_mode() && !plan.exists)
    plan.statements.push_back("CREATE INDEX ON " + qualified_name(plan.target.schema_name, plan.target.table_name) +
                              " (" + quote_identifier(schema::kChangelogSeq) + ") WHERE " +
                              quote_identifier(schema::kChangelogPosition) + " IS NULL");
  return plan;
}

void PostgresSink::run_ddl(Connection &conn, const std::vector<std::string> &statements, const std::string &table) {
  conn.exec("BEGIN");
  try {
    // Lanes and concurrent pipelines may create the same table at once.
    conn.exec(kDdlLock);
    for (const std::string &sql : statements) conn.exec(sql, table);
    conn.exec("COMMIT");
  } catch (...) {
    rollback_quietly(conn);
    throw;
  }
}

void PostgresSink::apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  std::vector<std::string> statements = plan.statements;
  if (allow_destructive) statements.insert(statements.end(), plan.destructive.begin(), plan.destructive.end());
  if (!statements.empty()) run_ddl(shared_->connection(), statements, plan.target.to_string());
}

std::string PostgresSink::apply_schema_change(const model::SchemaChange &source_change) {
  model::SchemaChange change = source_change;
  if (changelog_mode()) {
    if (change.kind == model::SchemaChangeKind::truncate_table || change.kind == model::SchemaChangeKind::drop_table)
      return std::string(model::schema_change_name(change.kind)) +
             " not applied (write_mode: changelog keeps every change)";
    if (change.schema_after) change.schema_after = schema::changelog_schema(*change.schema_after);
  }
  std::lock_guard<std::mutex> lock(shared_->mutex);
  Connection &conn = shared_->connection();
  schema::TargetInfo target = target_info(conn, change.table);
  const std::string display = target.target.to_string();
  std::vector<std::string> prefix;
  if (!target.existing) prefix.push_back("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(target.target.schema_name));
  return schema::apply_change(change, schema::parse_evolution_policy(shared_->config.evolution), target,
                              [&](const std::vector<std::string> &statements) {
                                std::vector<std::string> all = prefix;
                                all.insert(all.end(), statements.begin(), statements.end());
                                run_ddl(conn, all, display);
                              });
}

std::unique_ptr<model::SinkWriter> PostgresSink::open_writer(int /*lane*/) {
  return std::make_unique<PostgresSinkWriter>(shared_);
}

std::unique_ptr<model::CheckpointStore> PostgresSink::open_checkpoint_store(const std::string &pipeline_name) {
  return std::make_unique<PostgresCheckpointStore>(shared_->config.params, shared_->config.checkpoint_schema,
                                                   pipeline_name);
}

// ---------------------------------------------------------- PostgresSinkWriter

struct PostgresSinkWriter::TableState {
  model::TableSchemaPtr schema;
  std::string display;    // "s.t"
  std::string qualified;  // "s"."t"
  std::string ctx;
  std::vector<TargetColumn> targets;        // the target column of each batch column
  std::vector<std::optional<Wire>> direct;  // direct binary encoding into the target, per batch column
  bool all_direct = true;
  std::vector<int> key;     // batch columns of the target's primary key (empty when it has none or some is absent)
  std::string column_list;  // quoted target column names, batch order
  std::string copy_sql;     // direct COPY
  std::optional<CopyBinaryEncoder> direct_encoder;
  // Staging.
  std::string stage;  // pg_temp."_ds_stage_N"
  bool stage_ready = false;
  bool stage_dirty = false;  // rows since the last commit (ON COMMIT DELETE ROWS empties it)
  std::optional<CopyBinaryEncoder> stage_encoder;
  std::string stage_ddl, stage_copy_sql;
  // Row statements (write_rows): binary parameters in the stage's wire formats.
  std::string statement;  // prepared statement names' prefix
  std::string insert_sql, upsert_sql, delete_sql;
  // The direct COPY into this table is open on the writer's connection. A
  // write() leaves it open for the next batch: one COPY per batch made the
  // server wait for the client to start each batch and the client wait for
  // the server to finish it, and paid the server's COPY setup per batch.
  // Anything else on the connection (commit, rollback, another table, a
  // staged write) ends it first.
  bool copy_open = false;
  // The open stage of a keyed table's changes (stage_changes): its COPY
  // stays open across batches, like the direct COPY, and its statements run
  // once (apply_stage) when the commit, another table or another kind of
  // write needs the connection — per commit, not per batch, under load.
  bool stage_open = false;
  int64_t stage_rows = 0;  // rows sent to the open stage; the next row's _ds_seq
  struct StagedKey {
    int64_t seq;  // its row in the stage; -1 when none (inserted and deleted since the stage opened)
    bool born;    // its first change since the stage opened inserted it (insert mode): it did not exist before
  };
  std::unordered_map<std::string, StagedKey> staged_keys;  // by model::append_key_bytes
  std::vector<int64_t> superseded;                         // stage rows a later row of their key replaced
  bool stage_deletes = false, stage_upserts = false, stage_inserts = false;
};

namespace {

using TableStates = std::map<std::string, std::unique_ptr<PostgresSinkWriter::TableState>>;

PostgresSinkWriter::TableState *open_copy(const TableStates &tables) {
  for (const auto &t : tables)
    if (t.second->copy_open) return t.second.get();
  return nullptr;
}

// Finishes the open direct COPY, if any: the trailer, then the server's
// verdict on its rows (a constraint violation is thrown here).
void end_copy(Connection &conn, const TableStates &tables, std::string &storage) {
  PostgresSinkWriter::TableState *ts = open_copy(tables);
  if (!ts) return;
  ts->copy_open = false;
  CopyBuffer out(storage);
  CopyBinaryEncoder::append_trailer(out);
  conn.put_copy_data(out.data(), out.size());
  conn.copy_in_end();
}

PostgresSinkWriter::TableState *open_stage(const TableStates &tables) {
  for (const auto &t : tables)
    if (t.second->stage_open) return t.second.get();
  return nullptr;
}

void forget_stage(PostgresSinkWriter::TableState &ts) {
  ts.stage_open = false;
  ts.stage_rows = 0;
  ts.staged_keys.clear();
  ts.superseded.clear();
  ts.stage_deletes = ts.stage_upserts = ts.stage_inserts = false;
}

// Abandons the open COPY, direct or staged, if any (its transaction is
// rolled back next).
void abort_copy(Connection *conn, const TableStates &tables, const char *reason) {
  PostgresSinkWriter::TableState *ts = open_copy(tables);
  PostgresSinkWriter::TableState *staging = open_stage(tables);
  if (ts) ts->copy_open = false;
  if (staging) forget_stage(*staging);
  if ((ts || staging) && conn && conn->ok()) conn->copy_in_abort(reason);
}

// " ON CONFLICT (key) DO UPDATE SET every other column" (DO NOTHING when the key is every column).
std::string on_conflict_update(const PostgresSinkWriter::TableState &ts) {
  std::string key, sets;
  for (size_t k = 0; k < ts.key.size(); ++k)
    key += (k ? ", " : "") + quote_identifier(ts.targets[static_cast<size_t>(ts.key[k])].name);
  for (size_t i = 0; i < ts.targets.size(); ++i) {
    if (std::find(ts.key.begin(), ts.key.end(), static_cast<int>(i)) != ts.key.end()) continue;
    const std::string q = quote_identifier(ts.targets[i].name);
    sets += (sets.empty() ? "" : ", ") + q + " = EXCLUDED." + q;
  }
  return " ON CONFLICT (" + key + ") " + (sets.empty() ? "DO NOTHING" : "DO UPDATE SET " + sets);
}

}  // namespace

PostgresSinkWriter::PostgresSinkWriter(std::shared_ptr<SinkShared> shared)
    : shared_(std::move(shared)), config_(shared_->config), context_("sink=postgres " + config_.params.context()) {}

PostgresSinkWriter::~PostgresSinkWriter() {
  abort_copy(conn_.get(), tables_, "datasync: the writer is closed");
  if (conn_) rollback_quietly(*conn_);
}

Connection &PostgresSinkWriter::connection() {
  if (!conn_ || !conn_->ok()) {
    conn_.reset();
    for (auto &t : tables_) {
      t.second->stage_ready = false;
      t.second->copy_open = false;
    }
    conn_ = std::make_unique<Connection>(config_.params);
    // Casts between timestamp and timestamptz in staged writes are done in UTC.
    conn_->exec("SET TIME ZONE 'UTC'; SET client_min_messages = warning");
  }
  return *conn_;
}

PostgresSinkWriter::TableState &PostgresSinkWriter::state_for(const model::Batch &batch) {
  if (!batch.schema) throw Error(Code::invalid_argument, "a batch without a schema", context_);
  const model::TableSchema &schema = *batch.schema;
  const std::string ns = !config_.schema.empty()         ? config_.schema
                         : schema.id.schema_name.empty() ? std::string("public")
                                                         : schema.id.schema_name;
  const std::string qualified = qualified_name(ns, schema.id.table_name);
  auto it = tables_.find(qualified);
  if (it != tables_.end()) {
    TableState &ts = *it->second;
    if (ts.schema == batch.schema) return ts;
    if (same_columns(*ts.schema, schema)) {
      ts.schema = batch.schema;
      return ts;
    }
    tables_.erase(it);
  }
  if (conn_ && conn_->in_pipeline()) conn_->pipeline_sync();  // the target's columns are read next
  Connection &conn = connection();
  auto ts = std::make_unique<TableState>();
  ts->schema = batch.schema;
  ts->display = ns + "." + schema.id.table_name;
  ts->qualified = qualified;
  ts->ctx = context_ + " table=" + ts->display;
  std::vector<TargetColumn> target = target_columns(conn, ns, schema.id.table_name);
  if (target.empty()) throw Error(Code::not_found, "target table " + ts->display + " does not exist", ts->ctx);
  std::vector<Wire> direct_wires, stage_wires;
  std::vector<std::string> wire_names;
  std::string stage_columns;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const model::ColumnSchema &c = schema.columns[i];
    const TargetColumn *t = find_target_column(target, c.name);
    if (!t)
      throw Error(
          Code::schema,
          "target table " + ts->display + " has no column '" + c.name + "' (source column " + source_column(c) + ")",
          ts->ctx);
    if (t->generated)
      throw Error(Code::schema,
                  "column '" + t->name + "' of target table " + ts->display + " is generated and cannot be written",
                  ts->ctx);
    if (!target_accepts(c.type, *t))
      throw Error(Code::schema,
                  "column '" + c.name + "' of target table " + ts->display + " is " + t->type +
                      " but the source sends " + source_column(c),
                  ts->ctx);
    ts->targets.push_back(*t);
    std::optional<Wire> w = wire_for(c.type, t->typname, t->is_enum);
    ts->direct.push_back(w);
    if (!w) ts->all_direct = false;
    Wire sw = w ? *w : natural_wire(c.type.id);
    direct_wires.push_back(sw);
    stage_wires.push_back(sw);
    ts->column_list += (i ? ", " : "") + quote_identifier(t->name);
    stage_columns += "\"c" + std::to_string(i) + "\" " + (w ? t->type : std::string(wire_type_name(sw))) + ", ";
    wire_names.emplace_back(wire_type_name(sw));
  }
  std::vector<std::pair<int, int>> pk;  // (position, batch column)
  bool complete = true;
  for (const TargetColumn &t : target) {
    if (t.pk_position <= 0) continue;
    int found = -1;
    for (size_t i = 0; i < ts->targets.size(); ++i)
      if (ts->targets[i].name == t.name) found = static_cast<int>(i);
    if (found < 0) complete = false;
    pk.emplace_back(t.pk_position, found);
  }
  std::sort(pk.begin(), pk.end());
  if (complete)
    for (const auto &k : pk) ts->key.push_back(k.second);

  ts->copy_sql = "COPY " + qualified + " (" + ts->column_list + ") FROM STDIN (FORMAT binary)";
  ts->direct_encoder.emplace(ts->all_direct ? direct_wires : std::vector<Wire>{});
  stage_wires.push_back(Wire::int8);  // _ds_seq
  stage_wires.push_back(Wire::int2);  // _ds_op
  ts->stage_encoder.emplace(std::move(stage_wires));
  const std::string number = std::to_string(next_stage_++);
  ts->stage = "pg_temp.\"_ds_stage_" + number + "\"";
  ts->stage_ddl = "CREATE TEMP TABLE IF NOT EXISTS " + ts->stage.substr(8) + " (" + stage_columns +
                  "\"_ds_seq\" int8, \"_ds_op\" int2) ON COMMIT DELETE ROWS";
  std::string stage_cols;
  for (size_t i = 0; i < schema.columns.size(); ++i) stage_cols += "\"c" + std::to_string(i) + "\", ";
  ts->stage_copy_sql = "COPY " + ts->stage + " (" + stage_cols + "\"_ds_seq\", \"_ds_op\") FROM STDIN (FORMAT binary)";

  // Parameter n holds batch column i as the stage would: in the target's own
  // type, or in a wire type cast to it (the stage's cast, with its semantics).
  auto param = [&](size_t i, size_t n) {
    // A direct parameter takes the column's type from the statement: an
    // explicit cast to varchar(n) or bit(n) would cut a long value instead of
    // failing as COPY does.
    const std::string p = "$" + std::to_string(n);
    return ts->direct[i] ? p : "CAST(" + p + "::" + wire_names[i] + " AS " + ts->targets[i].type + ")";
  };
  std::string values;
  for (size_t i = 0; i < schema.columns.size(); ++i) values += (i ? ", " : "") + param(i, i + 1);
  ts->statement = "ds_row_" + number;
  ts->insert_sql =
      "INSERT INTO " + qualified + " (" + ts->column_list + ") OVERRIDING SYSTEM VALUE VALUES (" + values + ")";
  if (!ts->key.empty()) {
    ts->upsert_sql = ts->insert_sql + on_conflict_update(*ts);
    std::string match;
    for (size_t k = 0; k < ts->key.size(); ++k) {
      const auto i = static_cast<size_t>(ts->key[k]);
      match += (k ? " AND " : "") + quote_identifier(ts->targets[i].name) + " = " + param(i, k + 1);
    }
    ts->delete_sql = "DELETE FROM " + qualified + " WHERE " + match;
  }
  TableState &ref = *ts;
  tables_[qualified] = std::move(ts);
  return ref;
}

void PostgresSinkWriter::begin() {
  Connection &conn = connection();
  if (!conn.in_transaction()) conn.exec("BEGIN", "");
}

// Pipeline mode with a transaction open: BEGIN is queued when none is.
void PostgresSinkWriter::begin_pipelined() {
  Connection &conn = connection();
  const bool open = conn.in_pipeline() || conn.in_transaction();
  conn.pipeline_begin();
  if (!open) conn.pipeline_exec("BEGIN", {});
}

namespace {

// Sends the buffer when it holds a chunk's worth (or always when `all`).
void flush(Connection &conn, CopyBuffer &buffer, bool all) {
  if (buffer.empty() || (!all && buffer.size() < kChunkBytes)) return;
  conn.put_copy_data(buffer.data(), buffer.size());
  buffer.clear();
}

// Rethrows an encoding error naming the column and the table.
[[noreturn]] void rethrow_encoding(const Error &e, const std::string &column, const std::string &display,
                                   const std::string &ctx) {
  throw Error(e.code(), std::string(e.what()) + " (column '" + column + "' of " + display + ")", ctx, e.retriable());
}

// The fields of a row as the encoder wrote them (COPY's layout: a big-endian
// int32 length, -1 for NULL, then the bytes), as pointers and lengths.
void split_fields(const char *p, size_t count, const char **values, int *lengths) {
  for (size_t i = 0; i < count; ++i) {
    uint32_t length = 0;
    std::memcpy(&length, p, 4);
    p += 4;
    const auto n = static_cast<int32_t>(__builtin_bswap32(length));
    values[i] = n < 0 ? nullptr : p;
    lengths[i] = n < 0 ? 0 : n;
    if (n > 0) p += n;
  }
}

Error no_key_error(const PostgresSinkWriter::TableState &ts) {
  return Error(Code::unsupported,
               "cannot delete rows from " + ts.display +
                   ": the target has no primary key (or the source does not send all of its columns)",
               ts.ctx);
}

}  // namespace

// Appends the batch to the table's direct COPY, opening it when it is not
// open yet; the COPY stays open (see TableState::copy_open). Every batch is
// sent whole before returning, so the server is never left waiting on rows
// the client holds.
void PostgresSinkWriter::copy_direct(TableState &ts, const model::Batch &batch) {
  Connection &conn = *conn_;
  const CopyBinaryEncoder &enc = *ts.direct_encoder;
  const size_t ncols = batch.columns.size();
  const auto &cols = ts.schema->columns;
  const std::vector<EncodeColumn> bound = enc.bind(batch, cols);
  CopyBuffer out(buffer_);
  if (!ts.copy_open) {
    conn.copy_in_begin(ts.copy_sql, ts.display);
    ts.copy_open = true;
    CopyBinaryEncoder::append_header(out);
  }
  size_t c = 0;
  try {
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      CopyBinaryEncoder::begin_row(out, static_cast<int16_t>(ncols));
      enc.append_row(out, bound, r, c);
      flush(conn, out, false);
    }
    flush(conn, out, true);
  } catch (const Error &e) {
    if (e.code() != Code::data) throw;
    ts.copy_open = false;
    conn.copy_in_abort("datasync: cannot encode a value");
    rethrow_encoding(e, cols[c].name, ts.display, ts.ctx);
  }
}

// Staged column i (alias s) in the target column's type: the stage holds
// it so, or in a wire type cast here (the stage's cast, with its semantics).
std::string stage_value(const PostgresSinkWriter::TableState &ts, size_t i) {
  const std::string column = "s.\"c" + std::to_string(i) + "\"";
  return ts.direct[i] ? column : "CAST(" + column + " AS " + ts.targets[i].type + ")";
}

// "INSERT INTO target (columns) ... SELECT staged values FROM stage s".
std::string insert_from_stage(const PostgresSinkWriter::TableState &ts) {
  std::string select;
  for (size_t i = 0; i < ts.targets.size(); ++i) select += (i ? ", " : "") + stage_value(ts, i);
  return "INSERT INTO " + ts.qualified + " (" + ts.column_list + ") OVERRIDING SYSTEM VALUE SELECT " + select +
         " FROM " + ts.stage + " s";
}

// Starts the COPY into the table's stage, creating or emptying the stage in
// the same round trip.
void PostgresSinkWriter::begin_stage_copy(TableState &ts) {
  const std::string before = !ts.stage_ready  ? ts.stage_ddl + "; "
                             : ts.stage_dirty ? "TRUNCATE " + ts.stage + "; "
                                              : "";
  conn_->copy_in_begin(before + ts.stage_copy_sql, ts.display);
  ts.stage_ready = true;
  ts.stage_dirty = true;
}

// A keyed table's change batch joins the open stage: each key's last change
// in the batch (model::last_change_per_key), its earlier row in the stage
// marked superseded. In insert mode, a key whose first change since the
// stage opened inserted it should not exist before: it is inserted plainly
// (ON CONFLICT's speculative insertion costs the server about a third more
// per row; see apply_stage for when it does exist), and not at all once
// deleted again.
void PostgresSinkWriter::stage_changes(TableState &ts, const model::Batch &batch) {
  Connection &conn = *conn_;
  const auto &cols = ts.schema->columns;
  const size_t ncols = batch.columns.size();
  const bool insert_mode = config_.write_mode == "insert";
  const CopyBinaryEncoder &enc = *ts.stage_encoder;
  const std::vector<EncodeColumn> bound = enc.bind(batch, cols);  // the batch's columns; _ds_seq and _ds_op follow
  const std::vector<model::LastChange> last = model::last_change_per_key(batch, ts.key);
  const bool opening = !ts.stage_open;
  if (opening) {
    if (conn.in_pipeline()) conn.pipeline_sync();
    begin();
    begin_stage_copy(ts);
    ts.stage_open = true;
  }
  std::string key;
  size_t c = 0;
  try {
    CopyBuffer out(buffer_);
    if (opening) CopyBinaryEncoder::append_header(out);
    for (const model::LastChange &change : last) {
      const int64_t r = change.row;
      const bool del = batch.op(r) == model::Op::remove;
      key.clear();
      model::append_key_bytes(batch, ts.key, r, key);
      auto [it, fresh] =
          ts.staged_keys.try_emplace(key, TableState::StagedKey{-1, insert_mode && change.first_was_insert});
      TableState::StagedKey &staged = it->second;
      if (!fresh && staged.seq >= 0) ts.superseded.push_back(staged.seq);
      staged.seq = -1;
      if (staged.born && del) continue;  // inserted and deleted since the stage opened: nothing to write
      int16_t code = kStageUpsert;
      if (del) {
        code = kStageDelete;
        ts.stage_deletes = true;
      } else if (staged.born) {
        code = kStageInsert;
        ts.stage_inserts = true;
      } else {
        ts.stage_upserts = true;
      }
      staged.seq = ts.stage_rows++;
      CopyBinaryEncoder::begin_row(out, static_cast<int16_t>(ncols + 2));
      enc.append_row(out, bound, r, c);
      CopyBinaryEncoder::append_int8(out, staged.seq);
      CopyBinaryEncoder::append_int2(out, code);
      flush(conn, out, false);
    }
    flush(conn, out, true);
  } catch (const Error &e) {
    forget_stage(ts);
    conn.copy_in_abort("datasync: cannot encode the batch");
    if (e.code() != Code::data) throw;
    rethrow_encoding(e, cols[c].name, ts.display, ts.ctx);
  }
  // Bounded: the key index and the superseded list grow with the stage's rows.
  if (ts.stage_rows >= config_.stage_rows_limit) apply_stage(ts);
}

// Ends the open stage's COPY and applies it: deletes, upserts, then the new
// keys' inserts (by then every other key has its final values, so no unique
// index sees a value twice on the way), in one round trip when nothing fails.
void PostgresSinkWriter::apply_stage(TableState &ts) {
  Connection &conn = *conn_;
  {
    CopyBuffer out(buffer_);
    CopyBinaryEncoder::append_trailer(out);
    conn.put_copy_data(out.data(), out.size());
  }
  const bool deletes = ts.stage_deletes, upserts = ts.stage_upserts, inserts = ts.stage_inserts;
  std::string live;  // leaves out the rows a later row of their key replaced (a hashed NOT IN)
  if (!ts.superseded.empty()) {
    live = " AND s.\"_ds_seq\" <> ALL ('{";
    for (size_t i = 0; i < ts.superseded.size(); ++i) live += (i ? "," : "") + std::to_string(ts.superseded[i]);
    live += "}'::int8[])";
  }
  forget_stage(ts);
  conn.copy_in_end();
  const std::string insert_select = insert_from_stage(ts);
  const auto where_op = [&live](int16_t code) { return " WHERE s.\"_ds_op\" = " + std::to_string(code) + live; };
  std::string statements;
  if (deletes) {
    std::string match;
    for (int k : ts.key) {
      const auto i = static_cast<size_t>(k);
      match += " AND t." + quote_identifier(ts.targets[i].name) + " = " + stage_value(ts, i);
    }
    statements += "DELETE FROM " + ts.qualified + " t USING " + ts.stage + " s" + where_op(kStageDelete) + match + ";";
  }
  if (upserts) statements += insert_select + where_op(kStageUpsert) + on_conflict_update(ts) + ";";
  // The new keys go in plainly behind a savepoint. A key that is there after
  // all — a transaction replayed after a crash, whose first part committed
  // before a schema change split it (see Pipeline's apply_schema_change), or
  // a target written by someone else — fails that statement alone, and the
  // new keys are upserted instead, as every change row was before.
  if (inserts)
    statements += "SAVEPOINT ds_new_keys;" + insert_select + where_op(kStageInsert) + ";RELEASE SAVEPOINT ds_new_keys;";
  if (statements.empty()) return;
  try {
    conn.exec(statements, ts.display);
  } catch (const Error &e) {
    if (!inserts || e.code() != Code::data) throw;
    try {
      conn.exec("ROLLBACK TO SAVEPOINT ds_new_keys", ts.display);
    } catch (const Error &) {
      throw e;  // an earlier statement failed: the savepoint was never made
    }
    conn.exec(insert_select + where_op(kStageInsert) + on_conflict_update(ts) + ";RELEASE SAVEPOINT ds_new_keys",
              ts.display);
  }
}

// Rows of a table without a key (or insert-only rows whose columns need the
// stage's casts): inserted in order through the stage, per batch.
void PostgresSinkWriter::write_staged(TableState &ts, const model::Batch &batch) {
  Connection &conn = *conn_;
  const auto &cols = ts.schema->columns;
  const size_t ncols = batch.columns.size();
  const CopyBinaryEncoder &enc = *ts.stage_encoder;
  const std::vector<EncodeColumn> bound = enc.bind(batch, cols);  // the batch's columns; _ds_seq and _ds_op follow
  begin_stage_copy(ts);
  size_t c = 0;
  try {
    CopyBuffer out(buffer_);
    CopyBinaryEncoder::append_header(out);
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      const model::Op op = batch.op(r);
      if (op == model::Op::update_before) continue;
      if (op == model::Op::remove) throw no_key_error(ts);
      CopyBinaryEncoder::begin_row(out, static_cast<int16_t>(ncols + 2));
      enc.append_row(out, bound, r, c);
      CopyBinaryEncoder::append_int8(out, r);
      CopyBinaryEncoder::append_int2(out, kStageInsert);
      flush(conn, out, false);
    }
    CopyBinaryEncoder::append_trailer(out);
    flush(conn, out, true);
  } catch (const Error &e) {
    conn.copy_in_abort("datasync: cannot encode the batch");
    if (e.code() != Code::data) throw;
    rethrow_encoding(e, cols[c].name, ts.display, ts.ctx);
  }
  conn.copy_in_end();
  conn.exec(insert_from_stage(ts) + " ORDER BY s.\"_ds_seq\"", ts.display);
}

// A few rows (a lone source transaction at low rates): a prepared statement
// per row, queued in pipeline mode with the rest of the transaction and sent
// with its commit — no COPY, no stage, one round trip for the whole
// transaction. Rows apply in order, so a key's last change wins, as in
// write_staged.
void PostgresSinkWriter::write_rows(TableState &ts, const model::Batch &batch, bool changes) {
  begin_pipelined();
  Connection &conn = *conn_;
  const bool keyed = changes && !ts.key.empty();
  const auto &cols = ts.schema->columns;
  const size_t ncols = batch.columns.size();
  const CopyBinaryEncoder &enc = *ts.stage_encoder;
  const std::vector<EncodeColumn> bound = enc.bind(batch, cols);
  std::vector<const char *> values(ncols), key_values(ts.key.size());
  std::vector<int> lengths(ncols), key_lengths(ts.key.size());
  for (int64_t r = 0; r < batch.num_rows; ++r) {
    const model::Op op = batch.op(r);
    if (op == model::Op::update_before) continue;
    const bool del = op == model::Op::remove;
    if (del && !keyed) throw no_key_error(ts);
    CopyBuffer out(row_buffer_);
    size_t c = 0;
    try {
      enc.append_row(out, bound, r, c);
    } catch (const Error &e) {
      if (e.code() != Code::data) throw;
      rethrow_encoding(e, cols[c].name, ts.display, ts.ctx);
    }
    split_fields(out.data(), ncols, values.data(), lengths.data());
    if (del) {
      for (size_t k = 0; k < ts.key.size(); ++k) {
        key_values[k] = values[static_cast<size_t>(ts.key[k])];
        key_lengths[k] = lengths[static_cast<size_t>(ts.key[k])];
      }
      conn.pipeline_exec_prepared(ts.statement + "_del", ts.delete_sql, static_cast<int>(ts.key.size()),
                                  key_values.data(), key_lengths.data(), ts.display);
    } else if (keyed) {
      conn.pipeline_exec_prepared(ts.statement + "_ups", ts.upsert_sql, static_cast<int>(ncols), values.data(),
                                  lengths.data(), ts.display);
    } else {
      conn.pipeline_exec_prepared(ts.statement + "_ins", ts.insert_sql, static_cast<int>(ncols), values.data(),
                                  lengths.data(), ts.display);
    }
  }
  if (conn.pipeline_depth() >= kPipelineDepth) conn.pipeline_sync();
}

namespace {

// PostgreSQL text cannot hold NUL characters (0x00): text values with them
// follow pipeline.invalid_values — error, NULL, or clamp (the NULs dropped) —
// and are counted. Null when no value has one (the common case costs one
// memchr per text column).
std::shared_ptr<model::Batch> without_nul(const model::Batch &batch, const SinkConfig &config,
                                          const std::string &context) {
  std::shared_ptr<model::Batch> out;
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const model::ColumnSchema &cs = batch.schema->columns[c];
    const model::TypeId id = cs.type.id;
    if (id != model::TypeId::string && id != model::TypeId::json && id != model::TypeId::unknown) continue;
    const model::Column &col = batch.columns[c];
    if (!col.values || col.length == 0) continue;
    const int32_t *off = reinterpret_cast<const int32_t *>(col.offsets->data()) + col.offset;
    const void *start = col.values->data() + off[0];
    if (!std::memchr(start, 0, static_cast<size_t>(off[col.length] - off[0]))) continue;
    const std::string table = batch.schema->id.to_string();
    if (config.invalid_values == model::InvalidValuePolicy::error ||
        (config.invalid_values == model::InvalidValuePolicy::null && !cs.nullable))
      throw Error(Code::data,
                  "column " + cs.name + " of " + table +
                      ": a text value holds a NUL character (0x00), which PostgreSQL text cannot store — set "
                      "pipeline.invalid_values: null (write NULL) or clamp (drop the NUL characters)",
                  context + " table=" + table + " column=" + cs.name);
    model::ColumnBuilder fixed(cs.type, col.length);
    int64_t adjusted = 0;
    for (int64_t r = 0; r < col.length; ++r) {
      if (!col.is_valid(r)) {
        fixed.append_null();
        continue;
      }
      std::string_view v = col.bytes(r);
      if (v.find('\0') == std::string_view::npos) {
        fixed.append_bytes(v.data(), v.size());
        continue;
      }
      ++adjusted;
      if (config.invalid_values == model::InvalidValuePolicy::null) {
        fixed.append_null();
      } else {
        std::string kept;
        for (char ch : v)
          if (ch != '\0') kept += ch;
        fixed.append_bytes(kept.data(), kept.size());
      }
    }
    if (!out) out = std::make_shared<model::Batch>(batch);
    out->columns[c] = fixed.finish();
    config.value_report->record(table, cs.name,
                                config.invalid_values == model::InvalidValuePolicy::null
                                    ? "with NUL characters written as NULL"
                                    : "with NUL characters written without them",
                                adjusted);
  }
  return out;
}

}  // namespace

void PostgresSinkWriter::write(const model::Batch &input) {
  if (input.num_rows == 0) return;
  std::shared_ptr<model::Batch> cleaned = without_nul(input, config_, context_);
  if (config_.write_mode == "changelog") cleaned = changelog_.rows_of(cleaned ? *cleaned : input);
  const model::Batch &batch = cleaned ? *cleaned : input;
  bool changes = config_.write_mode == "upsert";
  if (!changes && batch.ops)
    for (int64_t r = 0; r < batch.num_rows && !changes; ++r) changes = batch.op(r) != model::Op::insert;
  TableState *ts = open_copy(tables_);
  TableState *staging = open_stage(tables_);
  if (ts && !changes && ts->schema == batch.schema) {
    copy_direct(*ts, batch);  // the open COPY takes more insert-only rows of the same table and schema
  } else if (staging && changes && staging->schema == batch.schema) {
    ts = staging;
    stage_changes(*ts, batch);  // the open stage takes more changes of the same table and schema
  } else {
    if (ts) end_copy(*conn_, tables_, buffer_);
    if (staging) apply_stage(*staging);
    ts = &state_for(batch);
    const bool keyed_changes = changes && !ts->key.empty();
    if (batch.num_rows <= config_.row_statement_rows) {
      write_rows(*ts, batch, changes);
    } else if (keyed_changes) {
      stage_changes(*ts, batch);
    } else {
      Connection &conn = connection();
      if (conn.in_pipeline()) conn.pipeline_sync();
      begin();
      if (!changes && ts->all_direct)
        copy_direct(*ts, batch);
      else
        write_staged(*ts, batch);
    }
  }
  if (config_.write_mode != "changelog") return;
  if (batch.position.stream.empty()) {
    changelog_pending_.insert(ts->qualified);
  } else {
    fill_changelog_positions(batch.position.value);
  }
}

// The rows of the transaction's earlier batches learn its position.
void PostgresSinkWriter::fill_changelog_positions(const std::string &position) {
  if (!changelog_pending_.empty()) {
    end_copy(*conn_, tables_, buffer_);
    if (conn_->in_pipeline()) conn_->pipeline_sync();
    for (const std::string &table : changelog_pending_)
      conn_->exec_params("UPDATE " + table + " SET " + quote_identifier(schema::kChangelogPosition) + " = $1 WHERE " +
                             quote_identifier(schema::kChangelogPosition) + " IS NULL",
                         {position}, table);
    changelog_pending_.clear();
  }
  changelog_.settle();
}

void PostgresSinkWriter::commit(const std::vector<model::Position> *positions) {
  if (conn_ && changelog_.position_pending()) fill_changelog_positions(schema::changelog_commit_position(positions));
  if (conn_) end_copy(*conn_, tables_, buffer_);
  if (TableState *staging = open_stage(tables_)) apply_stage(*staging);
  // The checkpoint and COMMIT are queued behind whatever write_rows queued:
  // one round trip.
  if (positions && !positions->empty()) {
    shared_->ensure_checkpoint_table();
    begin_pipelined();
    upsert_checkpoints(*conn_, config_.checkpoint_schema, config_.pipeline_name, *positions);
  }
  if (conn_ && (conn_->in_pipeline() || conn_->in_transaction())) {
    conn_->pipeline_exec("COMMIT", {});
    conn_->pipeline_sync();
  }
  // ON COMMIT DELETE ROWS emptied the stages: the next batch skips a TRUNCATE
  // (a round trip and a lock, per single-row transaction at low rates).
  for (auto &t : tables_) t.second->stage_dirty = false;
  changelog_.end_transaction();
}

void PostgresSinkWriter::rollback() {
  buffer_.clear();
  changelog_.end_transaction();
  changelog_pending_.clear();
  abort_copy(conn_.get(), tables_, "datasync: rolled back");
  if (!conn_) return;
  if (conn_->in_pipeline()) {
    // What is queued is uncommitted: let it run and end, then roll it back.
    try {
      conn_->pipeline_sync();
    } catch (const Error &) {
      if (conn_->in_pipeline()) conn_.reset();  // the connection is unusable; reconnect at the next write
    }
    if (!conn_) return;
  }
  if (!conn_->ok()) {
    conn_.reset();
  } else if (conn_->in_transaction()) {
    try {
      conn_->exec("ROLLBACK");
    } catch (const Error &) {
      conn_.reset();  // reconnect at the next write
    }
  }
  // Staging tables created in the dropped transaction are gone with it.
  for (auto &t : tables_) {
    t.second->stage_ready = false;
    t.second->stage_dirty = false;
  }
}

}  // namespace ds::connectors::postgres
