#include "connectors/postgres/source.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "connectors/postgres/catalog.hpp"
#include "connectors/postgres/cdc.hpp"
#include "connectors/postgres/copy_binary_decode.hpp"
#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

__extension__ typedef __int128 int128;

using model::TypeId;

std::string join(const std::vector<std::string> &items, const char *sep) {
  std::string out;
  for (const auto &s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool parse_int64(std::string_view s, int64_t &out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "(page,item)" with both parts unsigned integers.
bool valid_tid(const std::string &s) {
  if (s.size() < 5 || s.front() != '(' || s.back() != ')') return false;
  size_t comma = s.find(',');
  if (comma == std::string::npos) return false;
  int64_t a, b;
  return parse_int64(std::string_view(s).substr(1, comma - 1), a) &&
         parse_int64(std::string_view(s).substr(comma + 1, s.size() - comma - 2), b) && a >= 0 && b >= 0;
}

// Splits "kind:lo:hi" into its parts.
bool split_range(const std::string &range, std::string &kind, std::string &lo, std::string &hi) {
  size_t a = range.find(':');
  if (a == std::string::npos) {
    kind = range;
    lo.clear();
    hi.clear();
    return true;
  }
  size_t b = range.find(':', a + 1);
  if (b == std::string::npos) return false;
  kind = range.substr(0, a);
  lo = range.substr(a + 1, b - a - 1);
  hi = range.substr(b + 1);
  return true;
}

int integer_key(const model::TableSchema &schema) {
  if (schema.primary_key.size() != 1) return -1;
  int k = schema.primary_key[0];
  TypeId id = schema.columns[static_cast<size_t>(k)].type.id;
  return (id == TypeId::int16 || id == TypeId::int32 || id == TypeId::int64) ? k : -1;
}

std::string qualified(const model::TableId &id) {
  return quote_identifier(id.schema_name) + "." + quote_identifier(id.table_name);
}

std::string display(const model::TableId &id) { return id.schema_name + "." + id.table_name; }

// Runs `fn` on the coordinator inside a savepoint, so a failing statement (no
// permission on one table) does not abort the snapshot transaction.
template <typename Fn>
auto guarded(Connection &conn, Fn &&fn) -> decltype(fn()) {
  conn.exec("SAVEPOINT ds_plan");
  try {
    auto out = fn();
    conn.exec("RELEASE SAVEPOINT ds_plan");
    return out;
  } catch (...) {
    if (conn.ok()) {
      try {
        conn.exec("ROLLBACK TO SAVEPOINT ds_plan");
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace

// -------------------------------------------------------------- PostgresSource

PostgresSource::PostgresSource(SourceConfig config)
    : config_(std::move(config)), snapshot_(std::make_shared<SnapshotState>()) {
  if (config_.conn.user.empty())
    throw Error(Code::config, "the postgres source needs a user", "source=postgres " + config_.conn.context());
  if (config_.conn.database.empty())
    throw Error(Code::config, "the postgres source needs a database", "source=postgres " + config_.conn.context());
}

PostgresSource::~PostgresSource() {
  std::lock_guard<std::mutex> lock(mutex_);
  {
    std::lock_guard<std::mutex> s(snapshot_->mutex);
    snapshot_->id.clear();
  }
  coord_.reset();  // closing the connection ends the snapshot transaction
}

std::string PostgresSource::describe() const {
  return "postgres " + config_.conn.context() + " user=" + config_.conn.user;
}

Connection &PostgresSource::coordinator() {
  if (coord_ && coord_->ok() && coord_->in_transaction()) return *coord_;
  coord_.reset();
  {
    std::lock_guard<std::mutex> s(snapshot_->mutex);
    snapshot_->id.clear();
  }
  ConnParams p = config_.conn;
  p.application_name = config_.conn.application_name + " snapshot";
  auto conn = std::make_unique<Connection>(p);
  conn->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  std::string id = slot_snapshot_;
  if (!id.empty()) {
    // The replication slot's snapshot: the copy ends exactly where its stream begins.
    conn->exec("SET TRANSACTION SNAPSHOT " + quote_literal(id));
  } else {
    id = conn->exec("SELECT pg_export_snapshot()").value(0, 0);
  }
  {
    std::lock_guard<std::mutex> s(snapshot_->mutex);
    snapshot_->id = id;
  }
  coord_ = std::move(conn);
  return *coord_;
}

std::string PostgresSource::snapshot_id() {
  std::lock_guard<std::mutex> lock(mutex_);
  coordinator();
  std::lock_guard<std::mutex> s(snapshot_->mutex);
  return snapshot_->id;
}

void PostgresSource::prepare_change_capture(bool with_snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slot_ = config_.slot_name.empty() ? default_slot_name(config_.pipeline_name) : config_.slot_name;
  publication_ = config_.publication_name.empty() ? slot_ : config_.publication_name;
  ConnParams p = config_.conn;
  p.application_name = config_.conn.application_name + " cdc setup";
  Connection conn(p);
  model::TableSelector own{config_.tables, config_.exclude_tables};
  std::vector<std::string> tables;
  for (const TableEntry &t : list_tables(conn))
    if (own.matches(t.id)) tables.push_back(t.id.schema_name + "." + t.id.table_name);
  ensure_publication(conn, publication_, tables);
  ConnParams rp = config_.conn;
  rp.replication = true;
  rp.application_name = config_.conn.application_name + " cdc";
  replication_ = std::make_unique<Connection>(rp);
  SlotInfo slot = ensure_slot(*replication_, conn, slot_, with_snapshot);
  consistent_point_ = slot.consistent_point;
  slot_snapshot_ = slot.snapshot;
  coord_.reset();  // a coordinator opened before must take the slot's snapshot
}

std::vector<std::string> PostgresSource::cleanup_change_capture() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string slot = config_.slot_name.empty() ? default_slot_name(config_.pipeline_name) : config_.slot_name;
  const std::string publication = config_.publication_name.empty() ? slot : config_.publication_name;
  replication_.reset();
  Connection conn(config_.conn);
  std::vector<std::string> dropped;
  if (conn.exec_params("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {slot}).rows() > 0)
    dropped.push_back("replication slot " + slot);
  if (conn.exec_params("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication}).rows() > 0)
    dropped.push_back("publication " + publication);
  drop_slot_and_publication(conn, slot, publication);
  return dropped;
}

std::string PostgresSource::consistent_position() {
  std::lock_guard<std::mutex> lock(mutex_);
  return consistent_point_;
}

std::unique_ptr<model::ChangeSource> PostgresSource::open_change_stream() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (slot_.empty()) throw Error(Code::state, "open_change_stream() before prepare_change_capture()", describe());
  // The snapshot is read: its transaction ends, and the slot's connection may stream.
  coord_.reset();
  {
    std::lock_guard<std::mutex> s(snapshot_->mutex);
    snapshot_->id.clear();
  }
  slot_snapshot_.clear();
  ChangeStreamOptions options = config_.stream;
  options.created_at = consistent_point_;
  options.slot = slot_;
  options.publication = publication_;
  return std::make_unique<PostgresChangeStream>(config_.conn, std::move(options), std::move(replication_));
}

std::vector<model::TableSchemaPtr> PostgresSource::discover(const model::TableSelector &selector) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = coordinator();
  return guarded(conn, [&] {
    model::TableSelector own{config_.tables, config_.exclude_tables};
    std::vector<TableEntry> tables = list_tables(conn);
    std::vector<model::TableSchemaPtr> out;
    std::vector<std::string> available;
    for (const TableEntry &t : tables) {
      available.push_back(display(t.id));
      if (own.matches(t.id) && selector.matches(t.id)) out.push_back(load_schema(conn, t));
    }
    if (out.empty()) {
      std::vector<std::string> include = config_.tables, exclude = config_.exclude_tables;
      include.insert(include.end(), selector.include.begin(), selector.include.end());
      exclude.insert(exclude.end(), selector.exclude.begin(), selector.exclude.end());
      std::string what = "tables [" + (include.empty() ? std::string("all") : join(include, ", ")) + "]";
      if (!exclude.empty()) what += " excluding [" + join(exclude, ", ") + "]";
      const std::string where = "database \"" + config_.conn.database + "\" on " + config_.conn.host + ":" +
                                std::to_string(config_.conn.port);
      if (available.empty())
        throw Error(Code::not_found, where + " has no tables (selected " + what + ")", conn.context());
      std::string list =
          join(std::vector<std::string>(available.begin(), available.begin() + std::min<size_t>(available.size(), 50)),
               ", ");
      throw Error(Code::not_found, "no table of " + where + " matches " + what + "; available tables: " + list,
                  conn.context());
    }
    return out;
  });
}

std::vector<model::Split> PostgresSource::plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                                      int64_t split_rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = coordinator();
  const std::string name = display(table->id);
  const std::string stream_base = name + "#";
  if (split_rows <= 0) split_rows = config_.split_rows;
  const int64_t want_min = 2 * std::max(parallelism, 1);
  auto ceil_div = [](int64_t a, int64_t b) { return b <= 0 ? a : (a + b - 1) / b; };

  return guarded(conn, [&] {
    Result info = conn.exec_params(
        "SELECT c.relkind, greatest(c.reltuples, 0)::bigint, "
        "pg_relation_size(c.oid) / current_setting('block_size')::bigint "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        {table->id.schema_name, table->id.table_name}, name);
    if (info.rows() == 0)
      throw Error(Code::not_found,
                  "table " + name + " does not exist (host " + config_.conn.host + ":" +
                      std::to_string(config_.conn.port) + ", database " + config_.conn.database + ")",
                  conn.context() + " table=" + name);
    const char relkind = info.value(0, 0)[0];
    int64_t rows = info.int_value(0, 1);
    const int64_t pages = info.int_value(0, 2);
    std::vector<model::Split> out;

    const int key = integer_key(*table);
    if (key >= 0) {
      const std::string k = quote_identifier(table->columns[static_cast<size_t>(key)].name);
      Result mm = conn.exec("SELECT min(" + k + ")::bigint, max(" + k + ")::bigint" +
                                (rows > 0 ? std::string() : ", count(*)") + " FROM " + qualified(table->id),
                            name);
      if (mm.is_null(0, 0)) return std::vector<model::Split>{model::Split{table, stream_base + "0", "pk::", 0, ""}};
      if (rows <= 0) rows = mm.int_value(0, 2);
      const int64_t lo = mm.int_value(0, 0), hi = mm.int_value(0, 1);
      const int128 span = static_cast<int128>(hi) - lo + 1;
      int64_t n = std::max<int64_t>({want_min, ceil_div(rows, split_rows), 1});
      if (static_cast<int128>(n) > span) n = static_cast<int64_t>(span);
      for (int64_t i = 0; i < n; ++i) {
        int64_t from = static_cast<int64_t>(lo + span * i / n);
        int64_t to = static_cast<int64_t>(lo + span * (i + 1) / n - 1);
        out.push_back(model::Split{table, stream_base + std::to_string(i),
                                   "pk:" + std::to_string(from) + ":" + std::to_string(to),
                                   rows / n + (i < rows % n ? 1 : 0), ""});
      }
      return out;
    }
    if (relkind == 'p') return std::vector<model::Split>{model::Split{table, stream_base + "0", "full", rows, ""}};
    if (pages <= 0) return std::vector<model::Split>{model::Split{table, stream_base + "0", "ctid:0:", rows, ""}};
    int64_t n = std::max<int64_t>({want_min, ceil_div(rows, split_rows), 1});
    n = std::min(n, pages);
    for (int64_t i = 0; i < n; ++i) {
      int64_t from = pages * i / n;
      int64_t to = pages * (i + 1) / n;
      out.push_back(model::Split{table, stream_base + std::to_string(i),
                                 "ctid:" + std::to_string(from) + ":" + (i + 1 == n ? "" : std::to_string(to)),
                                 rows / n + (i < rows % n ? 1 : 0), ""});
    }
    return out;
  });
}

std::unique_ptr<model::SplitReader> PostgresSource::open_reader() {
  {
    // Export the snapshot before the first reader can need it.
    std::lock_guard<std::mutex> lock(mutex_);
    coordinator();
  }
  return std::make_unique<PostgresSplitReader>(config_.conn, snapshot_);
}

// --------------------------------------------------------- PostgresSplitReader

PostgresSplitReader::PostgresSplitReader(ConnParams params, std::shared_ptr<SnapshotState> snapshot)
    : params_(std::move(params)), snapshot_(std::move(snapshot)) {}

void PostgresSplitReader::begin_snapshot(const std::string &table) {
  if (!conn_ || !conn_->ok()) {
    conn_.reset();
    conn_ = std::make_unique<Connection>(params_);
  }
  if (conn_->in_transaction()) conn_->exec("ROLLBACK", table);
  std::string id;
  {
    std::lock_guard<std::mutex> s(snapshot_->mutex);
    id = snapshot_->id;
  }
  conn_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", table);
  if (id.empty()) return;  // no exported snapshot: a fresh one of our own
  try {
    conn_->exec("SET TRANSACTION SNAPSHOT " + quote_literal(id), table);
  } catch (const Error &e) {
    if (e.code() == Code::connection) throw;
    // The exporting transaction is gone (coordinator lost): fall back to a fresh snapshot.
    conn_->exec("ROLLBACK", table);
    conn_->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", table);
  }
}

void PostgresSplitReader::read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
                               const model::BatchEmitter &emit, const model::CancelToken &cancel) {
  if (!split.schema)
    throw Error(Code::invalid_argument, "split '" + split.stream + "' has no schema", "source=postgres");
  const model::TableSchema &schema = *split.schema;
  const std::string name = display(schema.id);
  const std::string ctx = params_.context() + " table=" + name;
  if (batch_rows < 1) batch_rows = 1;

  std::string kind, lo, hi;
  if (!split_range(split.range, kind, lo, hi) || (kind != "pk" && kind != "ctid" && kind != "full"))
    throw Error(Code::invalid_argument, "split range '" + split.range + "' is not pk:<lo>:<hi> or ctid:<lo>:<hi>", ctx);
  std::vector<FieldPlan> fields;
  std::string select;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const auto &c = schema.columns[i];
    FieldPlan f;
    f.kind = field_kind_for(c.type);
    f.column = static_cast<int>(i);
    f.precision = c.type.precision;
    f.scale = c.type.scale;
    f.name = c.name;
    fields.push_back(f);
    select += (select.empty() ? "" : ", ") + quote_identifier(c.name) + (c.type.id == TypeId::unknown ? "::text" : "");
  }
  std::vector<std::string> where;
  std::string order;
  int key_field = -1;
  if (kind == "pk") {
    key_field = integer_key(schema);
    if (key_field < 0)
      throw Error(Code::invalid_argument,
                  "split " + split.stream + " is a key range but " + name + " has no single integer primary key", ctx);
    const std::string k = quote_identifier(schema.columns[static_cast<size_t>(key_field)].name);
    int64_t v;
    if (!lo.empty()) {
      if (!parse_int64(lo, v)) throw Error(Code::invalid_argument, "bad split range '" + split.range + "'", ctx);
      where.push_back(k + " >= " + lo);
    }
    if (!hi.empty()) {
      if (!parse_int64(hi, v)) throw Error(Code::invalid_argument, "bad split range '" + split.range + "'", ctx);
      where.push_back(k + " <= " + hi);
    }
    if (!resume_after.empty()) {
      if (!parse_int64(resume_after, v))
        throw Error(Code::invalid_argument, "resume position '" + resume_after + "' is not an integer key", ctx);
      where.push_back(k + " > " + resume_after);
    }
    order = " ORDER BY " + k;
  } else if (kind == "ctid") {
    FieldPlan f;
    f.kind = FieldKind::tid;
    f.name = "ctid";
    key_field = static_cast<int>(fields.size());
    fields.push_back(f);
    select += std::string(select.empty() ? "" : ", ") + "ctid";
    int64_t v;
    if (!lo.empty() && lo != "0") {
      if (!parse_int64(lo, v)) throw Error(Code::invalid_argument, "bad split range '" + split.range + "'", ctx);
      where.push_back("ctid >= '(" + lo + ",0)'::tid");
    }
    if (!hi.empty()) {
      if (!parse_int64(hi, v)) throw Error(Code::invalid_argument, "bad split range '" + split.range + "'", ctx);
      where.push_back("ctid < '(" + hi + ",0)'::tid");
    }
    if (!resume_after.empty()) {
      if (!valid_tid(resume_after))
        throw Error(Code::invalid_argument, "resume position '" + resume_after + "' is not a ctid '(page,item)'", ctx);
      where.push_back("ctid > '" + resume_after + "'::tid");
    }
    order = " ORDER BY ctid";
  } else if (!resume_after.empty()) {
    throw Error(Code::unsupported,
                "split " + split.stream + " of partitioned table " + name +
                    " without a single integer primary key cannot be resumed",
                ctx);
  }
  if (!split.filter.empty()) where.push_back("(" + split.filter + ")");
  std::string sql = "COPY (SELECT " + select + " FROM " + qualified(schema.id);
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += order + ") TO STDOUT (FORMAT binary)";

  begin_snapshot(name);

  const int64_t expected = std::min<int64_t>(batch_rows, 65536);
  auto builder = std::make_unique<model::BatchBuilder>(split.schema, expected);
  CopyBinaryDecoder decoder(std::move(fields), key_field, ctx);
  decoder.set_builder(builder.get());
  std::string last_position = resume_after;
  bool stopped = false;
  decoder.set_on_row([&]() -> bool {
    if (builder->num_rows() < batch_rows) return true;
    last_position = decoder.key_text(decoder.last_key());
    if (!emit(builder->finish(model::Position{split.stream, last_position, false})) || cancel.cancelled()) {
      stopped = true;
      return false;
    }
    builder = std::make_unique<model::BatchBuilder>(split.schema, expected);
    decoder.set_builder(builder.get());
    return true;
  });
  bool complete = conn_->copy_out(
      sql, [&](const char *data, int n) { return decoder.feed(data, static_cast<size_t>(n)); }, name);
  if (!complete || stopped) {
    if (conn_->ok() && conn_->in_transaction()) conn_->exec("ROLLBACK", name);
    return;
  }
  if (!decoder.finished()) throw Error(Code::data, "the COPY stream of " + name + " ended without its trailer", ctx);
  if (builder->num_rows() > 0) last_position = decoder.key_text(decoder.last_key());
  conn_->exec("COMMIT", name);
  emit(builder->finish(model::Position{split.stream, last_position, true}));
}

}  // namespace ds::connectors::postgres
