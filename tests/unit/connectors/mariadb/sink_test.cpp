// The mariadb sink against the real server of `scripts/db` (DS_MARIADB_* variables).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "config/registry.hpp"
#include "connectors/mariadb/checkpoint.hpp"
#include "connectors/mariadb/encode.hpp"
#include "connectors/mariadb/register.hpp"
#include "connectors/mariadb/sink.hpp"
#include "mariadb_test_util.hpp"
#include "model/error.hpp"

namespace ds::connectors::mariadb {
namespace {

using model::DataType;
using model::InvalidValuePolicy;
using model::Op;
using model::TypeId;
using Rows = std::vector<std::vector<std::string>>;
using NullableRows = std::vector<std::vector<std::optional<std::string>>>;
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

std::shared_ptr<model::TableSchema> table(std::string name, std::vector<model::ColumnSchema> cols,
                                          std::vector<int> pk = {}) {
  auto t = std::make_shared<model::TableSchema>();
  t->id.schema_name = "src";  // ignored: every table goes into the sink's database
  t->id.table_name = std::move(name);
  t->columns = std::move(cols);
  t->primary_key = std::move(pk);
  return t;
}

SinkConfig config_for(const test::mariadb::ScratchDb &db, std::string write_mode = "insert",
                      InvalidValuePolicy policy = InvalidValuePolicy::error) {
  SinkConfig c;
  c.params = db.params();
  c.pipeline_name = "p1";
  c.write_mode = std::move(write_mode);
  c.invalid_values = policy;
  return c;
}

int128 pow10(int n) {
  int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

void append_decimal(model::ColumnBuilder &b, int128 v) {
  uint8_t bytes[16];
  std::memcpy(bytes, &v, 16);
  b.append_fixed_bytes(bytes);
}

void append_interval(model::ColumnBuilder &b, int32_t months, int32_t days, int64_t nanos) {
  uint8_t bytes[16];
  std::memcpy(bytes, &months, 4);
  std::memcpy(bytes + 4, &days, 4);
  std::memcpy(bytes + 8, &nanos, 8);
  b.append_fixed_bytes(bytes);
}

void append_text(model::ColumnBuilder &b, const std::string &s) { b.append_bytes(s.data(), s.size()); }

std::string hex(const std::string &bytes) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Every byte value, including \0 \t \n and \\ (the LOAD DATA escapes).
std::string every_byte() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s + std::string("\\N\\\t\n\0", 6);
}

// About 1 MB of UTF-8 with the escaped characters sprinkled in.
std::string big_text() {
  std::string unit = "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x8e\x89\t\\N\n\\";
  std::string s;
  while (s.size() < (1 << 20)) s += unit;
  return s;
}

std::string big_binary() {
  std::string s;
  for (int i = 0; s.size() < (1 << 20); ++i) s += static_cast<char>(i * 7 % 256);
  return s;
}

// Every engine type, one column each, keyed by id.
std::shared_ptr<model::TableSchema> all_types_schema(const std::string &name = "all_types") {
  return table(name,
               {col("id", type(TypeId::int64), false),
                col("b", type(TypeId::boolean)),
                col("i8", type(TypeId::int8)),
                col("i16", type(TypeId::int16)),
                col("i32", type(TypeId::int32)),
                col("i64", type(TypeId::int64)),
                col("u64", type(TypeId::uint64)),
                col("f32", type(TypeId::float32)),
                col("f64", type(TypeId::float64)),
                col("dec", type(TypeId::decimal, "", 38, 10)),
                col("dec0", type(TypeId::decimal, "", 38, 0)),
                col("dec30", type(TypeId::decimal, "", 38, 30)),
                col("s", type(TypeId::string)),
                col("bin", type(TypeId::binary)),
                col("d", type(TypeId::date)),
                col("t", type(TypeId::time)),
                col("ts", type(TypeId::timestamp)),
                col("tstz", type(TypeId::timestamp_tz)),
                col("iv", type(TypeId::interval)),
                col("j", type(TypeId::json)),
                col("u", type(TypeId::uuid)),
                col("unk", type(TypeId::unknown, "inet"))},
               {0});
}

std::shared_ptr<model::Batch> all_types_batch(const model::TableSchemaPtr &schema) {
  model::BatchBuilder bb(schema, 5);
  const int128 max38 = pow10(38) - 1;
  uint8_t uuid[16];
  for (int i = 0; i < 16; ++i) uuid[i] = static_cast<uint8_t>(i);
  // Row 1: maxima.
  bb.column(0).append_int(1);
  bb.column(1).append_bool(true);
  bb.column(2).append_int(127);
  bb.column(3).append_int(32767);
  bb.column(4).append_int(2147483647);
  bb.column(5).append_int(std::numeric_limits<int64_t>::max());
  bb.column(6).append_fixed<uint64_t>(std::numeric_limits<uint64_t>::max());
  bb.column(7).append_double(std::numeric_limits<float>::max());
  bb.column(8).append_double(0.1);
  append_decimal(bb.column(9), max38);
  append_decimal(bb.column(10), max38);
  append_decimal(bb.column(11), max38);
  append_text(bb.column(12), "h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89\t\\\n\"x\" \\N");
  append_text(bb.column(13), every_byte());
  bb.column(14).append_int(2932896);  // 9999-12-31
  bb.column(15).append_fixed<int64_t>(86399999999LL);
  bb.column(16).append_fixed<int64_t>(1700000000123456LL);
  bb.column(17).append_fixed<int64_t>(253402300799999999LL);  // 9999-12-31 23:59:59.999999
  append_interval(bb.column(18), 0, 34, 4500000000LL);        // 816:00:04.5
  append_text(bb.column(19), "{\"a\": [1, 2], \"\xc3\xa9\": null}");
  bb.column(20).append_fixed_bytes(uuid);
  append_text(bb.column(21), "192.168.0.1/24");
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
  append_decimal(bb.column(10), -max38);
  append_decimal(bb.column(11), -1);
  append_text(bb.column(12), "");
  append_text(bb.column(13), "");
  bb.column(14).append_int(-719162);  // 0001-01-01
  bb.column(15).append_fixed<int64_t>(0);
  bb.column(16).append_fixed<int64_t>(-1);
  bb.column(17).append_fixed<int64_t>(-62135596800000000LL);  // 0001-01-01 00:00:00
  append_interval(bb.column(18), 0, -34, -82799999999000LL);  // -838:59:59.999999
  append_text(bb.column(19), "[]");
  uuid[0] = 0xff;
  bb.column(20).append_fixed_bytes(uuid);
  append_text(bb.column(21), "::1");
  bb.end_row();
  // Row 3: small values; 1 MB text and blob.
  bb.column(0).append_int(3);
  bb.column(1).append_null();
  bb.column(2).append_int(0);
  bb.column(3).append_null();
  bb.column(4).append_int(-1);
  bb.column(5).append_int(0);
  bb.column(6).append_fixed<uint64_t>(9223372036854775808ULL);
  bb.column(7).append_double(1.17549435e-38f);
  bb.column(8).append_double(2.2250738585072014e-308);
  append_decimal(bb.column(9), -1);
  append_decimal(bb.column(10), 0);
  append_decimal(bb.column(11), 1);
  append_text(bb.column(12), big_text());
  append_text(bb.column(13), big_binary());
  bb.column(14).append_int(19782);  // 2024-02-29
  bb.column(15).append_fixed<int64_t>(1);
  bb.column(16).append_fixed<int64_t>(951825600000001LL);  // 2000-02-29 12:00:00.000001
  bb.column(17).append_fixed<int64_t>(0);
  append_interval(bb.column(18), 0, 0, -3000);  // -00:00:00.000003
  append_text(bb.column(19), "\"\\\\\"");
  bb.column(20).append_null();
  append_text(bb.column(21), "");
  bb.end_row();
  // Row 4: NULL everywhere but the key.
  bb.column(0).append_int(4);
  for (size_t c = 1; c < schema->columns.size(); ++c) bb.column(c).append_null();
  bb.end_row();
  return bb.finish(model::Position{"s#0", "4", true});
}

std::string all_types_select(const std::string &t) {
  return "SELECT id, b, i8, i16, i32, i64, u64, f32, f64, `dec`, dec0, dec30, s, HEX(bin), d, t, ts, tstz, iv, j, u, "
         "unk FROM " +
         t + " ORDER BY id";
}

void expect_all_types(const NullableRows &rows) {
  ASSERT_EQ(rows.size(), 4u);
  const std::string max38 = "99999999999999999999999999999999999999";
  const std::vector<std::string> row1 = {
      "1",
      "1",
      "127",
      "32767",
      "2147483647",
      "9223372036854775807",
      "18446744073709551615",
      "3.40282e38",
      "0.1",
      "9999999999999999999999999999.9999999999",
      max38,
      "99999999.999999999999999999999999999999",
      "h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89\t\\\n\"x\" \\N",
      hex(every_byte()),
      "9999-12-31",
      "23:59:59.999999",
      "2023-11-14 22:13:20.123456",
      "9999-12-31 23:59:59.999999",
      "816:00:04.500000",
      "{\"a\": [1, 2], \"\xc3\xa9\": null}",
      "00010203-0405-0607-0809-0a0b0c0d0e0f",
      "192.168.0.1/24"};
  const std::vector<std::string> row2 = {"2",
                                         "0",
                                         "-128",
                                         "-32768",
                                         "-2147483648",
                                         "-9223372036854775808",
                                         "0",
                                         "-3.25",
                                         "-1e300",
                                         "-9999999999999999999999999999.9999999999",
                                         "-" + max38,
                                         "-0.000000000000000000000000000001",
                                         "",
                                         "",
                                         "0001-01-01",
                                         "00:00:00.000000",
                                         "1969-12-31 23:59:59.999999",
                                         "0001-01-01 00:00:00.000000",
                                         "-838:59:59.999999",
                                         "[]",
                                         "ff010203-0405-0607-0809-0a0b0c0d0e0f",
                                         "::1"};
  for (size_t c = 0; c < row1.size(); ++c) {
    ASSERT_TRUE(rows[0][c].has_value()) << "row 1 column " << c;
    EXPECT_EQ(*rows[0][c], row1[c]) << "row 1 column " << c;
    ASSERT_TRUE(rows[1][c].has_value()) << "row 2 column " << c;
    EXPECT_EQ(*rows[1][c], row2[c]) << "row 2 column " << c;
  }
  const auto &r3 = rows[2];
  EXPECT_FALSE(r3[1].has_value());
  EXPECT_EQ(r3[2], "0");
  EXPECT_FALSE(r3[3].has_value());
  EXPECT_EQ(r3[6], "9223372036854775808");
  EXPECT_EQ(r3[7], "1.17549e-38");
  EXPECT_EQ(r3[8], "2.2250738585072014e-308");
  EXPECT_EQ(r3[9], "-0.0000000001");
  EXPECT_EQ(r3[10], "0");
  EXPECT_EQ(r3[11], "0.000000000000000000000000000001");
  ASSERT_TRUE(r3[12].has_value());
  EXPECT_TRUE(*r3[12] == big_text()) << "1 MB text differs (" << r3[12]->size() << " bytes back)";
  ASSERT_TRUE(r3[13].has_value());
  EXPECT_TRUE(*r3[13] == hex(big_binary())) << "1 MB blob differs";
  EXPECT_EQ(r3[14], "2024-02-29");
  EXPECT_EQ(r3[15], "00:00:00.000001");
  EXPECT_EQ(r3[16], "2000-02-29 12:00:00.000001");
  EXPECT_EQ(r3[17], "1970-01-01 00:00:00.000000");
  EXPECT_EQ(r3[18], "-00:00:00.000003");
  EXPECT_EQ(r3[19], "\"\\\\\"");
  EXPECT_FALSE(r3[20].has_value());
  EXPECT_EQ(r3[21], "");
  EXPECT_EQ(rows[3][0], "4");
  for (size_t c = 1; c < rows[3].size(); ++c) EXPECT_FALSE(rows[3][c].has_value()) << "row 4 column " << c;
}

TEST(MariadbSinkEncode, ValuesAsLoadDataText) {
  auto schema = table(
      "e", {col("dec", type(TypeId::decimal, "", 12, 3)), col("s", type(TypeId::string)),
            col("iv", type(TypeId::interval)), col("f", type(TypeId::float32)), col("ts", type(TypeId::timestamp))});
  model::BatchBuilder bb(schema, 2);
  append_decimal(bb.column(0), -12300);
  append_text(bb.column(1), std::string("a\\b\tc\nd\0e", 9));
  append_interval(bb.column(2), 0, 1, -1000);
  bb.column(3).append_double(0.1f);
  bb.column(4).append_fixed<int64_t>(-62135596800000000LL);
  bb.end_row();
  append_decimal(bb.column(0), 5);
  append_text(bb.column(1), "");
  append_interval(bb.column(2), 0, 0, 0);
  bb.column(3).append_double(-2.5f);
  bb.column(4).append_fixed<int64_t>(1);
  bb.end_row();
  auto batch = bb.finish({});
  std::vector<FieldPlan> plans;
  for (const auto &c : schema->columns) {
    FieldPlan p;
    p.type = c.type;
    p.name = c.name;
    plans.push_back(p);
  }
  LoadDataFeed feed(*batch, plans, FeedShape{}, InvalidValuePolicy::error);
  std::string text;
  char buf[7];  // a tiny buffer: values are cut across calls
  for (int n; (n = feed.produce(buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(text,
            "-12.300\ta\\\\b\\tc\\nd\\0e\t23:59:59.999999\t0.10000000149011612\t0001-01-01 00:00:00.000000\n"
            "0.005\t\t00:00:00.000000\t-2.5\t1970-01-01 00:00:00.000001\n");
  EXPECT_EQ(feed.rows_sent(), 2);
}

TEST(MariadbSink, EveryEngineTypeRoundTripsThroughLoadData) {
  test::mariadb::ScratchDb db("sink_types");
  MariadbSink sink(config_for(db));
  auto schema = all_types_schema();
  sink.prepare_table(*schema);
  auto w = sink.open_writer(0);
  w->write(*all_types_batch(schema));
  w->commit(nullptr);
  expect_all_types(db.query_nulls(all_types_select("all_types")));

  // The same rows through the staging table (upserts, twice) land identically.
  auto staged = all_types_schema("all_types_upsert");
  MariadbSink upsert(config_for(db, "upsert"));
  upsert.prepare_table(*staged);
  auto w2 = upsert.open_writer(0);
  w2->write(*all_types_batch(staged));
  w2->write(*all_types_batch(staged));
  w2->commit(nullptr);
  expect_all_types(db.query_nulls(all_types_select("all_types_upsert")));
}

TEST(MariadbSink, CreatedTableTypesFollowTheMapping) {
  test::mariadb::ScratchDb db("sink_ddl");
  MariadbSink sink(config_for(db));
  auto schema = all_types_schema();
  sink.prepare_table(*schema);
  Rows rows = db.query(
      "SELECT COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
      " AND TABLE_NAME = 'all_types' ORDER BY ORDINAL_POSITION");
  std::vector<std::string> expected = {"bigint(20)",
                                       "tinyint(1)",
                                       "tinyint(4)",
                                       "smallint(6)",
                                       "int(11)",
                                       "bigint(20)",
                                       "bigint(20) unsigned",
                                       "float",
                                       "double",
                                       "decimal(38,10)",
                                       "decimal(38,0)",
                                       "decimal(38,30)",
                                       "longtext",
                                       "longblob",
                                       "date",
                                       "time(6)",
                                       "datetime(6)",
                                       "datetime(6)",
                                       "time(6)",
                                       "longtext",
                                       "uuid",
                                       "longtext"};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i][0], expected[i]) << i;
  EXPECT_EQ(rows[0][1], "NO");
  EXPECT_EQ(rows[0][2], "PRI");
  EXPECT_EQ(rows[1][1], "YES");
  // json is MariaDB's longtext with a json_valid() check; the table is InnoDB, utf8mb4_bin.
  EXPECT_NE(db.scalar("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = "
                      "DATABASE() AND TABLE_NAME = 'all_types'")
                .find("json_valid"),
            std::string::npos);
  EXPECT_EQ(db.query("SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                     "AND TABLE_NAME = 'all_types'"),
            (Rows{{"InnoDB", "utf8mb4_bin"}}));
  // Preparing again checks the existing table instead.
  EXPECT_NO_THROW(sink.prepare_table(*schema));

  // String and binary keys get bounded types; the binary collation keeps 'a' and 'A' apart.
  auto keyed = table("keyed",
                     {col("k", type(TypeId::string), false), col("b", type(TypeId::binary), false),
                      col("v", type(TypeId::string, "character varying(20)"))},
                     {0, 1});
  sink.prepare_table(*keyed);
  EXPECT_EQ(db.query("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                     " AND TABLE_NAME = 'keyed' ORDER BY ORDINAL_POSITION"),
            (Rows{{"varchar(384)"}, {"varbinary(1536)"}, {"varchar(20)"}}));
  model::BatchBuilder bb(keyed, 2);
  for (const char *k : {"a", "A"}) {
    append_text(bb.column(0), k);
    append_text(bb.column(1), "x");
    append_text(bb.column(2), k);
    bb.end_row();
  }
  auto w = sink.open_writer(0);
  w->write(*bb.finish({}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM keyed"), "2");
}

TEST(MariadbSink, SourceSpellingsAreKeptWhenTheyHoldTheType) {
  test::mariadb::ScratchDb db("sink_spell");
  MariadbSink sink(config_for(db));
  auto schema =
      table("spell",
            {col("id", type(TypeId::int32, "int(11)"), false), col("u", type(TypeId::int64, "int(10) unsigned")),
             col("e", type(TypeId::string, "enum('a','b')")), col("bits", type(TypeId::unknown, "bit(12)")),
             col("big", type(TypeId::unknown, "decimal(65,30)")), col("geo", type(TypeId::binary, "geometry")),
             col("dt", type(TypeId::timestamp, "datetime(6)")), col("flag", type(TypeId::boolean, "tinyint(1)")),
             col("b1", type(TypeId::boolean, "bit(1)")), col("yr", type(TypeId::int16, "year(4)")),
             // Other dialects' spellings.
             col("name", type(TypeId::string, "character varying(20)")), col("txt", type(TypeId::string, "text")),
             col("at", type(TypeId::timestamp_tz, "timestamp with time zone")),
             col("dbl", type(TypeId::float64, "double precision")), col("dt0", type(TypeId::timestamp, "DATETIME")),
             col("r", type(TypeId::float32, "real")), col("n", type(TypeId::int64, "INTEGER")),
             col("ip", type(TypeId::string, "inet6"))},
            {0});
  sink.prepare_table(*schema);
  Rows rows = db.query(
      "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'spell'"
      " ORDER BY ORDINAL_POSITION");
  std::vector<std::string> expected = {"int(11)",     "int(10) unsigned", "enum('a','b')", "bit(12)", "decimal(65,30)",
                                       "geometry",    "datetime(6)",      "tinyint(1)",    "bit(1)",  "year(4)",
                                       "varchar(20)", "longtext",         "datetime(6)",   "double",  "datetime(6)",
                                       "float",       "bigint(20)",       "inet6"};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i][0], expected[i]) << i;

  const std::string point_wkb("\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40",
                              21);
  const std::string big = "-99999999999999999999999999999999999.999999999999999999999999999999";
  model::BatchBuilder bb(schema, 2);
  bb.column(0).append_int(7);
  bb.column(1).append_int(4294967295);
  append_text(bb.column(2), "b");
  append_text(bb.column(3), "111111111111");
  append_text(bb.column(4), big);
  append_text(bb.column(5), std::string(point_wkb.data(), 21));
  bb.column(6).append_fixed<int64_t>(1700000000123456LL);
  bb.column(7).append_bool(true);
  bb.column(8).append_bool(true);
  bb.column(9).append_int(2155);
  append_text(bb.column(10), "twenty chars max");
  append_text(bb.column(11), std::string(70000, 'x'));  // beyond a MariaDB text
  bb.column(12).append_fixed<int64_t>(-1000000);
  bb.column(13).append_double(2.5);
  bb.column(14).append_fixed<int64_t>(1500000);
  bb.column(15).append_double(0.1f);
  bb.column(16).append_int(-5);
  append_text(bb.column(17), "::1");
  bb.end_row();
  bb.column(0).append_int(8);
  bb.column(1).append_int(0);
  append_text(bb.column(2), "a");
  append_text(bb.column(3), "000000000101");
  append_text(bb.column(4), "0.000000000000000000000000000001");
  bb.column(5).append_null();
  bb.column(6).append_null();
  bb.column(7).append_bool(false);
  bb.column(8).append_bool(false);
  bb.column(9).append_int(1901);
  for (size_t c = 10; c < schema->columns.size(); ++c) bb.column(c).append_null();
  bb.end_row();
  auto batch = bb.finish({});
  for (const char *mode : {"insert", "upsert"}) {
    MariadbSink s(config_for(db, mode));
    auto w = s.open_writer(0);
    w->write(*batch);
    w->commit(nullptr);
    const NullableRows back = db.query_nulls(
        "SELECT id, u, e, bits + 0, BIN(bits), big, ST_AsText(geo), HEX(ST_AsBinary(geo)), dt, flag, b1 + 0, yr, name, "
        "LENGTH(txt), at, dbl, dt0, r, n, ip FROM spell ORDER BY id");
    ASSERT_EQ(back.size(), 2u) << mode;
    const std::vector<std::optional<std::string>> first = {"7",
                                                           "4294967295",
                                                           "b",
                                                           "4095",
                                                           "111111111111",
                                                           big,
                                                           "POINT(1 2)",
                                                           hex(point_wkb.substr(0, 21)),
                                                           "2023-11-14 22:13:20.123456",
                                                           "1",
                                                           "1",
                                                           "2155",
                                                           "twenty chars max",
                                                           "70000",
                                                           "1969-12-31 23:59:59.000000",
                                                           "2.5",
                                                           "1970-01-01 00:00:01.500000",
                                                           "0.1",
                                                           "-5",
                                                           "::1"};
    EXPECT_EQ(back[0], first) << mode;
    EXPECT_EQ(back[1][3], "5") << mode;
    EXPECT_EQ(back[1][4], "101") << mode;
    EXPECT_EQ(back[1][5], "0.000000000000000000000000000001") << mode;
    EXPECT_FALSE(back[1][6].has_value()) << mode;
    EXPECT_EQ(back[1][9], "0") << mode;
    EXPECT_EQ(back[1][10], "0") << mode;
    EXPECT_EQ(back[1][11], "1901") << mode;
    db.exec("DELETE FROM spell");
  }

  // A MariaDB source's own spellings mean what they say: text and datetime are kept.
  auto same = table("same",
                    {col("id", type(TypeId::int32, "int(11)"), false), col("t", type(TypeId::string, "text")),
                     col("d", type(TypeId::timestamp, "datetime")), col("ts", type(TypeId::timestamp_tz, "timestamp"))},
                    {0});
  same->source_dialect = "mariadb";
  sink.prepare_table(*same);
  EXPECT_EQ(db.query("SELECT COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                     " AND TABLE_NAME = 'same' ORDER BY ORDINAL_POSITION"),
            (Rows{{"int(11)", "NO"}, {"text", "YES"}, {"datetime", "YES"}, {"timestamp", "YES"}}));
}

TEST(MariadbSink, MisfitsAreSchemaErrors) {
  test::mariadb::ScratchDb db("sink_misfit");
  db.exec("CREATE TABLE t (id bigint PRIMARY KEY, flag tinyint(1), note text, g int AS (id * 2) VIRTUAL)");
  MariadbSink sink(config_for(db));
  auto missing = table("t", {col("id", type(TypeId::int64)), col("extra", type(TypeId::string))});
  try {
    sink.prepare_table(*missing);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find(db.name() + ".t"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("extra"), std::string::npos) << e.what();
  }
  auto incompatible = table("t", {col("id", type(TypeId::int64)), col("flag", type(TypeId::date))});
  try {
    sink.prepare_table(*incompatible);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    std::string m = e.what();
    EXPECT_NE(m.find("flag"), std::string::npos) << m;
    EXPECT_NE(m.find("tinyint(1)"), std::string::npos) << m;
    EXPECT_NE(m.find("date"), std::string::npos) << m;
  }
  auto generated = table("t", {col("id", type(TypeId::int64)), col("g", type(TypeId::int64))});
  try {
    sink.prepare_table(*generated);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find("generated"), std::string::npos) << e.what();
  }
  // Columns match case-insensitively; target columns the source lacks are fine when nullable.
  EXPECT_NO_THROW(sink.prepare_table(*table("t", {col("ID", type(TypeId::int64)), col("Note", type(TypeId::string))})));
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

  db.exec(
      "CREATE TABLE u (id bigint, required_col text NOT NULL, defaulted text NOT NULL DEFAULT 'x',"
      " auto bigint NOT NULL AUTO_INCREMENT UNIQUE)");
  try {
    sink.prepare_table(*table("u", {col("id", type(TypeId::int64))}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
    EXPECT_NE(std::string(e.what()).find("required_col"), std::string::npos) << e.what();
  }
  db.exec("CREATE VIEW v AS SELECT id FROM t");
  try {
    sink.prepare_table(*table("v", {col("id", type(TypeId::int64))}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::schema);
  }

  SinkConfig no_create = config_for(db);
  no_create.create_tables = false;
  MariadbSink strict(no_create);
  try {
    strict.prepare_table(*table("absent", {col("id", type(TypeId::int64))}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find(db.name() + ".absent"), std::string::npos) << e.what();
  }
}

std::shared_ptr<model::TableSchema> kv_schema(const std::string &name = "kv") {
  return table(name, {col("k", type(TypeId::int64), false), col("v", type(TypeId::string))}, {0});
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

TEST(MariadbSink, UpdatesAndDeletesGoThroughStaging) {
  test::mariadb::ScratchDb db("sink_ops");
  MariadbSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}, {2, "b"}, {3, "c"}}));
  w->commit(nullptr);
  w->write(*kv_batch(s,
                     {{4, "d"}, {2, "b"}, {2, "B"}, {3, ""}, {5, "e"}, {5, ""}, {1, ""}, {1, "A"}, {6, "x"}, {6, "y"}},
                     {Op::insert, Op::update_before, Op::update_after, Op::remove, Op::insert, Op::remove, Op::remove,
                      Op::insert, Op::insert, Op::update_after}));
  w->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k, v FROM kv ORDER BY k"), (Rows{{"1", "A"}, {"2", "B"}, {"4", "d"}, {"6", "y"}}));

  // A duplicate key in insert mode is a data error naming the table, not a skipped row.
  try {
    w->write(*kv_batch(s, {{7, "new"}, {4, "again"}}));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find(db.name() + ".kv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("upsert"), std::string::npos) << e.what();
  }
  w->rollback();
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "4");

  // Upsert mode: plain batches update existing keys; the last row of a key wins.
  MariadbSink upsert(config_for(db, "upsert"));
  auto w2 = upsert.open_writer(1);
  w2->write(*kv_batch(s, {{4, "D"}, {8, "<null>"}, {8, "f"}, {9, "g"}, {9, "<null>"}}));
  w2->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k, COALESCE(v, 'NULL') FROM kv ORDER BY k"),
            (Rows{{"1", "A"}, {"2", "B"}, {"4", "D"}, {"6", "y"}, {"8", "f"}, {"9", "NULL"}}));

  // A table whose every column is in the key.
  auto keys_only =
      table("keys_only", {col("a", type(TypeId::int32), false), col("b", type(TypeId::int32), false)}, {0, 1});
  upsert.prepare_table(*keys_only);
  model::BatchBuilder kb(keys_only, 3);
  for (int i : {1, 2, 1}) {
    kb.column(0).append_int(i);
    kb.column(1).append_int(i);
    kb.end_row();
  }
  w2->write(*kb.finish({}));
  w2->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM keys_only"), "2");

  // Deletes need a key; plain inserts into a table without one are fine (duplicates and all).
  db.exec("CREATE TABLE nokey (k bigint, v text)");
  auto nk = table("nokey", {col("k", type(TypeId::int64)), col("v", type(TypeId::string))});
  try {
    w2->write(*kv_batch(nk, {{1, "x"}}, {Op::remove}));
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::unsupported);
  }
  w2->rollback();
  w2->write(*kv_batch(nk, {{1, "x"}, {1, "x"}, {2, "old"}, {2, "new"}},
                      {Op::insert, Op::insert, Op::update_before, Op::update_after}));
  w2->commit(nullptr);
  EXPECT_EQ(db.query("SELECT k, v FROM nokey ORDER BY k, v"), (Rows{{"1", "x"}, {"1", "x"}, {"2", "new"}}));
}

TEST(MariadbSink, CheckpointsCommitWithTheDataAndVanishOnRollback) {
  test::mariadb::ScratchDb db("sink_ckpt");
  MariadbSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  std::vector<model::Position> pos = {{"src.kv#0", "k=1", false}, {"src.kv#1", "k=9", true}};
  w->commit(&pos);
  EXPECT_EQ(db.query("SELECT pipeline, stream, position, done FROM _datasync_checkpoint ORDER BY stream"),
            (Rows{{"p1", "src.kv#0", "k=1", "0"}, {"p1", "src.kv#1", "k=9", "1"}}));
  EXPECT_EQ(db.query("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                     "TABLE_NAME = '_datasync_checkpoint' ORDER BY ORDINAL_POSITION"),
            (Rows{{"varchar(255)"}, {"varchar(512)"}, {"longtext"}, {"tinyint(1)"}, {"datetime(6)"}}));

  w->write(*kv_batch(s, {{2, "b"}}));
  // Rolled back: neither the row nor the position.
  w->rollback();
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "1");
  EXPECT_EQ(db.scalar("SELECT position FROM _datasync_checkpoint WHERE stream = 'src.kv#0'"), "k=1");
  w->write(*kv_batch(s, {{2, "b"}}));
  std::vector<model::Position> later = {{"src.kv#0", "k=1.5", false}, {"src.kv#0", "k=2", true}};
  w->commit(&later);
  EXPECT_EQ(db.scalar("SELECT CONCAT(position, done) FROM _datasync_checkpoint WHERE stream = 'src.kv#0'"), "k=21");
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "2");

  // The store reads the same table.
  auto store = sink.open_checkpoint_store("p1");
  model::CheckpointState st = store->load();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st["src.kv#0"].value, "k=2");
  EXPECT_TRUE(st["src.kv#0"].stream_done);
  EXPECT_EQ(st["src.kv#1"].value, "k=9");
  EXPECT_TRUE(st["src.kv#1"].stream_done);
  store->save({{"other", "x'y\\z\"\xc3\xa9", false}, {"other", "last", false}});
  st = store->load();
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st["other"].value, "last");
  store->save({{"quote", "x'y\\z\"\xc3\xa9\n", true}});
  EXPECT_EQ(store->load()["quote"].value, "x'y\\z\"\xc3\xa9\n");
  auto other = sink.open_checkpoint_store("p2");
  EXPECT_TRUE(other->load().empty());
  other->save({{"s", "v", true}});
  store->clear();
  EXPECT_TRUE(store->load().empty());
  EXPECT_EQ(other->load().size(), 1u);
}

TEST(MariadbSink, CheckpointDatabaseIsConfigurable) {
  test::mariadb::ScratchDb db("sink_ckdb");
  test::mariadb::ScratchDb meta("sink_ckmeta");
  SinkConfig cfg = config_for(db);
  cfg.checkpoint_database = meta.name();
  MariadbSink sink(cfg);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  std::vector<model::Position> pos = {{"x", "1", false}};
  w->commit(&pos);
  EXPECT_EQ(meta.scalar("SELECT position FROM _datasync_checkpoint"), "1");
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
                      "= '_datasync_checkpoint'"),
            "0");
  EXPECT_EQ(sink.open_checkpoint_store("p1")->load().size(), 1u);
}

