// The mariadb source against the real server of `scripts/db up`.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cfloat>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "connectors/mariadb/source.hpp"
#include "connectors/mariadb/values.hpp"
#include "connectors/registry.hpp"
#include "mariadb_test_util.hpp"
#include "model/error.hpp"

namespace ds::connectors::mariadb {
namespace {

using model::TypeId;
using test::mariadb::RawConn;
using test::mariadb::ScratchDb;
using Batches = std::vector<std::shared_ptr<model::Batch>>;

SourceConfig config_for(const ScratchDb &db, int parallelism = 1, std::vector<std::string> tables = {}) {
  SourceConfig c;
  c.conn = db.params();
  c.tables = std::move(tables);
  c.parallelism = parallelism;
  c.value_report = std::make_shared<model::ValueReport>();
  return c;
}

std::unique_ptr<MariadbSource> make_source(const ScratchDb &db, int parallelism = 1,
                                           std::vector<std::string> tables = {}) {
  return std::make_unique<MariadbSource>(config_for(db, parallelism, std::move(tables)));
}

model::TableSchemaPtr find_table(MariadbSource &src, const std::string &name) {
  for (auto &t : src.discover({}))
    if (t->id.schema_name + "." + t->id.table_name == name || t->id.table_name == name) return t;
  throw std::runtime_error("table not discovered: " + name);
}

Batches read_split(model::SplitReader &reader, const model::Split &split, const std::string &resume = "",
                   int64_t batch_rows = 1000) {
  Batches out;
  model::CancelToken cancel;
  reader.read(
      split, resume, batch_rows,
      [&](std::shared_ptr<model::Batch> b) {
        out.push_back(std::move(b));
        return true;
      },
      cancel);
  return out;
}

Batches read_all(MariadbSource &src, const model::TableSchemaPtr &t, model::SplitReader &reader,
                 const std::string &filter = "") {
  Batches out;
  for (auto s : src.plan_splits(t, 1, 1000000)) {
    s.filter = filter;
    auto got = read_split(reader, s);
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

int64_t int_at(const model::Batch &b, size_t col, int64_t row) {
  const model::Column &c = b.columns[col];
  switch (b.schema->columns[col].type.id) {
    case TypeId::int8: return c.value<int8_t>(row);
    case TypeId::int16: return c.value<int16_t>(row);
    case TypeId::int32:
    case TypeId::date: return c.value<int32_t>(row);
    case TypeId::uint64: return static_cast<int64_t>(c.value<uint64_t>(row));
    default: return c.value<int64_t>(row);
  }
}

std::vector<int64_t> keys_of(const Batches &batches, size_t col = 0) {
  std::vector<int64_t> out;
  for (const auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r) out.push_back(int_at(*b, col, r));
  return out;
}

int64_t rows_of(const Batches &batches) {
  int64_t n = 0;
  for (const auto &b : batches) n += b->num_rows;
  return n;
}

int128 nines(int count) {
  int128 v = 0;
  for (int i = 0; i < count; ++i) v = v * 10 + 9;
  return v;
}

// "file=X pos=N gtid=G" → {X, N, G}.
std::map<std::string, std::string> parse_position(const std::string &text) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(at, end - at);
    size_t eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    at = end + 1;
  }
  return out;
}

// ---------------------------------------------------------------- values

TEST(MariadbValues, DatesTimesDecimalsBitsUuids) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(9999, 12, 31), 2932896);
  EXPECT_EQ(days_from_civil(1000, 1, 1), -354285);
  EXPECT_EQ(days_from_civil(1, 1, 1), -719162);
  DateParts d;
  ASSERT_TRUE(parse_datetime("2024-02-29 23:59:59.5", d));
  EXPECT_TRUE(d.valid());
  EXPECT_EQ(d.micros_of_day, 86399500000LL);
  ASSERT_TRUE(parse_date("0000-00-00", d));
  EXPECT_TRUE(d.zero());
  EXPECT_FALSE(d.valid());
  EXPECT_EQ(d.clamped().days(), days_from_civil(1, 1, 1));
  ASSERT_TRUE(parse_date("2023-02-31", d));
  EXPECT_FALSE(d.valid());
  EXPECT_FALSE(d.zero());
  EXPECT_EQ(d.clamped().day, 28);
  ASSERT_TRUE(parse_date("2020-00-15", d));
  EXPECT_EQ(d.clamped().month, 1);
  EXPECT_EQ(d.clamped().day, 15);
  EXPECT_FALSE(parse_date("2020-1-15", d));
  EXPECT_FALSE(parse_datetime("2020-01-15 24:00:00", d));
  EXPECT_FALSE(parse_datetime("2020-01-15 10:00:00.1234567", d));

  int64_t us;
  ASSERT_TRUE(parse_time("838:59:59.000000", us));
  EXPECT_EQ(us, 3020399000000LL);
  ASSERT_TRUE(parse_time("-00:00:00.500000", us));
  EXPECT_EQ(us, -500000);
  ASSERT_TRUE(parse_time("-838:59:59", us));
  EXPECT_EQ(us, -3020399000000LL);
  EXPECT_FALSE(parse_time("12:60:00", us));

  int128 v;
  ASSERT_TRUE(parse_decimal("-0.01", 2, v));
  EXPECT_TRUE(v == -1);
  ASSERT_TRUE(parse_decimal("12.5", 3, v));
  EXPECT_TRUE(v == 12500);
  ASSERT_TRUE(parse_decimal("99999999999999999999999999999999999999", 0, v));
  EXPECT_TRUE(v == nines(38));
  EXPECT_FALSE(parse_decimal("999999999999999999999999999999999999999", 0, v));  // 39 digits
  EXPECT_FALSE(parse_decimal("1.234", 2, v));
  EXPECT_FALSE(parse_decimal("1e5", 0, v));

  EXPECT_EQ(bits_text(std::string("\x0a\x03", 2), 12), "101000000011");
  EXPECT_EQ(bits_text(std::string("\x01", 1), 3), "001");
  uint8_t u[16];
  ASSERT_TRUE(parse_uuid("A0EEBC99-9c0b-4ef8-bb6d-6bb9bd380a11", u));
  EXPECT_EQ(u[0], 0xa0);
  EXPECT_EQ(u[15], 0x11);
  EXPECT_FALSE(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a11", u));
  std::string raw;
  ASSERT_TRUE(from_hex(to_hex(std::string("a\0\xff,", 4)), raw));
  EXPECT_EQ(raw, std::string("a\0\xff,", 4));
}

// ---------------------------------------------------------------- catalog and every type

const char *kAllTypes =
    "CREATE TABLE all_types ("
    " id int NOT NULL PRIMARY KEY COMMENT 'the key',"
    " ti tinyint, tiu tinyint unsigned, b tinyint(1), si smallint, siu smallint unsigned,"
    " mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,"
    " dbig decimal(65,30), d38 decimal(38,10), d52 decimal(5,2), f float, dbl double, yr year,"
    " bit1 bit(1), bit12 bit(12), txt varchar(100), lat varchar(20) CHARACTER SET latin1, ch char(5),"
    " bin varbinary(16), bl longblob, en enum('small','large'), st set('a','b','c'), js json,"
    " dt date, tm time(6), dtm datetime(6), ts timestamp(6) NULL DEFAULT NULL, u uuid, g point, ip inet6,"
    " gen int AS (si * 2) VIRTUAL, inv int INVISIBLE DEFAULT 7, nn varchar(10) NOT NULL DEFAULT 'x',"
    " UNIQUE KEY uk (txt), KEY ix (si, mi)"
    ") COMMENT 'all of them'";

const char *kAllTypesRows =
    "SET time_zone = '+05:00';"
    "INSERT INTO all_types (id, ti, tiu, b, si, siu, mi, miu, i, iu, bi, biu, dbig, d38, d52, f, dbl, yr, bit1,"
    " bit12, txt, lat, ch, bin, bl, en, st, js, dt, tm, dtm, ts, u, g, ip, inv, nn) VALUES"
    " (1, 127, 255, 1, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,"
    " 18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999,"
    " 9999999999999999999999999999.9999999999, 999.99, 3.4028234663852886e38, 1.7976931348623157e308, 2155,"
    " b'1', b'101000000011', 'héllo 😀 wörld', 'é', 'ab', x'00ff0001', REPEAT(x'00AB', 524288), 'large', 'a,c',"
    " '{\"a\": [1, 2]}', '9999-12-31', '838:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 08:14:07.999999',"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ST_GeomFromText('POINT(1 2)'), '::1', 9, 'max'),"
    " (2, -128, 0, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,"
    " -99999999999999999999999999999999999.999999999999999999999999999999,"
    " -9999999999999999999999999999.9999999999, -0.01, -1.17549435e-38, 4.9406564584124654e-324, 0,"
    " b'0', b'000000000001', '', 'Ångström', '', '', x'000000', 'small', '', 'null', '1000-01-01',"
    " '-12:00:00.5', '1000-01-01 00:00:00', '1970-01-01 05:00:01', '00000000-0000-0000-0000-000000000000',"
    " ST_GeomFromText('POINT(-1.5 0)'), '::ffff:192.0.2.1', DEFAULT, 'min'),"
    " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " 'nulls');"
    "ANALYZE TABLE all_types";

