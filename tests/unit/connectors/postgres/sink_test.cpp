// The postgres sink against the real server of `scripts/db` (DS_PG_* variables).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "config/registry.hpp"
#include "connectors/postgres/checkpoint.hpp"
#include "connectors/postgres/copy_binary_encode.hpp"
#include "connectors/postgres/register.hpp"
#include "connectors/postgres/sink.hpp"
#include "model/error.hpp"
#include "pg_test_util.hpp"

namespace ds::connectors::postgres {
namespace {

using model::DataType;
using model::Op;
using model::TypeId;
using Rows = std::vector<std::vector<std::string>>;
__extension__ typedef __int128 int128;

DataType type(TypeId id, std::string source_name = "", int16_t precision = 0, int16_t scale = 0) {
  DataType t;
  t.id = id;
  t.precision = precision;
  t.scale = scale;
  t.source_name = std::move(source_name);
  return t;
}

model::ColumnSchema col(std::string name, DataType t, bool nullable = true) {
  model::ColumnSchema c;
  c.name = std::move(name);
  c.type = std::move(t);
  c.nullable = nullable;
  return c;
}

std::shared_ptr<model::TableSchema> table(std::string schema, std::string name, std::vector<model::ColumnSchema> cols,
                                          std::vector<int> pk = {}) {
  auto t = std::make_shared<model::TableSchema>();
  t->id.schema_name = std::move(schema);
  t->id.table_name = std::move(name);
  t->columns = std::move(cols);
  t->primary_key = std::move(pk);
  return t;
}

SinkConfig config_for(const test::pg::ScratchDb &db, std::string write_mode = "insert") {
  SinkConfig c;
  c.params = db.params();
  c.pipeline_name = "p1";
  c.write_mode = std::move(write_mode);
  return c;
}

void append_decimal(model::ColumnBuilder &b, int128 v) {
  uint8_t bytes[16];
  std::memcpy(bytes, &v, 16);
  b.append_fixed_bytes(bytes);
}

int128 pow10(int n) {
  int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

void append_interval(model::ColumnBuilder &b, int32_t months, int32_t days, int64_t nanos) {
  uint8_t bytes[16];
  std::memcpy(bytes, &months, 4);
  std::memcpy(bytes + 4, &days, 4);
  std::memcpy(bytes + 8, &nanos, 8);
  b.append_fixed_bytes(bytes);
}

void append_text(model::ColumnBuilder &b, const std::string &s) { b.append_bytes(s.data(), s.size()); }

Rows query_utc(const test::pg::ScratchDb &db, const std::string &sql) {
  return db.query("SET TIME ZONE 'UTC'; " + sql);
}

// Every engine type, one column each, keyed by id.
// `unknown_source` is the source spelling of the `unknown` column: "text" makes
// every column directly encodable, "inet" needs the staged cast.
std::shared_ptr<model::TableSchema> all_types_schema(const std::string &name = "all_types",
                                                     const std::string &unknown_source = "inet") {
  return table("app", name, {col("id", type(TypeId::int64), false), col("b", type(TypeId::boolean)),
                             col("i8", type(TypeId::int8)),         col("i16", type(TypeId::int16)),
                             col("i32", type(TypeId::int32)),       col("i64", type(TypeId::int64)),
                             col("u64", type(TypeId::uint64)),      col("f32", type(TypeId::float32)),
                             col("f64", type(TypeId::float64)),     col("dec", type(TypeId::decimal, "", 38, 10)),
                             col("s", type(TypeId::string)),        col("bin", type(TypeId::binary)),
                             col("d", type(TypeId::date)),          col("t", type(TypeId::time)),
                             col("ts", type(TypeId::timestamp)),    col("tstz", type(TypeId::timestamp_tz)),
                             col("iv", type(TypeId::interval)),     col("j", type(TypeId::json)),
                             col("u", type(TypeId::uuid)),          col("unk", type(TypeId::unknown, unknown_source))},
               {0});
}

std::shared_ptr<model::Batch> all_types_batch(const model::TableSchemaPtr &schema) {
  model::BatchBuilder bb(schema, 4);
  const int128 max38 = pow10(38) - 1;
  uint8_t uuid[16];
  for (int i = 0; i < 16; ++i) uuid[i] = static_cast<uint8_t>(i);
  const std::string bin("\x00\x01\xff\x00", 4);
  // Row 1: maxima.
  bb.column(0).append_int(1);
  bb.column(1).append_bool(true);
  bb.column(2).append_int(127);
  bb.column(3).append_int(32767);
  bb.column(4).append_int(2147483647);
  bb.column(5).append_int(std::numeric_limits<int64_t>::max());
  bb.column(6).append_fixed<uint64_t>(std::numeric_limits<uint64_t>::max());
  bb.column(7).append_double(1.5);
  bb.column(8).append_double(0.1);
  append_decimal(bb.column(9), max38);
  append_text(bb.column(10), "h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac\t\\\n\"x\"");
  append_text(bb.column(11), bin);
  bb.column(12).append_int(0);
  bb.column(13).append_fixed<int64_t>(86399999999LL);
  bb.column(14).append_fixed<int64_t>(1700000000123456LL);
  bb.column(15).append_fixed<int64_t>(0);
  append_interval(bb.column(16), 14, 3, 4500000000LL);
  append_text(bb.column(17), "{\"a\": [1, 2], \"\xc3\xa9\": null}");
  bb.column(18).append_fixed_bytes(uuid);
  append_text(bb.column(19), "192.168.0.1/24");
  bb.end_row();
  // Row 2: minima, negatives, before 1970.
  bb.column(0).append_int(2);
  bb.column(1).append_bool(false);
  bb.column(2).append_int(-128);
  bb.column(3).append_int(-32768);
  bb.column(4).append_int(-2147483647 - 1);
  bb.column(5).append_int(std::numeric_limits<int64_t>::min());
  bb.column(6).append_fixed<uint64_t>(0);
  bb.column(7).append_double(-3.25);
  bb.column(8).append_double(-1e300);
  append_decimal(bb.column(9), -max38);
  append_text(bb.column(10), "");
  append_text(bb.column(11), "");
  bb.column(12).append_int(-719162);  // 0001-01-01
  bb.column(13).append_fixed<int64_t>(0);
  bb.column(14).append_fixed<int64_t>(-1);
  bb.column(15).append_fixed<int64_t>(-86400000000LL * 365 * 100 - 1);
  append_interval(bb.column(16), -1, -2, -3000);
  append_text(bb.column(17), "[]");
  uuid[0] = 0xff;
  bb.column(18).append_fixed_bytes(uuid);
  append_text(bb.column(19), "::1");
  bb.end_row();
  // Row 3: small decimals; row 4: NULL everywhere but the key.
  bb.column(0).append_int(3);
  for (size_t c = 1; c < schema->columns.size(); ++c) {
    if (c == 9)
      append_decimal(bb.column(9), -1);
    else if (c == 5)
      bb.column(5).append_int(0);
    else
      bb.column(c).append_null();
  }
  bb.end_row();
  bb.column(0).append_int(4);
  for (size_t c = 1; c < schema->columns.size(); ++c) bb.column(c).append_null();
  bb.end_row();
  return bb.finish(model::Position{"s#0", "4", true});
}

const Rows kAllTypesExpected = {
    {"1",
     "true",
     "127",
     "32767",
     "2147483647",
     "9223372036854775807",
     "18446744073709551615",
     "1.5",
     "0.1",
     "9999999999999999999999999999.9999999999",
     "h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac\t\\\n\"x\"",
     "\\x0001ff00",
     "1970-01-01",
     "23:59:59.999999",
     "2023-11-14 22:13:20.123456",
     "1970-01-01 00:00:00+00",
     "1 year 2 mons 3 days 00:00:04.5",
     "{\"a\": [1, 2], \"\xc3\xa9\": null}",
     "00010203-0405-0607-0809-0a0b0c0d0e0f",
     "192.168.0.1/24"},
    {"2",
     "false",
     "-128",
     "-32768",
     "-2147483648",
     "-9223372036854775808",
     "0",
     "-3.25",
     "-1e+300",
     "-9999999999999999999999999999.9999999999",
     "",
     "\\x",
     "0001-01-01",
     "00:00:00",
     "1969-12-31 23:59:59.999999",
     "1870-01-24 23:59:59.999999+00",
     "-1 mons -2 days -00:00:00.000003",
     "[]",
     "ff010203-0405-0607-0809-0a0b0c0d0e0f",
     "::1/128"},
};

std::string all_types_select(const std::string &t) {
  return "SELECT id::text, b::text, i8::text, i16::text, i32::text, i64::text, u64::text, f32::text, f64::text, "
         "dec::text, s, bin::text, d::text, t::text, ts::text, tstz::text, iv::text, j::text, u::text, unk::text, "
         "(b IS NULL)::text, (s IS NULL)::text, (bin IS NULL)::text, (unk IS NULL)::text FROM " +
         t + " ORDER BY id";
}

void expect_all_types(const Rows &rows, const std::string &unknown_row2 = "::1/128") {
  ASSERT_EQ(rows.size(), 4u);
  for (size_t r = 0; r < 2; ++r)
    for (size_t c = 0; c < kAllTypesExpected[r].size(); ++c)
      EXPECT_EQ(rows[r][c], r == 1 && c == 19 ? unknown_row2 : kAllTypesExpected[r][c])
          << "row " << r << " column " << c;
  EXPECT_EQ(rows[2][9], "-0.0000000001");
  EXPECT_EQ(rows[2][5], "0");
  for (size_t r = 2; r < 4; ++r) {
    EXPECT_EQ(rows[r][20], "true");
    EXPECT_EQ(rows[r][21], "true");
    EXPECT_EQ(rows[r][22], "true");
    EXPECT_EQ(rows[r][23], "true");
  }
  EXPECT_EQ(rows[3][9], "");
}

TEST(PostgresSinkEncode, NumericDigits) {
  // 12345.678 at scale 3: digits 1 2345 6780, weight 1, dscale 3.
  std::string out;
  int128 v = 12345678;
  uint8_t bytes[16];
  std::memcpy(bytes, &v, 16);
  append_numeric(out, bytes, 3);
  const unsigned char expected[] = {0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c};
  ASSERT_EQ(out.size(), sizeof expected);
  EXPECT_EQ(std::memcmp(out.data(), expected, sizeof expected), 0);
  out.clear();
  v = 0;
  std::memcpy(bytes, &v, 16);
  append_numeric(out, bytes, 2);
  const unsigned char zero[] = {0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2};
  ASSERT_EQ(out.size(), sizeof zero);
  EXPECT_EQ(std::memcmp(out.data(), zero, sizeof zero), 0);
}

namespace {

// Every engine type through one write path: COPY (row_statement_rows 0: the
// direct COPY, or the stage where a column needs a cast) or prepared
// statements per row with binary parameters (small batches).
void every_engine_type_round_trips(int64_t row_statement_rows) {
  test::pg::ScratchDb db(row_statement_rows ? "sink_types_rows" : "sink_types");
  const std::string stages = "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_ds\\_stage%'";
  SinkConfig config = config_for(db);
  config.row_statement_rows = row_statement_rows;
  PostgresSink sink(config);
  // Every column directly encodable: straight COPY into the table, no staging table.
  auto direct = all_types_schema("all_types", "text");
  sink.prepare_table(*direct);
  auto w = sink.open_writer(0);
  w->write(*all_types_batch(direct));
  w->commit(nullptr);
  expect_all_types(query_utc(db, all_types_select("app.all_types")), "::1");
  EXPECT_EQ(db.scalar(stages), "0");

  // An unknown column into inet: staged as text and cast (or cast in the statement).
  auto schema = all_types_schema("all_types_inet", "inet");
  sink.prepare_table(*schema);
  w->write(*all_types_batch(schema));
  w->commit(nullptr);
  expect_all_types(query_utc(db, all_types_select("app.all_types_inet")));
  EXPECT_EQ(db.scalar(stages), row_statement_rows ? "0" : "1");

  // The same rows again through upserts land identically.
  SinkConfig upserts = config_for(db, "upsert");
  upserts.row_statement_rows = row_statement_rows;
  PostgresSink upsert(upserts);
  auto w2 = upsert.open_writer(0);
  w2->write(*all_types_batch(direct));
  w2->write(*all_types_batch(direct));
  w2->write(*all_types_batch(schema));
  w2->commit(nullptr);
  expect_all_types(query_utc(db, all_types_select("app.all_types")), "::1");
  expect_all_types(query_utc(db, all_types_select("app.all_types_inet")));
}

}  // namespace

TEST(PostgresSink, EveryEngineTypeRoundTripsThroughBinaryCopy) { every_engine_type_round_trips(0); }

TEST(PostgresSink, EveryEngineTypeRoundTripsThroughRowStatements) { every_engine_type_round_trips(16); }

TEST(PostgresSink, CreatedTableTypesFollowTheMapping) {
  test::pg::ScratchDb db("sink_ddl");
  PostgresSink sink(config_for(db));
  auto schema = all_types_schema();
  sink.prepare_table(*schema);
  Rows rows = db.query(
      "SELECT format_type(atttypid, atttypmod), attnotnull::text FROM pg_attribute"
      " WHERE attrelid = 'app.all_types'::regclass AND attnum > 0 ORDER BY attnum");
  std::vector<std::string> expected = {"bigint",
                                       "boolean",
                                       "smallint",
                                       "smallint",
                                       "integer",
                                       "bigint",
                                       "numeric(20,0)",
                                       "real",
                                       "double precision",
                                       "numeric(38,10)",
                                       "text",
                                       "bytea",
                                       "date",
                                       "time without time zone",
                                       "timestamp without time zone",
                                       "timestamp with time zone",
                                       "interval",
                                       "jsonb",
                                       "uuid",
                                       "inet"};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i][0], expected[i]) << i;
  EXPECT_EQ(rows[0][1], "true");
  EXPECT_EQ(rows[1][1], "false");
  EXPECT_EQ(db.scalar("SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                      "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'app.all_types'::regclass AND "
                      "i.indisprimary"),
            "id");
  // Preparing again checks the existing table instead.
  EXPECT_NO_THROW(sink.prepare_table(*schema));
}

TEST(PostgresSink, SameEngineSpellingsAreKept) {
  test::pg::ScratchDb db("sink_spell");
  db.exec("CREATE TYPE public.mood AS ENUM ('sad', 'happy')");
  SinkConfig cfg = config_for(db);
  cfg.schema = "copy";
  PostgresSink sink(cfg);
  auto schema = table(
      "src", "spell",
      {col("id", type(TypeId::int32, "integer"), false), col("name", type(TypeId::string, "character varying(20)")),
       col("price", type(TypeId::decimal, "numeric(12,2)", 12, 2)),
       col("big", type(TypeId::int64, "INTEGER")),  // SQLite's spelling: not an int8, so bigint
       col("tags", type(TypeId::unknown, "integer[]")), col("m", type(TypeId::string, "mood")),
       col("odd", type(TypeId::string, "no_such_type(3)")),
       col("at", type(TypeId::timestamp_tz, "timestamp with time zone")), col("r", type(TypeId::float64, "REAL")),
       // MariaDB spellings: syntax errors to to_regtype(), so mapped.
       col("u", type(TypeId::int64, "int(10) unsigned")), col("e", type(TypeId::string, "enum('a','b')"))},
      {0});
  sink.prepare_table(*schema);
  Rows rows = db.query(
      "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'copy.spell'::regclass AND attnum > "
      "0 ORDER BY attnum");
  std::vector<std::string> expected = {
      "integer", "character varying(20)",    "numeric(12,2)",    "bigint", "integer[]", "mood",
      "text",    "timestamp with time zone", "double precision", "bigint", "text"};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i][0], expected[i]) << i;

  model::BatchBuilder bb(schema, 1);
  bb.column(0).append_int(7);
  append_text(bb.column(1), "twenty chars max");
  append_decimal(bb.column(2), -123456);
  bb.column(3).append_int(5);
  append_text(bb.column(4), "{1,2,NULL}");
  append_text(bb.column(5), "happy");
  append_text(bb.column(6), "x");
  bb.column(7).append_fixed<int64_t>(-1000000);
  bb.column(8).append_double(2.5);
  bb.column(9).append_int(4294967295);
  append_text(bb.column(10), "b");
  bb.end_row();
  auto w = sink.open_writer(0);
  w->write(*bb.finish({}));
  w->commit(nullptr);
  Rows back = query_utc(db,
                        "SELECT id::text, name, price::text, big::text, tags::text, m::text, odd, at::text, "
                        "r::text, u::text, e FROM copy.spell");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], (std::vector<std::string>{"7", "twenty chars max", "-1234.56", "5", "{1,2,NULL}", "happy", "x",
                                               "1969-12-31 23:59:59+00", "2.5", "4294967295", "b"}));
}

