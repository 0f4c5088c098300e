#include "connectors/mariadb/sink.hpp"

#include <algorithm>

#include "connectors/mariadb/catalog.hpp"
#include "connectors/mariadb/checkpoint.hpp"
#include "connectors/mariadb/ddl.hpp"
#include "connectors/mariadb/types.hpp"
#include "model/error.hpp"
#include "schema/ddl.hpp"
#include "schema/evolution.hpp"

namespace ds::connectors::mariadb {
namespace {

// The one text format of every load (see encode.hpp). The statement's file
// name is never opened: Connection::load_data_local feeds the data.
constexpr const char *kLoadFormat =
    " CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'";
constexpr const char *kLoadFile = "LOAD DATA LOCAL INFILE 'datasync'";
constexpr unsigned kDuplicateEntry = 1062;

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

// The target column for source column `c`, or a schema error naming the misfit.
const TargetColumn &matching_column(const std::vector<TargetColumn> &target, const model::ColumnSchema &c,
                                    const std::string &display, const std::string &ctx) {
  const TargetColumn *t = find_target_column(target, c.name);
  if (!t)
    throw Error(Code::schema,
                "target table " + display + " has no column '" + c.name + "' (source column " + source_column(c) + ")",
                ctx);
  if (t->generated)
    throw Error(Code::schema,
                "column '" + t->name + "' of target table " + display + " is generated and cannot be written", ctx);
  if (!target_accepts(c.type, *t))
    throw Error(Code::schema,
                "column '" + t->name + "' of target table " + display + " is " + t->column_type +
                    " but the source sends " + source_column(c),
                ctx);
  return *t;
}

// Runs `body` on the shared connection, dropping the connection when it broke
// so the next call opens a new one.
template <typename F>
auto with_shared(SinkShared &shared, F body) {
  try {
    return body(shared.connection());
  } catch (const Error &e) {
    if (e.code() == Code::connection) shared.conn.reset();
    throw;
  }
}

}  // namespace

// ------------------------------------------------------------------ SinkShared

Connection &SinkShared::connection() {
  // A connection idle between tables may have been dropped by the server
  // (wait_timeout, a restart): one ping beats failing the next DDL.
  if (conn && mysql_ping(conn->raw()) != 0) conn.reset();
  if (!conn) conn = std::make_unique<Connection>(config.params);
  return *conn;
}

void SinkShared::ensure_checkpoint_table() {
  std::lock_guard<std::mutex> lock(mutex);
  if (checkpoint_ready) return;
  with_shared(*this, [&](Connection &c) {
    mariadb::ensure_checkpoint_table(c, config.checkpoint_database);
    return 0;
  });
  checkpoint_ready = true;
}

// ----------------------------------------------------------------- MariadbSink

MariadbSink::MariadbSink(SinkConfig config) {
  config.params.role = "sink";
  context_ = "sink=mariadb " + config.params.context();
  if (config.params.user.empty()) throw Error(Code::config, "the mariadb sink needs a user", context_);
  if (config.params.database.empty()) throw Error(Code::config, "the mariadb sink needs a database", context_);
  if (config.write_mode != "insert" && config.write_mode != "upsert")
    throw Error(Code::config, "write_mode '" + config.write_mode + "' is not one of insert, upsert", context_);
  if (config.checkpoint_database.empty()) config.checkpoint_database = config.params.database;
  if (!config.value_report) config.value_report = std::make_shared<model::ValueReport>();
  shared_ = std::make_shared<SinkShared>(std::move(config));
}

std::string MariadbSink::describe() const {
  const ConnParams &p = shared_->config.params;
  return "mariadb host=" + p.host + " port=" + std::to_string(p.port) + " database=" + p.database;
}

void MariadbSink::prepare_table(const model::TableSchema &schema) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  const std::string &database = shared_->config.params.database;
  const std::string &name = schema.id.table_name;
  const std::string display = database + "." + name;
  const std::string ctx = context_ + " table=" + display;
  if (schema.columns.empty()) throw Error(Code::schema, "table " + display + " has no columns to write", ctx);
  with_shared(*shared_, [&](Connection &conn) {
    const std::string kind = table_type(conn, database, name);
    if (kind.empty()) {
      if (!shared_->config.create_tables)
        throw Error(Code::not_found, "target table " + display + " does not exist and create_tables is false", ctx);
      for (const std::string &sql : plan_locked(conn, schema).statements) conn.exec(sql, display);
    } else if (kind == "VIEW") {
      throw Error(Code::schema, "target " + display + " is a view, not a table", ctx);
    } else {
      check_existing_table(conn, schema, display, ctx);
    }
    return 0;
  });
}