TEST(MariadbSource, CatalogTypesKeysIndexesAndTableInfo) {
  ScratchDb db("catalog");
  db.exec(kAllTypes);
  db.exec(
      "CREATE TABLE k (a int, b varchar(10), c int, PRIMARY KEY (c, a)) COMMENT 'composite';"
      "CREATE TABLE nokey (x int); CREATE VIEW v AS SELECT * FROM nokey;"
      "CREATE TABLE misc (id int AUTO_INCREMENT PRIMARY KEY, e enum('it''s','c\\\\d','x,y') DEFAULT 'x,y',"
      " t text DEFAULT 'it''s', KEY tp (t(10)), FULLTEXT KEY ft (t))");
  db.exec(kAllTypesRows);
  auto src = make_source(db);
  auto tables = src->discover({});
  ASSERT_EQ(tables.size(), 4u);  // the view is not a BASE TABLE
  auto t = find_table(*src, db.name() + ".all_types");
  EXPECT_EQ(t->id.namespace_name, "");
  EXPECT_EQ(t->id.schema_name, db.name());
  struct Want {
    const char *name;
    TypeId id;
    const char *source_name;
  } want[] = {{"id", TypeId::int32, "int(11)"},
              {"ti", TypeId::int8, "tinyint(4)"},
              {"tiu", TypeId::int16, "tinyint(3) unsigned"},
              {"b", TypeId::boolean, "tinyint(1)"},
              {"si", TypeId::int16, "smallint(6)"},
              {"siu", TypeId::int32, "smallint(5) unsigned"},
              {"mi", TypeId::int32, "mediumint(9)"},
              {"miu", TypeId::int32, "mediumint(8) unsigned"},
              {"i", TypeId::int32, "int(11)"},
              {"iu", TypeId::int64, "int(10) unsigned"},
              {"bi", TypeId::int64, "bigint(20)"},
              {"biu", TypeId::uint64, "bigint(20) unsigned"},
              {"dbig", TypeId::unknown, "decimal(65,30)"},
              {"d38", TypeId::decimal, "decimal(38,10)"},
              {"d52", TypeId::decimal, "decimal(5,2)"},
              {"f", TypeId::float32, "float"},
              {"dbl", TypeId::float64, "double"},
              {"yr", TypeId::int16, "year(4)"},
              {"bit1", TypeId::boolean, "bit(1)"},
              {"bit12", TypeId::unknown, "bit(12)"},
              {"txt", TypeId::string, "varchar(100)"},
              {"lat", TypeId::string, "varchar(20)"},
              {"ch", TypeId::string, "char(5)"},
              {"bin", TypeId::binary, "varbinary(16)"},
              {"bl", TypeId::binary, "longblob"},
              {"en", TypeId::string, "enum('small','large')"},
              {"st", TypeId::string, "set('a','b','c')"},
              {"js", TypeId::json, "longtext"},
              {"dt", TypeId::date, "date"},
              {"tm", TypeId::interval, "time(6)"},
              {"dtm", TypeId::timestamp, "datetime(6)"},
              {"ts", TypeId::timestamp_tz, "timestamp(6)"},
              {"u", TypeId::uuid, "uuid"},
              {"g", TypeId::binary, "point"},
              {"ip", TypeId::string, "inet6"},
              {"gen", TypeId::int32, "int(11)"},
              {"inv", TypeId::int32, "int(11)"},
              {"nn", TypeId::string, "varchar(10)"}};
  ASSERT_EQ(t->columns.size(), std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(t->columns[i].name, want[i].name);
    EXPECT_EQ(t->columns[i].type.id, want[i].id);
    EXPECT_EQ(t->columns[i].type.source_name, want[i].source_name);
  }
  EXPECT_EQ(t->columns[13].type.precision, 38);
  EXPECT_EQ(t->columns[13].type.scale, 10);
  EXPECT_FALSE(t->columns[0].nullable);
  EXPECT_TRUE(t->columns[1].nullable);
  EXPECT_FALSE(t->columns[37].nullable);
  EXPECT_EQ(t->columns[37].default_expression, "'x'");
  EXPECT_EQ(t->columns[36].default_expression, "7");
  EXPECT_EQ(t->primary_key, std::vector<int>{0});

  auto info = src->table_info(t->id);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->comment, "all of them");
  EXPECT_EQ(info->engine, "InnoDB");
  EXPECT_EQ(info->row_estimate, 3);
  EXPECT_GT(info->data_bytes, 0);
  ASSERT_EQ(info->columns.size(), t->columns.size());
  EXPECT_EQ(info->columns[0].comment, "the key");
  EXPECT_TRUE(info->columns[27].json_check);  // js
  EXPECT_TRUE(info->columns[35].generated);   // gen
  EXPECT_EQ(info->columns[35].generation_expression, "`si` * 2");
  EXPECT_TRUE(info->columns[36].invisible);  // inv
  EXPECT_FALSE(info->columns[36].generated);
  EXPECT_EQ(info->columns[21].charset, "latin1");
  ASSERT_EQ(info->indexes.size(), 3u);
  EXPECT_TRUE(info->indexes[0].primary);
  EXPECT_EQ(info->indexes[0].columns, std::vector<std::string>{"id"});
  EXPECT_EQ(info->indexes[1].name, "ix");
  EXPECT_FALSE(info->indexes[1].unique);
  EXPECT_EQ(info->indexes[1].columns, (std::vector<std::string>{"si", "mi"}));
  EXPECT_EQ(info->indexes[2].name, "uk");
  EXPECT_TRUE(info->indexes[2].unique);

  // What the model carries for schema migration.
  EXPECT_EQ(t->source_dialect, "mariadb");
  EXPECT_EQ(t->comment, "all of them");
  EXPECT_EQ(t->row_estimate, 3);
  EXPECT_GT(t->size_bytes, 0);
  EXPECT_EQ(t->columns[0].comment, "the key");
  EXPECT_EQ(t->columns[25].enum_values, (std::vector<std::string>{"small", "large"}));
  EXPECT_TRUE(t->columns[26].enum_values.empty());  // a set is not an enum
  EXPECT_TRUE(t->columns[35].generated);
  EXPECT_FALSE(t->columns[0].auto_increment);
  ASSERT_EQ(t->indexes.size(), 2u);
  EXPECT_EQ(t->indexes[0].name, "ix");
  EXPECT_EQ(t->indexes[0].columns, (std::vector<int>{4, 6}));
  EXPECT_FALSE(t->indexes[0].unique);
  EXPECT_EQ(t->indexes[1].name, "uk");
  EXPECT_EQ(t->indexes[1].columns, std::vector<int>{20});
  EXPECT_TRUE(t->indexes[1].unique);
  auto misc = find_table(*src, "misc");
  EXPECT_TRUE(misc->columns[0].auto_increment);
  EXPECT_EQ(misc->columns[1].enum_values, (std::vector<std::string>{"it's", "c\\d", "x,y"}));
  EXPECT_EQ(misc->columns[1].default_expression, "'x,y'");
  EXPECT_TRUE(misc->indexes.empty());  // prefix and FULLTEXT indexes have no portable form
  EXPECT_EQ(src->table_info(misc->id)->indexes.size(), 3u);

  auto k = find_table(*src, "k");
  EXPECT_EQ(k->primary_key, (std::vector<int>{2, 0}));
  EXPECT_EQ(src->table_info(k->id)->comment, "composite");
  EXPECT_TRUE(find_table(*src, "nokey")->primary_key.empty());

  // tinyint1_as_boolean: false reads tinyint(1) as int8.
  SourceConfig c = config_for(db, 1, {"all_types"});
  c.tinyint1_as_boolean = false;
  MariadbSource ints(c);
  EXPECT_EQ(ints.discover({})[0]->columns[3].type.id, TypeId::int8);
}

