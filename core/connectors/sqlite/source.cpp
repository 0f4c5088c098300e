#include "connectors/sqlite/source.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include "connectors/sqlite/catalog.hpp"
#include "connectors/sqlite/values.hpp"
#include "model/error.hpp"

namespace ds::connectors::sqlite {
namespace {

using model::TypeId;

std::string join(const std::vector<std::string> &items, const char *sep) {
  std::string out;
  for (const auto &s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// How a column's values are read, chosen once per split so the row loop is one switch.
enum class Kind : uint8_t {
  boolean,
  integer,
  real,
  decimal,
  text,
  binary,
  date,
  time,
  timestamp,
  timestamp_tz,
  json,
  uuid,
  unknown,
  unsupported
};

Kind kind_of(TypeId id) {
  switch (id) {
    case TypeId::boolean: return Kind::boolean;
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64:
    case TypeId::uint64: return Kind::integer;
    case TypeId::float32:
    case TypeId::float64: return Kind::real;
    case TypeId::decimal: return Kind::decimal;
    case TypeId::string: return Kind::text;
    case TypeId::binary: return Kind::binary;
    case TypeId::date: return Kind::date;
    case TypeId::time: return Kind::time;
    case TypeId::timestamp: return Kind::timestamp;
    case TypeId::timestamp_tz: return Kind::timestamp_tz;
    case TypeId::json: return Kind::json;
    case TypeId::uuid: return Kind::uuid;
    case TypeId::unknown: return Kind::unknown;
    case TypeId::interval: return Kind::unsupported;
  }
  return Kind::unsupported;
}

struct ColumnPlan {
  Kind kind;
  int precision;
  int scale;
};

const char *storage_class(int t) {
  switch (t) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
  }
}

std::string_view text_of(sqlite3_stmt *st, int idx) {
  const unsigned char *p = sqlite3_column_text(st, idx);
  return std::string_view(p ? reinterpret_cast<const char *>(p) : "",
                          static_cast<size_t>(sqlite3_column_bytes(st, idx)));
}

// Appends the current value of result column `idx`; false when its storage
// class or text does not fit the column's type.
inline bool append_value(model::ColumnBuilder &b, const ColumnPlan &c, sqlite3_stmt *st, int idx) {
  const int t = sqlite3_column_type(st, idx);
  if (t == SQLITE_NULL) {
    b.append_null();
    return true;
  }
  char buf[32];
  switch (c.kind) {
    case Kind::boolean: {
      if (t != SQLITE_INTEGER) return false;
      int64_t v = sqlite3_column_int64(st, idx);
      if (v != 0 && v != 1) return false;
      b.append_bool(v == 1);
      return true;
    }
    case Kind::integer:
      if (t != SQLITE_INTEGER) return false;
      b.append_int(sqlite3_column_int64(st, idx));
      return true;
    case Kind::real:
      if (t == SQLITE_FLOAT)
        b.append_double(sqlite3_column_double(st, idx));
      else if (t == SQLITE_INTEGER)
        b.append_double(static_cast<double>(sqlite3_column_int64(st, idx)));
      else
        return false;
      return true;
    case Kind::decimal: {
      std::string_view text;
      if (t == SQLITE_INTEGER)
        text = std::string_view(buf, format_int(sqlite3_column_int64(st, idx), buf));
      else if (t == SQLITE_FLOAT || t == SQLITE_TEXT)
        text = text_of(st, idx);  // REAL: SQLite's 15 significant digits
      else
        return false;
      int128 v;
      if (!parse_decimal(text, c.precision, c.scale, v)) return false;
      b.append_fixed_bytes(&v);
      return true;
    }
    case Kind::text: {
      if (t != SQLITE_TEXT) return false;
      std::string_view v = text_of(st, idx);
      b.append_bytes(v.data(), v.size());
      return true;
    }
    case Kind::binary: {
      if (t == SQLITE_BLOB) {
        const void *p = sqlite3_column_blob(st, idx);
        b.append_bytes(p, static_cast<size_t>(sqlite3_column_bytes(st, idx)));
      } else if (t == SQLITE_TEXT) {
        std::string_view v = text_of(st, idx);
        b.append_bytes(v.data(), v.size());
      } else {
        return false;
      }
      return true;
    }
    case Kind::date: {
      int32_t days;
      if (t != SQLITE_TEXT || !parse_date(text_of(st, idx), days)) return false;
      b.append_fixed(days);
      return true;
    }
    case Kind::time: {
      int64_t micros;
      if (t != SQLITE_TEXT || !parse_time(text_of(st, idx), micros)) return false;
      b.append_fixed(micros);
      return true;
    }
    case Kind::timestamp:
    case Kind::timestamp_tz: {
      int64_t micros;
      bool had_offset;
      int32_t offset;
      if (t != SQLITE_TEXT || !parse_timestamp(text_of(st, idx), micros, had_offset, offset)) return false;
      if (c.kind == Kind::timestamp && offset != 0) return false;  // a local time with a zone: ambiguous
      b.append_fixed(micros);
      return true;
    }
    case Kind::json:
    case Kind::unknown: {
      // NUMERIC affinity turns numeric-looking text into numbers; give them back as text.
      if (t == SQLITE_TEXT) {
        std::string_view v = text_of(st, idx);
        b.append_bytes(v.data(), v.size());
      } else if (t == SQLITE_INTEGER) {
        b.append_bytes(buf, format_int(sqlite3_column_int64(st, idx), buf));
      } else if (t == SQLITE_FLOAT) {
        double d = sqlite3_column_double(st, idx);
        if (d - d != 0) return false;  // infinity has no JSON or round-trippable text
        b.append_bytes(buf, format_double(d, buf));
      } else {
        return false;
      }
      return true;
    }
    case Kind::uuid: {
      uint8_t u[16];
      if (t == SQLITE_BLOB && sqlite3_column_bytes(st, idx) == 16) {
        std::memcpy(u, sqlite3_column_blob(st, idx), 16);
      } else if (t != SQLITE_TEXT || !parse_uuid(text_of(st, idx), u)) {
        return false;
      }
      b.append_fixed_bytes(u);
      return true;
    }
    case Kind::unsupported: return false;
  }
  return false;
}

std::string preview(sqlite3_stmt *st, int idx) {
  char buf[32];
  switch (sqlite3_column_type(st, idx)) {
    case SQLITE_INTEGER: return std::string(buf, format_int(sqlite3_column_int64(st, idx), buf));
    case SQLITE_FLOAT: return std::string(buf, format_double(sqlite3_column_double(st, idx), buf));
    case SQLITE_TEXT: {
      std::string_view v = text_of(st, idx);
      return "'" + std::string(v.substr(0, 40)) + (v.size() > 40 ? "...'" : "'");
    }
    case SQLITE_BLOB: {
      static const char hex[] = "0123456789abcdef";
      const auto *p = static_cast<const uint8_t *>(sqlite3_column_blob(st, idx));
      int n = sqlite3_column_bytes(st, idx);
      std::string out = "x'";
      for (int i = 0; i < n && i < 16; ++i) {
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
      }
      return out + (n > 16 ? "...' (" + std::to_string(n) + " bytes)" : "'");
    }
    default: return "NULL";
  }
}

const char *expectation(const ColumnPlan &c) {
  switch (c.kind) {
    case Kind::boolean: return "; expected INTEGER 0 or 1";
    case Kind::integer: return "; expected an INTEGER";
    case Kind::real: return "; expected a REAL or INTEGER";
    case Kind::decimal: return "; expected a number that fits the precision and scale";
    case Kind::text: return "; expected TEXT";
    case Kind::binary: return "; expected a BLOB or TEXT";
    case Kind::date: return "; expected TEXT 'YYYY-MM-DD'";
    case Kind::time: return "; expected TEXT 'HH:MM:SS[.ffffff]'";
    case Kind::timestamp: return "; expected TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff]' without a non-zero UTC offset";
    case Kind::timestamp_tz: return "; expected TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff][Z|+HH:MM]'";
    case Kind::json:
    case Kind::unknown: return "; expected TEXT or a finite number";
    case Kind::uuid: return "; expected a 16-byte BLOB or 36-character TEXT";
    case Kind::unsupported: return "; the sqlite source cannot read this type";
  }
  return "";
}

// The last primary key read from a WITHOUT ROWID table, one value per key column.
struct KeyValue {
  int type = SQLITE_NULL;
  int64_t i = 0;
  double d = 0;
  std::string bytes;  // keeps its capacity from row to row
};

void capture(KeyValue &k, sqlite3_stmt *st, int idx) {
  k.type = sqlite3_column_type(st, idx);
  switch (k.type) {
    case SQLITE_INTEGER: k.i = sqlite3_column_int64(st, idx); break;
    case SQLITE_FLOAT: k.d = sqlite3_column_double(st, idx); break;
    case SQLITE_TEXT: {
      std::string_view v = text_of(st, idx);
      k.bytes.assign(v.data(), v.size());
      break;
    }
    case SQLITE_BLOB: {
      const char *p = static_cast<const char *>(sqlite3_column_blob(st, idx));
      k.bytes.assign(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st, idx)));
      break;
    }
    default: break;
  }
}

std::string encode_key(const std::vector<KeyValue> &key) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "[";
  char buf[32];
  for (size_t n = 0; n < key.size(); ++n) {
    const KeyValue &k = key[n];
    if (n) out += ',';
    switch (k.type) {
      case SQLITE_INTEGER: out.append(buf, format_int(k.i, buf)); break;
      case SQLITE_FLOAT: {
        if (k.d - k.d != 0) {
          out += k.d < 0 ? "-1e999" : "1e999";
          break;
        }
        std::string_view v(buf, format_double(k.d, buf));
        out += v;
        if (v.find_first_of(".eE") == std::string_view::npos) out += ".0";  // keep it a REAL
        break;
      }
      case SQLITE_TEXT:
        out += '"';
        for (char c : k.bytes) {
          auto u = static_cast<unsigned char>(c);
          if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
          } else if (u < 0x20) {
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 15];
          } else {
            out += c;
          }
        }
        out += '"';
        break;
      case SQLITE_BLOB:
        out += "{\"blob\":\"";
        for (char c : k.bytes) {
          auto u = static_cast<unsigned char>(c);
          out += hex[u >> 4];
          out += hex[u & 15];
        }
        out += "\"}";
        break;
      default: out += "null"; break;
    }
  }
  return out + "]";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses what encode_key writes.
