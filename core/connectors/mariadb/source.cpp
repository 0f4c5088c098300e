#include "connectors/mariadb/source.hpp"

#include <mysqld_error.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <exception>
#include <limits>

#include "connectors/mariadb/values.hpp"
#include "model/error.hpp"

namespace ds::connectors::mariadb {
namespace {

using model::TypeId;

constexpr const char *kIsolation = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ";
constexpr const char *kBeginSnapshot = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
// Below this many rows per split, more splits cost more round trips than they save.
constexpr int64_t kMinRowsPerSplit = 1000;

std::string join(const std::vector<std::string> &items, const char *sep) {
  std::string out;
  for (const auto &s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string display(const model::TableId &id) { return id.schema_name + "." + id.table_name; }

std::string qualified(const model::TableId &id) {
  return quote_identifier(id.schema_name) + "." + quote_identifier(id.table_name);
}

bool is_integer_base(const std::string &base) {
  return base == "tinyint" || base == "smallint" || base == "mediumint" || base == "int" || base == "integer" ||
         base == "bigint";
}

bool is_binary_base(const std::string &base) {
  return base == "binary" || base == "varbinary" || base == "tinyblob" || base == "blob" || base == "mediumblob" ||
         base == "longblob";
}

bool is_date_type(TypeId id) { return id == TypeId::date || id == TypeId::timestamp || id == TypeId::timestamp_tz; }

// The primary key column when it is a single integer column, else -1.
int integer_key(const model::TableSchema &schema) {
  if (schema.primary_key.size() != 1) return -1;
  const int k = schema.primary_key[0];
  return is_integer_base(base_type_name(schema.columns[static_cast<size_t>(k)].type.source_name)) ? k : -1;
}

bool parse_int128(std::string_view s, int128 &out) {
  if (s.empty() || s.size() > 21) return false;
  size_t at = 0;
  const bool negative = s[0] == '-';
  if (negative) at = 1;
  if (at == s.size()) return false;
  int128 v = 0;
  for (; at < s.size(); ++at) {
    if (s[at] < '0' || s[at] > '9') return false;
    v = v * 10 + (s[at] - '0');
  }
  out = negative ? -v : v;
  return true;
}

std::string int128_text(int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string out;
  for (; v != 0; v /= 10) out += static_cast<char>('0' + static_cast<int>(negative ? -(v % 10) : v % 10));
  if (negative) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

// Splits "kind:lo:hi" into its parts ("full" and "keyset" have none).
bool split_range(const std::string &range, std::string &kind, std::string &lo, std::string &hi) {
  lo.clear();
  hi.clear();
  size_t a = range.find(':');
  if (a == std::string::npos) {
    kind = range;
    return true;
  }
  size_t b = range.find(':', a + 1);
  if (b == std::string::npos) return false;
  kind = range.substr(0, a);
  lo = range.substr(a + 1, b - a - 1);
  hi = range.substr(b + 1);
  return true;
}

// ------------------------------------------------------------ log position

struct LogPosition {
  std::string file, pos, gtid;
  std::string text() const {
    if (file.empty()) return "";
    return "file=" + file + " pos=" + pos + (gtid.empty() ? "" : " gtid=" + gtid);
  }
};

std::string without_whitespace(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }), s.end());
  return s;
}

// MySQL's File, Position and Executed_Gtid_Set; empty when binary logging is
// off or the user may not see it (the copy itself does not need it).
LogPosition mysql_master_status(Connection &conn) {
  LogPosition p;
  Result r;
  try {
    r = conn.query("SHOW MASTER STATUS");
  } catch (const Error &e) {
    if (e.code() == Code::connection) throw;
    try {
      r = conn.query("SHOW BINARY LOG STATUS");  // MySQL 8.4 dropped the old name
    } catch (const Error &e2) {
      if (e2.code() == Code::connection) throw;
      return p;
    }
  }
  if (r.rows() == 0 || r.cols() < 2) return p;
  p.file = r.value(0, 0);
  p.pos = r.value(0, 1);
  if (r.cols() >= 5) p.gtid = without_whitespace(r.value(0, 4));
  return p;
}

// MariaDB's binlog position of the connection's own consistent snapshot.
void mariadb_snapshot_status(Connection &conn, LogPosition &p) {
  Result r = conn.query("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'");
  for (size_t i = 0; i < r.rows(); ++i) {
    std::string name = r.value(i, 0);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "binlog_snapshot_file") p.file = r.value(i, 1);
    if (name == "binlog_snapshot_position") p.pos = r.value(i, 1);
  }
  if (p.file.empty()) p.pos.clear();
}

// ------------------------------------------------------------ decoding

enum class FieldKind : uint8_t {
  int64,  // any signed integer width and YEAR
  uint64,
  tinyint_bool,  // tinyint(1) read as boolean: "0" / "1"
  bit_bool,      // bit(1): one raw byte 0x00 / 0x01
  bit_text,      // bit(n > 1): raw big-endian bytes → "0101…"
  float32,       // selected as CAST(col AS DOUBLE)
  float64,
  decimal,
  bytes,  // text, blobs, json, enum, set, WKB and unknown spellings
  date,
  datetime,  // datetime and timestamp
  time_of_day,
  interval,  // TIME
  uuid,
};

struct Field {
  FieldKind kind = FieldKind::bytes;
  int bits = 0;   // bit_text
  int scale = 0;  // decimal
  int precision = 0;
};

Field field_for(const model::ColumnSchema &c) {
  const std::string base = base_type_name(c.type.source_name);
  Field f;
  switch (c.type.id) {
    case TypeId::boolean: f.kind = base == "bit" ? FieldKind::bit_bool : FieldKind::tinyint_bool; break;
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64: f.kind = FieldKind::int64; break;
    case TypeId::uint64: f.kind = FieldKind::uint64; break;
    case TypeId::float32: f.kind = FieldKind::float32; break;
    case TypeId::float64: f.kind = FieldKind::float64; break;
    case TypeId::decimal:
      f.kind = FieldKind::decimal;
      f.scale = c.type.scale;
      f.precision = c.type.precision;
      break;
    case TypeId::date: f.kind = FieldKind::date; break;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: f.kind = FieldKind::datetime; break;
    case TypeId::time: f.kind = FieldKind::time_of_day; break;
    case TypeId::interval: f.kind = FieldKind::interval; break;
    case TypeId::uuid: f.kind = FieldKind::uuid; break;
    case TypeId::unknown:
      f.kind = base == "bit" ? FieldKind::bit_text : FieldKind::bytes;
      f.bits = type_length(c.type.source_name, 1);
      break;
    default: f.kind = FieldKind::bytes; break;
  }
  return f;
}

std::string select_expression(const model::ColumnSchema &c) {
  const std::string base = base_type_name(c.type.source_name);
  std::string q = quote_identifier(c.name);
  if (is_spatial(base)) return "ST_AsBinary(" + q + ")";
  if (base == "float") return "CAST(" + q + " AS DOUBLE)";
  return q;
}

// How a keyset column's value is selected and written back as a literal.
enum class LiteralKind { number, floating, binary, text };

struct KeyPart {
  std::string expression;  // selected after the table's columns, compared in resume predicates
  LiteralKind literal = LiteralKind::text;
};

KeyPart key_part(const model::ColumnSchema &c) {
  const std::string base = base_type_name(c.type.source_name);
  std::string q = quote_identifier(c.name);
  // enum, set and bit sort by their number, so they are compared by it too.
  if (base == "enum" || base == "set" || base == "bit") return {q + "+0", LiteralKind::number};
  if (base == "float") return {"CAST(" + q + " AS DOUBLE)", LiteralKind::floating};
  if (base == "double" || base == "real") return {q, LiteralKind::floating};
  if (is_integer_base(base) || base == "decimal" || base == "numeric" || base == "dec" || base == "fixed" ||
      base == "year")
    return {q, LiteralKind::number};
  if (is_binary_base(base)) return {q, LiteralKind::binary};
  return {q, LiteralKind::text};
}

bool numeric_text(const std::string &s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  return true;
}

// Tally of adjusted values of one batch, reported when the batch is emitted.
struct Adjustments {
  std::map<std::pair<size_t, std::string>, int64_t> counts;  // (column, reason) → values
  void add(size_t column, const std::string &reason) { ++counts[{column, reason}]; }
  void flush(model::ValueReport *report, const model::TableSchema &schema, const std::string &table) {
    if (report)
      for (const auto &kv : counts)
        report->record(table, schema.columns[kv.first.first].name, kv.first.second, kv.second);
    counts.clear();
  }
};

// Decodes rows of the text protocol into a BatchBuilder.
class RowDecoder {
 public:
  RowDecoder(const model::TableSchema &schema, const ReaderSettings &settings, std::string table, std::string context)
      : schema_(schema), settings_(settings), table_(std::move(table)), context_(std::move(context)) {
    for (const auto &c : schema.columns) fields_.push_back(field_for(c));
  }

