// Pure conversions of the sqlite connector, type mapping, and TableSelector.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "connectors/sqlite/catalog.hpp"
#include "connectors/sqlite/values.hpp"
#include "model/connector.hpp"
#include "model/error.hpp"

namespace {

using namespace ds::connectors::sqlite;
using ds::model::TypeId;

std::string fmt_date(int32_t days) {
  char buf[16];
  return std::string(buf, format_date(days, buf));
}
std::string fmt_ts(int64_t micros) {
  char buf[32];
  return std::string(buf, format_timestamp(micros, buf));
}
std::string fmt_dec(int128 v, int scale) {
  char buf[96];
  return std::string(buf, format_decimal(v, scale, buf));
}

TEST(SqliteValues, DatesIncludingBefore1970) {
  int32_t d = 12345;
  ASSERT_TRUE(parse_date("1970-01-01", d));
  EXPECT_EQ(d, 0);
  ASSERT_TRUE(parse_date("1969-12-31", d));
  EXPECT_EQ(d, -1);
  ASSERT_TRUE(parse_date("2000-02-29", d));
  EXPECT_EQ(d, 11016);
  ASSERT_TRUE(parse_date("1900-03-01", d));
  EXPECT_EQ(d, -25508);
  ASSERT_TRUE(parse_date("0001-01-01", d));
  EXPECT_EQ(d, -719162);
  EXPECT_EQ(fmt_date(-719162), "0001-01-01");
  EXPECT_EQ(fmt_date(-25508), "1900-03-01");
  EXPECT_EQ(fmt_date(-1), "1969-12-31");
  EXPECT_EQ(fmt_date(19723), "2024-01-01");
  // Every day of years 1600..2400 goes there and back.
  for (int32_t day = -135140; day <= 157000; day += 7) {
    int32_t back = 0;
    ASSERT_TRUE(parse_date(fmt_date(day), back)) << day;
    ASSERT_EQ(back, day);
  }
  EXPECT_FALSE(parse_date("2023-02-29", d));
  EXPECT_FALSE(parse_date("1900-02-29", d));
  EXPECT_FALSE(parse_date("2024-13-01", d));
  EXPECT_FALSE(parse_date("2024-1-01", d));
  EXPECT_FALSE(parse_date("2024-01-01 00:00:00", d));
  EXPECT_FALSE(parse_date("yesterday", d));
  char buf[16];
  EXPECT_EQ(format_date(3000000, buf), 0u);  // year 10183
}

TEST(SqliteValues, TimestampsAndTimes) {
  int64_t us = 0;
  bool off = false;
  int32_t secs = 0;
  ASSERT_TRUE(parse_timestamp("1970-01-01 00:00:01.5", us, off, secs));
  EXPECT_EQ(us, 1500000);
  EXPECT_FALSE(off);
  ASSERT_TRUE(parse_timestamp("1969-12-31T23:59:59.999999", us, off, secs));
  EXPECT_EQ(us, -1);
  EXPECT_EQ(fmt_ts(-1), "1969-12-31 23:59:59.999999");
  ASSERT_TRUE(parse_timestamp("2024-02-29 12:34", us, off, secs));
  EXPECT_EQ(fmt_ts(us), "2024-02-29 12:34:00");
  ASSERT_TRUE(parse_timestamp("2024-02-29", us, off, secs));
  EXPECT_EQ(fmt_ts(us), "2024-02-29 00:00:00");
  ASSERT_TRUE(parse_timestamp("2024-01-01 01:00:00+01:00", us, off, secs));
  EXPECT_TRUE(off);
  EXPECT_EQ(secs, 3600);
  EXPECT_EQ(fmt_ts(us), "2024-01-01 00:00:00");
  ASSERT_TRUE(parse_timestamp("2024-01-01 00:00:00.123456789Z", us, off, secs) == false);  // finer than µs, not zero
  ASSERT_TRUE(parse_timestamp("2024-01-01 00:00:00.123456000Z", us, off, secs));
  EXPECT_EQ(fmt_ts(us), "2024-01-01 00:00:00.123456");
  EXPECT_FALSE(parse_timestamp("2024-01-01 24:00:00", us, off, secs));
  EXPECT_FALSE(parse_timestamp("2024-01-01 00:00:00 extra", us, off, secs));
  EXPECT_FALSE(parse_timestamp("2024-01-01 00:00:00.", us, off, secs));

  ASSERT_TRUE(parse_time("23:59:59.000001", us));
  EXPECT_EQ(us, 86399000001);
  char buf[32];
  EXPECT_EQ(std::string(buf, format_time(us, buf)), "23:59:59.000001");
  ASSERT_TRUE(parse_time("07:05", us));
  EXPECT_EQ(std::string(buf, format_time(us, buf)), "07:05:00");
  EXPECT_FALSE(parse_time("7:05", us));
  EXPECT_EQ(format_time(86400000000, buf), 0u);
}

TEST(SqliteValues, DecimalsExact) {
  int128 v = 0;
  ASSERT_TRUE(parse_decimal("12.50", 10, 2, v));
  EXPECT_TRUE(v == 1250);
  ASSERT_TRUE(parse_decimal("-0.05", 10, 2, v));
  EXPECT_TRUE(v == -5);
  ASSERT_TRUE(parse_decimal("12.5", 10, 2, v));  // as SQLite gives a REAL 12.5 back
  EXPECT_TRUE(v == 1250);
  ASSERT_TRUE(parse_decimal("1.0e+35", 38, 2, v));
  EXPECT_TRUE(v == pow10_128(37));
  ASSERT_TRUE(parse_decimal("12", 5, 3, v));
  EXPECT_TRUE(v == 12000);
  ASSERT_TRUE(parse_decimal("99999999999999999999999999999999999999", 38, 0, v));
  EXPECT_EQ(fmt_dec(v, 0), "99999999999999999999999999999999999999");
  EXPECT_EQ(fmt_dec(-v, 10), "-9999999999999999999999999999.9999999999");
  EXPECT_FALSE(parse_decimal("100000", 5, 0, v));  // too many digits
  EXPECT_FALSE(parse_decimal("1.234", 10, 2, v));  // below the scale
  ASSERT_TRUE(parse_decimal("1.2300", 10, 2, v));  // zeros below the scale are fine
  EXPECT_TRUE(v == 123);
  EXPECT_FALSE(parse_decimal("abc", 10, 2, v));
  EXPECT_FALSE(parse_decimal("1.2.3", 10, 2, v));
  EXPECT_FALSE(parse_decimal("", 10, 2, v));
  EXPECT_EQ(fmt_dec(5, 2), "0.05");
  EXPECT_EQ(fmt_dec(-1250, 2), "-12.50");
  EXPECT_EQ(fmt_dec(0, 3), "0.000");
  EXPECT_EQ(fmt_dec(7, -2), "700");
  EXPECT_EQ(significant_digits(1234500), 5);
}

TEST(SqliteValues, UuidDoubleInterval) {
  uint8_t u[16];
  ASSERT_TRUE(parse_uuid("123E4567-e89b-12d3-a456-426614174000", u));
  char buf[64];
  format_uuid(u, buf);
  EXPECT_EQ(std::string(buf, 36), "123e4567-e89b-12d3-a456-426614174000");
  ASSERT_TRUE(parse_uuid("123e4567e89b12d3a456426614174000", u));
  EXPECT_FALSE(parse_uuid("123e4567-e89b-12d3-a456-42661417400g", u));
  EXPECT_EQ(std::string(buf, format_double(0.1 + 0.2, buf)), "0.30000000000000004");
  EXPECT_EQ(std::string(buf, format_interval(14, 3, 4500000000, buf)), "P14M3DT4.5S");
  EXPECT_EQ(std::string(buf, format_interval(0, 0, 0, buf)), "PT0S");
  EXPECT_EQ(std::string(buf, format_interval(-1, 0, -1, buf)), "P-1MT-0.000000001S");
}

TEST(SqliteTypes, DeclaredTypeMapping) {
  auto id = [](const char *t) { return map_declared_type(t).id; };
  EXPECT_EQ(id("INTEGER"), TypeId::int64);
  EXPECT_EQ(id("tinyint"), TypeId::int64);
  EXPECT_EQ(id("BIGINT UNSIGNED"), TypeId::int64);
  EXPECT_EQ(id("BOOLEAN"), TypeId::boolean);
  EXPECT_EQ(id("bool"), TypeId::boolean);
  EXPECT_EQ(id("REAL"), TypeId::float64);
  EXPECT_EQ(id("DOUBLE PRECISION"), TypeId::float64);
  EXPECT_EQ(id("float"), TypeId::float64);
  EXPECT_EQ(id("VARCHAR(20)"), TypeId::string);
  EXPECT_EQ(id("CLOB"), TypeId::string);
  EXPECT_EQ(id("BLOB"), TypeId::binary);
  EXPECT_EQ(id(""), TypeId::binary);
  EXPECT_EQ(id("DATE"), TypeId::date);
  EXPECT_EQ(id("datetime"), TypeId::timestamp);
  EXPECT_EQ(id("TIMESTAMP"), TypeId::timestamp);
  EXPECT_EQ(id("timestamp with time zone"), TypeId::timestamp_tz);
  EXPECT_EQ(id("TIME"), TypeId::time);
  EXPECT_EQ(id("JSON"), TypeId::json);
  EXPECT_EQ(id("uuid"), TypeId::uuid);
  EXPECT_EQ(id("NUMERIC"), TypeId::unknown);
  EXPECT_EQ(id("DECIMAL"), TypeId::unknown);
  EXPECT_EQ(id("NUMERIC(40,2)"), TypeId::unknown);
  EXPECT_EQ(id("MONEY"), TypeId::unknown);
  ds::model::DataType d = map_declared_type(" decimal ( 12 , 3 ) ");
  EXPECT_EQ(d.id, TypeId::decimal);
  EXPECT_EQ(d.precision, 12);
  EXPECT_EQ(d.scale, 3);
  EXPECT_EQ(d.source_name, "decimal ( 12 , 3 )");
  d = map_declared_type("NUMERIC(7)");
  EXPECT_EQ(d.id, TypeId::decimal);
  EXPECT_EQ(d.scale, 0);

  EXPECT_TRUE(is_valid_declared_type("character varying(20)"));
  EXPECT_TRUE(is_valid_declared_type("DECIMAL(10, 2)"));
  EXPECT_FALSE(is_valid_declared_type("integer[]"));
  EXPECT_FALSE(is_valid_declared_type("INT NOT NULL"));
  EXPECT_FALSE(is_valid_declared_type("x); DROP TABLE t; --"));

  ds::model::DataType pg_int{TypeId::int32, 0, 0, "integer"};
  EXPECT_EQ(create_column_type(pg_int, false), "integer");
  ds::model::DataType bytea{TypeId::binary, 0, 0, "bytea"};  // NUMERIC affinity in SQLite: not kept
  EXPECT_EQ(create_column_type(bytea, false), "BLOB");
  ds::model::DataType dec{TypeId::decimal, 12, 2, ""};
  EXPECT_EQ(create_column_type(dec, false), "DECIMAL(12,2)");
  ds::model::DataType tz{TypeId::timestamp_tz, 0, 0, ""};
  EXPECT_EQ(create_column_type(tz, false), "TIMESTAMPTZ");  // read back as timestamp_tz

  // Text of types the engine does not know keeps TEXT affinity: NUMERIC
  // affinity would make '000000000101' the integer 101.
  ds::model::DataType bits{TypeId::unknown, 0, 0, "bit(12)"};
  EXPECT_EQ(create_column_type(bits, false), "TEXT");
  ds::model::DataType numeric{TypeId::unknown, 0, 0, "numeric"};
  EXPECT_EQ(create_column_type(numeric, false), "TEXT");
  EXPECT_EQ(create_column_type(numeric, true), "numeric");  // SQLite to SQLite keeps its own affinity
  // Decimals beyond 15 digits would be rounded to a REAL by NUMERIC affinity.
  ds::model::DataType wide{TypeId::decimal, 38, 10, "numeric(38,10)"};
  EXPECT_EQ(create_column_type(wide, false), "DECIMAL_TEXT(38,10)");
  EXPECT_EQ(create_column_type(wide, true), "numeric(38,10)");
  ds::model::DataType whole{TypeId::decimal, 18, 0, "numeric(18,0)"};  // 64-bit INTEGERs
  EXPECT_EQ(create_column_type(whole, false), "numeric(18,0)");
  ds::model::DataType back = map_declared_type("DECIMAL_TEXT(38,10)");
  EXPECT_EQ(back.id, TypeId::decimal);
  EXPECT_EQ(back.precision, 38);
  EXPECT_EQ(back.scale, 10);
  EXPECT_EQ(affinity_of("DECIMAL_TEXT(38,10)"), Affinity::text);
  // A JSON document that is a bare number would become a REAL under NUMERIC affinity.
  ds::model::DataType jsonb{TypeId::json, 0, 0, "jsonb"};
  EXPECT_EQ(create_column_type(jsonb, false), "JSON_TEXT");
  ds::model::DataType own_json{TypeId::json, 0, 0, "JSON"};
  EXPECT_EQ(create_column_type(own_json, true), "JSON");
  EXPECT_EQ(map_declared_type("JSON_TEXT").id, TypeId::json);
  EXPECT_EQ(affinity_of("JSON_TEXT"), Affinity::text);

  ds::model::DataType str{TypeId::string, 0, 0, ""};
  EXPECT_FALSE(target_accepts("INTEGER", str));
  EXPECT_TRUE(target_accepts("TEXT", str));
  EXPECT_TRUE(target_accepts("DECIMAL(14,2)", dec));
  EXPECT_FALSE(target_accepts("DECIMAL(12,1)", dec));
}

TEST(TableSelectorMatches, IncludeExcludeAndWholeMatch) {
  ds::model::TableId orders{"", "main", "orders"};
  ds::model::TableId order_items{"", "main", "order_items"};
  ds::model::TableSelector all;
  EXPECT_TRUE(all.matches(orders));

  ds::model::TableSelector sel{{"order.*"}, {}};
  EXPECT_TRUE(sel.matches(orders));
  EXPECT_TRUE(sel.matches(order_items));
  ds::model::TableSelector partial{{"ord"}, {}};
  EXPECT_FALSE(partial.matches(orders));  // a pattern must match the whole name
  ds::model::TableSelector qualified{{"main\\.orders"}, {}};
  EXPECT_TRUE(qualified.matches(orders));
  EXPECT_FALSE(qualified.matches(order_items));
  ds::model::TableSelector other_schema{{"other\\.orders"}, {}};
  EXPECT_FALSE(other_schema.matches(orders));

  ds::model::TableSelector excl{{"order.*"}, {"order_items"}};
  EXPECT_TRUE(excl.matches(orders));
  EXPECT_FALSE(excl.matches(order_items));  // exclude wins
  ds::model::TableSelector only_excl{{}, {"main\\.orders"}};
  EXPECT_FALSE(only_excl.matches(orders));
  EXPECT_TRUE(only_excl.matches(order_items));

  ds::model::TableSelector bad{{"("}, {}};
  try {
    bad.matches(orders);
    FAIL() << "an invalid regex must throw";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::config);
  }
}

}  // namespace