TEST(PostgresSink, MisfitsAreSchemaErrors) {
  test::pg::ScratchDb db("sink_misfit");
  db.exec("CREATE TABLE public.t (id bigint PRIMARY KEY, flag boolean, note text)");
  PostgresSink sink(config_for(db));
  auto missing = table("public", "t", {col("id", type(TypeId::int64)), col("extra", type(TypeId::string))});
  try {
    sink.prepare_table(*missing);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find("public.t"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("extra"), std::string::npos) << e.what();
  }
  auto incompatible = table("public", "t", {col("id", type(TypeId::int64)), col("flag", type(TypeId::int64))});
  try {
    sink.prepare_table(*incompatible);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    std::string m = e.what();
    EXPECT_NE(m.find("public.t"), std::string::npos) << m;
    EXPECT_NE(m.find("flag"), std::string::npos) << m;
    EXPECT_NE(m.find("boolean"), std::string::npos) << m;
    EXPECT_NE(m.find("int64"), std::string::npos) << m;
  }
  // The writer checks the same when it sees the table first.
  auto w = sink.open_writer(0);
  model::BatchBuilder bb(incompatible, 1);
  bb.column(0).append_int(1);
  bb.column(1).append_int(1);
  bb.end_row();
  try {
    w->write(*bb.finish({}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
  }
  w->rollback();

  db.exec("CREATE TABLE public.u (id bigint, required_col text NOT NULL, defaulted text NOT NULL DEFAULT 'x')");
  auto lacks = table("public", "u", {col("id", type(TypeId::int64))});
  try {
    sink.prepare_table(*lacks);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find("required_col"), std::string::npos) << e.what();
  }

  SinkConfig no_create = config_for(db);
  no_create.create_tables = false;
  PostgresSink strict(no_create);
  try {
    strict.prepare_table(*table("public", "absent", {col("id", type(TypeId::int64))}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find("public.absent"), std::string::npos) << e.what();
  }
}

TEST(PostgresSink, CompatibleExistingColumnsAreWrittenThroughCasts) {
  test::pg::ScratchDb db("sink_compat");
  db.exec(
      "CREATE TABLE public.c (id integer PRIMARY KEY, n numeric(10,1), v varchar(5), f double precision,"
      " ts timestamptz, x smallint)");
  PostgresSink sink(config_for(db));
  auto schema =
      table("public", "c",
            {col("id", type(TypeId::int16)), col("n", type(TypeId::int64)), col("v", type(TypeId::string)),
             col("f", type(TypeId::float32)), col("ts", type(TypeId::timestamp)), col("x", type(TypeId::int64))});
  sink.prepare_table(*schema);
  model::BatchBuilder bb(schema, 1);
  bb.column(0).append_int(3);
  bb.column(1).append_int(-42);
  append_text(bb.column(2), "abc");
  bb.column(3).append_double(0.5);
  bb.column(4).append_fixed<int64_t>(0);
  bb.column(5).append_int(300);
  bb.end_row();
  auto w = sink.open_writer(0);
  w->write(*bb.finish({}));
  w->commit(nullptr);
  EXPECT_EQ(query_utc(db, "SELECT id::text, n::text, v, f::text, ts::text, x::text FROM public.c"),
            (Rows{{"3", "-42.0", "abc", "0.5", "1970-01-01 00:00:00+00", "300"}}));
  // A value the target cannot hold is a data error naming the table.
  model::BatchBuilder bad(schema, 1);
  bad.column(0).append_int(4);
  bad.column(1).append_int(1);
  append_text(bad.column(2), "too long text");
  bad.column(3).append_double(0.5);
  bad.column(4).append_fixed<int64_t>(0);
  bad.column(5).append_int(1);
  bad.end_row();
  try {
    w->write(*bad.finish({}));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find("public.c"), std::string::npos) << e.what();
  }
  w->rollback();
}

std::shared_ptr<model::TableSchema> kv_schema() {
  return table("public", "kv", {col("k", type(TypeId::int64), false), col("v", type(TypeId::string))}, {0});
}

std::shared_ptr<model::Batch> kv_batch(const model::TableSchemaPtr &s,
                                       const std::vector<std::pair<int64_t, std::string>> &rows,
                                       const std::vector<Op> &ops = {}, model::Position pos = {}) {
  model::BatchBuilder bb(s, static_cast<int64_t>(rows.size()), !ops.empty());
  for (size_t i = 0; i < rows.size(); ++i) {
    bb.column(0).append_int(rows[i].first);
    if (rows[i].second == "<null>")
      bb.column(1).append_null();
    else
      append_text(bb.column(1), rows[i].second);
    bb.end_row(ops.empty() ? Op::insert : ops[i]);
  }
  return bb.finish(std::move(pos));
}

namespace {

// Changes through one write path: the stage (row_statement_rows 0) or
// prepared statements per row (small batches).
void updates_and_deletes_apply_in_order(int64_t row_statement_rows) {
  test::pg::ScratchDb db(row_statement_rows ? "sink_ops_rows" : "sink_ops");
  SinkConfig config = config_for(db);
  config.row_statement_rows = row_statement_rows;
  PostgresSink sink(config);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}, {2, "b"}, {3, "c"}}));
  w->commit(nullptr);
  w->write(*kv_batch(
      s, {{4, "d"}, {2, "b"}, {2, "B"}, {3, ""}, {5, "e"}, {5, ""}, {1, ""}, {1, "A"}},
      {Op::insert, Op::update_before, Op::update_after, Op::remove, Op::insert, Op::remove, Op::remove, Op::insert}));
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.kv ORDER BY k"), (Rows{{"1", "A"}, {"2", "B"}, {"4", "d"}}));
  // Every key once (the stage is applied without DISTINCT ON).
  w->write(*kv_batch(s, {{7, "g"}, {4, ""}, {2, "BB"}}, {Op::insert, Op::remove, Op::update_after}));
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.kv ORDER BY k"), (Rows{{"1", "A"}, {"2", "BB"}, {"7", "g"}}));
  w->write(*kv_batch(s, {{4, "d"}, {2, "B"}}, {Op::insert, Op::update_after}));
  w->write(*kv_batch(s, {{7, ""}}, {Op::remove}));
  w->commit(nullptr);

  // A duplicate key in insert mode is a data error naming the table.
  try {
    w->write(*kv_batch(s, {{4, "again"}}));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find("public.kv"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("datasync@"), std::string::npos);
  }
  w->rollback();
  // The writer goes on after the failed transaction (its prepared statements too).
  w->write(*kv_batch(s, {{8, "h"}}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT v FROM public.kv WHERE k = 8"), "h");
  w->write(*kv_batch(s, {{8, ""}}, {Op::remove}));
  w->commit(nullptr);

  // Upsert mode: plain batches update existing keys.
  SinkConfig upserts = config_for(db, "upsert");
  upserts.row_statement_rows = row_statement_rows;
  PostgresSink upsert(upserts);
  auto w2 = upsert.open_writer(1);
  w2->write(*kv_batch(s, {{4, "D"}, {6, "<null>"}, {6, "f"}}));
  w2->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, coalesce(v, 'NULL') FROM public.kv ORDER BY k"),
            (Rows{{"1", "A"}, {"2", "B"}, {"4", "D"}, {"6", "f"}}));
  // Deletes need a key.
  db.exec("CREATE TABLE public.nokey (k bigint, v text)");
  auto nk = table("public", "nokey", {col("k", type(TypeId::int64)), col("v", type(TypeId::string))});
  try {
    w2->write(*kv_batch(nk, {{1, "x"}}, {Op::remove}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::unsupported);
  }
  w2->rollback();
  w2->write(*kv_batch(nk, {{1, "x"}, {1, "x"}}));
  w2->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.nokey"), "2");
}

}  // namespace