// A batch of values MariaDB cannot hold, and one it can.
std::shared_ptr<model::TableSchema> invalid_schema(const std::string &name) {
  return table(name,
               {col("id", type(TypeId::int32), false), col("x", type(TypeId::float64)), col("d", type(TypeId::date)),
                col("ts", type(TypeId::timestamp)), col("iv", type(TypeId::interval)), col("f", type(TypeId::float32))},
               {0});
}

std::shared_ptr<model::Batch> invalid_batch(const model::TableSchemaPtr &s) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  model::BatchBuilder bb(s, 4);
  auto row = [&](int id, double x, int32_t d, int64_t ts, int32_t months, int32_t days, int64_t nanos, double f) {
    bb.column(0).append_int(id);
    bb.column(1).append_double(x);
    bb.column(2).append_int(d);
    bb.column(3).append_fixed<int64_t>(ts);
    append_interval(bb.column(4), months, days, nanos);
    bb.column(5).append_double(f);
    bb.end_row();
  };
  row(1, nan, 0, 0, 0, 0, 0, 1.0);
  row(2, inf, 2932897, -62135596800000001LL, 1, 0, 0, inf);  // after 9999-12-31, before 0001, a month
  row(3, -inf, -719163, 253402300800000000LL, 0, 0, 839LL * 3600000000000, -inf);  // before 0001, after 9999, 839 h
  row(4, 1.5, 19782, 0, 0, 0, 1500, 2.5);                                          // 1.5 µs
  return bb.finish({});
}