  void decode(const RowView &row, model::BatchBuilder &builder) {
    for (size_t i = 0; i < fields_.size(); ++i) {
      model::ColumnBuilder &out = builder.column(i);
      const unsigned col = static_cast<unsigned>(i);
      if (row.is_null(col)) {
        out.append_null();
        continue;
      }
      const std::string_view v = row.value(col);
      const Field &f = fields_[i];
      switch (f.kind) {
        case FieldKind::int64: {
          int64_t x = 0;
          if (!whole(std::from_chars(v.data(), v.data() + v.size(), x), v)) bad(row, i, v, "is not an integer");
          out.append_int(x);
          break;
        }
        case FieldKind::uint64: {
          uint64_t x = 0;
          if (!whole(std::from_chars(v.data(), v.data() + v.size(), x), v))
            bad(row, i, v, "is not an unsigned integer");
          out.append_fixed(x);
          break;
        }
        case FieldKind::tinyint_bool:
          if (v != "0" && v != "1")
            throw Error(Code::data,
                        "table " + table_ + " column " + schema_.columns[i].name + " holds " + std::string(v) +
                            key_text(row) +
                            ", which is not a boolean: tinyint(1) columns are read as boolean — set source "
                            "tinyint1_as_boolean: false to read them as integers",
                        context_ + " column=" + schema_.columns[i].name);
          out.append_bool(v[0] == '1');
          break;
        case FieldKind::bit_bool:
          if (v.size() != 1 || static_cast<unsigned char>(v[0]) > 1) bad(row, i, to_hex(v), "is not a bit(1) value");
          out.append_bool(v[0] == 1);
          break;
        case FieldKind::bit_text: {
          const std::string bits = bits_text(v, f.bits);
          out.append_bytes(bits.data(), bits.size());
          break;
        }
        case FieldKind::float32:
        case FieldKind::float64: {
          double x = 0;
          if (!whole(std::from_chars(v.data(), v.data() + v.size(), x), v)) bad(row, i, v, "is not a number");
          out.append_double(x);  // a FLOAT's exact value as a double narrows back to itself
          break;
        }
        case FieldKind::decimal: {
          int128 x = 0;
          if (!parse_decimal(v, f.scale, x))
            bad(row, i, v, "does not fit decimal(" + std::to_string(f.precision) + "," + std::to_string(f.scale) + ")");
          out.append_fixed_bytes(&x);
          break;
        }
        case FieldKind::bytes: out.append_bytes(v.data(), v.size()); break;
        case FieldKind::date:
        case FieldKind::datetime: date_value(row, i, v, out); break;
        case FieldKind::time_of_day:
        case FieldKind::interval: {
          int64_t micros = 0;
          if (!parse_time(v, micros)) bad(row, i, v, "is not a TIME value");
          if (f.kind == FieldKind::time_of_day) {
            out.append_fixed(micros);
            break;
          }
          uint8_t iv[16] = {};  // months 0, days 0: a TIME is a span of hours
          const int64_t nanos = micros * 1000;
          std::memcpy(iv + 8, &nanos, 8);
          out.append_fixed_bytes(iv);
          break;
        }
        case FieldKind::uuid: {
          uint8_t u[16] = {};
          if (!parse_uuid(v, u)) bad(row, i, v, "is not a UUID");
          out.append_fixed_bytes(u);
          break;
        }
      }
    }
    builder.end_row();
  }