TEST(PostgresSink, UpdatesAndDeletesGoThroughStaging) { updates_and_deletes_apply_in_order(0); }

TEST(PostgresSink, UpdatesAndDeletesGoThroughRowStatements) { updates_and_deletes_apply_in_order(16); }

// Change batches of one table share one stage until the commit: each key's
// last change since the stage opened is applied once; a key the stage saw
// inserted is inserted plainly (upserted when it is there after all) or not
// at all once deleted again; another table, rollback and upsert mode as usual.
TEST(PostgresSink, ChangeBatchesShareTheStageUntilTheCommit) {
  test::pg::ScratchDb db("sink_stage_open");
  SinkConfig config = config_for(db);
  config.row_statement_rows = 0;  // every batch through the stage
  PostgresSink sink(config);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}}));
  w->commit(nullptr);
  const Op I = Op::insert, U = Op::update_after, D = Op::remove;
  w->write(*kv_batch(s, {{11, "k"}, {12, "l"}, {1, "a1"}, {2, ""}}, {I, I, U, D}));
  w->write(*kv_batch(s, {{11, "k2"}, {12, ""}, {2, "b2"}, {1, "a2"}}, {U, D, I, U}));
  w->write(*kv_batch(s, {{11, ""}, {13, "m"}, {3, "c3"}, {13, "m2"}, {12, "l3"}}, {D, I, U, U, I}));
  // Nothing is applied before the commit; the writer's own transaction holds it.
  EXPECT_EQ(db.scalar("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM public.kv"), "1=a,2=b,3=c,4=d");
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.kv ORDER BY kv.k"),
            (Rows{{"1", "a2"}, {"2", "b2"}, {"3", "c3"}, {"4", "d"}, {"12", "l3"}, {"13", "m2"}}));

  // A stage that reaches stage_rows_limit is applied inside the transaction
  // and a new one opens: the same result, one commit.
  SinkConfig small = config;
  small.stage_rows_limit = 2;
  PostgresSink limited(small);
  auto w3 = limited.open_writer(2);
  w3->write(*kv_batch(s, {{20, "u"}, {21, "v"}, {22, "w"}}, {I, I, I}));
  w3->write(*kv_batch(s, {{20, "u2"}, {21, ""}, {1, "a3"}}, {U, D, U}));
  w3->write(*kv_batch(s, {{20, ""}, {21, "v3"}}, {D, I}));
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv WHERE k >= 20"), "0");
  w3->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM public.kv WHERE k >= 20 OR k = 1"),
            "1=a3,21=v3,22=w");

  // A stage open for kv is applied before another table's batch and after
  // it nothing is lost: both commit together.
  auto other = table("public", "other", {col("k", type(TypeId::int64), false), col("v", type(TypeId::string))}, {0});
  sink.prepare_table(*other);
  w->write(*kv_batch(s, {{4, "d5"}, {14, "n"}}, {U, I}));
  w->write(*kv_batch(other, {{1, "o"}}, {I}));
  w->write(*kv_batch(s, {{14, "n2"}}, {U}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM public.kv WHERE k IN (4, 14)"),
            "4=d5,14=n2");
  EXPECT_EQ(db.scalar("SELECT v FROM public.other WHERE k = 1"), "o");

  // Rolled back with the stage open: nothing applied, and the writer goes on.
  w->write(*kv_batch(s, {{1, ""}, {15, "p"}}, {D, I}));
  w->rollback();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv WHERE k IN (1, 15)"), "1");

  // Insert mode: a change batch's insert of a key the target holds (a
  // replayed transaction) upserts it, like every change row; the rest of the
  // stage stays applied.
  w->write(*kv_batch(s, {{2, ""}, {3, "again"}, {17, "r"}}, {D, I, I}));
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.kv WHERE k IN (2, 3, 17) ORDER BY kv.k"),
            (Rows{{"3", "again"}, {"17", "r"}}));
  // A failure before the new keys' statement is not retried — not even
  // when an earlier stage of the same transaction had new keys.
  db.exec("ALTER TABLE public.kv ADD CONSTRAINT short_v CHECK (length(v) < 10)");
  try {
    w->write(*kv_batch(s, {{19, "t"}}, {I}));
    w->write(*kv_batch(other, {{2, "o2"}}, {I}));
    w->write(*kv_batch(s, {{3, "far too long"}, {18, "s"}}, {U, I}));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find("short_v"), std::string::npos) << e.what();
  }
  w->rollback();
  db.exec("ALTER TABLE public.kv DROP CONSTRAINT short_v");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv WHERE k IN (18, 19)"), "0");
  // Upsert mode: the same kind of batch updates the key.
  SinkConfig upserts = config_for(db, "upsert");
  upserts.row_statement_rows = 0;
  PostgresSink upsert(upserts);
  auto w2 = upsert.open_writer(1);
  w2->write(*kv_batch(s, {{17, ""}, {3, "again2"}, {16, "q"}, {16, ""}}, {D, I, I, D}));
  w2->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.kv WHERE k IN (3, 16, 17) ORDER BY kv.k"), (Rows{{"3", "again2"}}));
}