const char *const kInvalidSelect = "SELECT id, x, d, ts, iv, f FROM {} ORDER BY id";

NullableRows select_invalid(const test::mariadb::ScratchDb &db, const std::string &t) {
  std::string sql = kInvalidSelect;
  sql.replace(sql.find("{}"), 2, t);
  return db.query_nulls(sql);
}

TEST(MariadbSink, InvalidValuesFollowThePolicy) {
  test::mariadb::ScratchDb db("sink_invalid");
  // error: nothing is written, the message names table, column, value and the key to change.
  {
    MariadbSink sink(config_for(db));
    auto s = invalid_schema("inv_error");
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    try {
      w->write(*invalid_batch(s));
      w->commit(nullptr);
      FAIL() << "no error";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::data);
      std::string m = e.what();
      EXPECT_NE(m.find(db.name() + ".inv_error"), std::string::npos) << m;
      EXPECT_NE(m.find("'x'"), std::string::npos) << m;
      EXPECT_NE(m.find("NaN"), std::string::npos) << m;
      EXPECT_NE(m.find("pipeline.invalid_values"), std::string::npos) << m;
    }
    w->rollback();
    EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM inv_error"), "0");
  }
  // null: NULL instead, each (column, reason) counted once per batch.
  {
    SinkConfig cfg = config_for(db, "insert", InvalidValuePolicy::null);
    auto report = cfg.value_report;
    MariadbSink sink(cfg);
    auto s = invalid_schema("inv_null");
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    w->write(*invalid_batch(s));
    w->commit(nullptr);
    NullableRows rows = select_invalid(db, "inv_null");
    ASSERT_EQ(rows.size(), 4u);
    for (size_t r = 0; r < 3; ++r) EXPECT_FALSE(rows[r][1].has_value()) << r;
    EXPECT_EQ(rows[0][2], "1970-01-01");
    for (size_t r = 1; r < 3; ++r)
      for (size_t c = 2; c < 6; ++c) EXPECT_FALSE(rows[r][c].has_value()) << r << "," << c;
    EXPECT_EQ(rows[3][1], "1.5");
    EXPECT_FALSE(rows[3][4].has_value());
    std::map<std::string, int64_t> got;
    for (const auto &e : report->entries()) {
      EXPECT_EQ(e.table, db.name() + ".inv_null");
      got[e.column + ": " + e.reason] += e.count;
    }
    const std::map<std::string, int64_t> expected = {
        {"x: NaN written as NULL", 1},
        {"x: +Infinity written as NULL", 1},
        {"x: -Infinity written as NULL", 1},
        {"d: date after 9999-12-31 written as NULL", 1},
        {"d: date before 0001-01-01 written as NULL", 1},
        {"ts: timestamp before 0001-01-01 00:00:00.000000 written as NULL", 1},
        {"ts: timestamp after 9999-12-31 23:59:59.999999 written as NULL", 1},
        {"iv: interval with months written as NULL", 1},
        {"iv: interval beyond ±838:59:59.999999 written as NULL", 1},
        {"iv: interval below a microsecond written as NULL", 1},
        {"f: +Infinity written as NULL", 1},
        {"f: -Infinity written as NULL", 1}};
    EXPECT_EQ(got, expected);
    EXPECT_EQ(report->total(), 12);
  }
  // clamp: the nearest value MariaDB holds (NaN has none: NULL).
  {
    SinkConfig cfg = config_for(db, "upsert", InvalidValuePolicy::clamp);
    auto report = cfg.value_report;
    MariadbSink sink(cfg);
    auto s = invalid_schema("inv_clamp");
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    w->write(*invalid_batch(s));
    w->commit(nullptr);
    NullableRows rows = select_invalid(db, "inv_clamp");
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_FALSE(rows[0][1].has_value());
    EXPECT_EQ(rows[1], (std::vector<std::optional<std::string>>{"2", "1.7976931348623157e308", "9999-12-31",
                                                                "0001-01-01 00:00:00.000000", "720:00:00.000000",
                                                                "3.40282e38"}));
    EXPECT_EQ(rows[2], (std::vector<std::optional<std::string>>{"3", "-1.7976931348623157e308", "0001-01-01",
                                                                "9999-12-31 23:59:59.999999", "838:59:59.999999",
                                                                "-3.40282e38"}));
    EXPECT_EQ(rows[3][4], "00:00:00.000001");
    EXPECT_EQ(report->total(), 12);
  }
  // A NULL into a NOT NULL column is still an error.
  {
    db.exec("CREATE TABLE nn (id int PRIMARY KEY, x double NOT NULL)");
    auto s = table("nn", {col("id", type(TypeId::int32), false), col("x", type(TypeId::float64))}, {0});
    model::BatchBuilder bb(s, 1);
    bb.column(0).append_int(1);
    bb.column(1).append_double(std::numeric_limits<double>::quiet_NaN());
    bb.end_row();
    auto batch = bb.finish({});
    for (InvalidValuePolicy p : {InvalidValuePolicy::null, InvalidValuePolicy::clamp}) {
      MariadbSink sink(config_for(db, "insert", p));
      auto w = sink.open_writer(0);
      try {
        w->write(*batch);
        FAIL() << "no error";
      } catch (const Error &e) {
        EXPECT_EQ(e.code(), Code::data);
        EXPECT_NE(std::string(e.what()).find("NOT NULL"), std::string::npos) << e.what();
      }
      w->rollback();
    }
  }
  // An existing TIMESTAMP column holds 1970..2038 only.
  {
    db.exec("CREATE TABLE tsr (id int PRIMARY KEY, ts timestamp(6) NULL)");
    auto s = table("tsr", {col("id", type(TypeId::int32), false), col("ts", type(TypeId::timestamp_tz))}, {0});
    model::BatchBuilder bb(s, 2);
    bb.column(0).append_int(1);
    bb.column(1).append_fixed<int64_t>(0);
    bb.end_row();
    bb.column(0).append_int(2);
    bb.column(1).append_fixed<int64_t>(4102444800000000LL);  // 2100-01-01
    bb.end_row();
    MariadbSink sink(config_for(db, "insert", InvalidValuePolicy::clamp));
    auto w = sink.open_writer(0);
    w->write(*bb.finish({}));
    w->commit(nullptr);
    EXPECT_EQ(db.query("SELECT ts FROM tsr ORDER BY id"),
              (Rows{{"1970-01-01 00:00:01.000000"}, {"2038-01-19 03:14:07.999999"}}));
  }
}

