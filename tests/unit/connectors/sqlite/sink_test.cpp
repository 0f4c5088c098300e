// SqliteSink, SqliteSinkWriter and the checkpoint stores over real SQLite files.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "connectors/sqlite/checkpoint.hpp"
#include "connectors/sqlite/sink.hpp"
#include "connectors/sqlite/source.hpp"
#include "connectors/sqlite/sqlite.hpp"
#include "connectors/sqlite/values.hpp"
#include "model/error.hpp"
#include "sqlite_test_util.hpp"

namespace {

using namespace ds;
using namespace ds::connectors::sqlite;
using model::TypeId;

using ds::test::exec;
using ds::test::TempDir;

// Rows of `sql`, each value as text ("NULL" for NULL).
std::vector<std::vector<std::string>> query(const std::string &db, const std::string &sql) {
  sqlite3 *h = nullptr;
  std::vector<std::vector<std::string>> out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db;
    sqlite3_close(h);
    return out;
  }
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(h) << " in " << sql;
    sqlite3_close(h);
    return out;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char *t = sqlite3_column_text(st, i);
      row.push_back(t ? std::string(reinterpret_cast<const char *>(t), static_cast<size_t>(sqlite3_column_bytes(st, i)))
                      : "NULL");
    }
    out.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// Every value of every row of `table` as "type:exact text" (REAL by quote(), others by hex()).
std::vector<std::vector<std::string>> dump(const std::string &db, const std::string &table) {
  auto cols = query(db, "SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid");
  std::string select;
  for (const auto &c : cols)
    select += std::string(select.empty() ? "" : ", ") + "typeof(\"" + c[0] + "\") || ':' || CASE typeof(\"" + c[0] +
              "\") WHEN 'real' THEN quote(\"" + c[0] + "\") ELSE hex(\"" + c[0] + "\") END";
  return query(db, "SELECT " + select + " FROM \"" + table + "\" ORDER BY rowid");
}

using Batches = std::vector<std::shared_ptr<model::Batch>>;

Batches read_table(const std::string &db, const std::string &table) {
  SourceConfig cfg;
  cfg.path = db;
  SqliteSource source(cfg);
  auto tables = source.discover(model::TableSelector{{table}, {}});
  Batches out;
  auto reader = source.open_reader();
  model::CancelToken cancel;
  for (const auto &split : source.plan_splits(tables.at(0), 1, 0))
    reader->read(
        split, "", 1000,
        [&](std::shared_ptr<model::Batch> b) {
          out.push_back(std::move(b));
          return true;
        },
        cancel);
  return out;
}

// Value-by-value equality of two batches of the same types.
void expect_same_values(const model::Batch &a, const model::Batch &b) {
  ASSERT_EQ(a.num_rows, b.num_rows);
  ASSERT_EQ(a.columns.size(), b.columns.size());
  for (size_t c = 0; c < a.columns.size(); ++c) {
    const model::DataType &type = a.schema->columns[c].type;
    ASSERT_EQ(type, b.schema->columns[c].type) << a.schema->columns[c].name;
    for (int64_t r = 0; r < a.num_rows; ++r) {
      ASSERT_EQ(a.columns[c].is_valid(r), b.columns[c].is_valid(r)) << a.schema->columns[c].name << " row " << r;
      if (!a.columns[c].is_valid(r)) continue;
      switch (model::layout_of(type.id)) {
        case model::Layout::bitmap: EXPECT_EQ(a.columns[c].bool_value(r), b.columns[c].bool_value(r)); break;
        case model::Layout::variable:
          EXPECT_EQ(a.columns[c].bytes(r), b.columns[c].bytes(r)) << a.schema->columns[c].name;
          break;
        case model::Layout::fixed: {
          int w = model::fixed_width(type.id);
          EXPECT_EQ(std::memcmp(a.columns[c].fixed_bytes(r, w), b.columns[c].fixed_bytes(r, w), static_cast<size_t>(w)),
                    0)
              << a.schema->columns[c].name << " row " << r;
          break;
        }
      }
    }
  }
}

SinkConfig sink_config(const std::string &path, const std::string &pipeline = "p1") {
  SinkConfig c;
  c.path = path;
  c.pipeline_name = pipeline;
  return c;
}

struct Col {
  std::string name;
  model::DataType type;
  bool nullable = true;
};

model::TableSchemaPtr make_schema(const std::string &table, const std::vector<Col> &cols, std::vector<int> pk = {}) {
  auto s = std::make_shared<model::TableSchema>();
  s->id = model::TableId{"", "main", table};
  for (const auto &c : cols) {
    model::ColumnSchema column;
    column.name = c.name;
    column.type = c.type;
    column.nullable = c.nullable;
    s->columns.push_back(column);
  }
  s->primary_key = std::move(pk);
  return s;
}