TEST(MariadbSource, EveryTypeReadsExactly) {
  ScratchDb db("every");
  db.exec(kAllTypes);
  db.exec(kAllTypesRows);
  auto src = make_source(db);
  auto t = find_table(*src, "all_types");
  auto reader = src->open_reader();
  auto batches = read_all(*src, t, *reader);
  std::map<int64_t, std::pair<std::shared_ptr<model::Batch>, int64_t>> rows;
  for (auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r) rows[b->columns[0].value<int32_t>(r)] = {b, r};
  ASSERT_EQ(rows.size(), 3u);
  auto col = [&](int64_t id, const char *name) -> std::pair<const model::Column *, int64_t> {
    auto &[b, r] = rows.at(id);
    int c = b->schema->find_column(name);
    if (c < 0) throw std::runtime_error(std::string("no column ") + name);
    return {&b->columns[static_cast<size_t>(c)], r};
  };
  auto num = [&](int64_t id, const char *name) {
    auto &[b, r] = rows.at(id);
    return int_at(*b, static_cast<size_t>(b->schema->find_column(name)), r);
  };
  auto str = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    return std::string(c->bytes(r));
  };
  auto boolean = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    return c->bool_value(r);
  };
  auto dec = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    int128 v;
    std::memcpy(&v, c->fixed_bytes(r, 16), 16);
    return v;
  };
  auto interval_nanos = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    const uint8_t *p = c->fixed_bytes(r, 16);
    int32_t months, days;
    int64_t nanos;
    std::memcpy(&months, p, 4);
    std::memcpy(&days, p + 4, 4);
    std::memcpy(&nanos, p + 8, 8);
    EXPECT_EQ(months, 0);
    EXPECT_EQ(days, 0);
    return nanos;
  };
  auto wkb = [&](double x, double y) {
    std::string w("\x01\x01\x00\x00\x00", 5);
    w.append(reinterpret_cast<const char *>(&x), 8);
    w.append(reinterpret_cast<const char *>(&y), 8);
    return w;
  };

  // Row 1: maximums.
  EXPECT_EQ(num(1, "ti"), 127);
  EXPECT_EQ(num(1, "tiu"), 255);
  EXPECT_TRUE(boolean(1, "b"));
  EXPECT_EQ(num(1, "si"), 32767);
  EXPECT_EQ(num(1, "siu"), 65535);
  EXPECT_EQ(num(1, "mi"), 8388607);
  EXPECT_EQ(num(1, "miu"), 16777215);
  EXPECT_EQ(num(1, "i"), 2147483647);
  EXPECT_EQ(num(1, "iu"), 4294967295LL);
  EXPECT_EQ(num(1, "bi"), std::numeric_limits<int64_t>::max());
  {
    auto [c, r] = col(1, "biu");
    EXPECT_EQ(c->value<uint64_t>(r), std::numeric_limits<uint64_t>::max());
  }
  EXPECT_EQ(str(1, "dbig"), "99999999999999999999999999999999999.999999999999999999999999999999");
  EXPECT_TRUE(dec(1, "d38") == nines(38));
  EXPECT_TRUE(dec(1, "d52") == 99999);
  {
    auto [c, r] = col(1, "f");
    EXPECT_EQ(c->value<float>(r), FLT_MAX);
    auto [d, s] = col(1, "dbl");
    EXPECT_EQ(d->value<double>(s), DBL_MAX);
  }
  EXPECT_EQ(num(1, "yr"), 2155);
  EXPECT_TRUE(boolean(1, "bit1"));
  EXPECT_EQ(str(1, "bit12"), "101000000011");
  EXPECT_EQ(str(1, "txt"), "héllo 😀 wörld");
  EXPECT_EQ(str(1, "lat"), "\xc3\xa9");  // latin1 'é' arrives as UTF-8
  EXPECT_EQ(str(1, "ch"), "ab");
  EXPECT_EQ(str(1, "bin"), std::string("\x00\xff\x00\x01", 4));
  {
    std::string want;
    for (int i = 0; i < 524288; ++i) want += std::string("\x00\xab", 2);
    EXPECT_TRUE(str(1, "bl") == want);
  }
  EXPECT_EQ(str(1, "en"), "large");
  EXPECT_EQ(str(1, "st"), "a,c");
  EXPECT_EQ(str(1, "js"), "{\"a\": [1, 2]}");
  EXPECT_EQ(num(1, "dt"), 2932896);
  EXPECT_EQ(interval_nanos(1, "tm"), 3020399LL * 1000000000);
  EXPECT_EQ(num(1, "dtm"), 2932896LL * 86400000000 + 86399999999);
  EXPECT_EQ(num(1, "ts"), 2147483647LL * 1000000 + 999999);  // inserted at +05:00, read in UTC
  {
    auto [c, r] = col(1, "u");
    const uint8_t want[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                              0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
    EXPECT_EQ(std::memcmp(c->fixed_bytes(r, 16), want, 16), 0);
  }
  EXPECT_EQ(str(1, "g"), wkb(1, 2));
  EXPECT_EQ(str(1, "ip"), "::1");
  EXPECT_EQ(num(1, "gen"), 65534);
  EXPECT_EQ(num(1, "inv"), 9);
  EXPECT_EQ(str(1, "nn"), "max");

  // Row 2: minimums, empties and negatives.
  EXPECT_EQ(num(2, "ti"), -128);
  EXPECT_EQ(num(2, "tiu"), 0);
  EXPECT_FALSE(boolean(2, "b"));
  EXPECT_EQ(num(2, "si"), -32768);
  EXPECT_EQ(num(2, "mi"), -8388608);
  EXPECT_EQ(num(2, "i"), -2147483648LL);
  EXPECT_EQ(num(2, "bi"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(num(2, "biu"), 0);
  EXPECT_EQ(str(2, "dbig"), "-99999999999999999999999999999999999.999999999999999999999999999999");
  EXPECT_TRUE(dec(2, "d38") == -nines(38));
  EXPECT_TRUE(dec(2, "d52") == -1);
  {
    auto [c, r] = col(2, "f");
    EXPECT_EQ(c->value<float>(r), -FLT_MIN);
    auto [d, s] = col(2, "dbl");
    EXPECT_EQ(d->value<double>(s), std::numeric_limits<double>::denorm_min());
  }
  EXPECT_EQ(num(2, "yr"), 0);
  EXPECT_FALSE(boolean(2, "bit1"));
  EXPECT_EQ(str(2, "bit12"), "000000000001");
  EXPECT_EQ(str(2, "txt"), "");
  EXPECT_TRUE(col(2, "txt").first->is_valid(col(2, "txt").second));
  EXPECT_EQ(str(2, "lat"), "Ångström");
  EXPECT_EQ(str(2, "bin"), "");
  EXPECT_EQ(str(2, "bl"), std::string(3, '\0'));
  EXPECT_EQ(str(2, "en"), "small");
  EXPECT_EQ(str(2, "st"), "");
  EXPECT_EQ(str(2, "js"), "null");
  EXPECT_EQ(num(2, "dt"), -354285);
  EXPECT_EQ(interval_nanos(2, "tm"), -43200500000000LL);
  EXPECT_EQ(num(2, "dtm"), -354285LL * 86400000000);
  EXPECT_EQ(num(2, "ts"), 1000000);
  {
    auto [c, r] = col(2, "u");
    const uint8_t zero[16] = {};
    EXPECT_EQ(std::memcmp(c->fixed_bytes(r, 16), zero, 16), 0);
  }
  EXPECT_EQ(str(2, "g"), wkb(-1.5, 0));
  EXPECT_EQ(str(2, "ip"), "::ffff:192.0.2.1");
  EXPECT_EQ(num(2, "gen"), -65536);
  EXPECT_EQ(num(2, "inv"), 7);

  // Row 3: NULL everywhere but the key and the not-null column.
  for (const auto &c : t->columns) {
    SCOPED_TRACE(c.name);
    auto [column, r] = col(3, c.name.c_str());
    EXPECT_EQ(column->is_valid(r), c.name == "id" || c.name == "nn");
  }

  // Doubles keep their shortest round-trip text; floats are exact through the double cast.
  db.exec(
      "CREATE TABLE fl (id int PRIMARY KEY, f float, d double);"
      "INSERT INTO fl VALUES (1, 0.1, 0.1 + 0.2e0), (2, 1.1, 1e-300), (3, 16777217, -2.2250738585072014e-308)");
  auto src2 = make_source(db, 1, {"fl"});
  auto fl = src2->discover({})[0];
  auto r2 = src2->open_reader();
  auto got = read_all(*src2, fl, *r2);
  ASSERT_EQ(rows_of(got), 3);
  const auto &b = *got[0];
  EXPECT_EQ(b.columns[1].value<float>(0), 0.1f);
  EXPECT_EQ(b.columns[2].value<double>(0), 0.1 + 0.2);
  EXPECT_EQ(b.columns[1].value<float>(1), 1.1f);
  EXPECT_EQ(b.columns[2].value<double>(1), 1e-300);
  EXPECT_EQ(b.columns[1].value<float>(2), 16777216.0f);
  EXPECT_EQ(b.columns[2].value<double>(2), -2.2250738585072014e-308);
}

// ---------------------------------------------------------------- splits

TEST(MariadbSource, IntKeySplitsCoverEveryRowOnceWithParallelReaders) {
  ScratchDb db("cover");
  db.exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, pad varchar(50));"
      "INSERT INTO t SELECT seq, CONCAT('p', seq) FROM seq_1_to_20000;"
      "DELETE FROM t WHERE id BETWEEN 3000 AND 9000 AND id % 3 = 0; INSERT INTO t VALUES (-5, 'neg');"
      "ANALYZE TABLE t");
  auto src = make_source(db, 3);
  auto t = find_table(*src, "t");
  auto splits = src->plan_splits(t, 3, 1000);
  ASSERT_GE(splits.size(), 6u);
  std::set<std::string> streams;
  for (auto &s : splits) {
    EXPECT_EQ(s.range.rfind("pk:", 0), 0u) << s.range;
    EXPECT_EQ(s.stream.rfind(db.name() + ".t#", 0), 0u) << s.stream;
    streams.insert(s.stream);
  }
  EXPECT_EQ(streams.size(), splits.size());
  EXPECT_EQ(splits.front().range.rfind("pk::", 0), 0u);  // open ends
  EXPECT_EQ(splits.back().range.back(), ':');

  std::vector<std::unique_ptr<model::SplitReader>> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(src->open_reader());
  std::vector<std::vector<int64_t>> ids(3);
  std::vector<std::string> failures(3);
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w)
    threads.emplace_back([&, w] {
      try {
        for (size_t i = static_cast<size_t>(w); i < splits.size(); i += 3) {
          auto batches = read_split(*readers[static_cast<size_t>(w)], splits[i], "", 700);
          if (batches.empty() || !batches.back()->position.stream_done ||
              batches.back()->position.stream != splits[i].stream)
            failures[static_cast<size_t>(w)] = "split " + splits[i].stream + " did not end with stream_done";
          for (size_t b = 0; b + 1 < batches.size(); ++b)
            if (batches[b]->position.stream_done) failures[static_cast<size_t>(w)] = "stream_done before the end";
          auto k = keys_of(batches);
          ids[static_cast<size_t>(w)].insert(ids[static_cast<size_t>(w)].end(), k.begin(), k.end());
        }
      } catch (const std::exception &e) {
        failures[static_cast<size_t>(w)] = e.what();
      }
    });
  for (auto &th : threads) th.join();
  for (auto &f : failures) EXPECT_EQ(f, "");
  std::vector<int64_t> all;
  for (auto &v : ids) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want;
  for (auto &row : db.query("SELECT id FROM t ORDER BY id")) want.push_back(std::stoll(row[0]));
  EXPECT_EQ(all, want);
}