model::TableDdlPlan MariadbSink::plan_table(const model::TableSchema &schema) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return with_shared(*shared_, [&](Connection &conn) { return plan_locked(conn, schema); });
}

schema::TargetInfo MariadbSink::target_info(Connection &conn, const model::TableId &routed,
                                            const model::TableSchema *source) {
  const std::string &database = shared_->config.params.database;
  const bool mariadb = conn.is_mariadb();
  const int version = server_version_number(conn.server_version());
  schema::TargetInfo target;
  target.dialect = mariadb ? schema::Dialect::mariadb : schema::Dialect::mysql;
  target.server_version = version;
  // Unqualified: plans run on the sink's connection, in its database.
  target.target = model::TableId{"", "", routed.table_name};
  const model::TableId wanted{"", database, routed.table_name};
  TypeOptions types;
  types.tinyint1_as_boolean = true;  // the sink's own tables hold booleans as tinyint(1)
  auto catalog = read_catalog(conn, database, types, [&](const model::TableId &id) { return id == wanted; });
  if (!catalog.empty()) target.existing = catalog.front().schema;
  if (!source) return target;
  // This sink's own choices where they differ from the mapping table: kept
  // MariaDB spellings, and varchars turned into longtext to fit a row.
  std::vector<std::string> chosen = column_types_for_create(*source, mariadb, version);
  target.keep_spelling = [chosen, version, dialect = target.dialect](const model::TableSchema &s, int column) {
    if (static_cast<size_t>(column) >= chosen.size()) return std::string();
    const std::string &mine = chosen[static_cast<size_t>(column)];
    bool indexed = false;
    for (const auto &index : s.indexes)
      indexed = indexed || std::find(index.columns.begin(), index.columns.end(), column) != index.columns.end();
    const std::string base = base_type_name(mine);
    const bool unbounded = base.find("text") != std::string::npos || base.find("blob") != std::string::npos;
    if (indexed && unbounded) return std::string();  // an index needs a bounded type: the mapping's
    schema::TargetContext ctx;
    ctx.in_key = std::find(s.primary_key.begin(), s.primary_key.end(), column) != s.primary_key.end() || indexed;
    ctx.server_version = version;
    return mine == schema::map_to(dialect, s.columns[static_cast<size_t>(column)].type, ctx).spelling ? std::string()
                                                                                                      : mine;
  };
  return target;
}

model::TableDdlPlan MariadbSink::plan_locked(Connection &conn, const model::TableSchema &schema) {
  model::TableDdlPlan plan = schema::plan_table(schema, target_info(conn, schema.id, &schema));
  plan.target = model::TableId{"", shared_->config.params.database, schema.id.table_name};
  return plan;
}

void MariadbSink::apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  std::vector<std::string> statements = plan.statements;
  if (allow_destructive) statements.insert(statements.end(), plan.destructive.begin(), plan.destructive.end());
  // MariaDB commits each DDL statement on its own: there is no transaction to wrap them in.
  with_shared(*shared_, [&](Connection &conn) {
    for (const std::string &sql : statements) conn.exec(sql, plan.target.to_string());
    return 0;
  });
}

void MariadbSink::check_existing_table(Connection &conn, const model::TableSchema &schema, const std::string &display,
                                       const std::string &ctx) {
  std::vector<TargetColumn> target = target_columns(conn, shared_->config.params.database, schema.id.table_name);
  std::vector<const TargetColumn *> used;
  for (const model::ColumnSchema &c : schema.columns) used.push_back(&matching_column(target, c, display, ctx));
  for (const TargetColumn &t : target) {
    if (!t.not_null || t.has_default) continue;
    if (std::find(used.begin(), used.end(), &t) == used.end())
      throw Error(Code::schema,
                  "column '" + t.name + "' of target table " + display + " (" + t.column_type +
                      ") is NOT NULL without a default and the source has no such column",
                  ctx);
  }
}

std::string MariadbSink::apply_schema_change(const model::SchemaChange &change) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  const std::string display = shared_->config.params.database + "." + change.table.table_name;
  return with_shared(*shared_, [&](Connection &conn) {
    // A column's type follows this sink's own choice for the schema after the change.
    return schema::apply_change(change, schema::parse_evolution_policy(shared_->config.evolution),
                                target_info(conn, change.table, change.schema_after.get()),
                                [&](const std::vector<std::string> &statements) {
                                  // Each DDL statement commits on its own in MariaDB.
                                  for (const std::string &sql : statements) conn.exec(sql, display);
                                });
  });
}