bool decode_key(std::string_view s, std::vector<KeyValue> &key) {
  size_t i = 0;
  auto parse_string = [&](std::string &out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    out.clear();
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) return false;
      char e = s[i++];
      switch (e) {
        case '"':
        case '\\':
        case '/': out += e; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (i + 4 > s.size()) return false;
          int cp = 0;
          for (int n = 0; n < 4; ++n) {
            int h = hex_value(s[i++]);
            if (h < 0) return false;
            cp = cp * 16 + h;
          }
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
          } else {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
          }
          break;
        }
        default: return false;
      }
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  };
  key.clear();
  if (s.empty() || s[0] != '[') return false;
  i = 1;
  if (i < s.size() && s[i] == ']') return i + 1 == s.size();
  for (;;) {
    KeyValue k;
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '"') {
      k.type = SQLITE_TEXT;
      if (!parse_string(k.bytes)) return false;
    } else if (c == '{') {
      static const std::string_view prefix = "{\"blob\":";
      if (s.substr(i, prefix.size()) != prefix) return false;
      i += prefix.size();
      std::string hex;
      if (!parse_string(hex) || hex.size() % 2 != 0 || i >= s.size() || s[i] != '}') return false;
      ++i;
      k.type = SQLITE_BLOB;
      for (size_t n = 0; n < hex.size(); n += 2) {
        int hi = hex_value(hex[n]), lo = hex_value(hex[n + 1]);
        if (hi < 0 || lo < 0) return false;
        k.bytes += static_cast<char>(hi * 16 + lo);
      }
    } else if (s.substr(i, 4) == "null") {
      i += 4;
    } else {
      size_t start = i;
      while (i < s.size() && std::strchr("+-0123456789.eE", s[i]) != nullptr) ++i;
      std::string_view num = s.substr(start, i - start);
      if (num.empty()) return false;
      if (num.find_first_of(".eE") == std::string_view::npos) {
        k.type = SQLITE_INTEGER;
        auto r = std::from_chars(num.data(), num.data() + num.size(), k.i);
        if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
      } else {
        k.type = SQLITE_FLOAT;
        std::string copy(num);
        char *end = nullptr;
        k.d = std::strtod(copy.c_str(), &end);
        if (end != copy.c_str() + copy.size()) return false;
      }
    }
    key.push_back(std::move(k));
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    return i < s.size() && s[i] == ']' && i + 1 == s.size();
  }
}