model::DataType type(TypeId id, int16_t p = 0, int16_t s = 0) { return model::DataType{id, p, s, ""}; }

// A batch of (int64 id, string v) rows with ops.
std::shared_ptr<model::Batch> kv_batch(const model::TableSchemaPtr &schema,
                                       const std::vector<std::tuple<model::Op, int64_t, const char *>> &rows,
                                       bool with_ops = true) {
  model::BatchBuilder b(schema, static_cast<int64_t>(rows.size()), with_ops);
  for (const auto &[op, id, v] : rows) {
    b.column(0).append_int(id);
    if (v)
      b.column(1).append_bytes(v, std::strlen(v));
    else
      b.column(1).append_null();
    b.end_row(op);
  }
  return b.finish(
      model::Position{"main.kv#0", "rowid=" + std::to_string(rows.empty() ? 0 : std::get<1>(rows.back())), false});
}

template <typename F>
Error expect_error(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "expected a ds::Error";
  return Error(Code::ok, "");
}

// ---------------------------------------------------------------- round trip

TEST(SqliteSink, EveryTypeRoundTripsSqliteToSqlite) {
  TempDir dir;
  std::string src = dir.file("src.db"), dst = dir.file("dst.db");
  exec(src,
       "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, i BIGINT, r REAL, d DECIMAL(12,3), s TEXT, bl BLOB, dt DATE,"
       " ts DATETIME, tz TIMESTAMPTZ, tm TIME, j JSON, u UUID, n NUMERIC, vc VARCHAR(10) NOT NULL, any_col);"
       "INSERT INTO t VALUES (1, 1, 9223372036854775807, 1.5, '12345.678', 'héllo wörld ✓ 日本', x'0001000200', "
       "'1969-07-20',"
       " '1969-07-20 20:17:40.123456', '2024-01-01 00:00:00', '23:59:59.999999', '{\"a\":[1,2]}',"
       " '123e4567-e89b-12d3-a456-426614174000', 'abc', 'x', x'00');"
       "INSERT INTO t VALUES (2, 0, -9223372036854775808, -0.0, '-0.001', '', x'', '0001-01-01', '1900-01-01 00:00:00',"
       " '1970-01-01 00:00:00', '00:00:00', 123, '00000000-0000-0000-0000-000000000000', 42, '', x'');"
       "INSERT INTO t (id, vc) VALUES (3, 'z');"
       "INSERT INTO t (id, r, d, n, j, vc, s) VALUES (4, 0.1 + 0.2, '100', 2.5, '1.5', 'w', 'tab\tnew\nline \"q\" "
       "''a''');"
       "INSERT INTO t (id, r, d, vc, dt, ts) VALUES (5, 1e308, '999999999.999', 'v', '2000-02-29', '1999-12-31 "
       "23:59:59.000001');"
       "INSERT INTO t (id, r, vc) VALUES (6, 4.9406564584124654e-324, 'u');");
  Batches in = read_table(src, "t");
  ASSERT_EQ(in.size(), 1u);
  ASSERT_EQ(in[0]->num_rows, 6);

  SqliteSink sink(sink_config(dst));
  sink.prepare_table(*in[0]->schema);
  auto writer = sink.open_writer(0);
  writer->write(*in[0]);
  writer->commit(nullptr);
  writer.reset();

  // Same declared types, nullability and key.
  // (An untyped column becomes BLOB, the same affinity.)
  EXPECT_EQ(query(src, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('t') WHERE name <> 'any_col'"),
            query(dst, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('t') WHERE name <> 'any_col'"));
  EXPECT_EQ(query(dst, "SELECT type FROM pragma_table_info('t') WHERE name = 'any_col'").at(0).at(0), "BLOB");
  // Exactly the same stored values, storage classes included.
  EXPECT_EQ(dump(src, "t"), dump(dst, "t"));
  // And the same engine values read back.
  Batches out = read_table(dst, "t");
  ASSERT_EQ(out.size(), 1u);
  expect_same_values(*in[0], *out[0]);
  // SQLite stores an integral REAL as an integer in a REAL column, so -0.0 reads back as 0.0.
  EXPECT_EQ(out[0]->columns[3].value<double>(1), 0.0);
}

TEST(SqliteSink, EngineTypesRoundTripThroughMappedColumns) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  auto schema = make_schema("typed",
                            {{"i8", type(TypeId::int8)},
                             {"i16", type(TypeId::int16)},
                             {"i32", type(TypeId::int32), false},
                             {"u64", type(TypeId::uint64)},
                             {"f32", type(TypeId::float32)},
                             {"dec", type(TypeId::decimal, 38, 10)},
                             {"tz", type(TypeId::timestamp_tz)},
                             {"iv", type(TypeId::interval)},
                             {"u", type(TypeId::uuid)},
                             {"j", type(TypeId::json)},
                             {"bin", type(TypeId::binary)},
                             {"dt", type(TypeId::date)}},
                            {2});
  model::BatchBuilder b(schema, 3);
  // Row 0: values; row 1: extremes; row 2: NULLs (except the key).
  b.column(0).append_int(-128);
  b.column(1).append_int(32767);
  b.column(2).append_int(1);
  b.column(3).append_fixed<uint64_t>(9223372036854775807ull);
  b.column(4).append_double(0.25);
  int128 dec = pow10_128(10) * 123 + 4500000000;  // 123.45
  b.column(5).append_fixed_bytes(&dec);
  b.column(6).append_fixed<int64_t>(-1);
  uint8_t iv[16] = {};
  int32_t months = 14, days = 3;
  int64_t nanos = 4500000000;
  std::memcpy(iv, &months, 4);
  std::memcpy(iv + 4, &days, 4);
  std::memcpy(iv + 8, &nanos, 8);
  b.column(7).append_fixed_bytes(iv);
  uint8_t u[16];
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(i * 17);
  b.column(8).append_fixed_bytes(u);
  b.column(9).append_bytes("[true,null]", 11);
  b.column(10).append_bytes("\0\0", 2);
  b.column(11).append_fixed<int32_t>(-1);
  b.end_row();
  b.column(0).append_int(127);
  b.column(1).append_int(-32768);
  b.column(2).append_int(INT32_MIN);
  b.column(3).append_fixed<uint64_t>(0);
  b.column(4).append_double(-3.5);
  int128 small = -5;  // -0.0000000005
  b.column(5).append_fixed_bytes(&small);
  b.column(6).append_fixed<int64_t>(253402300799999999);  // 9999-12-31 23:59:59.999999
  std::memset(iv, 0, 16);
  b.column(7).append_fixed_bytes(iv);
  std::memset(u, 0xff, 16);
  b.column(8).append_fixed_bytes(u);
  b.column(9).append_bytes("\"é\"", 4);
  b.column(10).append_bytes("", 0);
  b.column(11).append_fixed<int32_t>(2932896);  // 9999-12-31
  b.end_row();
  for (int c = 0; c < 12; ++c)
    if (c == 2)
      b.column(c).append_int(3);
    else
      b.column(c).append_null();
  b.end_row();
  auto batch = b.finish(model::Position{});

  SqliteSink sink(sink_config(dst));
  sink.prepare_table(*schema);
  std::string ddl = query(dst, "SELECT sql FROM sqlite_schema WHERE name = 'typed'").at(0).at(0);
  EXPECT_NE(ddl.find("\"i32\" INTEGER PRIMARY KEY,"), std::string::npos) << ddl;
  // TEXT affinity: NUMERIC would round 38 digits to a REAL's 15.
  EXPECT_NE(ddl.find("\"dec\" DECIMAL_TEXT(38,10)"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("\"tz\" TIMESTAMPTZ"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("\"iv\" TEXT"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("\"u\" UUID"), std::string::npos) << ddl;
  auto writer = sink.open_writer(0);
  writer->write(*batch);
  writer->commit(nullptr);

  // Ordered by the key i32: the extremes row (INT32_MIN) comes first.
  auto rows = query(
      dst, "SELECT i8, i16, i32, u64, f32, dec, tz, iv, u, j, hex(bin), dt, typeof(bin) FROM typed ORDER BY rowid");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{
                         "127", "-32768", "-2147483648", "0", "-3.5", "-0.0000000005", "9999-12-31 23:59:59.999999",
                         "PT0S", "ffffffff-ffff-ffff-ffff-ffffffffffff", "\"é\"", "", "9999-12-31", "blob"}));
  EXPECT_EQ(rows[1],
            (std::vector<std::string>{
                "-128", "32767", "1", "9223372036854775807", "0.25", "123.4500000000", "1969-12-31 23:59:59.999999",
                "P14M3DT4.5S", "00112233-4455-6677-8899-aabbccddeeff", "[true,null]", "0000", "1969-12-31", "blob"}));
  EXPECT_EQ(rows[2][0], "NULL");
  EXPECT_EQ(rows[2][12], "null");

  // Reading back gives the same values (as SQLite's wider types).
  Batches back = read_table(dst, "typed");
  ASSERT_EQ(back.size(), 1u);
  const model::Batch &r = *back[0];
  EXPECT_EQ(r.columns[0].value<int64_t>(1), -128);
  EXPECT_EQ(r.columns[2].value<int64_t>(0), INT32_MIN);
  EXPECT_EQ(r.columns[3].value<int64_t>(1), INT64_MAX);
  EXPECT_TRUE(load_int128(r.columns[5].fixed_bytes(1, 16)) == dec);
  EXPECT_TRUE(load_int128(r.columns[5].fixed_bytes(0, 16)) == -5);
  EXPECT_EQ(r.columns[6].value<int64_t>(1), -1);
  EXPECT_EQ(r.columns[6].value<int64_t>(0), 253402300799999999);
  EXPECT_EQ(std::memcmp(r.columns[8].fixed_bytes(0, 16), u, 16), 0);
  EXPECT_EQ(r.columns[11].value<int32_t>(1), -1);
  EXPECT_EQ(r.columns[11].value<int32_t>(0), 2932896);
  for (size_t c = 0; c < 12; ++c)
    if (c != 2) {
      EXPECT_FALSE(r.columns[c].is_valid(2)) << c;
    }
}

TEST(SqliteSink, RefusesValuesSqliteWouldChange) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  // A table the sink creates declares such decimals DECIMAL_TEXT; one that
  // exists with NUMERIC affinity cannot hold them.
  exec(dst, "CREATE TABLE d (id INTEGER, dec DECIMAL(38,2), big INTEGER)");
  auto schema = make_schema(
      "d", {{"id", type(TypeId::int64)}, {"dec", type(TypeId::decimal, 38, 2)}, {"big", type(TypeId::uint64)}});
  SqliteSink sink(sink_config(dst));
  sink.prepare_table(*schema);
  auto writer = sink.open_writer(0);
  auto one = [&](int128 d, uint64_t big) {
    model::BatchBuilder b(schema, 1);
    b.column(0).append_int(1);
    b.column(1).append_fixed_bytes(&d);
    b.column(2).append_fixed<uint64_t>(big);
    b.end_row();
    return b.finish(model::Position{});
  };
  // 20 significant digits: NUMERIC affinity would round it through a REAL.
  int128 wide = pow10_128(19) * 12 + 345;
  Error e = expect_error([&] { writer->write(*one(wide, 1)); });
  EXPECT_EQ(e.code(), Code::data);
  EXPECT_NE(std::string(e.what()).find("1200000000000000003.45"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("TEXT"), std::string::npos) << e.what();
  EXPECT_NE(e.context().find("table=main.d column=dec"), std::string::npos) << e.context();
  writer->rollback();
  // A whole number that fits an INTEGER is kept exactly.
  writer->write(*one(pow10_128(2) * 9223372036854775807LL, 1));
  writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT dec, typeof(dec) FROM d").at(0),
            (std::vector<std::string>{"9223372036854775807", "integer"}));
  Error u = expect_error([&] { writer->write(*one(1, 9223372036854775808ull)); });
  EXPECT_EQ(u.code(), Code::data);
  EXPECT_NE(std::string(u.what()).find("9223372036854775808"), std::string::npos) << u.what();
  writer->rollback();

  // Into a TEXT column the same wide decimal is kept exactly.
  exec(dst, "CREATE TABLE dt (id INTEGER, dec TEXT, big INTEGER)");
  auto text_schema = make_schema(
      "dt", {{"id", type(TypeId::int64)}, {"dec", type(TypeId::decimal, 38, 2)}, {"big", type(TypeId::uint64)}});
  sink.prepare_table(*text_schema);
  model::BatchBuilder b(text_schema, 1);
  b.column(0).append_int(1);
  b.column(1).append_fixed_bytes(&wide);
  b.column(2).append_fixed<uint64_t>(5);
  b.end_row();
  writer->write(*b.finish(model::Position{}));
  writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT dec FROM dt").at(0).at(0), "1200000000000000003.45");
}

TEST(SqliteSink, ValuesSqliteCannotHoldFollowInvalidValues) {
  TempDir dir;
  auto schema = make_schema("v", {{"id", type(TypeId::int64)},
                                  {"big", type(TypeId::uint64)},
                                  {"x", type(TypeId::float64)},
                                  {"d", type(TypeId::date)},
                                  {"t", type(TypeId::time)},
                                  {"ts", type(TypeId::timestamp)}});
  auto batch = [&] {
    model::BatchBuilder b(schema, 2);
    b.column(0).append_int(1);
    b.column(1).append_fixed<uint64_t>(18446744073709551615ull);
    b.column(2).append_double(std::nan(""));
    b.column(3).append_fixed<int32_t>(2932897);             // 10000-01-01
    b.column(4).append_fixed<int64_t>(86400LL * 1000000);   // PostgreSQL's 24:00:00
    b.column(5).append_fixed<int64_t>(-62167219200000001);  // just before 0000-01-01
    b.end_row();
    b.column(0).append_int(2);
    b.column(1).append_fixed<uint64_t>(7);
    b.column(2).append_double(1.5);
    b.column(3).append_fixed<int32_t>(0);
    b.column(4).append_fixed<int64_t>(0);
    b.column(5).append_fixed<int64_t>(0);
    b.end_row();
    return b.finish(model::Position{});
  };
  auto copy = [&](model::InvalidValuePolicy policy, const std::string &file) {
    SinkConfig config = sink_config(dir.file(file));
    config.invalid_values = policy;
    config.value_report = std::make_shared<model::ValueReport>();
    SqliteSink sink(config);
    sink.prepare_table(*schema);
    auto writer = sink.open_writer(0);
    writer->write(*batch());
    writer->commit(nullptr);
    return config.value_report;
  };

  Error e = expect_error([&] { copy(model::InvalidValuePolicy::error, "error.db"); });
  EXPECT_EQ(e.code(), Code::data);
  EXPECT_NE(std::string(e.what()).find("18446744073709551615"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("pipeline.invalid_values"), std::string::npos) << e.what();
  EXPECT_NE(e.context().find("column=big"), std::string::npos) << e.context();

  auto nulled = copy(model::InvalidValuePolicy::null, "null.db");
  EXPECT_EQ(query(dir.file("null.db"), "SELECT big, x, d, t, ts FROM v ORDER BY id"),
            (std::vector<std::vector<std::string>>{{"NULL", "NULL", "NULL", "NULL", "NULL"},
                                                   {"7", "1.5", "1970-01-01", "00:00:00", "1970-01-01 00:00:00"}}));
  EXPECT_EQ(nulled->total(), 5);

  auto clamped = copy(model::InvalidValuePolicy::clamp, "clamp.db");
  EXPECT_EQ(query(dir.file("clamp.db"), "SELECT big, x, d, t, ts FROM v WHERE id = 1").at(0),
            (std::vector<std::string>{"9223372036854775807", "NULL", "9999-12-31", "23:59:59.999999",
                                      "0000-01-01 00:00:00"}));
  EXPECT_EQ(clamped->total(), 5);
  bool named = false;
  for (const auto &entry : clamped->entries())
    named = named || (entry.column == "d" && entry.reason == "date after 9999-12-31 clamped to 9999-12-31");
  EXPECT_TRUE(named);
}

// ------------------------------------------------------------ prepare_table

TEST(SqliteSink, CreatesKeysAndNotNull) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  SqliteSink sink(sink_config(dst));
  sink.prepare_table(*make_schema(
      "composite",
      {{"a", type(TypeId::string), false}, {"b", type(TypeId::int64), false}, {"c", type(TypeId::float64)}}, {1, 0}));
  EXPECT_EQ(query(dst, "SELECT sql FROM sqlite_schema WHERE name = 'composite'").at(0).at(0),
            "CREATE TABLE \"composite\" (\"a\" TEXT NOT NULL, \"b\" INTEGER NOT NULL, \"c\" REAL, PRIMARY KEY (\"b\", "
            "\"a\"))");
  auto with_source_name = make_schema("keep",
                                      {{"id", model::DataType{TypeId::int64, 0, 0, "BIGINT"}, false},
                                       {"q\"x", model::DataType{TypeId::string, 0, 0, "VARCHAR(20)"}}},
                                      {0});
  sink.prepare_table(*with_source_name);
  EXPECT_EQ(query(dst, "SELECT sql FROM sqlite_schema WHERE name = 'keep'").at(0).at(0),
            "CREATE TABLE \"keep\" (\"id\" INTEGER PRIMARY KEY, \"q\"\"x\" VARCHAR(20))");
  // Preparing again checks the now existing table and passes.
  sink.prepare_table(*with_source_name);
  // The journal mode asked for is applied.
  EXPECT_EQ(query(dst, "PRAGMA journal_mode").at(0).at(0), "wal");
}

TEST(SqliteSink, ExistingTableMisfitsAreSchemaErrors) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  exec(dst,
       "CREATE TABLE target (id INTEGER PRIMARY KEY, x INTEGER, req TEXT NOT NULL, opt TEXT NOT NULL DEFAULT 'd');"
       "CREATE VIEW vw AS SELECT * FROM target;");
  SqliteSink sink(sink_config(dst));
  const std::string ctx = "sink=sqlite path=" + dst + " table=main.target";

  Error missing = expect_error([&] {
    sink.prepare_table(*make_schema(
        "target", {{"id", type(TypeId::int64)}, {"req", type(TypeId::string)}, {"y", type(TypeId::string)}}));
  });
  EXPECT_EQ(missing.code(), Code::schema);
  EXPECT_EQ(std::string(missing.what()), "target table main.target has no column 'y' (source column y string)");
  EXPECT_EQ(missing.context(), ctx);

  Error wrong_type = expect_error([&] {
    sink.prepare_table(*make_schema(
        "target", {{"id", type(TypeId::int64)}, {"req", type(TypeId::string)}, {"x", type(TypeId::string)}}));
  });
  EXPECT_EQ(wrong_type.code(), Code::schema);
  EXPECT_EQ(std::string(wrong_type.what()), "column 'x' is INTEGER in the target but the source sends string");
  EXPECT_EQ(wrong_type.context(), ctx);

  Error not_null = expect_error([&] {
    sink.prepare_table(*make_schema("target", {{"id", type(TypeId::int64)}, {"x", type(TypeId::int32)}}));
  });
  EXPECT_EQ(not_null.code(), Code::schema);
  EXPECT_NE(std::string(not_null.what()).find("'req'"), std::string::npos) << not_null.what();
  EXPECT_EQ(std::string(not_null.what()).find("'opt'"), std::string::npos) << "opt has a default";

  // Columns match case-insensitively, as SQLite names do; a subset with the required ones is fine.
  sink.prepare_table(*make_schema("target", {{"REQ", type(TypeId::string)}, {"X", type(TypeId::int16)}}));

  Error view = expect_error([&] { sink.prepare_table(*make_schema("vw", {{"id", type(TypeId::int64)}})); });
  EXPECT_EQ(view.code(), Code::schema);

  SinkConfig no_create = sink_config(dst);
  no_create.create_tables = false;
  SqliteSink strict(no_create);
  Error absent = expect_error([&] { strict.prepare_table(*make_schema("nowhere", {{"id", type(TypeId::int64)}})); });
  EXPECT_EQ(absent.code(), Code::not_found);
  EXPECT_NE(std::string(absent.what()).find("main.nowhere"), std::string::npos);
  EXPECT_TRUE(query(dst, "SELECT name FROM sqlite_schema WHERE name = 'nowhere'").empty());

  // A missing directory is created; one that cannot be (under a plain file) is an io error.
  SqliteSink new_dir(sink_config(dir.file("no/such/dir.db")));
  new_dir.prepare_table(*make_schema("t", {{"id", type(TypeId::int64)}}));
  EXPECT_EQ(query(dir.file("no/such/dir.db"), "SELECT name FROM sqlite_schema WHERE name = 't'").size(), 1u);
  SqliteSink blocked(sink_config(dst + "/under-a-file/x.db"));
  EXPECT_EQ(expect_error([&] {
              blocked.prepare_table(*make_schema("t", {{"id", type(TypeId::int64)}}));
            }).code(),
            Code::io);
}

// ----------------------------------------------------------------- writing

TEST(SqliteSink, OpsUpsertsAndDeletes) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  auto schema = make_schema("kv", {{"id", type(TypeId::int64), false}, {"v", type(TypeId::string)}}, {0});
  SqliteSink sink(sink_config(dst));
  sink.prepare_table(*schema);
  auto writer = sink.open_writer(0);
  using model::Op;
  writer->write(*kv_batch(schema, {{Op::insert, 1, "a"}, {Op::insert, 2, "b"}, {Op::insert, 3, "c"}}, false));
  writer->write(*kv_batch(
      schema,
      {{Op::update_before, 1, "a"}, {Op::update_after, 1, "A"}, {Op::remove, 2, nullptr}, {Op::insert, 4, nullptr}}));
  writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT id, v FROM kv ORDER BY id"),
            (std::vector<std::vector<std::string>>{{"1", "A"}, {"3", "c"}, {"4", "NULL"}}));

  // insert mode: a duplicate key is a data error naming the table and constraint.
  Error dup = expect_error([&] {
    writer->write(*kv_batch(schema, {{Op::insert, 5, "e"}, {Op::insert, 3, "x"}}, false));
  });
  EXPECT_EQ(dup.code(), Code::data);
  EXPECT_NE(std::string(dup.what()).find("UNIQUE constraint failed: kv.id"), std::string::npos) << dup.what();
  EXPECT_NE(std::string(dup.what()).find("row 1"), std::string::npos) << dup.what();
  EXPECT_EQ(dup.context(), "sink=sqlite path=" + dst + " table=main.kv");
  writer->rollback();
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "3") << "row 5 was rolled back";

  SinkConfig up = sink_config(dst);
  up.write_mode = "upsert";
  SqliteSink upsert_sink(up);
  auto up_writer = upsert_sink.open_writer(0);
  writer.reset();
  up_writer->write(*kv_batch(schema, {{Op::insert, 3, "C"}, {Op::insert, 6, "f"}}, false));
  up_writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT id, v FROM kv ORDER BY id"),
            (std::vector<std::vector<std::string>>{{"1", "A"}, {"3", "C"}, {"4", "NULL"}, {"6", "f"}}));
  EXPECT_EQ(query(dst, "SELECT rowid FROM kv WHERE id = 3").at(0).at(0), "3") << "updated in place";

  // Without any key, deletes cannot be applied.
  exec(dst, "CREATE TABLE nokey (id INTEGER, v TEXT)");
  auto nokey = make_schema("nokey", {{"id", type(TypeId::int64)}, {"v", type(TypeId::string)}});
  upsert_sink.prepare_table(*nokey);
  up_writer->write(*kv_batch(nokey, {{Op::insert, 1, "a"}, {Op::update_after, 1, "b"}}, true));
  up_writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT count(*) FROM nokey").at(0).at(0), "2") << "INSERT OR REPLACE has nothing to replace on";
  Error del = expect_error([&] { up_writer->write(*kv_batch(nokey, {{Op::remove, 1, nullptr}})); });
  EXPECT_EQ(del.code(), Code::unsupported);
  up_writer->rollback();
}