bool names_column(const std::string &message, const std::string &column) {
  for (const std::string &form : {"'" + column + "'", "`" + column + "`", "." + column + "`"})
    if (message.find(form) != std::string::npos) return true;
  return false;
}

TEST(MariadbSink, ValuesTheTargetRefusesAreErrorsNotWarnings) {
  test::mariadb::ScratchDb db("sink_warn");
  db.exec("CREATE TABLE c (id int PRIMARY KEY, v varchar(5), n tinyint, t text CHARACTER SET utf8mb4, j json)");
  auto s = table("c", {col("id", type(TypeId::int64)), col("v", type(TypeId::string)), col("n", type(TypeId::int64)),
                       col("t", type(TypeId::unknown)), col("j", type(TypeId::json))});
  auto batch = [&](const std::string &v, int64_t n, const std::string &t, const std::string &j) {
    model::BatchBuilder bb(s, 1);
    bb.column(0).append_int(1);
    append_text(bb.column(1), v);
    bb.column(2).append_int(n);
    append_text(bb.column(3), t);
    append_text(bb.column(4), j);
    bb.end_row();
    return bb.finish({});
  };
  const std::vector<std::pair<std::string, model::BatchPtr>> bad = {{"v", batch("too long text", 1, "ok", "{}")},
                                                                    {"n", batch("ok", 300, "ok", "{}")},
                                                                    {"t", batch("ok", 1, "\xff\xfe", "{}")},
                                                                    {"j", batch("ok", 1, "ok", "{bad")}};
  // LOAD DATA LOCAL only warns (insert); REPLACE into the staging table fails (upsert): both are errors naming the
  // column.
  for (const char *mode : {"insert", "upsert"}) {
    MariadbSink sink(config_for(db, mode));
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    for (const auto &[column, b] : bad) {
      try {
        w->write(*b);
        w->commit(nullptr);
        FAIL() << mode << " " << column << ": no error";
      } catch (const Error &e) {
        EXPECT_EQ(e.code(), Code::data) << e.what();
        EXPECT_NE(std::string(e.what()).find(db.name() + ".c"), std::string::npos) << e.what();
        EXPECT_TRUE(names_column(e.what(), column)) << mode << " " << column << ": " << e.what();
      }
      w->rollback();
      EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM c"), "0");
    }
    // The same writer goes on after a failed batch.
    w->write(*batch("fine", 5, "\xc3\xa9", "[1]"));
    w->commit(nullptr);
    EXPECT_EQ(db.query("SELECT id, v, n, t, j FROM c"), (Rows{{"1", "fine", "5", "\xc3\xa9", "[1]"}}));
    db.exec("DELETE FROM c");
  }
}