TEST(MariadbSource, UnsignedBigintKeysSplitAndResume) {
  ScratchDb db("unsigned");
  db.exec(
      "CREATE TABLE u (id bigint unsigned PRIMARY KEY, v int);"
      "INSERT INTO u VALUES (0, 1), (1, 2), (9223372036854775807, 3), (9223372036854775808, 4),"
      " (18446744073709551000, 5), (18446744073709551614, 6), (18446744073709551615, 7); ANALYZE TABLE u");
  auto src = make_source(db);
  auto t = find_table(*src, "u");
  auto splits = src->plan_splits(t, 2, 1);
  ASSERT_GE(splits.size(), 2u);
  auto reader = src->open_reader();
  std::vector<uint64_t> got;
  for (auto &s : splits)
    for (auto &b : read_split(*reader, s, "", 2))
      for (int64_t r = 0; r < b->num_rows; ++r) got.push_back(b->columns[0].value<uint64_t>(r));
  std::sort(got.begin(), got.end());
  const std::vector<uint64_t> want = {0,
                                      1,
                                      9223372036854775807ULL,
                                      9223372036854775808ULL,
                                      18446744073709551000ULL,
                                      18446744073709551614ULL,
                                      18446744073709551615ULL};
  EXPECT_EQ(got, want);
  // One whole-table split resumed after 2^63.
  model::Split whole{t, db.name() + ".u#0", "pk::", 7, ""};
  auto rest = read_split(*reader, whole, "9223372036854775808", 2);
  std::vector<uint64_t> tail;
  for (auto &b : rest)
    for (int64_t r = 0; r < b->num_rows; ++r) tail.push_back(b->columns[0].value<uint64_t>(r));
  EXPECT_EQ(tail, std::vector<uint64_t>(want.begin() + 4, want.end()));
  EXPECT_EQ(rest.back()->position.value, "18446744073709551615");
}

TEST(MariadbSource, EmptyTablesGiveOneEmptyDoneBatch) {
  ScratchDb db("empty");
  db.exec("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (x text); CREATE TABLE c (s varchar(5) PRIMARY KEY)");
  auto src = make_source(db);
  auto reader = src->open_reader();
  for (const char *name : {"a", "b", "c"}) {
    SCOPED_TRACE(name);
    auto splits = src->plan_splits(find_table(*src, name), 4, 1000);
    ASSERT_EQ(splits.size(), 1u);
    auto batches = read_split(*reader, splits[0]);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0]->num_rows, 0);
    EXPECT_TRUE(batches[0]->position.stream_done);
  }
}