// write_mode changelog appends every change with its op, position and
// order; a transaction's first batches learn its position from its last
// batch, or from the commit when the last batch carried no rows.
TEST(PostgresSink, ChangelogAppendsEveryChangeWithItsPosition) {
  test::pg::ScratchDb db("sink_changelog");
  PostgresSink sink(config_for(db, "changelog"));
  auto s = kv_schema();
  sink.prepare_table(*s);
  // No key: a key changes many times.
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.kv'::regclass"), "0");
  auto w = sink.open_writer(0);
  auto open = kv_batch(s, {{1, "a"}, {2, "b"}}, {Op::insert, Op::insert});
  open->transaction_open = true;
  w->write(*open);
  w->write(*kv_batch(s, {{1, "a"}, {1, "A"}, {2, "b"}}, {Op::update_before, Op::update_after, Op::remove},
                     {"cdc", "0/10", false}));
  std::vector<model::Position> pos = {{"cdc", "0/10", false}};
  w->commit(&pos);
  // A transaction whose last batch is empty (never written): the commit's position.
  auto second = kv_batch(s, {{3, "c"}}, {Op::insert});
  second->transaction_open = true;
  w->write(*second);
  std::vector<model::Position> pos2 = {{"cdc", "0/20", false}, {"schema:public.kv", "k\tint64", false}};
  w->commit(&pos2);
  // Rolled back rows leave nothing, and the next transaction counts from 0 again.
  auto dropped = kv_batch(s, {{9, "x"}}, {Op::insert});
  dropped->transaction_open = true;
  w->write(*dropped);
  w->rollback();
  w->write(*kv_batch(s, {{3, "<null>"}}, {Op::remove}, {"cdc", "0/30", false}));
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k::text, coalesce(v, 'NULL'), _ds_op, _ds_position, _ds_seq::text FROM public.kv "
                     "ORDER BY _ds_position, _ds_seq"),
            (Rows{{"1", "a", "+I", "0/10", "0"},
                  {"2", "b", "+I", "0/10", "1"},
                  {"1", "a", "-U", "0/10", "2"},
                  {"1", "A", "+U", "0/10", "3"},
                  {"2", "b", "-D", "0/10", "4"},
                  {"3", "c", "+I", "0/20", "0"},
                  {"3", "NULL", "-D", "0/30", "0"}}));
  EXPECT_EQ(db.scalar("SELECT position FROM public._datasync_checkpoint WHERE stream = 'cdc'"), "0/20");

  // An existing change log is checked like any target: its metadata columns must be there.
  db.exec("CREATE TABLE public.plain (k bigint, v text)");
  auto plain = table("public", "plain", {col("k", type(TypeId::int64), false), col("v", type(TypeId::string))}, {0});
  try {
    sink.prepare_table(*plain);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find("_ds_op"), std::string::npos) << e.what();
  }
  // Truncates keep the log; other changes reach it.
  model::SchemaChange truncate;
  truncate.kind = model::SchemaChangeKind::truncate_table;
  truncate.table = s->id;
  truncate.schema_after = s;
  EXPECT_NE(sink.apply_schema_change(truncate), "");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "7");
  auto wider = table(
      "public", "kv",
      {col("k", type(TypeId::int64), false), col("v", type(TypeId::string)), col("w", type(TypeId::int32), false)},
      {0});
  model::SchemaChange add;
  add.kind = model::SchemaChangeKind::add_column;
  add.table = s->id;
  add.schema_after = wider;
  add.column = "w";
  add.new_type = type(TypeId::int32);
  EXPECT_EQ(sink.apply_schema_change(add), "");
  EXPECT_EQ(db.scalar("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'public.kv'::regclass AND "
                      "attname = 'w'"),
            "false");
}