TEST(MariadbSink, TextIntoOtherCharsetsIsConverted) {
  test::mariadb::ScratchDb db("sink_latin1");
  db.exec(
      "CREATE TABLE l (id int PRIMARY KEY, a varchar(10) CHARACTER SET latin1, e enum('caf\xc3\xa9', 'x')"
      " CHARACTER SET latin1)");
  auto s = table(
      "l", {col("id", type(TypeId::int32), false), col("a", type(TypeId::string)), col("e", type(TypeId::string))},
      {0});
  auto batch = [&](int id, const std::string &a) {
    model::BatchBuilder bb(s, 1);
    bb.column(0).append_int(id);
    append_text(bb.column(1), a);
    append_text(bb.column(2), "caf\xc3\xa9");
    bb.end_row();
    return bb.finish({});
  };
  for (const char *mode : {"insert", "upsert"}) {
    MariadbSink sink(config_for(db, mode));
    sink.prepare_table(*s);
    auto w = sink.open_writer(0);
    w->write(*batch(1, "d\xc3\xa9j\xc3\xa0"));
    w->commit(nullptr);
    EXPECT_EQ(db.query("SELECT a, HEX(a), e FROM l"), (Rows{{"d\xc3\xa9j\xc3\xa0", "64E96AE0", "caf\xc3\xa9"}}))
        << mode;
    // A character latin1 cannot hold is an error, not a '?'.
    try {
      w->write(*batch(2, "\xe2\x98\x83"));
      w->commit(nullptr);
      FAIL() << "no error";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::data) << e.what();
    }
    w->rollback();
    db.exec("DELETE FROM l");
  }
}