TEST(MariadbSource, IntKeyResumeReadsExactlyTheRest) {
  ScratchDb db("resume");
  db.exec("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, seq * 2 FROM seq_1_to_5000");
  auto src = make_source(db);
  auto t = find_table(*src, "t");
  auto splits = src->plan_splits(t, 1, 1000000);
  ASSERT_EQ(splits.size(), 2u);  // at least two per reader once a table has a few thousand rows
  splits = {model::Split{t, db.name() + ".t#0", "pk::", 5000, ""}};
  auto reader = src->open_reader();
  auto batches = read_split(*reader, splits[0], "", 400);
  ASSERT_EQ(batches.size(), 13u);
  EXPECT_EQ(batches[1]->position.value, "800");
  auto rest = read_split(*reader, splits[0], batches[1]->position.value, 400);
  auto keys = keys_of(rest);
  ASSERT_EQ(keys.size(), 4200u);
  EXPECT_EQ(keys.front(), 801);
  EXPECT_EQ(keys.back(), 5000);
  EXPECT_TRUE(rest.back()->position.stream_done);
  EXPECT_EQ(rest.back()->position.value, "5000");
  // Resuming at the very end gives one empty done batch keeping the position.
  auto none = read_split(*reader, splits[0], "5000");
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0]->num_rows, 0);
  EXPECT_TRUE(none[0]->position.stream_done);
  EXPECT_EQ(none[0]->position.value, "5000");
  try {
    read_split(*reader, splits[0], "12; DROP TABLE t");
    FAIL() << "a non-integer position was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::invalid_argument);
  }
}

// Every (a, b) key of the batches, as text.
std::vector<std::string> composite_keys(const Batches &batches) {
  std::vector<std::string> out;
  for (const auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r)
      out.push_back(std::to_string(b->columns[0].value<int32_t>(r)) + "|" + std::string(b->columns[1].bytes(r)));
  return out;
}

TEST(MariadbSource, CompositeAndStringKeysResumeAtEveryBatch) {
  ScratchDb db("keyset");
  db.exec(
      "CREATE TABLE k (a int, b varchar(20) COLLATE utf8mb4_general_ci, v int, PRIMARY KEY (a, b));"
      "INSERT INTO k VALUES (1, 'a', 1), (1, 'B', 2), (1, 'c', 3), (1, 'x''y', 4), (1, 'back\\\\slash', 5),"
      " (1, 'comma,here', 6), (1, 'ö', 7), (2, '', 8), (2, ' lead', 9), (2, 'Z', 10), (-1, 'neg', 11),"
      " (3, '😀', 12), (3, 'tail', 13);"
      "CREATE TABLE bk (k varbinary(8) PRIMARY KEY, v int);"
      "INSERT INTO bk VALUES (x'00', 1), (x'0000', 2), (x'00ff', 3), (x'ff', 4), (x'2c27', 5), ('', 6);"
      "CREATE TABLE ek (e enum('zeta','alpha'), d datetime(3), PRIMARY KEY (e, d));"
      "INSERT INTO ek VALUES ('zeta', '2020-01-01 00:00:00.5'), ('zeta', '2020-01-01 00:00:00.25'),"
      " ('alpha', '1999-12-31 23:59:59.999'), ('alpha', '2000-01-01 00:00:00')");
  auto src = make_source(db);
  auto reader = src->open_reader();
  {
    auto t = find_table(*src, "k");
    auto splits = src->plan_splits(t, 4, 1);
    ASSERT_EQ(splits.size(), 1u);
    EXPECT_EQ(splits[0].range, "keyset");
    auto batches = read_split(*reader, splits[0], "", 3);
    auto all = composite_keys(batches);
    std::vector<std::string> want;
    for (auto &row : db.query("SELECT a, b FROM k ORDER BY a, b")) want.push_back(row[0] + "|" + row[1]);
    ASSERT_EQ(all, want);
    size_t done = 0;
    for (size_t i = 0; i + 1 < batches.size(); ++i) {
      done += static_cast<size_t>(batches[i]->num_rows);
      SCOPED_TRACE(batches[i]->position.value);
      auto rest = composite_keys(read_split(*reader, splits[0], batches[i]->position.value, 2));
      EXPECT_EQ(rest, std::vector<std::string>(all.begin() + static_cast<long>(done), all.end()));
    }
  }
  {
    auto t = find_table(*src, "bk");
    auto splits = src->plan_splits(t, 1, 1000);
    ASSERT_EQ(splits[0].range, "keyset");
    auto batches = read_split(*reader, splits[0], "", 1);
    ASSERT_EQ(rows_of(batches), 6);
    std::vector<std::string> order;
    for (auto &b : batches)
      if (b->num_rows == 1) order.push_back(std::string(b->columns[0].bytes(0)));
    EXPECT_EQ(order, (std::vector<std::string>{"", std::string("\0", 1), std::string("\0\0", 2),
                                               std::string("\0\xff", 2), ",'", "\xff"}));
    for (size_t i = 0; i + 1 < batches.size(); ++i) {
      auto rest = read_split(*reader, splits[0], batches[i]->position.value, 10);
      EXPECT_EQ(rows_of(rest), static_cast<int64_t>(5 - i)) << batches[i]->position.value;
    }
  }
  {
    auto t = find_table(*src, "ek");
    auto splits = src->plan_splits(t, 1, 1000);
    auto batches = read_split(*reader, splits[0], "", 1);
    ASSERT_EQ(rows_of(batches), 4);
    EXPECT_EQ(std::string(batches[0]->columns[0].bytes(0)), "zeta");  // enums sort by their number
    EXPECT_EQ(std::string(batches[2]->columns[0].bytes(0)), "alpha");
    for (size_t i = 0; i + 1 < batches.size(); ++i) {
      auto rest = read_split(*reader, splits[0], batches[i]->position.value, 10);
      EXPECT_EQ(rows_of(rest), static_cast<int64_t>(3 - i)) << batches[i]->position.value;
    }
  }
  for (const char *bad : {"(zz,01)", "(01)", "(01,02,03)", "01,02"}) {
    SCOPED_TRACE(bad);
    try {
      auto t = find_table(*src, "k");
      read_split(*reader, src->plan_splits(t, 1, 1000)[0], bad);
      FAIL() << "a malformed keyset position was accepted";
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::invalid_argument);
    }
  }
}

TEST(MariadbSource, TableWithoutKeyIsOneSplitThatCannotResume) {
  ScratchDb db("nokey");
  db.exec("CREATE TABLE h (x int, y varchar(10)); INSERT INTO h SELECT seq, 'y' FROM seq_1_to_2500");
  auto src = make_source(db);
  auto t = find_table(*src, "h");
  auto splits = src->plan_splits(t, 4, 100);
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].range, "full");
  auto reader = src->open_reader();
  auto batches = read_split(*reader, splits[0], "", 1000);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(rows_of(batches), 2500);
  auto keys = keys_of(batches);
  std::sort(keys.begin(), keys.end());
  for (int i = 0; i < 2500; ++i) ASSERT_EQ(keys[static_cast<size_t>(i)], i + 1);
  EXPECT_TRUE(batches.back()->position.stream_done);
  try {
    read_split(*reader, splits[0], batches[0]->position.value);
    FAIL() << "a table without a primary key was resumed";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::state);
    EXPECT_FALSE(e.retriable());
    EXPECT_NE(std::string(e.what()).find("no primary key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(db.name() + ".h"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--fresh"), std::string::npos) << e.what();
  }
}

TEST(MariadbSource, FilterIsPushedIntoTheQuery) {
  ScratchDb db("filter");
  db.exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, seq % 10 FROM seq_1_to_3000;"
      "CREATE TABLE k (a int, b int, PRIMARY KEY (a, b)); INSERT INTO k SELECT seq % 7, seq FROM seq_1_to_700;"
      "CREATE TABLE h (v int); INSERT INTO h SELECT seq FROM seq_1_to_100");
  auto src = make_source(db);
  auto reader = src->open_reader();
  EXPECT_EQ(rows_of(read_all(*src, find_table(*src, "t"), *reader, "v = 3 OR id <= 5")), 300 + 4);
  EXPECT_EQ(rows_of(read_all(*src, find_table(*src, "k"), *reader, "a = 0")), 100);
  EXPECT_EQ(rows_of(read_all(*src, find_table(*src, "h"), *reader, "v > 90")), 10);
}