  Adjustments &adjustments() { return adjustments_; }

 private:
  static bool whole(std::from_chars_result r, std::string_view v) {
    return r.ec == std::errc() && r.ptr == v.data() + v.size() && !v.empty();
  }

  // " (row id=5)" from the primary key's text in this row, "" without a key.
  std::string key_text(const RowView &row) const {
    std::vector<std::string> parts;
    for (int k : schema_.primary_key) {
      const unsigned col = static_cast<unsigned>(k);
      std::string value = row.is_null(col) ? "NULL" : std::string(row.value(col).substr(0, 100));
      parts.push_back(schema_.columns[static_cast<size_t>(k)].name + "=" + value);
    }
    return parts.empty() ? "" : " (row " + join(parts, ", ") + ")";
  }

  [[noreturn]] void bad(const RowView &row, size_t i, std::string_view v, const std::string &what) const {
    const std::string &column = schema_.columns[i].name;
    throw Error(Code::data,
                "table " + table_ + " column " + column + ": the value '" + std::string(v.substr(0, 200)) + "' " +
                    what + key_text(row),
                context_ + " column=" + column);
  }

  void date_value(const RowView &row, size_t i, std::string_view v, model::ColumnBuilder &out) {
    const bool is_date = fields_[i].kind == FieldKind::date;
    DateParts d;
    if (!(is_date ? parse_date(v, d) : parse_datetime(v, d)))
      bad(row, i, v, is_date ? "is not a DATE" : "is not a DATETIME or TIMESTAMP");
    if (!d.valid()) {
      const char *zero_text = is_date ? "'0000-00-00'" : "'0000-00-00 00:00:00'";
      const bool zero = d.zero();
      const std::string what = zero ? std::string("zero date ") + zero_text : "invalid date '" + std::string(v) + "'";
      const std::string &column = schema_.columns[i].name;
      switch (settings_.invalid_values) {
        case model::InvalidValuePolicy::error:
          throw Error(Code::data,
                      "table " + table_ + " column " + column + " holds the " + what + key_text(row) +
                          ", which no other system holds as a date — set pipeline.invalid_values: null (write NULL) "
                          "or clamp (write the nearest valid date, 0001-01-01 for a zero date)",
                      context_ + " column=" + column);
        case model::InvalidValuePolicy::null:
          adjustments_.add(i, zero ? std::string("zero date ") + zero_text + " written as NULL"
                                   : "invalid date (year, month or day out of range) written as NULL");
          out.append_null();
          return;
        case model::InvalidValuePolicy::clamp:
          adjustments_.add(i, zero
                                  ? std::string("zero date ") + zero_text + " written as " +
                                        (is_date ? "'0001-01-01'" : "'0001-01-01 00:00:00'")
                                  : "invalid date (year, month or day out of range) written as the nearest valid date");
          d = d.clamped();
          break;
      }
    }
    if (is_date)
      out.append_fixed(static_cast<int32_t>(d.days()));
    else
      out.append_fixed(d.micros());
  }