TEST(MariadbSink, LargeBatchesAreStreamedInChunks) {
  test::mariadb::ScratchDb db("sink_large");
  MariadbSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  model::BatchBuilder bb(s, 50000);
  std::string big(100, 'x');
  for (int64_t i = 0; i < 50000; ++i) {
    bb.column(0).append_int(i);
    append_text(bb.column(1), big);
    bb.end_row();
  }
  auto batch = bb.finish({});
  auto w = sink.open_writer(0);
  w->write(*batch);
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT CONCAT(COUNT(*), ',', SUM(k), ',', SUM(LENGTH(v))) FROM kv"), "50000,1249975000,5000000");
  MariadbSink upsert(config_for(db, "upsert"));
  auto w2 = upsert.open_writer(0);
  w2->write(*batch);
  w2->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "50000");
}

TEST(MariadbSink, LanesWriteConcurrentlyIntoOneTable) {
  test::mariadb::ScratchDb db("sink_lanes");
  MariadbSink sink(config_for(db));
  EXPECT_EQ(sink.max_lanes(), 8);
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto a = sink.open_writer(0), b = sink.open_writer(1);
  a->write(*kv_batch(s, {{1, "a"}}));
  b->write(*kv_batch(s, {{2, "b"}}));
  std::vector<model::Position> pa = {{"a", "1", true}}, pb = {{"b", "2", true}};
  a->commit(&pa);
  b->commit(&pb);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "2");
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM _datasync_checkpoint"), "2");
}