// ---------------------------------------------------------------- invalid values

void make_zero_dates(const ScratchDb &db) {
  db.exec(
      "SET SESSION sql_mode = 'ALLOW_INVALID_DATES';"
      "CREATE TABLE z (id int PRIMARY KEY, d date NOT NULL, dt datetime(6), ts timestamp NULL DEFAULT NULL);"
      "INSERT INTO z VALUES (1, '2020-05-06', '2020-05-06 07:08:09.5', '2020-05-06 07:08:09'),"
      " (2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),"
      " (3, '2020-00-15', '2020-02-00 10:00:00', NULL), (4, '2023-02-31', '0000-01-01 00:00:00', NULL),"
      " (5, '0000-00-00', '2021-01-01 00:00:00', NULL)");
}

TEST(MariadbSource, ZeroDatesFailByDefaultNamingTableColumnValueAndKey) {
  ScratchDb db("zeroerr");
  make_zero_dates(db);
  auto src = make_source(db);
  auto t = find_table(*src, "z");
  EXPECT_FALSE(t->columns[1].nullable);
  auto reader = src->open_reader();
  try {
    read_all(*src, t, *reader);
    FAIL() << "a zero date was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    const std::string m = e.what();
    EXPECT_NE(m.find(db.name() + ".z"), std::string::npos) << m;
    EXPECT_NE(m.find("column d "), std::string::npos) << m;
    EXPECT_NE(m.find("'0000-00-00'"), std::string::npos) << m;
    EXPECT_NE(m.find("id=2"), std::string::npos) << m;
    EXPECT_NE(m.find("pipeline.invalid_values: null"), std::string::npos) << m;
    EXPECT_NE(m.find("clamp"), std::string::npos) << m;
    EXPECT_NE(e.context().find("column=d"), std::string::npos) << e.context();
  }
  // The reader stays usable after the error (the statement was stopped, not the connection).
  db.exec("CREATE TABLE ok (id int PRIMARY KEY); INSERT INTO ok VALUES (1), (2)");
  auto src2 = make_source(db);
  auto reader2 = src2->open_reader();
  try {
    read_all(*src2, find_table(*src2, "z"), *reader2);
    FAIL();
  } catch (const Error &) {
  }
  EXPECT_EQ(rows_of(read_all(*src2, find_table(*src2, "ok"), *reader2)), 2);
}

TEST(MariadbSource, ZeroDatesBecomeNullAndAreCounted) {
  ScratchDb db("zeronull");
  make_zero_dates(db);
  SourceConfig c = config_for(db);
  c.invalid_values = model::InvalidValuePolicy::null;
  MariadbSource src(c);
  auto t = find_table(src, "z");
  EXPECT_TRUE(t->columns[1].nullable);  // so that targets are created able to hold the NULLs
  auto reader = src.open_reader();
  auto batches = read_all(src, t, *reader);
  ASSERT_EQ(batches.size(), 1u);
  const auto &b = *batches[0];
  ASSERT_EQ(b.num_rows, 5);
  EXPECT_TRUE(b.columns[1].is_valid(0));
  for (int64_t r = 1; r < 5; ++r) EXPECT_FALSE(b.columns[1].is_valid(r)) << r;
  EXPECT_FALSE(b.columns[2].is_valid(1));
  EXPECT_FALSE(b.columns[2].is_valid(2));
  EXPECT_FALSE(b.columns[2].is_valid(3));
  EXPECT_TRUE(b.columns[2].is_valid(4));
  EXPECT_FALSE(b.columns[3].is_valid(1));
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const auto &e : c.value_report->entries()) {
    EXPECT_EQ(e.table, db.name() + ".z");
    counts[{e.column, e.reason}] += e.count;
  }
  EXPECT_EQ((counts[{"d", "zero date '0000-00-00' written as NULL"}]), 2);
  EXPECT_EQ((counts[{"d", "invalid date (year, month or day out of range) written as NULL"}]), 2);
  EXPECT_EQ((counts[{"dt", "zero date '0000-00-00 00:00:00' written as NULL"}]), 1);
  EXPECT_EQ((counts[{"dt", "invalid date (year, month or day out of range) written as NULL"}]), 2);
  EXPECT_EQ((counts[{"ts", "zero date '0000-00-00 00:00:00' written as NULL"}]), 1);
  EXPECT_EQ(c.value_report->total(), 8);
}

TEST(MariadbSource, ZeroDatesClampToTheNearestValidDate) {
  ScratchDb db("zeroclamp");
  make_zero_dates(db);
  SourceConfig c = config_for(db);
  c.invalid_values = model::InvalidValuePolicy::clamp;
  MariadbSource src(c);
  auto t = find_table(src, "z");
  EXPECT_FALSE(t->columns[1].nullable);
  auto reader = src.open_reader();
  auto batches = read_all(src, t, *reader);
  const auto &b = *batches[0];
  ASSERT_EQ(b.num_rows, 5);
  EXPECT_EQ(b.columns[1].value<int32_t>(0), days_from_civil(2020, 5, 6));
  EXPECT_EQ(b.columns[1].value<int32_t>(1), days_from_civil(1, 1, 1));
  EXPECT_EQ(b.columns[1].value<int32_t>(2), days_from_civil(2020, 1, 15));
  EXPECT_EQ(b.columns[1].value<int32_t>(3), days_from_civil(2023, 2, 28));
  const int64_t day = 86400000000LL;
  EXPECT_EQ(b.columns[2].value<int64_t>(0),
            days_from_civil(2020, 5, 6) * day + (7 * 3600 + 8 * 60 + 9) * 1000000LL + 500000);
  EXPECT_EQ(b.columns[2].value<int64_t>(1), days_from_civil(1, 1, 1) * day);
  EXPECT_EQ(b.columns[2].value<int64_t>(2), days_from_civil(2020, 2, 1) * day + 10 * 3600 * 1000000LL);
  EXPECT_EQ(b.columns[2].value<int64_t>(3), days_from_civil(1, 1, 1) * day);
  EXPECT_EQ(b.columns[3].value<int64_t>(1), days_from_civil(1, 1, 1) * day);
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const auto &e : c.value_report->entries()) counts[{e.column, e.reason}] += e.count;
  EXPECT_EQ((counts[{"d", "zero date '0000-00-00' written as '0001-01-01'"}]), 2);
  EXPECT_EQ((counts[{"ts", "zero date '0000-00-00 00:00:00' written as '0001-01-01 00:00:00'"}]), 1);
  EXPECT_EQ(c.value_report->total(), 8);
}

TEST(MariadbSource, TinyintOneOutsideZeroOneIsADataErrorWithTheHint) {
  ScratchDb db("tinyint");
  db.exec("CREATE TABLE f (id int PRIMARY KEY, flag tinyint(1)); INSERT INTO f VALUES (1, 1), (2, 0), (7, 5)");
  auto src = make_source(db);
  auto reader = src->open_reader();
  try {
    read_all(*src, find_table(*src, "f"), *reader);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    const std::string m = e.what();
    EXPECT_NE(m.find("column flag"), std::string::npos) << m;
    EXPECT_NE(m.find(" 5"), std::string::npos) << m;
    EXPECT_NE(m.find("id=7"), std::string::npos) << m;
    EXPECT_NE(m.find("tinyint1_as_boolean: false"), std::string::npos) << m;
  }
  SourceConfig c = config_for(db);
  c.tinyint1_as_boolean = false;
  MariadbSource ints(c);
  auto r2 = ints.open_reader();
  auto batches = read_all(ints, find_table(ints, "f"), *r2);
  EXPECT_EQ(keys_of(batches, 1), (std::vector<int64_t>{1, 0, 5}));
}