TEST(PostgresSink, CheckpointsCommitWithTheDataAndVanishOnRollback) {
  test::pg::ScratchDb db("sink_ckpt");
  PostgresSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  std::vector<model::Position> pos = {{"public.kv#0", "k=1", false}, {"public.kv#1", "k=9", true}};
  w->commit(&pos);
  EXPECT_EQ(db.query("SELECT pipeline, stream, position, done::text FROM public._datasync_checkpoint ORDER BY stream"),
            (Rows{{"p1", "public.kv#0", "k=1", "false"}, {"p1", "public.kv#1", "k=9", "true"}}));

  w->write(*kv_batch(s, {{2, "b"}}));
  std::vector<model::Position> later = {{"public.kv#0", "k=2", true}};
  // Rolled back: neither the row nor the position.
  w->rollback();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "1");
  EXPECT_EQ(db.scalar("SELECT position FROM public._datasync_checkpoint WHERE stream = 'public.kv#0'"), "k=1");
  w->write(*kv_batch(s, {{2, "b"}}));
  w->commit(&later);
  EXPECT_EQ(db.scalar("SELECT position || done::text FROM public._datasync_checkpoint WHERE stream = 'public.kv#0'"),
            "k=2true");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "2");

  // The store reads the same table.
  auto store = sink.open_checkpoint_store("p1");
  model::CheckpointState st = store->load();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st["public.kv#0"].value, "k=2");
  EXPECT_TRUE(st["public.kv#0"].stream_done);
  EXPECT_EQ(st["public.kv#1"].value, "k=9");
  store->save({{"other", "x\"y\\z,{}", false}, {"other", "last", false}});
  st = store->load();
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st["other"].value, "last");
  auto other = sink.open_checkpoint_store("p2");
  EXPECT_TRUE(other->load().empty());
  other->save({{"s", "v", true}});
  store->clear();
  EXPECT_TRUE(store->load().empty());
  EXPECT_EQ(other->load().size(), 1u);
}