  const model::TableSchema &schema_;
  const ReaderSettings &settings_;
  std::string table_;
  std::string context_;
  std::vector<Field> fields_;
  Adjustments adjustments_;
};

// Runs `fn` on the coordinator; a lost coordinator is forgotten so that a
// later call starts a new snapshot instead of failing forever.
template <typename Fn>
auto with_coordinator(std::unique_ptr<Connection> &coordinator, std::vector<std::unique_ptr<Connection>> &pool,
                      SnapshotMode &mode, Fn &&fn) -> decltype(fn(*coordinator)) {
  try {
    return fn(*coordinator);
  } catch (const Error &e) {
    if (e.code() == Code::connection) {
      coordinator.reset();
      pool.clear();
      mode = SnapshotMode::none;
    }
    throw;
  }
}

}  // namespace

// ------------------------------------------------------------ MariadbSource

MariadbSource::MariadbSource(SourceConfig config) : config_(std::move(config)) {
  if (config_.conn.user.empty())
    throw Error(Code::config, "the mariadb source needs a user", "source=mariadb " + config_.conn.context());
  if (config_.conn.database.empty())
    throw Error(Code::config, "the mariadb source needs a database", "source=mariadb " + config_.conn.context());
  if (config_.parallelism < 1) config_.parallelism = 1;
  auto settings = std::make_shared<ReaderSettings>();
  settings->conn = config_.conn;
  settings->invalid_values = config_.invalid_values;
  settings->value_report = config_.value_report;
  settings_ = settings;
}

MariadbSource::~MariadbSource() {
  std::lock_guard<std::mutex> lock(mutex_);
  pool_.clear();  // closing a connection ends its snapshot transaction
  coordinator_.reset();
}