std::unique_ptr<model::SinkWriter> MariadbSink::open_writer(int /*lane*/) {
  return std::make_unique<MariadbSinkWriter>(shared_);
}

std::unique_ptr<model::CheckpointStore> MariadbSink::open_checkpoint_store(const std::string &pipeline_name) {
  return std::make_unique<MariadbCheckpointStore>(shared_->config.params, shared_->config.checkpoint_database,
                                                  pipeline_name);
}

// ----------------------------------------------------------- MariadbSinkWriter

struct MariadbSinkWriter::TableState {
  model::TableSchemaPtr schema;
  std::string display;    // db.t
  std::string qualified;  // `db`.`t`
  std::string ctx;
  std::vector<FieldPlan> plans;  // per batch column
  std::vector<int> key;          // batch columns of the target's primary key (empty when it has none or some is absent)
  std::vector<bool> in_key;      // per batch column
  std::string load_sql;          // straight into the table
  std::string stage;             // `_ds_stage_N`
  std::string stage_ddl, stage_load_sql, delete_sql, upsert_sql;
};

MariadbSinkWriter::MariadbSinkWriter(std::shared_ptr<SinkShared> shared)
    : shared_(std::move(shared)), config_(shared_->config), context_("sink=mariadb " + config_.params.context()) {}

MariadbSinkWriter::~MariadbSinkWriter() {
  try {
    rollback();
  } catch (...) {
  }
}

Connection &MariadbSinkWriter::connection() {
  if (!conn_) {
    conn_ = std::make_unique<Connection>(config_.params);
    mariadb_ = conn_->is_mariadb();
    server_version_ = server_version_number(conn_->server_version());
    in_transaction_ = false;
  }
  return *conn_;
}

namespace {

// "(`a`, @v1, `c`) SET `b` = CAST(CONV(@v1, 2, 10) AS UNSIGNED)" for the
// fields in `names` (extra trailing names are loaded directly).
std::string load_columns(const std::vector<std::string> &names, const std::vector<FieldPlan> &plans) {
  std::string list, sets;
  for (size_t i = 0; i < names.size(); ++i) {
    const LoadVia via = i < plans.size() ? plans[i].via : LoadVia::direct;
    if (via == LoadVia::direct) {
      list += (i ? ", " : "") + quote_identifier(names[i]);
      continue;
    }
    const std::string var = "@v" + std::to_string(i);
    list += (i ? ", " : "") + var;
    sets += (sets.empty() ? "" : ", ") + quote_identifier(names[i]) + " = " + load_expression(via, var);
  }
  return " (" + list + ")" + (sets.empty() ? "" : " SET " + sets);
}

std::string stage_column(size_t i) { return "c" + std::to_string(i); }

// The server names the staging table's columns (c0, c1, ...) in its messages:
// name the target's columns instead.
Error with_target_names(const Error &e, const std::vector<FieldPlan> &plans) {
  std::string m = e.what();
  for (size_t i = 0; i < plans.size(); ++i) {
    for (char quote : {'\'', '`'}) {
      const std::string from = quote + stage_column(i) + quote;
      const std::string to = quote + plans[i].name + quote;
      for (size_t at = m.find(from); at != std::string::npos; at = m.find(from, at + to.size()))
        m.replace(at, from.size(), to);
    }
  }
  return Error(e.code(), m, e.context(), e.retriable());
}

}  // namespace