// write_mode changelog appends every change with its op, position and order;
// a transaction's first batches learn its position at its end.
TEST(SqliteSink, ChangelogAppendsEveryChangeWithItsPosition) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  auto schema = make_schema("kv", {{"id", type(TypeId::int64), false}, {"v", type(TypeId::string)}}, {0});
  SinkConfig config = sink_config(dst);
  config.write_mode = "changelog";
  SqliteSink sink(config);
  sink.prepare_table(*schema);
  auto writer = sink.open_writer(0);
  using model::Op;
  auto open = kv_batch(schema, {{Op::insert, 1, "a"}, {Op::insert, 1, "b"}});
  open->position = {};
  open->transaction_open = true;
  writer->write(*open);
  writer->write(*kv_batch(schema, {{Op::update_before, 1, "a"}, {Op::update_after, 1, "A"}, {Op::remove, 1, nullptr}}));
  auto rest = kv_batch(schema, {{Op::insert, 2, "c"}});
  rest->position = {};
  rest->transaction_open = true;
  writer->write(*rest);
  std::vector<model::Position> positions = {{"cdc", "0/20", false}};
  writer->commit(&positions);
  EXPECT_EQ(query(dst, "SELECT id, ifnull(v, 'NULL'), _ds_op, _ds_position, _ds_seq FROM kv ORDER BY rowid"),
            (std::vector<std::vector<std::string>>{{"1", "a", "+I", "rowid=1", "0"},
                                                   {"1", "b", "+I", "rowid=1", "1"},
                                                   {"1", "a", "-U", "rowid=1", "2"},
                                                   {"1", "A", "+U", "rowid=1", "3"},
                                                   {"1", "NULL", "-D", "rowid=1", "4"},
                                                   {"2", "c", "+I", "0/20", "5"}}));
  EXPECT_EQ(query(dst, "SELECT position FROM _datasync_checkpoint WHERE stream = 'cdc'").at(0).at(0), "0/20");
  model::SchemaChange truncate;
  truncate.kind = model::SchemaChangeKind::truncate_table;
  truncate.table = schema->id;
  truncate.schema_after = schema;
  EXPECT_NE(sink.apply_schema_change(truncate), "");
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "6");
}