void MariadbSource::take_snapshot() {
  if (mode_ != SnapshotMode::none && coordinator_) return;
  // Connect everything before the lock: connecting is the slow part, and
  // writes must be blocked for as short a time as possible.
  auto coordinator = std::make_unique<Connection>(config_.conn);
  const bool mariadb = coordinator->is_mariadb();
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < config_.parallelism; ++i) readers.push_back(std::make_unique<Connection>(config_.conn));
  coordinator->exec(kIsolation);
  for (auto &r : readers) r->exec(kIsolation);
  coordinator->exec("SET SESSION lock_wait_timeout = " + std::to_string(std::max(1, config_.lock_wait_timeout)));

  bool locked = false;
  try {
    coordinator->exec("FLUSH TABLES WITH READ LOCK");
    locked = true;
  } catch (const Error &e) {
    const unsigned code = mysql_errno(coordinator->raw());
    if (code == ER_LOCK_WAIT_TIMEOUT)
      throw Error(Code::timeout,
                  "FLUSH TABLES WITH READ LOCK waited " + std::to_string(config_.lock_wait_timeout) +
                      " s for running statements to finish (a long query, or a session holding LOCK TABLES) on " +
                      config_.conn.host + ":" + std::to_string(config_.conn.port) +
                      "; writes were blocked meanwhile — run the copy when no long statement is running "
                      "(SHOW PROCESSLIST shows them), or raise source.lock_wait_timeout",
                  coordinator->context(), true);
    if (code != ER_SPECIFIC_ACCESS_DENIED_ERROR && code != ER_ACCESS_DENIED_ERROR) throw;
    // No RELOAD privilege: per-connection snapshots (see the header).
  }
  LogPosition log;
  try {
    if (!locked && !mariadb) log = mysql_master_status(*coordinator);  // at or before the snapshot
    coordinator->exec(kBeginSnapshot);
    for (auto &r : readers) r->exec(kBeginSnapshot);
    if (locked) {
      if (mariadb)
        log.gtid = coordinator->query("SELECT @@gtid_binlog_pos").value(0, 0);
      else
        log = mysql_master_status(*coordinator);
    }
  } catch (...) {
    if (locked) {
      try {
        coordinator->exec("UNLOCK TABLES");
      } catch (...) {
      }
    }
    throw;
  }
  if (locked) coordinator->exec("UNLOCK TABLES");
  if (mariadb) {
    mariadb_snapshot_status(*coordinator, log);
    if (log.file.empty()) {
      log.gtid.clear();
    } else if (!locked) {
      try {
        Result g = coordinator->query("SELECT BINLOG_GTID_POS(" + quote_literal(log.file) + ", " + log.pos + ")");
        log.gtid = g.is_null(0, 0) ? "" : g.value(0, 0);
      } catch (const Error &e) {
        if (e.code() == Code::connection) throw;
        log.gtid.clear();  // the position without a GTID still starts a file-based change stream
      }
    }
  }
  position_ = log.text();
  mode_ = locked ? SnapshotMode::one_instant : SnapshotMode::per_connection;
  coordinator_ = std::move(coordinator);
  pool_ = std::move(readers);
}

std::vector<model::TableSchemaPtr> MariadbSource::discover(const model::TableSelector &selector) {
  std::lock_guard<std::mutex> lock(mutex_);
  take_snapshot();
  return with_coordinator(coordinator_, pool_, mode_, [&](Connection &conn) {
    model::TableSelector own{config_.tables, config_.exclude_tables};
    TypeOptions types;
    types.tinyint1_as_boolean = config_.tinyint1_as_boolean;
    std::vector<TableInfo> infos = read_catalog(conn, config_.conn.database, types, [&](const model::TableId &id) {
      return own.matches(id) && selector.matches(id);
    });
    if (infos.empty()) {
      std::vector<std::string> include = config_.tables, exclude = config_.exclude_tables;
      include.insert(include.end(), selector.include.begin(), selector.include.end());
      exclude.insert(exclude.end(), selector.exclude.begin(), selector.exclude.end());
      std::string what = "tables [" + (include.empty() ? std::string("all") : join(include, ", ")) + "]";
      if (!exclude.empty()) what += " excluding [" + join(exclude, ", ") + "]";
      const std::string where =
          "database '" + config_.conn.database + "' on " + config_.conn.host + ":" + std::to_string(config_.conn.port);
      std::vector<std::string> available = list_table_names(conn, config_.conn.database);
      if (available.empty())
        throw Error(Code::not_found, where + " has no tables (selected " + what + ")", conn.context());
      if (available.size() > 50) available.resize(50);
      throw Error(Code::not_found,
                  "no table of " + where + " matches " + what + "; available tables: " + join(available, ", "),
                  conn.context());
    }
    std::vector<model::TableSchemaPtr> out;
    for (TableInfo &info : infos) {
      if (config_.invalid_values == model::InvalidValuePolicy::null) {
        // Zero dates become NULL, so targets must be created able to hold it.
        auto schema = std::make_shared<model::TableSchema>(*info.schema);
        for (auto &c : schema->columns)
          if (is_date_type(c.type.id)) c.nullable = true;
        info.schema = schema;
      }
      out.push_back(info.schema);
      const std::string name = display(info.schema->id);
      infos_[name] = std::make_shared<const TableInfo>(std::move(info));
    }
    return out;
  });
}