TEST(PostgresSink, CheckpointSchemaIsConfigurable) {
  test::pg::ScratchDb db("sink_ckschema");
  SinkConfig cfg = config_for(db);
  cfg.checkpoint_schema = "ds_meta";
  PostgresSink sink(cfg);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  std::vector<model::Position> pos = {{"x", "1", false}};
  w->commit(&pos);
  EXPECT_EQ(db.scalar("SELECT position FROM ds_meta._datasync_checkpoint"), "1");
  EXPECT_EQ(sink.open_checkpoint_store("p1")->load().size(), 1u);
}

TEST(PostgresSink, LargeBatchesAreStreamedInChunks) {
  test::pg::ScratchDb db("sink_large");
  PostgresSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  model::BatchBuilder bb(s, 50000);
  std::string big(100, 'x');
  for (int64_t i = 0; i < 50000; ++i) {
    bb.column(0).append_int(i);
    append_text(bb.column(1), big);
    bb.end_row();
  }
  auto w = sink.open_writer(0);
  w->write(*bb.finish({}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT count(*)::text || ',' || sum(k)::text || ',' || sum(length(v))::text FROM public.kv"),
            "50000,1249975000,5000000");
}

TEST(PostgresSink, SchemaChangesAreAppliedAsDdl) {
  test::pg::ScratchDb db("sink_ddlchange");
  SinkConfig cfg = config_for(db);
  cfg.evolution = "evolve";
  PostgresSink sink(cfg);
  auto s = kv_schema();
  model::SchemaChange create;
  create.kind = model::SchemaChangeKind::create_table;
  create.table = s->id;
  create.schema_after = s;
  sink.apply_schema_change(create);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  w->commit(nullptr);

  model::SchemaChange add;
  add.kind = model::SchemaChangeKind::add_column;
  add.table = s->id;
  add.column = "amount";
  add.new_type = type(TypeId::decimal, "", 12, 2);
  sink.apply_schema_change(add);
  model::SchemaChange rename;
  rename.kind = model::SchemaChangeKind::rename_column;
  rename.table = s->id;
  rename.column = "v";
  rename.new_name = "label";
  sink.apply_schema_change(rename);
  EXPECT_EQ(db.scalar("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)"
                      " FROM pg_attribute WHERE attrelid = 'public.kv'::regclass AND attnum > 0 AND NOT attisdropped"),
            "k bigint, label text, amount numeric(12,2)");
  model::SchemaChange alter;
  alter.kind = model::SchemaChangeKind::alter_column_type;
  alter.table = s->id;
  alter.column = "amount";
  alter.new_type = type(TypeId::decimal, "", 20, 4);
  EXPECT_EQ(sink.apply_schema_change(alter), "");
  EXPECT_EQ(
      db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.kv'::regclass "
                "AND attname = 'amount'"),
      "numeric(20,4)");
  model::SchemaChange drop;
  drop.kind = model::SchemaChangeKind::drop_column;
  drop.table = s->id;
  drop.column = "amount";
  sink.apply_schema_change(drop);
  model::SchemaChange trunc;
  trunc.kind = model::SchemaChangeKind::truncate_table;
  trunc.table = s->id;
  sink.apply_schema_change(trunc);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "0");
  model::SchemaChange dropt;
  dropt.kind = model::SchemaChangeKind::drop_table;
  dropt.table = s->id;
  sink.apply_schema_change(dropt);
  EXPECT_EQ(db.scalar("SELECT to_regclass('public.kv') IS NULL"), "t");
}