TEST(SqliteSink, BusyDatabaseIsARetriableTimeout) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  auto schema = make_schema("kv", {{"id", type(TypeId::int64), false}, {"v", type(TypeId::string)}}, {0});
  SinkConfig cfg = sink_config(dst);
  cfg.busy_timeout_ms = 50;
  SqliteSink sink(cfg);
  sink.prepare_table(*schema);
  sqlite3 *other = nullptr;
  ASSERT_EQ(sqlite3_open(dst.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto writer = sink.open_writer(0);
  Error e = expect_error([&] { writer->write(*kv_batch(schema, {{model::Op::insert, 1, "a"}}, false)); });
  EXPECT_EQ(e.code(), Code::timeout);
  EXPECT_TRUE(e.retriable());
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  writer->rollback();
  writer->write(*kv_batch(schema, {{model::Op::insert, 1, "a"}}, false));
  writer->commit(nullptr);
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "1");
}

// ------------------------------------------------------------- checkpoints

TEST(SqliteSink, CheckpointCommitsWithTheDataAndNotAfterRollback) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  auto schema = make_schema("kv", {{"id", type(TypeId::int64), false}, {"v", type(TypeId::string)}}, {0});
  SqliteSink sink(sink_config(dst, "pipe"));
  sink.prepare_table(*schema);
  auto writer = sink.open_writer(0);
  using model::Op;

  writer->write(*kv_batch(schema, {{Op::insert, 1, "a"}, {Op::insert, 2, "b"}}, false));
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "0") << "nothing visible before commit";
  std::vector<model::Position> first = {{"main.src#0", "rowid=2", false}, {"main.src#1", "rowid=90", true}};
  writer->commit(&first);
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "2");
  EXPECT_EQ(query(dst, "SELECT pipeline, stream, position, done FROM _datasync_checkpoint ORDER BY stream"),
            (std::vector<std::vector<std::string>>{{"pipe", "main.src#0", "rowid=2", "0"},
                                                   {"pipe", "main.src#1", "rowid=90", "1"}}));

  writer->write(*kv_batch(schema, {{Op::insert, 3, "c"}}, false));
  writer->rollback();
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "2");
  EXPECT_EQ(query(dst, "SELECT position FROM _datasync_checkpoint WHERE stream = 'main.src#0'").at(0).at(0), "rowid=2");

  // A failed transaction leaves neither its rows nor its checkpoint.
  writer->write(*kv_batch(schema, {{Op::insert, 3, "c"}}, false));
  EXPECT_THROW(writer->write(*kv_batch(schema, {{Op::insert, 1, "dup"}}, false)), Error);
  writer->rollback();
  std::vector<model::Position> second = {{"main.src#0", "rowid=3", true}};
  writer->write(*kv_batch(schema, {{Op::insert, 3, "c"}}, false));
  writer->commit(&second);
  auto store = sink.open_checkpoint_store("pipe");
  model::CheckpointState state = store->load();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state["main.src#0"].value, "rowid=3");
  EXPECT_TRUE(state["main.src#0"].stream_done);
  EXPECT_EQ(state["main.src#0"].stream, "main.src#0");
  EXPECT_EQ(state["main.src#1"].value, "rowid=90");
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv").at(0).at(0), "3");

  // Rows and checkpoint share one transaction: when the checkpoint cannot be
  // written, the rows of that transaction are not committed either.
  exec(dst,
       "CREATE TRIGGER poison BEFORE INSERT ON _datasync_checkpoint WHEN NEW.position = 'poison'"
       " BEGIN SELECT RAISE(ABORT, 'poisoned checkpoint'); END;");
  writer->write(*kv_batch(schema, {{Op::insert, 50, "p"}}, false));
  std::vector<model::Position> poison = {{"main.src#9", "poison", false}};
  Error poisoned = expect_error([&] { writer->commit(&poison); });
  EXPECT_NE(std::string(poisoned.what()).find("poisoned checkpoint"), std::string::npos) << poisoned.what();
  writer->rollback();
  EXPECT_EQ(query(dst, "SELECT count(*) FROM kv WHERE id = 50").at(0).at(0), "0");
  EXPECT_EQ(store->load().count("main.src#9"), 0u);

  // Positions alone (no data staged) still commit.
  std::vector<model::Position> third = {{"main.src#2", "rowid=7", false}};
  writer->commit(&third);
  EXPECT_EQ(store->load().size(), 3u);
  writer->commit(nullptr);  // nothing staged: a no-op

  // The source never lists the checkpoint table.
  EXPECT_EQ(read_table(dst, ".*").at(0)->schema->id.table_name, "kv");
}