std::shared_ptr<const TableInfo> MariadbSource::table_info(const model::TableId &id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = infos_.find(display(id));
  return it == infos_.end() ? nullptr : it->second;
}

std::vector<model::Split> MariadbSource::plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                                     int64_t split_rows) {
  if (!table) throw Error(Code::invalid_argument, "plan_splits needs a table schema", "source=mariadb");
  std::lock_guard<std::mutex> lock(mutex_);
  take_snapshot();
  const std::string name = display(table->id);
  const std::string stream_base = name + "#";
  if (split_rows <= 0) split_rows = config_.split_rows;
  parallelism = std::max(parallelism, 1);
  return with_coordinator(coordinator_, pool_, mode_, [&](Connection &conn) {
    int64_t rows = table_row_estimate(conn, table->id);
    const int key = integer_key(*table);
    if (key < 0) {
      const char *kind = table->primary_key.empty() ? "full" : "keyset";
      return std::vector<model::Split>{model::Split{table, stream_base + "0", kind, rows, ""}};
    }
    const std::string k = quote_identifier(table->columns[static_cast<size_t>(key)].name);
    Result mm = conn.query("SELECT MIN(" + k + "), MAX(" + k + ") FROM " + qualified(table->id), name);
    int128 lo = 0, hi = 0;
    if (mm.rows() == 0 || mm.is_null(0, 0) || !parse_int128(mm.value(0, 0), lo) || !parse_int128(mm.value(0, 1), hi))
      return std::vector<model::Split>{model::Split{table, stream_base + "0", "pk::", 0, ""}};
    const int128 span = hi - lo + 1;
    if (rows <= 0)
      rows = static_cast<int64_t>(
          std::min<int128>(span, std::numeric_limits<int64_t>::max()));  // no statistics yet: assume dense
    int64_t n = std::max<int64_t>((rows + split_rows - 1) / split_rows, 1);
    n = std::max<int64_t>(n, std::min<int64_t>(2 * parallelism, rows / kMinRowsPerSplit));
    if (static_cast<int128>(n) > span) n = static_cast<int64_t>(span);
    std::vector<model::Split> out;
    for (int64_t i = 0; i < n; ++i) {
      // The outer ends stay open, so rows beyond MIN/MAX (a reader with a later
      // snapshot of its own) are still read exactly once.
      const std::string from = i == 0 ? "" : int128_text(lo + span * i / n);
      const std::string to = i + 1 == n ? "" : int128_text(lo + span * (i + 1) / n - 1);
      out.push_back(model::Split{table, stream_base + std::to_string(i), "pk:" + from + ":" + to,
                                 rows / n + (i < rows % n ? 1 : 0), ""});
    }
    return out;
  });
}

std::unique_ptr<model::SplitReader> MariadbSource::open_reader() {
  std::lock_guard<std::mutex> lock(mutex_);
  take_snapshot();
  std::unique_ptr<Connection> conn;
  if (!pool_.empty()) {
    conn = std::move(pool_.back());
    pool_.pop_back();
  }
  return std::make_unique<MariadbSplitReader>(settings_, std::move(conn));
}

std::string MariadbSource::describe() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "mariadb " + config_.conn.context();
  if (mode_ == SnapshotMode::per_connection)
    out +=
        " snapshot=per-connection (FLUSH TABLES WITH READ LOCK refused: no RELOAD privilege; each reader is "
        "consistent on its own, not at one instant)";
  return out;
}

std::string MariadbSource::consistent_position() {
  std::lock_guard<std::mutex> lock(mutex_);
  take_snapshot();
  return position_;
}

SnapshotMode MariadbSource::snapshot_mode() {
  std::lock_guard<std::mutex> lock(mutex_);
  take_snapshot();
  return mode_;
}

// ------------------------------------------------------------ MariadbSplitReader