void bind_key(const Connection &conn, sqlite3_stmt *st, const std::vector<KeyValue> &key, const std::string &ctx) {
  for (size_t n = 0; n < key.size(); ++n) {
    const KeyValue &k = key[n];
    int p = static_cast<int>(n) + 1, rc;
    switch (k.type) {
      case SQLITE_INTEGER: rc = sqlite3_bind_int64(st, p, k.i); break;
      case SQLITE_FLOAT: rc = sqlite3_bind_double(st, p, k.d); break;
      case SQLITE_TEXT:
        rc = sqlite3_bind_text(st, p, k.bytes.data(), static_cast<int>(k.bytes.size()), SQLITE_TRANSIENT);
        break;
      case SQLITE_BLOB:
        rc = k.bytes.empty()
                 ? sqlite3_bind_zeroblob(st, p, 0)
                 : sqlite3_bind_blob(st, p, k.bytes.data(), static_cast<int>(k.bytes.size()), SQLITE_TRANSIENT);
        break;
      default: rc = sqlite3_bind_null(st, p); break;
    }
    if (rc != SQLITE_OK) throw_sqlite(conn.get(), rc, "cannot bind the resume key", ctx);
  }
}

bool parse_int64(std::string_view s, int64_t &out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

// ---------------------------------------------------------------- SqliteSource

SqliteSource::SqliteSource(SourceConfig config)
    : config_(std::move(config)), context_("source=sqlite path=" + config_.path) {
  if (config_.path.empty()) throw Error(Code::config, "the sqlite source needs a path", "source=sqlite");
}

Connection &SqliteSource::connection() {
  if (!conn_) conn_ = Connection(config_.path, Connection::Mode::read_only, context_, config_.busy_timeout_ms);
  return conn_;
}

std::string SqliteSource::describe() const { return "sqlite path=" + config_.path; }

std::vector<model::TableSchemaPtr> SqliteSource::discover(const model::TableSelector &selector) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = connection();
  model::TableSelector own{config_.tables, config_.exclude_tables};
  std::vector<TableEntry> tables = list_tables(conn);
  std::vector<model::TableSchemaPtr> out;
  std::vector<std::string> available;
  for (const TableEntry &t : tables) {
    model::TableId id{"", "main", t.name};
    available.push_back(id.to_string());
    if (own.matches(id) && selector.matches(id)) out.push_back(table_schema(conn, t.name));
  }
  if (out.empty()) {
    std::vector<std::string> include = config_.tables, exclude = config_.exclude_tables;
    include.insert(include.end(), selector.include.begin(), selector.include.end());
    exclude.insert(exclude.end(), selector.exclude.begin(), selector.exclude.end());
    std::string what = "tables [" + (include.empty() ? std::string("all") : join(include, ", ")) + "]";
    if (!exclude.empty()) what += " excluding [" + join(exclude, ", ") + "]";
    if (available.empty())
      throw Error(Code::not_found, "SQLite database '" + config_.path + "' has no tables (selected " + what + ")",
                  context_);
    throw Error(Code::not_found,
                "no table of SQLite database '" + config_.path + "' matches " + what +
                    "; available tables: " + join(available, ", "),
                context_);
  }
  return out;
}

