#include "schema/type_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace ds::schema {
namespace {

using model::DataType;
using model::TypeId;

// utf8mb4 keys are limited to 3072 bytes: 768 characters of 4 bytes.
constexpr int kMysqlKeyChars = 768;
constexpr int kMysqlKeyBytes = 3072;
// Longest VARCHAR that still fits a utf8mb4 row (65,535 bytes / 4).
constexpr int kMysqlMaxVarchar = 16383;
// PostgreSQL's limit for varchar(n).
constexpr int kPostgresMaxVarchar = 10485760;

const char *const kUnknownNote = "kept as the source's text form; the source type's own semantics are not";
const char *const kNoNanNote = "NaN and ±Infinity cannot be stored: they follow pipeline.invalid_values";
const char *const kDateRangeNote = "values outside 0001-01-01..9999-12-31 follow pipeline.invalid_values";
const char *const kSqliteYearsNote = "values outside years 0000..9999 follow pipeline.invalid_values";
const char *const kSqliteNanNote = "SQLite has no NaN: NaN follows pipeline.invalid_values";

TargetType exact(std::string spelling) { return {std::move(spelling), Fidelity::exact, ""}; }
TargetType widened(std::string spelling, std::string note) {
  return {std::move(spelling), Fidelity::widened, std::move(note)};
}
TargetType lossy(std::string spelling, std::string note) {
  return {std::move(spelling), Fidelity::lossy, std::move(note)};
}

std::string decimal_args(const DataType &t) {
  return "(" + std::to_string(t.precision) + "," + std::to_string(t.scale) + ")";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

TargetType to_postgres(const DataType &t) {
  switch (t.id) {
    case TypeId::boolean: return exact("boolean");
    case TypeId::int8: return widened("smallint", "PostgreSQL has no 1-byte integer");
    case TypeId::int16: return exact("smallint");
    case TypeId::int32: return exact("integer");
    case TypeId::int64: return exact("bigint");
    case TypeId::uint64:
      return widened("numeric(20,0)",
                     "PostgreSQL has no unsigned integers; numeric(20,0) holds 0..18446744073709551615");
    case TypeId::float32: return exact("real");
    case TypeId::float64: return exact("double precision");
    case TypeId::decimal: return t.precision <= 0 ? exact("numeric") : exact("numeric" + decimal_args(t));
    case TypeId::string: {
      int n = string_length_of(t.source_name);
      if (n > 0 && n <= kPostgresMaxVarchar) return exact("varchar(" + std::to_string(n) + ")");
      return exact("text");
    }
    case TypeId::binary: return exact("bytea");
    case TypeId::date: return exact("date");
    case TypeId::time: return exact("time");
    case TypeId::timestamp: return exact("timestamp");
    case TypeId::timestamp_tz: return exact("timestamptz");
    case TypeId::interval: return exact("interval");
    case TypeId::json: return lossy("jsonb", "jsonb normalises whitespace, key order and duplicate keys");
    case TypeId::uuid: return exact("uuid");
    case TypeId::unknown: return lossy("text", kUnknownNote);
  }
  return lossy("text", kUnknownNote);
}

TargetType to_mysql_family(Dialect d, const DataType &t, const TargetContext &c) {
  const bool mariadb = d == Dialect::mariadb;
  auto key_text = [&](const char *what) {
    return lossy("varchar(" + std::to_string(kMysqlKeyChars) + ")",
                 std::string(what) + " in a key or index is limited to " + std::to_string(kMysqlKeyChars) +
                     " characters (3072 bytes of utf8mb4); longer values fail");
  };
  switch (t.id) {
    case TypeId::boolean: return exact("tinyint(1)");
    case TypeId::int8: return exact("tinyint");
    case TypeId::int16: return exact("smallint");
    case TypeId::int32: return exact("int");
    case TypeId::int64: return exact("bigint");
    case TypeId::uint64: return exact("bigint unsigned");
    case TypeId::float32: return lossy("float", kNoNanNote);
    case TypeId::float64: return lossy("double", kNoNanNote);
    case TypeId::decimal:
      if (t.precision <= 0)
        return lossy("decimal(65,30)", "unconstrained decimal: at most 35 integer and 30 fraction digits");
      if (t.scale > 30)
        return lossy("decimal(" + std::to_string(std::min<int>(t.precision, 65)) + ",30)",
                     "at most 30 fraction digits: further digits are rounded");
      return exact("decimal" + decimal_args(t));
    case TypeId::string: {
      int n = string_length_of(t.source_name);
      if (c.in_key) {
        if (n > 0 && n <= kMysqlKeyChars) return exact("varchar(" + std::to_string(n) + ")");
        return key_text("text");
      }
      if (n > 0 && n <= kMysqlMaxVarchar) return exact("varchar(" + std::to_string(n) + ")");
      return exact("longtext");
    }
    case TypeId::binary:
      if (c.in_key)
        return lossy("varbinary(" + std::to_string(kMysqlKeyBytes) + ")",
                     "binary in a key or index is limited to 3072 bytes; longer values fail");
      return exact("longblob");
    case TypeId::date: return lossy("date", kDateRangeNote);
    case TypeId::time: return exact("time(6)");
    case TypeId::timestamp: return lossy("datetime(6)", kDateRangeNote);
    case TypeId::timestamp_tz:
      return lossy("datetime(6)",
                   "stored as UTC without a zone (TIMESTAMP spans only 1970..2038); " + std::string(kDateRangeNote));
    case TypeId::interval:
      return lossy("time(6)",
                   "TIME holds -838:59:59.999999..838:59:59.999999 without months: other intervals follow "
                   "pipeline.invalid_values");
    case TypeId::json:
      if (mariadb) return exact("json");  // MariaDB: longtext with a json_valid() check, the text kept as is
      return lossy("json", "MySQL's JSON normalises whitespace, key order and duplicate keys");
    case TypeId::uuid:
      if (mariadb && (c.server_version == 0 || c.server_version >= 100700)) return exact("uuid");
      return exact("char(36)");
    case TypeId::unknown:
      if (c.in_key) return key_text("text of an unknown type");
      return lossy("longtext", kUnknownNote);
  }
  return lossy("longtext", kUnknownNote);
}

TargetType to_sqlite(const DataType &t) {
  switch (t.id) {
    case TypeId::boolean: return exact("BOOLEAN");
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32: return widened("INTEGER", "SQLite integers are 64-bit");
    case TypeId::int64: return exact("INTEGER");
    case TypeId::uint64:
      return lossy(
          "INTEGER",
          "SQLite integers are signed 64-bit: values above 9223372036854775807 follow pipeline.invalid_values");
    case TypeId::float32: return lossy("REAL", std::string("SQLite reals are 64-bit; ") + kSqliteNanNote);
    case TypeId::float64: return lossy("REAL", kSqliteNanNote);
    case TypeId::decimal:
      if (t.precision <= 0) return exact("NUMERIC");
      if (sqlite_numeric_affinity_holds(t.precision, t.scale)) return exact("DECIMAL" + decimal_args(t));
      // NUMERIC affinity would round longer values to a REAL's 15 digits:
      // TEXT affinity keeps their text, and the sqlite source reads the name back as decimal(p,s).
      return exact("DECIMAL_TEXT" + decimal_args(t));
    case TypeId::string: return exact("TEXT");
    case TypeId::binary: return exact("BLOB");
    // Dates and times are text of 4-digit years and of one day.
    case TypeId::date: return lossy("DATE", kSqliteYearsNote);
    case TypeId::time:
      return lossy("TIME", "PostgreSQL's 24:00:00 is beyond 'HH:MM:SS' of one day: it follows pipeline.invalid_values");
    case TypeId::timestamp: return lossy("DATETIME", kSqliteYearsNote);
    case TypeId::timestamp_tz:
      return lossy("TIMESTAMPTZ", std::string("stored as UTC without an offset; ") + kSqliteYearsNote);
    case TypeId::interval: return lossy("TEXT", "SQLite has no interval type: kept as text, read back as a string");
    // NUMERIC affinity (a plain JSON) would store a document that is a bare
    // number as an SQLite number, rounded to 15 digits: TEXT affinity keeps it.
    case TypeId::json: return exact("JSON_TEXT");
    case TypeId::uuid: return exact("UUID");
    case TypeId::unknown: return lossy("TEXT", kUnknownNote);
  }
  return lossy("TEXT", kUnknownNote);
}

std::string escape_cell(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

}  // namespace

const char *dialect_name(Dialect d) {
  switch (d) {
    case Dialect::postgres: return "postgres";
    case Dialect::mariadb: return "mariadb";
    case Dialect::mysql: return "mysql";
    case Dialect::sqlite: return "sqlite";
  }
  return "postgres";
}

std::optional<Dialect> parse_dialect(const std::string &name) {
  const std::string n = lower(name);
  if (n == "postgres" || n == "postgresql") return Dialect::postgres;
  if (n == "mariadb") return Dialect::mariadb;
  if (n == "mysql") return Dialect::mysql;
  if (n == "sqlite") return Dialect::sqlite;
  return std::nullopt;
}

const std::vector<Dialect> &all_dialects() {
  static const std::vector<Dialect> all = {Dialect::postgres, Dialect::mariadb, Dialect::mysql, Dialect::sqlite};
  return all;
}

const char *fidelity_name(Fidelity f) {
  switch (f) {
    case Fidelity::exact: return "exact";
    case Fidelity::widened: return "widened";
    case Fidelity::lossy: return "lossy";
  }
  return "lossy";
}

int string_length_of(const std::string &spelling) {
  const std::string s = lower(spelling);
  size_t open = s.find('(');
  if (open == std::string::npos) return -1;
  std::string base = s.substr(0, open);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  static const char *const bounded[] = {"varchar",
                                        "character varying",
                                        "char",
                                        "character",
                                        "nvarchar",
                                        "nchar",
                                        "varchar2",
                                        "national character varying",
                                        "national character"};
  bool known = false;
  for (const char *b : bounded) known = known || base == b;
  if (!known) return -1;
  char *end = nullptr;
  long n = std::strtol(s.c_str() + open + 1, &end, 10);
  if (end == s.c_str() + open + 1 || *end != ')' || n <= 0 || n > 1000000000) return -1;
  return static_cast<int>(n);
}

bool sqlite_numeric_affinity_holds(int precision, int scale) {
  // A REAL keeps 15 significant digits; whole numbers of up to 18 digits stay 64-bit INTEGERs.
  return precision <= 15 || (scale == 0 && precision <= 18);
}

bool type_holds(const model::DataType &target, const model::DataType &source) {
  auto int_rank = [](TypeId id) {
    switch (id) {
      case TypeId::boolean: return 0;
      case TypeId::int8: return 1;
      case TypeId::int16: return 2;
      case TypeId::int32: return 3;
      case TypeId::int64: return 4;
      default: return -1;
    }
  };
  auto int_digits = [](TypeId id) {
    switch (id) {
      case TypeId::int8: return 3;
      case TypeId::int16: return 5;
      case TypeId::int32: return 10;
      case TypeId::int64: return 19;
      case TypeId::uint64: return 20;
      default: return 0;
    }
  };
  if (target.id == TypeId::string || target.id == TypeId::unknown) {
    int tl = string_length_of(target.source_name);
    if (tl < 0) return true;  // unbounded text holds any value's text form
    int sl = source.id == TypeId::string ? string_length_of(source.source_name) : -1;
    return source.id == TypeId::string && sl > 0 && sl <= tl;
  }
  if (target.id == source.id) {
    if (source.id == TypeId::decimal)
      return target.scale >= source.scale && target.precision - target.scale >= source.precision - source.scale;
    return true;
  }
  if (int_rank(target.id) > 0 && int_rank(source.id) > 0) return int_rank(target.id) >= int_rank(source.id);
  if (target.id == TypeId::decimal && int_digits(source.id) > 0)
    return target.precision - target.scale >= int_digits(source.id);
  if (target.id == TypeId::uint64) return false;
  if (target.id == TypeId::float64 &&
      (source.id == TypeId::float32 || (int_rank(source.id) >= 1 && int_rank(source.id) <= 3)))
    return true;
  if (target.id == TypeId::interval && source.id == TypeId::time) return true;
  return false;
}

TargetType map_to(Dialect target, const model::DataType &type, const TargetContext &context) {
  switch (target) {
    case Dialect::postgres: return to_postgres(type);
    case Dialect::mariadb:
    case Dialect::mysql: return to_mysql_family(target, type, context);
    case Dialect::sqlite: return to_sqlite(type);
  }
  return to_postgres(type);
}

std::vector<MappingRow> mapping_table() {
  struct Probe {
    std::string label;
    DataType type;
    bool in_key;
  };
  auto t = [](TypeId id, std::string source = "", int16_t p = 0, int16_t s = 0) {
    DataType d;
    d.id = id;
    d.precision = p;
    d.scale = s;
    d.source_name = std::move(source);
    return d;
  };
  std::vector<Probe> probes;
  for (TypeId id : {TypeId::boolean, TypeId::int8, TypeId::int16, TypeId::int32, TypeId::int64, TypeId::uint64,
                    TypeId::float32, TypeId::float64})
    probes.push_back({model::type_name(id), t(id), false});
  probes.push_back({"decimal(p,s)", t(TypeId::decimal, "", 12, 2), false});
  probes.push_back({"decimal(p,s), p > 15", t(TypeId::decimal, "", 38, 10), false});
  probes.push_back({"decimal(p,s), s > 30", t(TypeId::decimal, "", 38, 34), false});
  probes.push_back({"string", t(TypeId::string), false});
  probes.push_back({"string, source length n", t(TypeId::string, "varchar(100)"), false});
  probes.push_back({"string, in a key", t(TypeId::string), true});
  probes.push_back({"binary", t(TypeId::binary), false});
  probes.push_back({"binary, in a key", t(TypeId::binary), true});
  for (TypeId id : {TypeId::date, TypeId::time, TypeId::timestamp, TypeId::timestamp_tz, TypeId::interval, TypeId::json,
                    TypeId::uuid, TypeId::unknown})
    probes.push_back({model::type_name(id), t(id), false});

  std::vector<MappingRow> rows;
  for (Dialect d : all_dialects()) {
    for (const Probe &p : probes) {
      TargetContext ctx;
      ctx.in_key = p.in_key;
      TargetType target = map_to(d, p.type, ctx);
      auto replace = [&](const std::string &from, const std::string &to) {
        size_t at = target.spelling.find(from);
        if (at != std::string::npos) target.spelling.replace(at, from.size(), to);
      };
      if (p.label == "decimal(p,s)") replace("(12,2)", "(p,s)");
      if (p.label == "decimal(p,s), p > 15") replace("(38,10)", "(p,s)");
      if (p.label == "decimal(p,s), s > 30") replace("(38,30)", "(p,30)");
      if (p.label == "string, source length n") replace("(100)", "(n)");
      rows.push_back({p.label, d, target});
    }
  }
  return rows;
}

std::string mapping_markdown() {
  std::string out =
      "# Type mapping\n\n"
      "Generated from `core/schema/type_mapping.cpp` by `scripts/gen-docs`; do not edit.\n\n"
      "Every source type is first read as one of the engine's types (see each connector's catalog: "
      "`core/connectors/*/`), then written as the target type below when the sink creates a column. "
      "A copy between two databases of the same kind keeps the source's own column type instead "
      "(`varchar(20)`, `int(10) unsigned`, `integer[]`...).\n\n"
      "- **exact**: every value arrives unchanged.\n"
      "- **widened**: every value arrives unchanged in a larger type.\n"
      "- **lossy**: some values or properties cannot be kept (the note says which); values the target "
      "cannot hold follow `pipeline.invalid_values` (`error`, `null` or `clamp`) and are counted and "
      "reported, never changed silently.\n";
  Dialect current = Dialect::postgres;
  bool first = true;
  for (const MappingRow &row : mapping_table()) {
    if (first || row.dialect != current) {
      current = row.dialect;
      first = false;
      out += std::string("\n## Into ") + dialect_name(current) +
             "\n\n| engine type | column type | fidelity | note |\n"
             "| --- | --- | --- | --- |\n";
    }
    out += "| " + escape_cell(row.engine_type) + " | `" + escape_cell(row.target.spelling) + "` | " +
           fidelity_name(row.target.fidelity) + " | " + escape_cell(row.target.note) + " |\n";
  }
  return out;
}

}  // namespace ds::schema