TEST(PostgresSink, EvolutionPoliciesDecideWhatChanges) {
  test::pg::ScratchDb db("sink_policies");
  auto s = kv_schema();
  model::SchemaChange create;
  create.kind = model::SchemaChangeKind::create_table;
  create.table = s->id;
  create.schema_after = s;
  PostgresSink lenient(config_for(db));  // the default
  lenient.apply_schema_change(create);
  model::SchemaChange drop;
  drop.kind = model::SchemaChangeKind::drop_column;
  drop.table = s->id;
  drop.column = "v";
  EXPECT_NE(lenient.apply_schema_change(drop).find("kept"), std::string::npos);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.kv'::regclass AND attname = 'v' "
                      "AND NOT attisdropped"),
            "1");
  SinkConfig cfg = config_for(db);
  cfg.evolution = "exception";
  PostgresSink strict(cfg);
  try {
    strict.apply_schema_change(drop);
    FAIL() << "exception policy must fail";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
  }
  cfg.evolution = "try_evolve";
  PostgresSink trying(cfg);
  model::SchemaChange rename = drop;
  rename.kind = model::SchemaChangeKind::rename_column;
  rename.column = "no_such_column";
  rename.new_name = "x";
  EXPECT_NE(trying.apply_schema_change(rename).find("failed and was skipped"), std::string::npos);
  cfg.evolution = "ignore";
  PostgresSink ignoring(cfg);
  EXPECT_NE(ignoring.apply_schema_change(drop).find("ignored"), std::string::npos);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.kv'::regclass AND attname = 'v' "
                      "AND NOT attisdropped"),
            "1");
}