TEST(SqliteCheckpoint, SinkStoreLoadSaveClear) {
  TempDir dir;
  std::string dst = dir.file("dst.db");
  SqliteSink sink(sink_config(dst));
  auto a = sink.open_checkpoint_store("a");
  auto b = sink.open_checkpoint_store("b");
  EXPECT_TRUE(a->load().empty());
  a->save({{"s1", "rowid=5", false}, {"s2", "pk=[1,\"x\"]", true}});
  b->save({{"s1", "rowid=100", false}});
  a->save({{"s1", "rowid=9", false}});  // merges: s2 stays
  auto state = a->load();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state["s1"].value, "rowid=9");
  EXPECT_FALSE(state["s1"].stream_done);
  EXPECT_EQ(state["s2"].value, "pk=[1,\"x\"]");
  EXPECT_TRUE(state["s2"].stream_done);
  EXPECT_EQ(b->load()["s1"].value, "rowid=100");
  a->clear();
  EXPECT_TRUE(a->load().empty());
  EXPECT_EQ(b->load().size(), 1u) << "clear() is scoped to its pipeline";
  EXPECT_FALSE(query(dst, "SELECT updated_at FROM _datasync_checkpoint").at(0).at(0).empty());
}

TEST(SqliteCheckpoint, FileStoreIsDurableAcrossOpens) {
  TempDir dir;
  std::string path = dir.file("checkpoints.db");
  {
    auto store = open_file_checkpoint_store(path, "nightly");
    EXPECT_TRUE(store->load().empty());
    store->save({{"main.t#0", "rowid=10", false}, {"main.t#1", "rowid=20", true}});
  }
  auto store = open_file_checkpoint_store(path, "nightly");
  auto state = store->load();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state["main.t#0"].value, "rowid=10");
  EXPECT_TRUE(state["main.t#1"].stream_done);
  store->save({{"main.t#0", "rowid=11", true}});
  EXPECT_EQ(store->load()["main.t#0"].value, "rowid=11");
  auto other = open_file_checkpoint_store(path, "hourly");
  EXPECT_TRUE(other->load().empty());
  other->save({{"x", "y", false}});
  store->clear();
  EXPECT_TRUE(store->load().empty());
  EXPECT_EQ(other->load().size(), 1u);
  EXPECT_NE(open_file_checkpoint_store(dir.file("missing/dir/cp.db"), "p"), nullptr);
  EXPECT_EQ(expect_error([&] { open_file_checkpoint_store(dir.file("missing/dir/cp.db") + "/x/cp.db", "p"); }).code(),
            Code::io);
}

}  // namespace