TEST(MariadbSink, SchemaChangesAreAppliedAsDdl) {
  test::mariadb::ScratchDb db("sink_ddlchange");
  SinkConfig cfg = config_for(db);
  cfg.evolution = "evolve";
  MariadbSink sink(cfg);
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
  sink.apply_schema_change(add);  // twice: already there
  model::SchemaChange rename;
  rename.kind = model::SchemaChangeKind::rename_column;
  rename.table = s->id;
  rename.column = "v";
  rename.new_name = "label";
  sink.apply_schema_change(rename);
  EXPECT_EQ(db.scalar("SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR "
                      "', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'kv'"),
            "k bigint(20), label longtext, amount decimal(12,2)");
  model::SchemaChange alter;
  alter.kind = model::SchemaChangeKind::alter_column_type;
  alter.table = s->id;
  alter.column = "amount";
  alter.new_type = type(TypeId::decimal, "", 20, 4);
  EXPECT_EQ(sink.apply_schema_change(alter), "");
  EXPECT_EQ(db.scalar("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                      "TABLE_NAME = 'kv' AND COLUMN_NAME = 'amount'"),
            "decimal(20,4)");
  model::SchemaChange trunc;
  trunc.kind = model::SchemaChangeKind::truncate_table;
  trunc.table = s->id;
  sink.apply_schema_change(trunc);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "0");
  model::SchemaChange drop;
  drop.kind = model::SchemaChangeKind::drop_table;
  drop.table = s->id;
  sink.apply_schema_change(drop);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"), "0");
}