// ---------------------------------------------------------------- snapshot

// SHOW MASTER STATUS as (file, position).
std::pair<std::string, uint64_t> master_status(RawConn &raw) {
  auto rows = raw.query("SHOW MASTER STATUS");
  if (rows.empty()) throw std::runtime_error("binary logging is off on the test server");
  return {rows[0][0], std::stoull(rows[0][1])};
}

TEST(MariadbSource, ReadersShareOneSnapshotAndItsBinlogPosition) {
  ScratchDb db("snapshot");
  db.exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, 0 FROM seq_1_to_1000;"
      "CREATE TABLE h (id int); INSERT INTO h SELECT seq FROM seq_1_to_1000");
  RawConn raw(db.name());
  const auto before = master_status(raw);
  auto src = make_source(db, 2);
  auto t = find_table(*src, "t");
  auto splits = src->plan_splits(t, 2, 100);
  auto hsplits = src->plan_splits(find_table(*src, "h"), 2, 100);
  const std::string position = src->consistent_position();
  const auto after = master_status(raw);
  EXPECT_EQ(src->snapshot_mode(), SnapshotMode::one_instant);
  EXPECT_EQ(src->describe(), "mariadb host=" + db.params().host + " port=" + std::to_string(db.params().port) +
                                 " database=" + db.name());

  // The position parses and lies between the two SHOW MASTER STATUS taken around it.
  auto p = parse_position(position);
  ASSERT_EQ(p.count("file"), 1u) << position;
  ASSERT_EQ(p.count("pos"), 1u) << position;
  ASSERT_EQ(p.count("gtid"), 1u) << position;
  const std::pair<std::string, uint64_t> at{p["file"], std::stoull(p["pos"])};
  EXPECT_LE(before, at) << position;
  EXPECT_LE(at, after) << position;
  EXPECT_EQ(p["gtid"], raw.scalar("SELECT BINLOG_GTID_POS(" + quote_literal(at.first) + ", " + p["pos"] + ")"))
      << position;

  // Changes after planning, from another connection.
  raw.exec(
      "INSERT INTO t SELECT seq, 1 FROM seq_1001_to_1500; UPDATE t SET v = 1 WHERE id <= 10;"
      "DELETE FROM t WHERE id = 500; INSERT INTO h SELECT seq FROM seq_1001_to_2000; DELETE FROM h WHERE id < 100");
  auto r1 = src->open_reader();
  auto r2 = src->open_reader();
  EXPECT_TRUE(static_cast<MariadbSplitReader &>(*r1).in_shared_snapshot());
  EXPECT_TRUE(static_cast<MariadbSplitReader &>(*r2).in_shared_snapshot());
  std::vector<int64_t> ids;
  for (size_t i = 0; i < splits.size(); ++i)
    for (auto &b : read_split(i % 2 ? *r1 : *r2, splits[i]))
      for (int64_t r = 0; r < b->num_rows; ++r) {
        ids.push_back(b->columns[0].value<int32_t>(r));
        EXPECT_EQ(b->columns[1].value<int32_t>(r), 0);
      }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 500), ids.end());
  int64_t h1 = 0, h2 = 0;
  for (auto &s : hsplits) {
    h1 += rows_of(read_split(*r1, s));
    h2 += rows_of(read_split(*r2, s));
  }
  EXPECT_EQ(h1, 1000);
  EXPECT_EQ(h2, 1000);
  // Beyond the prepared readers, a reader has a later snapshot of its own: complete, but not the same instant.
  auto r3 = src->open_reader();
  EXPECT_FALSE(static_cast<MariadbSplitReader &>(*r3).in_shared_snapshot());
  int64_t later = 0;
  for (auto &s : splits) later += rows_of(read_split(*r3, s));
  EXPECT_EQ(later, 1499);
}

TEST(MariadbSource, ReadersSeeOneInstantWhileWritesContinue) {
  ScratchDb db("instant");
  db.exec("CREATE TABLE w (id int AUTO_INCREMENT PRIMARY KEY, x int)");
  std::atomic<bool> stop{false};
  std::atomic<int64_t> written{0};
  std::string writer_error;
  std::thread writer([&] {
    try {
      RawConn w(db.name());
      while (!stop.load()) {
        w.exec("INSERT INTO w (x) VALUES (1)");
        written.fetch_add(1);
      }
    } catch (const std::exception &e) {
      writer_error = e.what();
    }
  });
  while (written.load() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto src = make_source(db, 3);
  auto t = find_table(*src, "w");
  std::vector<std::unique_ptr<model::SplitReader>> readers;
  for (int i = 0; i < 3; ++i) readers.push_back(src->open_reader());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  writer.join();
  EXPECT_EQ(writer_error, "");
  model::Split whole{t, db.name() + ".w#0", "pk::", 0, ""};
  std::set<int64_t> counts;
  for (auto &r : readers) counts.insert(rows_of(read_split(*r, whole)));
  EXPECT_EQ(counts.size(), 1u) << "the readers saw different instants";
  EXPECT_LT(*counts.begin(), written.load());
}

TEST(MariadbSource, ReadLockWaitIsBoundedAndNamesTheCause) {
  ScratchDb db("lockwait");
  db.exec("CREATE TABLE t (id int PRIMARY KEY)");
  RawConn holder(db.name());
  holder.exec("LOCK TABLES t WRITE");  // FLUSH TABLES WITH READ LOCK must wait for it
  // Through the registry: source.lock_wait_timeout reaches the snapshot.
  register_builtin_connectors();
  config::ConnectorSpec spec;
  spec.type = "mariadb";
  const ConnParams p = db.params();
  for (const auto &[k, v] : std::map<std::string, std::string>{{"host", p.host},
                                                               {"port", std::to_string(p.port)},
                                                               {"user", p.user},
                                                               {"password", p.password},
                                                               {"database", p.database},
                                                               {"lock_wait_timeout", "1"}})
    spec.options.set(k, v);
  auto made = create_source(spec, ConnectorContext{});
  model::Source &src = *made;
  const auto started = std::chrono::steady_clock::now();
  try {
    src.discover({});
    FAIL() << "the snapshot was taken while a table was write-locked";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::timeout) << e.what();
    EXPECT_NE(std::string(e.what()).find("FLUSH TABLES WITH READ LOCK"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("SHOW PROCESSLIST"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("source.lock_wait_timeout"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  holder.exec("UNLOCK TABLES");
  EXPECT_EQ(src.discover({}).size(), 1u);  // a later call takes the snapshot
}

// A user of its own for privilege tests, dropped at the end.
struct ScratchUser {
  std::string name, password = "lim-pass-789";
  explicit ScratchUser(const ScratchDb &db) : name(db.name().substr(0, 60) + "_u") {
    RawConn admin;
    admin.exec("DROP USER IF EXISTS '" + name + "'@'127.0.0.1'");
    admin.exec("CREATE USER '" + name + "'@'127.0.0.1' IDENTIFIED BY '" + password + "'");
  }
  ~ScratchUser() {
    try {
      RawConn().exec("DROP USER IF EXISTS '" + name + "'@'127.0.0.1'");
    } catch (...) {
    }
  }
};

TEST(MariadbSource, WithoutReloadPrivilegeEachReaderSnapshotsOnItsOwn) {
  ScratchDb db("noreload");
  db.exec(
      "CREATE TABLE pub (id int PRIMARY KEY, v int); INSERT INTO pub SELECT seq, seq FROM seq_1_to_100;"
      "CREATE TABLE secret (id int PRIMARY KEY); INSERT INTO secret VALUES (1)");
  ScratchUser user(db);
  RawConn().exec("GRANT SELECT ON `" + db.name() + "`.`pub` TO '" + user.name + "'@'127.0.0.1'; GRANT INSERT ON `" +
                 db.name() + "`.`secret` TO '" + user.name + "'@'127.0.0.1'");
  SourceConfig c = config_for(db, 2);
  c.conn.user = user.name;
  c.conn.password = user.password;
  MariadbSource src(c);
  auto tables = src.discover({});
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(src.snapshot_mode(), SnapshotMode::per_connection);
  EXPECT_NE(src.describe().find("per-connection"), std::string::npos) << src.describe();
  EXPECT_EQ(src.describe().find(user.password), std::string::npos);
  auto p = parse_position(src.consistent_position());
  EXPECT_EQ(p.count("file"), 1u) << src.consistent_position();
  auto reader = src.open_reader();
  EXPECT_EQ(rows_of(read_all(src, find_table(src, "pub"), *reader)), 100);
  try {
    read_all(src, find_table(src, "secret"), *reader);
    FAIL() << "read without SELECT privilege";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::auth) << e.what();
    EXPECT_NE(std::string(e.what()).find(db.name() + ".secret"), std::string::npos) << e.what();
    EXPECT_EQ((std::string(e.what()) + e.context()).find(user.password), std::string::npos);
  }
}

// ---------------------------------------------------------------- failures

TEST(MariadbSource, KilledConnectionIsRetriableAndTheRetryResumes) {
  ScratchDb db("kill");
  db.exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, pad varchar(200));"
      "INSERT INTO t SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000");
  auto src = make_source(db);
  auto t = find_table(*src, "t");
  const std::vector<model::Split> splits{model::Split{t, db.name() + ".t#0", "pk::", 200000, ""}};
  auto reader_ptr = src->open_reader();
  auto &reader = static_cast<MariadbSplitReader &>(*reader_ptr);
  std::vector<int64_t> got;
  std::string position;
  int batches = 0;
  model::CancelToken cancel;
  try {
    reader.read(
        splits[0], "", 1000,
        [&](std::shared_ptr<model::Batch> b) {
          auto k = keys_of({b});
          got.insert(got.end(), k.begin(), k.end());
          position = b->position.value;
          if (++batches == 2) RawConn().exec("KILL CONNECTION " + std::to_string(reader.thread_id()));
          return true;
        },
        cancel);
    FAIL() << "the read survived KILL CONNECTION";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::connection) << e.what();
    EXPECT_TRUE(e.retriable());
    EXPECT_NE(e.context().find("table=" + db.name() + ".t"), std::string::npos) << e.context();
  }
  ASSERT_GE(batches, 2);
  EXPECT_LT(got.size(), 200000u);
  // The engine retries from the last emitted position; the reader reconnects.
  auto rest = read_split(reader, splits[0], position, 5000);
  EXPECT_FALSE(reader.in_shared_snapshot());
  auto k = keys_of(rest);
  got.insert(got.end(), k.begin(), k.end());
  ASSERT_EQ(got.size(), 200000u);
  for (int64_t i = 0; i < 200000; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], i + 1);
}