TEST(PostgresSink, WrongPasswordIsAnAuthErrorWithoutThePassword) {
  test::pg::ScratchDb db("sink_auth");
  SinkConfig cfg = config_for(db);
  cfg.params.password = "Wr0ng-Secret-Pw";
  PostgresSink sink(cfg);
  EXPECT_EQ(sink.describe().find("Wr0ng"), std::string::npos);
  EXPECT_NE(sink.describe().find("database=" + db.name()), std::string::npos);
  try {
    sink.prepare_table(*kv_schema());
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::auth);
    EXPECT_EQ(std::string(e.what()).find("Wr0ng-Secret-Pw"), std::string::npos) << e.what();
    EXPECT_EQ(e.context().find("Wr0ng-Secret-Pw"), std::string::npos) << e.context();
  }
  SinkConfig nodb = config_for(db);
  nodb.params.database = "ds_no_such_database";
  PostgresSink missing(nodb);
  try {
    missing.open_writer(0)->write(*kv_batch(kv_schema(), {{1, "a"}}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find("ds_no_such_database"), std::string::npos) << e.what();
  }
}

TEST(PostgresSink, LanesWriteConcurrentlyIntoOneTable) {
  test::pg::ScratchDb db("sink_lanes");
  PostgresSink sink(config_for(db));
  EXPECT_EQ(sink.max_lanes(), 8);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto a = sink.open_writer(0), b = sink.open_writer(1);
  a->write(*kv_batch(s, {{1, "a"}}));
  b->write(*kv_batch(s, {{2, "b"}}));
  std::vector<model::Position> pa = {{"a", "1", true}}, pb = {{"b", "2", true}};
  a->commit(&pa);
  b->commit(&pb);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "2");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public._datasync_checkpoint"), "2");
}

TEST(PostgresSink, LostConnectionIsRetriableAndTheWriterReconnects) {
  test::pg::ScratchDb db("sink_lost");
  PostgresSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  test::pg::RawConn admin;
  admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db.name() +
             "' AND application_name = 'ds_unit_tests'");
  try {
    w->write(*kv_batch(s, {{2, "b"}}));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::connection) << e.what();
    EXPECT_TRUE(e.retriable());
  }
  w->rollback();
  w->write(*kv_batch(s, {{1, "a"}, {2, "b"}}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM public.kv"), "2");
}

TEST(PostgresSink, RegistersItsKeys) {
  register_sink_type();
  const config::ConnectorKeys *keys = config::Registry::instance().connector("sink", "postgres");
  ASSERT_NE(keys, nullptr);
  std::map<std::string, const config::KeySpec *> by_name;
  for (const auto &k : keys->keys) by_name[k.name] = &k;
  for (const char *name : {"host", "port", "user", "password", "database", "schema", "create_tables", "write_mode",
                           "connect_timeout", "checkpoint_schema"})
    EXPECT_TRUE(by_name.count(name)) << name;
  EXPECT_TRUE(by_name["password"]->secret);
  EXPECT_TRUE(by_name["user"]->required);
  EXPECT_TRUE(by_name["database"]->required);
  EXPECT_EQ(by_name["port"]->default_value, "5432");
  EXPECT_EQ(by_name["host"]->default_value, "127.0.0.1");
  EXPECT_EQ(by_name["write_mode"]->choices, (std::vector<std::string>{"insert", "upsert", "changelog"}));
  EXPECT_EQ(by_name["connect_timeout"]->default_value, "10");
}

TEST(PostgresSink, IdentityColumnsTakeTheSourceValues) {
  test::pg::ScratchDb db("sink_ident");
  db.exec("CREATE TABLE public.ident (k bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)");
  auto s = table("public", "ident", {col("k", type(TypeId::int64), false), col("v", type(TypeId::string))}, {0});
  for (const char *mode : {"insert", "upsert"}) {
    PostgresSink sink(config_for(db, mode));
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    w->write(*kv_batch(s, {{10, mode}, {20, mode}}));
    w->write(*kv_batch(s, {{20, ""}}, {Op::remove}));
    w->commit(nullptr);
  }
  EXPECT_EQ(db.query("SELECT k::text, v FROM public.ident ORDER BY k"), (Rows{{"10", "upsert"}}));
}

}  // namespace
}  // namespace ds::connectors::postgres