std::vector<model::Split> SqliteSource::plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                                    int64_t split_rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection &conn = connection();
  const std::string &name = table->id.table_name;
  const std::string stream_base = "main." + name + "#";
  const std::string ctx = context_ + " table=main." + name;
  std::vector<ColumnInfo> cols = table_columns(conn, name);
  if (cols.empty()) throw Error(Code::not_found, "table main." + name + " does not exist", ctx);

  if (is_without_rowid(conn, name)) {
    Statement count = conn.prepare("SELECT count(*) FROM main." + quote_ident(name), ctx);
    int64_t rows = count.step("cannot count the rows of main." + name) ? count.column_int64(0) : 0;
    count.reset();
    return {model::Split{table, stream_base + "0", "pk", rows, ""}};
  }
  const char *alias = rowid_alias(cols);
  if (!alias)
    throw Error(Code::unsupported,
                "table main." + name + " has columns named rowid, _rowid_ and oid, which hide its rowid", ctx);
  std::string a(alias);
  Statement st = conn.prepare("SELECT min(" + a + "), max(" + a + "), count(*) FROM main." + quote_ident(name), ctx);
  st.step("cannot read the rowid range of main." + name);
  int64_t rows = st.column_int64(2);
  if (rows == 0) {
    st.reset();
    std::string range = "rowid:" + std::to_string(std::numeric_limits<int64_t>::min()) + ":" +
                        std::to_string(std::numeric_limits<int64_t>::max());
    return {model::Split{table, stream_base + "0", range, 0, ""}};
  }
  int64_t lo = st.column_int64(0), hi = st.column_int64(1);
  st.reset();

  auto ceil_div = [](int64_t a, int64_t b) { return b <= 0 ? a : (a + b - 1) / b; };
  int64_t by_size = ceil_div(rows, split_rows > 0 ? split_rows : config_.split_rows);
  int64_t by_parallelism = std::min<int64_t>(2 * std::max(parallelism, 1), ceil_div(rows, config_.min_split_rows));
  int64_t n = std::max<int64_t>({by_size, by_parallelism, 1});
  n = std::min(n, rows);
  uint128 span = static_cast<uint128>(static_cast<int128>(hi) - static_cast<int128>(lo)) + 1;
  if (static_cast<uint128>(n) > span) n = static_cast<int64_t>(span);

  std::vector<model::Split> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // Range i is [lo + span*i/n, lo + span*(i+1)/n - 1]; consecutive ranges touch.
    int64_t from = static_cast<int64_t>(static_cast<int128>(lo) +
                                        static_cast<int128>(span * static_cast<uint128>(i) / static_cast<uint128>(n)));
    int64_t to =
        static_cast<int64_t>(static_cast<int128>(lo) +
                             static_cast<int128>(span * static_cast<uint128>(i + 1) / static_cast<uint128>(n)) - 1);
    out.push_back(model::Split{table, stream_base + std::to_string(i),
                               "rowid:" + std::to_string(from) + ":" + std::to_string(to),
                               rows / n + (i < rows % n ? 1 : 0), ""});
  }
  return out;
}