MariadbSinkWriter::TableState &MariadbSinkWriter::state_for(const model::Batch &batch) {
  if (!batch.schema) throw Error(Code::invalid_argument, "a batch without a schema", context_);
  const model::TableSchema &schema = *batch.schema;
  const std::string &database = config_.params.database;
  const std::string qualified = qualified_name(database, schema.id.table_name);
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
  Connection &conn = connection();
  auto ts = std::make_unique<TableState>();
  ts->schema = batch.schema;
  ts->display = database + "." + schema.id.table_name;
  ts->qualified = qualified;
  ts->ctx = context_ + " table=" + ts->display;
  std::vector<TargetColumn> target = target_columns(conn, database, schema.id.table_name);
  if (target.empty()) throw Error(Code::not_found, "target table " + ts->display + " does not exist", ts->ctx);

  std::vector<const TargetColumn *> targets;
  std::vector<std::string> names, stage_names;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const model::ColumnSchema &c = schema.columns[i];
    const TargetColumn &t = matching_column(target, c, ts->display, ts->ctx);
    targets.push_back(&t);
    FieldPlan plan;
    plan.type = c.type;
    plan.name = t.name;
    plan.not_null = t.not_null;
    plan.via = load_via(c.type, t, mariadb_);
    plan.range = time_range_of(t);
    ts->plans.push_back(std::move(plan));
    names.push_back(t.name);
    stage_names.push_back(stage_column(i));
  }
  std::vector<std::pair<int, int>> pk;  // (position, batch column)
  bool complete = true;
  for (const TargetColumn &t : target) {
    if (t.pk_position <= 0) continue;
    auto found = std::find(targets.begin(), targets.end(), &t);
    if (found == targets.end()) complete = false;
    pk.emplace_back(t.pk_position, static_cast<int>(found - targets.begin()));
  }
  std::sort(pk.begin(), pk.end());
  ts->in_key.assign(schema.columns.size(), false);
  if (complete)
    for (const auto &k : pk) {
      ts->key.push_back(k.second);
      ts->in_key[static_cast<size_t>(k.second)] = true;
    }

  ts->load_sql = std::string(kLoadFile) + " INTO TABLE " + qualified + kLoadFormat + load_columns(names, ts->plans);
  if (ts->key.empty()) {
    tables_[qualified] = std::move(ts);
    return *tables_[qualified];
  }

  // The staging table: every column typed as its target column (so the load
  // converts exactly as a direct one would), nullable but for the key, which
  // is the staging table's primary key too: REPLACE keeps each key's last row.
  ts->stage = quote_identifier("_ds_stage_" + std::to_string(next_stage_++));
  std::string columns, key_list, match, select, updates;
  for (size_t i = 0; i < targets.size(); ++i) {
    const TargetColumn &t = *targets[i];
    columns += quote_identifier(stage_column(i)) + " " + t.column_type;
    if (!t.charset.empty()) columns += " CHARACTER SET " + t.charset;
    if (!t.collation.empty()) columns += " COLLATE " + t.collation;
    columns += ts->in_key[i] ? " NOT NULL, " : " NULL, ";
    select += (i ? ", s." : "s.") + quote_identifier(stage_column(i));
  }
  for (size_t k = 0; k < ts->key.size(); ++k) {
    const size_t i = static_cast<size_t>(ts->key[k]);
    key_list += (k ? ", " : "") + quote_identifier(stage_column(i));
    match +=
        std::string(k ? " AND " : "") + "t." + quote_identifier(names[i]) + " = s." + quote_identifier(stage_column(i));
  }
  // MySQL 8.0.19+ names the inserted rows through a derived table (VALUES()
  // is deprecated from 8.0.20); MariaDB has only VALUES().
  const bool alias = !mariadb_ && server_version_ >= 80019;
  for (size_t i = 0; i < names.size(); ++i) {
    if (ts->in_key[i]) continue;
    const std::string q = quote_identifier(names[i]);
    updates += (updates.empty() ? "" : ", ") + q + " = " +
               (alias ? "_ds_new." + quote_identifier(stage_column(i)) : "VALUES(" + q + ")");
  }
  if (updates.empty()) {  // every column is in the key: an existing row is already right
    const std::string q = quote_identifier(names[static_cast<size_t>(ts->key[0])]);
    updates = q + " = " + q;
  }
  std::string column_list;
  for (size_t i = 0; i < names.size(); ++i) column_list += (i ? ", " : "") + quote_identifier(names[i]);
  ts->stage_ddl = "CREATE TEMPORARY TABLE " + ts->stage + " (" + columns +
                  "`_ds_seq` bigint NOT NULL, `_ds_op` tinyint NOT NULL, PRIMARY KEY (" + key_list + ")) ENGINE=InnoDB";
  std::vector<std::string> stage_fields = stage_names;
  stage_fields.push_back("_ds_seq");
  stage_fields.push_back("_ds_op");
  ts->stage_load_sql =
      std::string(kLoadFile) + " REPLACE INTO TABLE " + ts->stage + kLoadFormat + load_columns(stage_fields, ts->plans);
  ts->delete_sql =
      "DELETE t FROM " + qualified + " AS t JOIN " + ts->stage + " AS s ON " + match + " WHERE s.`_ds_op` = 3";
  const std::string rows =
      "SELECT " + select + " FROM " + ts->stage + " AS s WHERE s.`_ds_op` = 0 ORDER BY s.`_ds_seq`";
  ts->upsert_sql = "INSERT INTO " + qualified + " (" + column_list + ") " +
                   (alias ? "SELECT * FROM (" + rows + ") AS _ds_new" : rows) + " ON DUPLICATE KEY UPDATE " + updates;
  tables_[qualified] = std::move(ts);
  return *tables_[qualified];
}