MariadbSplitReader::MariadbSplitReader(std::shared_ptr<const ReaderSettings> settings, std::unique_ptr<Connection> conn)
    : settings_(std::move(settings)), conn_(std::move(conn)), shared_snapshot_(conn_ != nullptr) {}

void MariadbSplitReader::connect(const std::string &table) {
  conn_.reset();
  shared_snapshot_ = false;
  auto conn = std::make_unique<Connection>(settings_->conn);
  conn->exec(kIsolation, table);
  conn->exec(kBeginSnapshot, table);
  conn_ = std::move(conn);
}

void MariadbSplitReader::stop_statement() {
  // Freeing a half-read streamed result reads the rest of it; killing the
  // statement first makes the server stop sending. The connection and its
  // transaction stay usable: KILL QUERY ends the statement only.
  try {
    Connection killer(settings_->conn);
    killer.exec("KILL QUERY " + std::to_string(conn_->thread_id()));
  } catch (const Error &) {
    // Then the rest is drained instead: slower, but the result is the same.
  }
}

void MariadbSplitReader::read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
                              const model::BatchEmitter &emit, const model::CancelToken &cancel) {
  if (!split.schema)
    throw Error(Code::invalid_argument, "split '" + split.stream + "' has no schema", "source=mariadb");
  const model::TableSchema &schema = *split.schema;
  const std::string name = display(schema.id);
  const std::string ctx = settings_->conn.context() + " table=" + name;
  if (batch_rows < 1) batch_rows = 1;

  std::string kind, lo, hi;
  if (!split_range(split.range, kind, lo, hi) || (kind != "pk" && kind != "keyset" && kind != "full"))
    throw Error(Code::invalid_argument,
                "split range '" + split.range + "' is not pk:<lo>:<hi>, keyset or full (split " + split.stream + ")",
                ctx);

  std::vector<std::string> select;
  for (const auto &c : schema.columns) select.push_back(select_expression(c));
  std::vector<std::string> where;
  std::string order;
  std::vector<unsigned> key_columns;  // result columns whose text makes the position
  std::vector<KeyPart> parts;
  if (kind == "pk") {
    const int key = integer_key(schema);
    if (key < 0)
      throw Error(Code::invalid_argument,
                  "split " + split.stream + " is a key range but " + name + " has no single integer primary key", ctx);
    const std::string k = quote_identifier(schema.columns[static_cast<size_t>(key)].name);
    int128 v = 0;
    if ((!lo.empty() && !parse_int128(lo, v)) || (!hi.empty() && !parse_int128(hi, v)))
      throw Error(Code::invalid_argument, "bad split range '" + split.range + "' (split " + split.stream + ")", ctx);
    if (!lo.empty()) where.push_back(k + " >= " + lo);
    if (!hi.empty()) where.push_back(k + " <= " + hi);
    if (!resume_after.empty()) {
      if (!parse_int128(resume_after, v))
        throw Error(Code::invalid_argument,
                    "resume position '" + resume_after + "' of split " + split.stream + " is not an integer key", ctx);
      where.push_back(k + " > " + resume_after);
    }
    order = " ORDER BY " + k;
    key_columns.push_back(static_cast<unsigned>(key));
  } else if (kind == "keyset") {
    if (schema.primary_key.empty())
      throw Error(Code::invalid_argument, "split " + split.stream + " is a keyset but " + name + " has no primary key",
                  ctx);
    std::vector<std::string> order_by;
    for (int k : schema.primary_key) {
      const auto &c = schema.columns[static_cast<size_t>(k)];
      parts.push_back(key_part(c));
      key_columns.push_back(static_cast<unsigned>(select.size()));
      select.push_back(parts.back().expression);
      order_by.push_back(quote_identifier(c.name));
    }
    order = " ORDER BY " + join(order_by, ", ");
    if (!resume_after.empty()) {
      // Position: "(hex,hex,...)", the hex of each key part's text.
      const bool framed = resume_after.size() >= 2 && resume_after.front() == '(' && resume_after.back() == ')';
      const std::string_view inner =
          framed ? std::string_view(resume_after).substr(1, resume_after.size() - 2) : std::string_view();
      std::vector<std::string> literals;
      size_t start = 0;
      for (size_t i = 0; framed && i <= inner.size(); ++i) {
        if (i < inner.size() && inner[i] != ',') continue;
        std::string raw;
        const size_t index = literals.size();
        if (index >= parts.size() || !from_hex(inner.substr(start, i - start), raw))
          throw Error(Code::invalid_argument,
                      "resume position '" + resume_after + "' of split " + split.stream + " is not " +
                          std::to_string(parts.size()) + " hex-encoded key values",
                      ctx);
        switch (parts[index].literal) {
          case LiteralKind::number:
          case LiteralKind::floating:
            if (!numeric_text(raw))
              throw Error(Code::invalid_argument,
                          "resume position '" + resume_after + "' of split " + split.stream + " has a non-numeric key",
                          ctx);
            literals.push_back(parts[index].literal == LiteralKind::floating &&
                                       raw.find_first_of("eE") == std::string::npos
                                   ? raw + "e0"  // a double literal, not a decimal one
                                   : raw);
            break;
          case LiteralKind::binary: literals.push_back(raw.empty() ? "''" : "x'" + to_hex(raw) + "'"); break;
          case LiteralKind::text: literals.push_back(quote_literal(raw)); break;
        }
        start = i + 1;
      }
      if (literals.size() != parts.size())
        throw Error(Code::invalid_argument,
                    "resume position '" + resume_after + "' of split " + split.stream + " is not " +
                        std::to_string(parts.size()) + " hex-encoded key values",
                    ctx);
      std::vector<std::string> alternatives;
      for (size_t i = 0; i < parts.size(); ++i) {
        std::string term;
        for (size_t j = 0; j < i; ++j) term += parts[j].expression + " = " + literals[j] + " AND ";
        alternatives.push_back("(" + term + parts[i].expression + " > " + literals[i] + ")");
      }
      where.push_back("(" + join(alternatives, " OR ") + ")");
    }
  } else if (!resume_after.empty()) {
    throw Error(Code::state,
                "table " + name + " has no primary key, so its copy cannot be resumed at '" + resume_after +
                    "' (split " + split.stream +
                    "): reading it again from the start would write its first rows twice — start the copy over with "
                    "--fresh, or give the table a primary key",
                ctx);
  }
  if (!split.filter.empty()) where.push_back("(" + split.filter + ")");
  std::string sql = "SELECT " + join(select, ", ") + " FROM " + qualified(schema.id);
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += order;

  if (cancel.cancelled()) return;
  if (!conn_) connect(name);

  const int64_t expected = std::min<int64_t>(batch_rows, 65536);
  RowDecoder decoder(schema, *settings_, name, ctx);
  auto builder = std::make_unique<model::BatchBuilder>(split.schema, expected);
  std::vector<std::string> last_key(key_columns.size());
  int64_t rows_read = 0;
  std::string position = resume_after;
  auto current_position = [&]() -> std::string {
    if (kind == "full") return "rows=" + std::to_string(rows_read);
    if (kind == "pk") return last_key[0];
    std::vector<std::string> hex;
    for (const auto &k : last_key) hex.push_back(to_hex(k));
    return "(" + join(hex, ",") + ")";  // never "", which would mean "from the start"
  };
  model::ValueReport *report = settings_->value_report.get();
  std::exception_ptr failure;
  bool stopped = false;
  try {
    conn_->stream(
        sql,
        [&](const RowView &row) -> bool {
          try {
            decoder.decode(row, *builder);
            ++rows_read;
            for (size_t i = 0; i < key_columns.size(); ++i) last_key[i].assign(row.value(key_columns[i]));
            if (builder->num_rows() < batch_rows) return true;
            position = current_position();
            decoder.adjustments().flush(report, schema, name);
            if (!emit(builder->finish(model::Position{split.stream, position, false})) || cancel.cancelled()) {
              stopped = true;
              stop_statement();
              return false;
            }
            builder = std::make_unique<model::BatchBuilder>(split.schema, expected);
            return true;
          } catch (...) {
            failure = std::current_exception();
            stop_statement();
            return false;
          }
        },
        name);
  } catch (const Error &e) {
    if (e.code() == Code::connection) {
      conn_.reset();  // the next read reconnects with a snapshot of its own
      shared_snapshot_ = false;
    }
    throw;
  }
  if (failure) std::rethrow_exception(failure);
  if (stopped) return;
  if (builder->num_rows() > 0) position = current_position();
  decoder.adjustments().flush(report, schema, name);
  emit(builder->finish(model::Position{split.stream, position, true}));
}

}  // namespace ds::connectors::mariadb