TEST(MariadbSource, CancelStopsBetweenBatchesAndKeepsTheSnapshot) {
  ScratchDb db("cancel");
  db.exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_300000");
  auto src = make_source(db);
  auto splits = src->plan_splits(find_table(*src, "t"), 1, 1000000);
  auto reader = src->open_reader();
  db.exec("INSERT INTO t VALUES (300001)");  // after the snapshot: never seen
  model::CancelToken cancel;
  int batches = 0;
  auto started = std::chrono::steady_clock::now();
  reader->read(
      splits[0], "", 100,
      [&](std::shared_ptr<model::Batch> b) {
        EXPECT_FALSE(b->position.stream_done);
        if (++batches == 3) cancel.cancel();
        return true;
      },
      cancel);
  EXPECT_EQ(batches, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  // Usable afterwards, in the same snapshot.
  auto tail = keys_of(read_split(*reader, splits.back(), "299990"));
  EXPECT_EQ(tail.size(), 10u);
  EXPECT_TRUE(static_cast<MariadbSplitReader &>(*reader).in_shared_snapshot());
  // Cancelling once the server has sent everything leaves the next statement alone.
  model::CancelToken cancel2;
  reader->read(
      splits[0], "299900", 10,
      [&](std::shared_ptr<model::Batch>) {
        cancel2.cancel();
        return true;
      },
      cancel2);
  EXPECT_EQ(keys_of(read_split(*reader, splits.back(), "299995")).size(), 5u);
  // An emitter refusing more batches stops the read the same way.
  int refused = 0;
  model::CancelToken never;
  reader->read(
      splits[0], "", 100,
      [&](std::shared_ptr<model::Batch>) {
        ++refused;
        return false;
      },
      never);
  EXPECT_EQ(refused, 1);
}

TEST(MariadbSource, WrongPasswordIsAuthWithoutThePassword) {
  ScratchDb db("auth");
  SourceConfig c = config_for(db);
  c.conn.password = "s3cret-wrong-pw";
  MariadbSource src(c);
  try {
    src.discover({});
    FAIL() << "connected with a wrong password";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::auth) << e.what();
    const std::string all = std::string(e.what()) + " " + e.context();
    EXPECT_EQ(all.find("s3cret-wrong-pw"), std::string::npos) << all;
    EXPECT_NE(all.find("source.password"), std::string::npos) << all;
    EXPECT_NE(all.find(db.name()), std::string::npos) << all;
    EXPECT_NE(all.find("host="), std::string::npos) << all;
  }
}

TEST(MariadbSource, UnknownDatabaseIsNotFound) {
  SourceConfig c;
  c.conn = test::mariadb::params("ds_no_such_database_xyz");
  MariadbSource src(c);
  try {
    src.discover({});
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found) << e.what();
    EXPECT_NE(std::string(e.what()).find("ds_no_such_database_xyz"), std::string::npos) << e.what();
    EXPECT_EQ((std::string(e.what()) + e.context()).find(c.conn.password), std::string::npos);
  }
}

TEST(MariadbSource, MissingTableIsNotFound) {
  ScratchDb db("missing");
  db.exec("CREATE TABLE present (id int PRIMARY KEY)");
  auto src = make_source(db, 1, {"absent"});
  try {
    src->discover({});
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    const std::string m = e.what();
    EXPECT_NE(m.find("absent"), std::string::npos) << m;
    EXPECT_NE(m.find(db.name() + ".present"), std::string::npos) << m;
  }
  // The pipeline's selector narrows too.
  auto src2 = make_source(db);
  EXPECT_THROW(src2->discover(model::TableSelector{{"nope.*"}, {}}), Error);
  // A table dropped after discovery: not_found naming it when planned.
  auto t = find_table(*src2, "present");
  auto src3 = make_source(db);
  db.exec("DROP TABLE present");
  try {
    src3->plan_splits(t, 1, 1000);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find(db.name() + ".present"), std::string::npos) << e.what();
  }
}

TEST(MariadbSource, RegisteredTypeReadsItsKeysAndContext) {
  ScratchDb db("registry");
  db.exec("CREATE TABLE a (id int PRIMARY KEY, b tinyint(1)); CREATE TABLE skip_me (id int)");
  register_builtin_connectors();
  config::ConnectorSpec spec;
  spec.type = "mariadb";
  const ConnParams p = db.params();
  spec.options.set("host", p.host);
  spec.options.set("port", std::to_string(p.port));
  spec.options.set("user", p.user);
  spec.options.set("password", p.password);
  spec.options.set("database", p.database);
  spec.options.set("exclude_tables", "skip_.*");
  spec.options.set("tinyint1_as_boolean", "false");
  ConnectorContext ctx;
  ctx.parallelism = 2;
  auto src = create_source(spec, ctx);
  const std::string d = src->describe();
  EXPECT_EQ(d, "mariadb host=" + p.host + " port=" + std::to_string(p.port) + " database=" + p.database);
  auto tables = src->discover({});
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0]->columns[1].type.id, TypeId::int8);
  EXPECT_FALSE(src->consistent_position().empty());
}

}  // namespace
}  // namespace ds::connectors::mariadb
