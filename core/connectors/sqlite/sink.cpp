#include "connectors/sqlite/sink.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "connectors/sqlite/catalog.hpp"
#include "connectors/sqlite/checkpoint.hpp"
#include "connectors/sqlite/values.hpp"
#include "model/error.hpp"
#include "schema/ddl.hpp"
#include "schema/evolution.hpp"

namespace ds::connectors::sqlite {
namespace {

using model::TypeId;

std::string lower(std::string s) {
  for (char &c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

const ColumnInfo *find_target(const std::vector<ColumnInfo> &target, const std::string &name) {
  for (const ColumnInfo &c : target)
    if (iequals(c.name, name)) return &c;
  return nullptr;
}

std::string describe_source_column(const model::ColumnSchema &c) { return c.name + " " + model::to_string(c.type); }

// How a batch column is bound, chosen once per table so the row loop is one switch.
enum class Bind : uint8_t {
  boolean,
  i8,
  i16,
  i32,
  i64,
  u64,
  f32,
  f64,
  decimal,
  text,
  blob,
  date,
  time,
  timestamp,
  interval,
  uuid
};

Bind bind_of(TypeId id) {
  switch (id) {
    case TypeId::boolean: return Bind::boolean;
    case TypeId::int8: return Bind::i8;
    case TypeId::int16: return Bind::i16;
    case TypeId::int32: return Bind::i32;
    case TypeId::int64: return Bind::i64;
    case TypeId::uint64: return Bind::u64;
    case TypeId::float32: return Bind::f32;
    case TypeId::float64: return Bind::f64;
    case TypeId::decimal: return Bind::decimal;
    case TypeId::string:
    case TypeId::json:
    case TypeId::unknown: return Bind::text;
    case TypeId::binary: return Bind::blob;
    case TypeId::date: return Bind::date;
    case TypeId::time: return Bind::time;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return Bind::timestamp;
    case TypeId::interval: return Bind::interval;
    case TypeId::uuid: return Bind::uuid;
  }
  return Bind::text;
}

// What SQLite's affinity of the target column does to decimal text.
enum class Rounding : uint8_t { none, numeric, real };

Rounding rounding_of(const std::string &declared) {
  switch (affinity_of(declared)) {
    case Affinity::text:
    case Affinity::blob: return Rounding::none;
    case Affinity::real: return Rounding::real;
    default: return Rounding::numeric;
  }
}

// Whether SQLite keeps the decimal exactly once its affinity converts the text:
// 15 significant digits survive a REAL, and whole numbers an INTEGER.
bool survives_affinity(int128 v, int scale, Rounding r) {
  if (r == Rounding::none || significant_digits(v) <= 15) return true;
  if (r == Rounding::real || scale < 0) return false;
  int128 p = pow10_128(scale);
  if (v % p != 0) return false;
  int128 whole = v / p;
  return whole >= std::numeric_limits<int64_t>::min() && whole <= std::numeric_limits<int64_t>::max();
}

const std::vector<std::string> kJournalModes = {"wal", "delete", "truncate", "memory", "off", "persist"};
const std::vector<std::string> kSynchronous = {"off", "normal", "full", "extra"};

}  // namespace

void configure_connection(const Connection &conn, const SinkConfig &config) {
  std::string jm = lower(config.journal_mode), sync = lower(config.synchronous);
  if (std::find(kJournalModes.begin(), kJournalModes.end(), jm) == kJournalModes.end())
    throw Error(Code::config,
                "journal_mode '" + config.journal_mode + "' is not one of wal, delete, truncate, memory, off",
                conn.context());
  if (std::find(kSynchronous.begin(), kSynchronous.end(), sync) == kSynchronous.end())
    throw Error(Code::config, "synchronous '" + config.synchronous + "' is not one of off, normal, full",
                conn.context());
  conn.pragma("PRAGMA main.journal_mode = " + jm);
  conn.pragma("PRAGMA main.synchronous = " + sync);
}

// ------------------------------------------------------------------ SqliteSink

SqliteSink::SqliteSink(SinkConfig config) : config_(std::move(config)), context_("sink=sqlite path=" + config_.path) {
  if (config_.path.empty()) throw Error(Code::config, "the sqlite sink needs a path", "sink=sqlite");
  if (!config_.value_report) config_.value_report = std::make_shared<model::ValueReport>();
  if (config_.write_mode != "insert" && config_.write_mode != "upsert" && config_.write_mode != "changelog")
    throw Error(Code::config, "write_mode '" + config_.write_mode + "' is not one of insert, upsert, changelog",
                context_);
}

Connection &SqliteSink::connection() {
  if (!conn_) {
    conn_ = Connection(config_.path, Connection::Mode::read_write_create, context_, config_.busy_timeout_ms);
    configure_connection(conn_, config_);
  }
  return conn_;
}

std::string SqliteSink::describe() const { return "sqlite path=" + config_.path; }

void SqliteSink::prepare_table(const model::TableSchema &routed) {
  const model::TableSchemaPtr changelog =
      config_.write_mode == "changelog" ? schema::changelog_schema(routed) : nullptr;
  const model::TableSchema &schema = changelog ? *changelog : routed;
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = connection();
  const std::string &name = schema.id.table_name;
  const std::string display = "main." + name;
  const std::string ctx = context_ + " table=" + display;
  if (schema.columns.empty()) throw Error(Code::schema, "table " + display + " has no columns to write", ctx);

  Statement kind = conn.prepare(
      "SELECT type FROM main.sqlite_schema WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')", ctx);
  kind.bind(1, name);
  std::string type = kind.step("cannot look up " + display) ? kind.column_text(0) : "";
  kind.reset();
  if (type == "view")
    throw Error(Code::schema, "target " + display + " is a view; the sqlite sink writes into tables", ctx);

  if (type.empty()) {
    if (!config_.create_tables)
      throw Error(Code::not_found, "target table " + display + " does not exist and create_tables is false", ctx);
    run_ddl(conn, plan_locked(conn, schema).statements, ctx);
    return;
  }

  std::vector<ColumnInfo> target = table_columns(conn, name);
  for (const model::ColumnSchema &c : schema.columns) {
    const ColumnInfo *t = find_target(target, c.name);
    if (!t)
      throw Error(Code::schema,
                  "target table " + display + " has no column '" + c.name + "' (source column " +
                      describe_source_column(c) + ")",
                  ctx);
    if (t->hidden != 0)
      throw Error(Code::schema,
                  "column '" + t->name + "' of target table " + display + " is generated and cannot be written", ctx);
    if (!target_accepts(t->declared, c.type))
      throw Error(Code::schema,
                  "column '" + c.name + "' is " + display_declared(t->declared) +
                      " in the target but the source sends " + model::to_string(c.type),
                  ctx);
  }
  int pk_columns =
      static_cast<int>(std::count_if(target.begin(), target.end(), [](const ColumnInfo &c) { return c.pk > 0; }));
  for (const ColumnInfo &t : target) {
    if (t.hidden != 0 || !t.not_null || !t.default_value.empty()) continue;
    bool found = false;
    for (const auto &c : schema.columns) found = found || iequals(c.name, t.name);
    bool rowid_key = pk_columns == 1 && t.pk == 1 && iequals(t.declared, "INTEGER");  // assigned by SQLite
    if (!found && !rowid_key)
      throw Error(Code::schema,
                  "column '" + t.name + "' of target table " + display +
                      " is NOT NULL without a default and the source has no such column",
                  ctx);
  }
}

model::TableDdlPlan SqliteSink::plan_table(const model::TableSchema &routed) {
  const model::TableSchemaPtr changelog =
      config_.write_mode == "changelog" ? schema::changelog_schema(routed) : nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  return plan_locked(connection(), changelog ? *changelog : routed);
}

schema::TargetInfo SqliteSink::target_info(Connection &conn, const model::TableId &routed) {
  schema::TargetInfo target;
  target.dialect = schema::Dialect::sqlite;
  target.target = model::TableId{"", "main", routed.table_name};
  model::TableSchemaPtr existing = table_schema(conn, routed.table_name);
  if (!existing->columns.empty()) target.existing = existing;
  target.keep_spelling = [](const model::TableSchema &source, int column) {
    // A single integer key declared exactly INTEGER is the rowid: the table's own order.
    if (source.primary_key.size() == 1 && source.primary_key[0] == column &&
        is_integer_type(source.columns[static_cast<size_t>(column)].type.id))
      return std::string("INTEGER");
    const model::DataType &type = source.columns[static_cast<size_t>(column)].type;
    std::string chosen = create_column_type(type, source.source_dialect == "sqlite");
    return !type.source_name.empty() && chosen == type.source_name ? chosen : std::string();
  };
  return target;
}

model::TableDdlPlan SqliteSink::plan_locked(Connection &conn, const model::TableSchema &schema) {
  model::TableDdlPlan plan = schema::plan_table(schema, target_info(conn, schema.id));
  // The writer fills in the positions of a source transaction's first
  // batches at its end, finding them through this (only ever small) index.
  if (config_.write_mode == "changelog" && !plan.exists)
    plan.statements.push_back("CREATE INDEX main." + quote_ident(plan.target.table_name + "__ds_pending") + " ON " +
                              quote_ident(plan.target.table_name) + " (" + quote_ident(schema::kChangelogSeq) +
                              ") WHERE " + quote_ident(schema::kChangelogPosition) + " IS NULL");
  return plan;
}

void SqliteSink::run_ddl(Connection &conn, const std::vector<std::string> &statements, const std::string &ctx) {
  conn.exec("BEGIN IMMEDIATE", ctx);
  try {
    for (const std::string &sql : statements) {
      Statement st = conn.prepare(sql, ctx);
      st.run("cannot run " + sql.substr(0, 200));
    }
    conn.exec("COMMIT", ctx);
  } catch (...) {
    try {
      conn.exec("ROLLBACK", ctx);
    } catch (...) {
    }
    throw;
  }
}

void SqliteSink::apply_plan(const model::TableDdlPlan &plan, bool allow_destructive) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> statements = plan.statements;
  if (allow_destructive) statements.insert(statements.end(), plan.destructive.begin(), plan.destructive.end());
  if (!statements.empty()) run_ddl(connection(), statements, context_ + " table=main." + plan.target.table_name);
}

std::string SqliteSink::apply_schema_change(const model::SchemaChange &source_change) {
  model::SchemaChange change = source_change;
  if (config_.write_mode == "changelog") {
    if (change.kind == model::SchemaChangeKind::truncate_table || change.kind == model::SchemaChangeKind::drop_table)
      return std::string(model::schema_change_name(change.kind)) +
             " not applied (write_mode: changelog keeps every change)";
    if (change.schema_after) change.schema_after = schema::changelog_schema(*change.schema_after);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = connection();
  return schema::apply_change(change, schema::parse_evolution_policy(config_.evolution),
                              target_info(conn, change.table), [&](const std::vector<std::string> &statements) {
                                run_ddl(conn, statements, context_ + " table=main." + change.table.table_name);
                              });
}

std::unique_ptr<model::SinkWriter> SqliteSink::open_writer(int /*lane*/) {
  return std::make_unique<SqliteSinkWriter>(config_);
}

std::unique_ptr<model::CheckpointStore> SqliteSink::open_checkpoint_store(const std::string &pipeline_name) {
  return std::make_unique<SqliteCheckpointStore>(config_.path, pipeline_name, context_, config_.busy_timeout_ms);
}

// ------------------------------------------------------------ SqliteSinkWriter

struct SqliteSinkWriter::TableState {
  model::TableSchemaPtr schema;
  std::string display;  // "main.t"
  std::string ctx;      // "sink=sqlite path=... table=main.t"
  std::vector<Bind> binds;
  std::vector<Rounding> rounding;
  std::vector<int128> scale_factor;           // 10^scale of decimal columns, 1 otherwise
  std::vector<std::array<char, 96>> scratch;  // formatted text of each column's current value
  std::vector<int> key_columns;               // batch columns matched against for deletes
  std::vector<bool> not_null;                 // the target column of each batch column is NOT NULL
  model::InvalidValuePolicy policy = model::InvalidValuePolicy::error;
  std::map<std::pair<size_t, std::string>, int64_t> adjusted;  // (column, reason) → values, for the report
  bool upsert_on_key = false;                                  // ON CONFLICT (key) DO UPDATE, else INSERT OR REPLACE
  std::string column_list, params;
  Statement insert, upsert, remove;
};

namespace {

[[noreturn]] void fail_step(sqlite3 *db, sqlite3_stmt *st, int rc, const SqliteSinkWriter::TableState &ts, int64_t row,
                            const char *action) {
  std::string detail = sqlite3_errmsg(db);
  sqlite3_reset(st);
  int primary = rc & 0xff;
  std::string msg = primary == SQLITE_CONSTRAINT
                        ? std::string(action) + " row " + std::to_string(row) +
                              " of the batch violates a constraint of " + ts.display + ": " + detail
                        : "cannot " + std::string(action) + " row " + std::to_string(row) + " of the batch in " +
                              ts.display + ": " + detail;
  throw Error(code_for(rc), msg, ts.ctx, primary == SQLITE_BUSY || primary == SQLITE_LOCKED);
}

[[noreturn]] void fail_value(const SqliteSinkWriter::TableState &ts, size_t c, int64_t row, const std::string &why) {
  const std::string &name = ts.schema->columns[c].name;
  throw Error(Code::data, "row " + std::to_string(row) + " column " + name + " of " + ts.display + ": " + why,
              ts.ctx + " column=" + name);
}

// The range of dates and timestamps SQLite's text forms hold ('YYYY-...').
const int64_t kFirstDay = days_from_civil(0, 1, 1);
const int64_t kLastDay = days_from_civil(9999, 12, 31);
constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

// A value SQLite cannot hold, under pipeline.invalid_values: fails (error),
// or says whether to write NULL (null, or clamp without a nearest value:
// `clamped` empty) rather than the value clamped to `clamped`. `value` names
// the value in errors; `kind` names the issue in the report.
bool null_instead(SqliteSinkWriter::TableState &ts, size_t c, int64_t row, const std::string &value,
                  const std::string &kind, const std::string &why, const std::string &clamped) {
  using model::InvalidValuePolicy;
  if (ts.policy == InvalidValuePolicy::error)
    fail_value(ts, c, row,
               "cannot write " + value + ": " + why + " — set pipeline.invalid_values to null (write NULL) or clamp (" +
                   (clamped.empty() ? std::string("write NULL") : "write " + clamped) + ")");
  const bool null = ts.policy == InvalidValuePolicy::null || clamped.empty();
  if (null && ts.not_null[c])
    fail_value(ts, c, row,
               "cannot write " + value + ": " + why + ", and pipeline.invalid_values: " +
                   model::invalid_value_policy_name(ts.policy) + " would write NULL into a NOT NULL column");
  ++ts.adjusted[{c, kind + (null ? " written as NULL" : " clamped to " + clamped)}];
  return null;
}

std::string date_text(int64_t days) {
  char buf[16];
  return std::string(buf, format_date(static_cast<int32_t>(days), buf));
}

inline void bind_value(SqliteSinkWriter::TableState &ts, sqlite3_stmt *st, int param, const model::Column &col,
                       size_t c, int64_t row) {
  int rc;
  if (!col.is_valid(row)) {
    rc = sqlite3_bind_null(st, param);
  } else {
    char *buf = ts.scratch[c].data();
    size_t n = 0;
    auto bind_text = [&] { return sqlite3_bind_text(st, param, buf, static_cast<int>(n), SQLITE_STATIC); };
    switch (ts.binds[c]) {
      case Bind::boolean: rc = sqlite3_bind_int(st, param, col.bool_value(row) ? 1 : 0); break;
      case Bind::i8: rc = sqlite3_bind_int64(st, param, col.value<int8_t>(row)); break;
      case Bind::i16: rc = sqlite3_bind_int64(st, param, col.value<int16_t>(row)); break;
      case Bind::i32: rc = sqlite3_bind_int64(st, param, col.value<int32_t>(row)); break;
      case Bind::i64: rc = sqlite3_bind_int64(st, param, col.value<int64_t>(row)); break;
      case Bind::u64: {
        uint64_t v = col.value<uint64_t>(row);
        constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
        if (v > static_cast<uint64_t>(kMax) &&
            null_instead(ts, c, row, "uint64 value " + std::to_string(v), "uint64 beyond " + std::to_string(kMax),
                         "SQLite's INTEGER is 64-bit signed", std::to_string(kMax))) {
          rc = sqlite3_bind_null(st, param);
          break;
        }
        rc = sqlite3_bind_int64(st, param, static_cast<int64_t>(std::min<uint64_t>(v, kMax)));
        break;
      }
      case Bind::f32:
      case Bind::f64: {
        double v = ts.binds[c] == Bind::f32 ? col.value<float>(row) : col.value<double>(row);
        // SQLite would store a NaN as NULL without a word.
        if (std::isnan(v)) {
          null_instead(ts, c, row, "NaN", "NaN", "SQLite has no NaN", "");
          rc = sqlite3_bind_null(st, param);
          break;
        }
        rc = sqlite3_bind_double(st, param, v);
        break;
      }
      case Bind::decimal: {
        int128 v = load_int128(col.fixed_bytes(row, 16));
        int scale = ts.schema->columns[c].type.scale;
        // SQLite's numeric affinity keeps whole numbers exactly only when their
        // text has no fraction ('12.00' goes through a REAL): write them bare.
        if (ts.rounding[c] != Rounding::none && scale > 0 && v % ts.scale_factor[c] == 0)
          n = format_decimal(v / ts.scale_factor[c], 0, buf);
        else
          n = format_decimal(v, scale, buf);
        if (n == 0) fail_value(ts, c, row, "decimal scale " + std::to_string(scale) + " cannot be written");
        if (!survives_affinity(v, scale, ts.rounding[c]))
          fail_value(ts, c, row,
                     "decimal value " + std::string(buf, n) +
                         " has more significant digits than SQLite keeps in a column of numeric affinity (15, or a "
                         "whole 64-bit "
                         "integer); declare the target column TEXT to keep it exactly");
        rc = sqlite3_bind_text(st, param, buf, static_cast<int>(n), SQLITE_STATIC);
        break;
      }
      case Bind::text: {
        std::string_view v = col.bytes(row);
        rc = sqlite3_bind_text(st, param, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_STATIC);
        break;
      }
      case Bind::blob: {
        std::string_view v = col.bytes(row);
        // A zero-length blob is not NULL: bind it explicitly (a null pointer would bind NULL).
        rc = v.empty() ? sqlite3_bind_zeroblob(st, param, 0)
                       : sqlite3_bind_blob(st, param, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        break;
      }
      case Bind::date: {
        int64_t days = col.value<int32_t>(row);
        if (days < kFirstDay || days > kLastDay) {
          const bool early = days < kFirstDay;
          const std::string edge = date_text(early ? kFirstDay : kLastDay);
          if (null_instead(ts, c, row, "date " + std::to_string(days) + " days from 1970-01-01",
                           std::string(early ? "date before " : "date after ") + edge,
                           "SQLite dates are 'YYYY-MM-DD' text of years 0000..9999", edge)) {
            rc = sqlite3_bind_null(st, param);
            break;
          }
          days = early ? kFirstDay : kLastDay;
        }
        n = format_date(static_cast<int32_t>(days), buf);
        rc = bind_text();
        break;
      }
      case Bind::time: {
        // PostgreSQL's 24:00:00 is the one time of day beyond 23:59:59.999999.
        int64_t micros = col.value<int64_t>(row);
        if (micros < 0 || micros >= kMicrosPerDay) {
          const bool early = micros < 0;
          const std::string edge = early ? "00:00:00" : "23:59:59.999999";
          if (null_instead(ts, c, row, "time " + std::to_string(micros) + " microseconds after midnight",
                           early ? "time before 00:00:00" : "time of 24:00:00 or later",
                           "SQLite times are 'HH:MM:SS' text within one day", edge)) {
            rc = sqlite3_bind_null(st, param);
            break;
          }
          micros = early ? 0 : kMicrosPerDay - 1;
        }
        n = format_time(micros, buf);
        rc = bind_text();
        break;
      }
      case Bind::timestamp: {
        int64_t micros = col.value<int64_t>(row);
        const int64_t first = kFirstDay * kMicrosPerDay, last = (kLastDay + 1) * kMicrosPerDay - 1;
        if (micros < first || micros > last) {
          const bool early = micros < first;
          n = format_timestamp(early ? first : last, buf);
          const std::string edge(buf, n);
          if (null_instead(ts, c, row, "timestamp " + std::to_string(micros) + " microseconds from 1970-01-01",
                           std::string(early ? "timestamp before " : "timestamp after ") + edge,
                           "SQLite timestamps are 'YYYY-MM-DD HH:MM:SS' text of years 0000..9999", edge)) {
            rc = sqlite3_bind_null(st, param);
            break;
          }
          micros = early ? first : last;
        }
        n = format_timestamp(micros, buf);
        rc = bind_text();
        break;
      }
      case Bind::interval: {
        const uint8_t *p = col.fixed_bytes(row, 16);
        int32_t months, days;
        int64_t nanos;
        std::memcpy(&months, p, 4);
        std::memcpy(&days, p + 4, 4);
        std::memcpy(&nanos, p + 8, 8);
        n = format_interval(months, days, nanos, buf);
        rc = sqlite3_bind_text(st, param, buf, static_cast<int>(n), SQLITE_STATIC);
        break;
      }
      case Bind::uuid:
        format_uuid(col.fixed_bytes(row, 16), buf);
        rc = sqlite3_bind_text(st, param, buf, 36, SQLITE_STATIC);
        break;
      default: rc = SQLITE_MISUSE; break;
    }
  }
  if (rc != SQLITE_OK) fail_value(ts, c, row, std::string("cannot bind the value: ") + sqlite3_errstr(rc));
}

bool same_columns(const model::TableSchema &a, const model::TableSchema &b) {
  if (a.columns.size() != b.columns.size() || a.primary_key != b.primary_key) return false;
  for (size_t i = 0; i < a.columns.size(); ++i)
    if (a.columns[i].name != b.columns[i].name || a.columns[i].type != b.columns[i].type) return false;
  return true;
}

}  // namespace

SqliteSinkWriter::SqliteSinkWriter(const SinkConfig &config)
    : config_(config),
      context_("sink=sqlite path=" + config.path),
      conn_(config.path, Connection::Mode::read_write_create, context_, config.busy_timeout_ms) {
  configure_connection(conn_, config_);
}

SqliteSinkWriter::~SqliteSinkWriter() {
  tables_.clear();
  checkpoint_upsert_ = Statement();
  if (conn_.in_transaction()) sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

SqliteSinkWriter::TableState &SqliteSinkWriter::state_for(const model::Batch &batch) {
  if (!batch.schema) throw Error(Code::invalid_argument, "a batch without a schema", context_);
  const model::TableSchema &schema = *batch.schema;
  std::string key = lower(schema.id.table_name);
  auto it = tables_.find(key);
  if (it != tables_.end()) {
    TableState &ts = *it->second;
    if (ts.schema == batch.schema) return ts;
    if (same_columns(*ts.schema, schema)) {
      ts.schema = batch.schema;
      return ts;
    }
    tables_.erase(it);
  }

  auto ts = std::make_unique<TableState>();
  ts->schema = batch.schema;
  ts->display = "main." + schema.id.table_name;
  ts->ctx = context_ + " table=" + ts->display;
  std::vector<ColumnInfo> target = table_columns(conn_, schema.id.table_name);
  if (target.empty()) throw Error(Code::not_found, "target table " + ts->display + " does not exist", ts->ctx);
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const model::ColumnSchema &c = schema.columns[i];
    const ColumnInfo *t = find_target(target, c.name);
    if (!t)
      throw Error(Code::schema,
                  "target table " + ts->display + " has no column '" + c.name + "' (source column " +
                      describe_source_column(c) + ")",
                  ts->ctx);
    ts->binds.push_back(bind_of(c.type.id));
    ts->not_null.push_back(t->not_null);
    ts->rounding.push_back(rounding_of(t->declared));
    ts->scale_factor.push_back(c.type.id == TypeId::decimal && c.type.scale > 0 ? pow10_128(c.type.scale) : 1);
    ts->column_list += (i ? ", " : "") + quote_ident(c.name);
    ts->params += (i ? ", ?" : "?") + std::to_string(i + 1);
  }
  ts->scratch.resize(schema.columns.size());
  ts->policy = config_.invalid_values;

  // The key: the target's primary key when the batch carries all of it, else the source's.
  std::vector<std::pair<int, std::string>> target_key;
  for (const ColumnInfo &t : target)
    if (t.pk > 0) target_key.emplace_back(t.pk, t.name);
  std::sort(target_key.begin(), target_key.end());
  for (const auto &k : target_key) {
    int found = -1;
    for (size_t i = 0; i < schema.columns.size() && found < 0; ++i)
      if (iequals(schema.columns[i].name, k.second)) found = static_cast<int>(i);
    if (found < 0) {
      ts->key_columns.clear();
      break;
    }
    ts->key_columns.push_back(found);
  }
  ts->upsert_on_key = !target_key.empty() && ts->key_columns.size() == target_key.size();
  if (!ts->upsert_on_key) ts->key_columns = schema.primary_key;

  ts->insert = conn_.prepare("INSERT INTO main." + quote_ident(schema.id.table_name) + " (" + ts->column_list +
                                 ") VALUES (" + ts->params + ")",
                             ts->ctx);
  TableState &ref = *ts;
  tables_[key] = std::move(ts);
  return ref;
}

void SqliteSinkWriter::begin() {
  if (!conn_.in_transaction()) conn_.exec("BEGIN IMMEDIATE", "cannot start a write transaction");
}

void SqliteSinkWriter::write(const model::Batch &input) {
  if (input.num_rows == 0) return;
  const bool changelog = config_.write_mode == "changelog";
  const std::shared_ptr<model::Batch> rows = changelog ? changelog_.rows_of(input) : nullptr;
  const model::Batch &batch = rows ? *rows : input;
  TableState &ts = state_for(batch);
  ts.adjusted.clear();  // what a failed write counted is not in the database
  begin();
  const model::TableSchema &schema = *ts.schema;
  const std::string table = "main." + quote_ident(schema.id.table_name);
  const bool upsert_mode = config_.write_mode == "upsert";
  const size_t ncols = batch.columns.size();
  sqlite3 *db = conn_.get();

  auto upsert_stmt = [&]() -> sqlite3_stmt * {
    if (!ts.upsert) {
      std::string sql;
      if (ts.upsert_on_key) {
        std::string keys, sets;
        for (int k : ts.key_columns)
          keys += (keys.empty() ? "" : ", ") + quote_ident(schema.columns[static_cast<size_t>(k)].name);
        for (size_t i = 0; i < schema.columns.size(); ++i) {
          if (std::find(ts.key_columns.begin(), ts.key_columns.end(), static_cast<int>(i)) != ts.key_columns.end())
            continue;
          std::string q = quote_ident(schema.columns[i].name);
          if (!sets.empty()) sets += ", ";
          sets.append(q).append(" = excluded.").append(q);
        }
        sql = "INSERT INTO " + table + " (" + ts.column_list + ") VALUES (" + ts.params + ") ON CONFLICT (" + keys +
              ") " + (sets.empty() ? "DO NOTHING" : "DO UPDATE SET " + sets);
      } else {
        sql = "INSERT OR REPLACE INTO " + table + " (" + ts.column_list + ") VALUES (" + ts.params + ")";
      }
      ts.upsert = conn_.prepare(sql, ts.ctx);
    }
    return ts.upsert.get();
  };
  auto remove_stmt = [&]() -> sqlite3_stmt * {
    if (!ts.remove) {
      if (ts.key_columns.empty())
        throw Error(Code::unsupported,
                    "cannot delete rows from " + ts.display + ": neither it nor the source table has a primary key",
                    ts.ctx);
      std::string where;
      for (size_t k = 0; k < ts.key_columns.size(); ++k)
        where += (k ? " AND " : "") + quote_ident(schema.columns[static_cast<size_t>(ts.key_columns[k])].name) +
                 " = ?" + std::to_string(k + 1);
      ts.remove = conn_.prepare("DELETE FROM " + table + " WHERE " + where, ts.ctx);
    }
    return ts.remove.get();
  };

  sqlite3_stmt *insert = upsert_mode ? upsert_stmt() : ts.insert.get();
  for (int64_t r = 0; r < batch.num_rows; ++r) {
    model::Op op = batch.op(r);
    sqlite3_stmt *st;
    const char *action = "insert";
    if (op == model::Op::update_before) continue;
    if (op == model::Op::remove) {
      st = remove_stmt();
      for (size_t k = 0; k < ts.key_columns.size(); ++k) {
        size_t c = static_cast<size_t>(ts.key_columns[k]);
        bind_value(ts, st, static_cast<int>(k) + 1, batch.columns[c], c, r);
      }
      action = "delete";
    } else {
      st = op == model::Op::update_after ? upsert_stmt() : insert;
      for (size_t c = 0; c < ncols; ++c) bind_value(ts, st, static_cast<int>(c) + 1, batch.columns[c], c, r);
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) fail_step(db, st, rc, ts, r, action);
    sqlite3_reset(st);
  }
  if (!ts.adjusted.empty()) {
    if (config_.value_report)
      for (const auto &a : ts.adjusted)
        config_.value_report->record(ts.display, schema.columns[a.first.first].name, a.first.second, a.second);
    ts.adjusted.clear();
  }
  if (!changelog) return;
  if (batch.position.stream.empty()) {
    changelog_pending_.insert(schema.id.table_name);
  } else {
    fill_changelog_positions(batch.position.value);
  }
}

// The rows of the transaction's earlier batches learn its position.
void SqliteSinkWriter::fill_changelog_positions(const std::string &position) {
  for (const std::string &table : changelog_pending_) {
    Statement st =
        conn_.prepare("UPDATE main." + quote_ident(table) + " SET " + quote_ident(schema::kChangelogPosition) +
                          " = ?1 WHERE " + quote_ident(schema::kChangelogPosition) + " IS NULL",
                      context_ + " table=main." + table);
    st.bind(1, position);
    st.run("cannot set the change log's positions in main." + table);
  }
  changelog_pending_.clear();
  changelog_.settle();
}

void SqliteSinkWriter::commit(const std::vector<model::Position> *positions) {
  if (changelog_.position_pending()) fill_changelog_positions(schema::changelog_commit_position(positions));
  if (positions && !positions->empty()) {
    begin();
    if (!checkpoint_ready_) {
      ensure_checkpoint_table(conn_);
      checkpoint_upsert_ = prepare_checkpoint_upsert(conn_);
      checkpoint_ready_ = true;
    }
    for (const model::Position &p : *positions) upsert_checkpoint(checkpoint_upsert_, config_.pipeline_name, p);
  }
  if (conn_.in_transaction()) conn_.exec("COMMIT", "cannot commit");
  changelog_.end_transaction();
}

void SqliteSinkWriter::rollback() {
  changelog_.end_transaction();
  changelog_pending_.clear();
  for (auto &t : tables_) {
    t.second->insert.reset();
    if (t.second->upsert) t.second->upsert.reset();
    if (t.second->remove) t.second->remove.reset();
  }
  // The checkpoint table may have been created in the transaction being dropped.
  checkpoint_upsert_ = Statement();
  checkpoint_ready_ = false;
  if (conn_.in_transaction()) conn_.exec("ROLLBACK", "cannot roll back");
}

}  // namespace ds::connectors::sqlite