TEST(MariadbSink, LenientEvolutionKeepsEveryValue) {
  test::mariadb::ScratchDb db("sink_lenient");
  MariadbSink sink(config_for(db));  // schema.evolution defaults to lenient
  auto s = kv_schema();
  model::SchemaChange create;
  create.kind = model::SchemaChangeKind::create_table;
  create.table = s->id;
  create.schema_after = s;
  sink.apply_schema_change(create);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  w->commit(nullptr);
  model::SchemaChange drop;
  drop.kind = model::SchemaChangeKind::drop_column;
  drop.table = s->id;
  drop.column = "v";
  EXPECT_NE(sink.apply_schema_change(drop).find("kept"), std::string::npos);
  model::SchemaChange rename;
  rename.kind = model::SchemaChangeKind::rename_column;
  rename.table = s->id;
  rename.column = "v";
  rename.new_name = "label";
  EXPECT_NE(sink.apply_schema_change(rename).find("new column label"), std::string::npos);
  model::SchemaChange trunc;
  trunc.kind = model::SchemaChangeKind::truncate_table;
  trunc.table = s->id;
  sink.apply_schema_change(trunc);
  EXPECT_EQ(db.scalar("SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR "
                      "', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'kv'"),
            "k bigint(20), v longtext, label longtext");
  EXPECT_EQ(db.scalar("SELECT v FROM kv WHERE k = 1"), "a");
}

// Turns local_infile off for the server and back on when it goes, whatever happens in between.
class LocalInfileOff {
 public:
  LocalInfileOff() { test::mariadb::RawConn().exec("SET GLOBAL local_infile = 0"); }
  ~LocalInfileOff() {
    try {
      test::mariadb::RawConn().exec("SET GLOBAL local_infile = 1");
    } catch (...) {
    }
  }
};

TEST(MariadbSink, ServerWithoutLocalInfileIsUnsupportedSayingHowToEnableIt) {
  test::mariadb::ScratchDb db("sink_noinfile");
  MariadbSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  {
    LocalInfileOff off;
    try {
      w->write(*kv_batch(s, {{1, "a"}}));
      FAIL() << "no error";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("SET GLOBAL local_infile"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(test::mariadb::RawConn().scalar("SELECT @@GLOBAL.local_infile"), "1");
  w->rollback();
  w->write(*kv_batch(s, {{1, "a"}}));
  w->commit(nullptr);
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "1");
}

TEST(MariadbSink, WrongPasswordIsAnAuthErrorWithoutThePassword) {
  test::mariadb::ScratchDb db("sink_auth");
  SinkConfig cfg = config_for(db);
  cfg.params.password = "Wr0ng-Secret-Pw";
  MariadbSink sink(cfg);
  EXPECT_EQ(sink.describe().find("Wr0ng"), std::string::npos);
  EXPECT_EQ(sink.describe(),
            "mariadb host=" + cfg.params.host + " port=" + std::to_string(cfg.params.port) + " database=" + db.name());
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (attempt == 0)
        sink.prepare_table(*kv_schema());
      else
        sink.open_writer(0)->write(*kv_batch(kv_schema(), {{1, "a"}}));
      FAIL() << "no error";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::auth) << e.what();
      EXPECT_EQ(std::string(e.what()).find("Wr0ng-Secret-Pw"), std::string::npos) << e.what();
      EXPECT_EQ(e.context().find("Wr0ng-Secret-Pw"), std::string::npos) << e.context();
      EXPECT_NE(std::string(e.what()).find("sink.password"), std::string::npos) << e.what();
    }
  }
}

TEST(MariadbSink, LostConnectionIsRetriableAndTheWriterReconnects) {
  test::mariadb::ScratchDb db("sink_lost");
  MariadbSink sink(config_for(db));
  auto s = kv_schema();
  sink.prepare_table(*s);
  auto w = sink.open_writer(0);
  w->write(*kv_batch(s, {{1, "a"}}));
  test::mariadb::RawConn admin;
  for (const auto &row : admin.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + db.name() +
                                     "' AND ID <> CONNECTION_ID()"))
    admin.exec("KILL CONNECTION " + row[0]);
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
  EXPECT_EQ(db.scalar("SELECT COUNT(*) FROM kv"), "2");
  EXPECT_NO_THROW(sink.prepare_table(*s));  // the shared connection was killed too: it reconnects
}

TEST(MariadbSink, RegistersItsKeys) {
  register_sink_type();
  const config::ConnectorKeys *keys = config::Registry::instance().connector("sink", "mariadb");
  ASSERT_NE(keys, nullptr);
  std::map<std::string, const config::KeySpec *> by_name;
  for (const auto &k : keys->keys) by_name[k.name] = &k;
  for (const char *name : {"host", "port", "user", "password", "database", "create_tables", "write_mode",
                           "connect_timeout", "checkpoint_database"})
    EXPECT_TRUE(by_name.count(name)) << name;
  EXPECT_TRUE(by_name["password"]->secret);
  EXPECT_TRUE(by_name["database"]->required);
  EXPECT_EQ(by_name["port"]->default_value, "3306");
  EXPECT_EQ(by_name["create_tables"]->default_value, "true");
  EXPECT_EQ(by_name["write_mode"]->choices, (std::vector<std::string>{"insert", "upsert"}));
  EXPECT_EQ(by_name["write_mode"]->default_value, "insert");
}

}  // namespace
}  // namespace ds::connectors::mariadb