void MariadbSinkWriter::begin() {
  Connection &conn = connection();
  if (in_transaction_) return;
  conn.exec("START TRANSACTION");
  in_transaction_ = true;
}

void MariadbSinkWriter::load(TableState &ts, const std::string &sql, const model::Batch &batch,
                             const FeedShape &shape) {
  Connection &conn = *conn_;
  LoadDataFeed feed(batch, ts.plans, shape, config_.invalid_values);
  conn.load_data_local(
      sql, [&feed](char *buffer, unsigned capacity) { return feed.produce(buffer, capacity); }, ts.display);
  if (mysql_warning_count(conn.raw()) == 0) return;
  // LOAD DATA LOCAL reports bad values, duplicate keys and failed checks as
  // warnings (the rows were skipped or changed): each one fails the batch.
  Result warnings = conn.query("SHOW WARNINGS", ts.display);
  for (size_t i = 0; i < warnings.rows(); ++i) {
    if (warnings.value(i, 0) == "Note") continue;
    const unsigned code = static_cast<unsigned>(warnings.int_value(i, 1));
    std::string message =
        "loading into " + ts.display + " failed: " + warnings.value(i, 2) + " [errno " + std::to_string(code) + "]";
    if (code == kDuplicateEntry)
      message += " — the target already holds this key: set sink.write_mode to upsert to update existing rows";
    throw Error(Code::data, message, ts.ctx);
  }
}

void MariadbSinkWriter::write_staged(TableState &ts, const model::Batch &batch, const FeedShape &shape,
                                     bool any_delete) {
  Connection &conn = *conn_;
  // CREATE/DROP TEMPORARY TABLE do not commit (TRUNCATE would): a fresh
  // staging table per batch keeps the transaction whole.
  conn.exec("DROP TEMPORARY TABLE IF EXISTS " + ts.stage, ts.display);
  conn.exec(ts.stage_ddl, ts.display);
  try {
    load(ts, ts.stage_load_sql, batch, shape);
  } catch (const Error &e) {
    throw with_target_names(e, ts.plans);
  }
  if (any_delete) conn.exec(ts.delete_sql, ts.display);
  bool any_upsert = false;
  for (int64_t r = 0; r < batch.num_rows && !any_upsert; ++r) {
    model::Op op = batch.op(r);
    any_upsert = op == model::Op::insert || op == model::Op::update_after;
  }
  if (any_upsert) conn.exec(ts.upsert_sql, ts.display);
}

void MariadbSinkWriter::write(const model::Batch &batch) {
  if (batch.num_rows == 0) return;
  TableState &ts = state_for(batch);
  bool changes = config_.write_mode == "upsert";
  bool any_delete = false;
  if (batch.ops)
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      model::Op op = batch.op(r);
      changes = changes || op != model::Op::insert;
      any_delete = any_delete || op == model::Op::remove;
    }
  const bool keyed = changes && !ts.key.empty();
  if (any_delete && !keyed)
    throw Error(Code::unsupported,
                "cannot delete rows from " + ts.display +
                    ": the target has no primary key (or the source does not send all of its columns)",
                ts.ctx);
  FeedShape shape;
  shape.staged = keyed;
  if (keyed) shape.key = ts.in_key;
  std::vector<IssueCount> issues =
      scan_invalid_values(batch, ts.plans, shape, config_.invalid_values, ts.display, ts.ctx);
  begin();
  if (keyed)
    write_staged(ts, batch, shape, any_delete);
  else
    load(ts, ts.load_sql, batch, shape);
  for (const IssueCount &i : issues)
    config_.value_report->record(ts.display, ts.plans[i.column].name,
                                 issue_reason(i.issue, ts.plans[i.column], config_.invalid_values), i.count);
}

void MariadbSinkWriter::commit(const std::vector<model::Position> *positions) {
  if (positions && !positions->empty()) {
    shared_->ensure_checkpoint_table();
    begin();
    upsert_checkpoints(*conn_, config_.checkpoint_database, config_.pipeline_name, *positions);
  }
  if (conn_ && in_transaction_) {
    conn_->exec("COMMIT");
    in_transaction_ = false;
  }
}

void MariadbSinkWriter::rollback() {
  if (!conn_) return;
  if (in_transaction_) {
    try {
      conn_->exec("ROLLBACK");
    } catch (const Error &) {
      conn_.reset();  // reconnect at the next write
    }
  }
  in_transaction_ = false;
}

}  // namespace ds::connectors::mariadb