std::unique_ptr<model::SplitReader> SqliteSource::open_reader() { return std::make_unique<SqliteSplitReader>(config_); }

// ----------------------------------------------------------- SqliteSplitReader

SqliteSplitReader::SqliteSplitReader(const SourceConfig &config)
    : conn_(config.path, Connection::Mode::read_only, "source=sqlite path=" + config.path, config.busy_timeout_ms) {}

void SqliteSplitReader::read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
                             const model::BatchEmitter &emit, const model::CancelToken &cancel) {
  if (!split.schema) throw Error(Code::invalid_argument, "split '" + split.stream + "' has no schema", "source=sqlite");
  const model::TableSchema &schema = *split.schema;
  const std::string &name = schema.id.table_name;
  const std::string display = "main." + name;
  const std::string ctx = "source=sqlite table=" + display;
  if (batch_rows < 1) batch_rows = 1;

  std::vector<ColumnPlan> plans;
  plans.reserve(schema.columns.size());
  for (const auto &c : schema.columns) plans.push_back(ColumnPlan{kind_of(c.type.id), c.type.precision, c.type.scale});

  std::string column_list;
  for (const auto &c : schema.columns) column_list += (column_list.empty() ? "" : ", ") + quote_ident(c.name);

  const bool by_rowid = split.range.rfind("rowid:", 0) == 0;
  std::string sql;
  int64_t lo = 0, hi = 0, start = 0;
  std::vector<KeyValue> resume_key;
  std::vector<int> key_columns;
  std::string empty_position;
  if (by_rowid) {
    size_t colon = split.range.find(':', 6);
    if (colon == std::string::npos || !parse_int64(std::string_view(split.range).substr(6, colon - 6), lo) ||
        !parse_int64(std::string_view(split.range).substr(colon + 1), hi))
      throw Error(Code::invalid_argument, "split range '" + split.range + "' is not rowid:<lo>:<hi>", ctx);
    start = lo;
    empty_position = "rowid=" + std::to_string(hi);
    if (!resume_after.empty()) {
      int64_t last = 0;
      if (resume_after.rfind("rowid=", 0) != 0 || !parse_int64(std::string_view(resume_after).substr(6), last))
        throw Error(Code::state,
                    "checkpoint position '" + resume_after + "' of stream " + split.stream + " is not rowid=<n>", ctx);
      empty_position = resume_after;
      if (last >= hi) {  // the whole range was read already
        model::BatchBuilder b(split.schema, 0);
        emit(b.finish(model::Position{split.stream, resume_after, true}));
        return;
      }
      start = std::max(lo, last + 1);
    }
    const char *alias = rowid_alias(table_columns(conn_, name));
    if (!alias) throw Error(Code::unsupported, "table " + display + " has no usable rowid alias", ctx);
    sql = std::string("SELECT ") + alias + (column_list.empty() ? "" : ", " + column_list) + " FROM main." +
          quote_ident(name) + " WHERE " + alias + " >= ?1 AND " + alias + " <= ?2" +
          (split.filter.empty() ? "" : " AND (" + split.filter + ")") + " ORDER BY " + alias;
  } else if (split.range == "pk") {
    if (schema.primary_key.empty())
      throw Error(Code::invalid_argument,
                  "split '" + split.stream + "' reads in primary-key order but " + display + " has no primary key",
                  ctx);
    std::string keys;
    for (int k : schema.primary_key) {
      key_columns.push_back(k);
      keys += (keys.empty() ? "" : ", ") + quote_ident(schema.columns[static_cast<size_t>(k)].name);
    }
    empty_position = resume_after.empty() ? "pk=[]" : resume_after;
    if (!resume_after.empty()) {
      if (resume_after.rfind("pk=", 0) != 0 || !decode_key(std::string_view(resume_after).substr(3), resume_key) ||
          (!resume_key.empty() && resume_key.size() != key_columns.size()))
        throw Error(Code::state,
                    "checkpoint position '" + resume_after + "' of stream " + split.stream +
                        " is not a primary key of " + display,
                    ctx);
    }
    sql = "SELECT " + column_list + " FROM main." + quote_ident(name);
    if (!resume_key.empty()) {
      std::string params;
      for (size_t n = 0; n < resume_key.size(); ++n) params += (n ? ", ?" : "?") + std::to_string(n + 1);
      sql += " WHERE (" + keys + ") > (" + params + ")";
    }
    if (!split.filter.empty()) sql += (resume_key.empty() ? " WHERE (" : " AND (") + split.filter + ")";
    sql += " ORDER BY " + keys;
  } else {
    throw Error(Code::invalid_argument, "split range '" + split.range + "' is not one the sqlite source plans", ctx);
  }

  Statement stmt = conn_.prepare(sql, ctx);
  sqlite3_stmt *st = stmt.get();
  if (by_rowid) {
    stmt.bind(1, start);
    stmt.bind(2, hi);
  } else {
    bind_key(conn_, st, resume_key, ctx);
  }

  const int offset = by_rowid ? 1 : 0;
  const size_t ncols = plans.size();
  std::vector<KeyValue> key(key_columns.size());
  int64_t last_rowid = 0;
  int rc = sqlite3_step(st);
  for (;;) {
    if (cancel.cancelled()) return;
    model::BatchBuilder b(split.schema, batch_rows);
    int64_t n = 0;
    while (rc == SQLITE_ROW && n < batch_rows) {
      if (by_rowid)
        last_rowid = sqlite3_column_int64(st, 0);
      else
        for (size_t k = 0; k < key_columns.size(); ++k) capture(key[k], st, key_columns[k]);
      for (size_t c = 0; c < ncols; ++c) {
        if (!append_value(b.column(c), plans[c], st, static_cast<int>(c) + offset)) {
          const model::ColumnSchema &col = schema.columns[c];
          int idx = static_cast<int>(c) + offset;
          std::string where = ctx + " column=" + col.name;
          where += by_rowid ? " rowid=" + std::to_string(last_rowid) : " key=" + encode_key(key);
          throw Error(Code::data,
                      std::string(storage_class(sqlite3_column_type(st, idx))) + " value " + preview(st, idx) +
                          " in column " + col.name + " does not fit its declared type " +
                          display_declared(col.type.source_name) + " (read as " + model::to_string(col.type) + ")" +
                          expectation(plans[c]),
                      where);
        }
      }
      b.end_row();
      ++n;
      rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw_sqlite(conn_.get(), rc, "cannot read " + display, ctx);
    const bool done = rc == SQLITE_DONE;
    std::string position = n == 0     ? empty_position
                           : by_rowid ? "rowid=" + std::to_string(last_rowid)
                                      : "pk=" + encode_key(key);
    if (!emit(b.finish(model::Position{split.stream, std::move(position), done}))) return;
    if (done) return;
  }
}

}  // namespace ds::connectors::sqlite
