// The postgres source against the real server of `scripts/db up`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "connectors/postgres/source.hpp"
#include "model/error.hpp"
#include "pg_test_util.hpp"

namespace ds::connectors::postgres {
namespace {

__extension__ typedef __int128 int128;

using model::TypeId;
using test::pg::RawConn;
using test::pg::ScratchDb;

std::unique_ptr<PostgresSource> make_source(const ScratchDb &db, std::vector<std::string> tables = {}) {
  SourceConfig c;
  c.conn = db.params();
  c.tables = std::move(tables);
  return std::make_unique<PostgresSource>(std::move(c));
}

model::TableSchemaPtr find_table(PostgresSource &src, const std::string &name) {
  for (auto &t : src.discover({})) {
    if (t->id.schema_name + "." + t->id.table_name == name) return t;
  }
  throw std::runtime_error("table not discovered: " + name);
}

std::vector<std::shared_ptr<model::Batch>> read_split(model::SplitReader &reader, const model::Split &split,
                                                      const std::string &resume = "", int64_t batch_rows = 1000) {
  std::vector<std::shared_ptr<model::Batch>> out;
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

// Integer keys of column `col` of every row of the batches.
std::vector<int64_t> keys_of(const std::vector<std::shared_ptr<model::Batch>> &batches, int col = 0) {
  std::vector<int64_t> out;
  for (const auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r) {
      const model::Column &c = b->columns[static_cast<size_t>(col)];
      switch (b->schema->columns[static_cast<size_t>(col)].type.id) {
        case TypeId::int32: out.push_back(c.value<int32_t>(r)); break;
        case TypeId::int16: out.push_back(c.value<int16_t>(r)); break;
        default: out.push_back(c.value<int64_t>(r)); break;
      }
    }
  return out;
}

int128 dec(int64_t hi_part, int64_t lo_part, int64_t lo_scale) {  // hi_part * 10^lo_scale + lo_part
  int128 v = hi_part;
  for (int i = 0; i < lo_scale; ++i) v *= 10;
  return v + (hi_part < 0 ? -lo_part : lo_part);
}

const char *kAllTypes =
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0);"
    "CREATE TYPE mood AS ENUM ('sad', 'happy');"
    "CREATE TABLE public.all_types ("
    " id int8 PRIMARY KEY, b bool, i2 int2, i4 int4 NOT NULL DEFAULT 7, f4 float4, f8 float8,"
    " n numeric(38,10), n2 numeric(12,2), nu numeric, t text, vc varchar(20), c char(5), nm name, by bytea,"
    " d date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid, j json, jb jsonb, dom posint,"
    " e mood, arr int4[], ip inet, m money)";

TEST(PostgresSource, CatalogTypesKeysNullability) {
  ScratchDb db("catalog");
  db.exec(kAllTypes);
  db.exec(
      "CREATE SCHEMA s2; CREATE TABLE s2.k (a int4, b text, c int4, PRIMARY KEY (c, a)); CREATE TABLE s2.nokey (x "
      "int4)");
  auto src = make_source(db);
  auto tables = src->discover({});
  ASSERT_EQ(tables.size(), 3u);
  auto t = find_table(*src, "public.all_types");
  EXPECT_EQ(t->id.namespace_name, "");
  struct Want {
    const char *name;
    TypeId id;
    const char *source_name;
  } want[] = {{"id", TypeId::int64, "bigint"},
              {"b", TypeId::boolean, "boolean"},
              {"i2", TypeId::int16, "smallint"},
              {"i4", TypeId::int32, "integer"},
              {"f4", TypeId::float32, "real"},
              {"f8", TypeId::float64, "double precision"},
              {"n", TypeId::decimal, "numeric(38,10)"},
              {"n2", TypeId::decimal, "numeric(12,2)"},
              {"nu", TypeId::unknown, "numeric"},
              {"t", TypeId::string, "text"},
              {"vc", TypeId::string, "character varying(20)"},
              {"c", TypeId::string, "character(5)"},
              {"nm", TypeId::string, "name"},
              {"by", TypeId::binary, "bytea"},
              {"d", TypeId::date, "date"},
              {"tm", TypeId::time, "time without time zone"},
              {"ts", TypeId::timestamp, "timestamp without time zone"},
              {"tstz", TypeId::timestamp_tz, "timestamp with time zone"},
              {"iv", TypeId::interval, "interval"},
              {"u", TypeId::uuid, "uuid"},
              {"j", TypeId::json, "json"},
              {"jb", TypeId::json, "jsonb"},
              {"dom", TypeId::int32, "posint"},  // the base type, under the domain's name
              {"e", TypeId::unknown, "mood"},
              {"arr", TypeId::unknown, "integer[]"},
              {"ip", TypeId::unknown, "inet"},
              {"m", TypeId::unknown, "money"}};
  ASSERT_EQ(t->columns.size(), std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(t->columns[i].name, want[i].name);
    EXPECT_EQ(t->columns[i].type.id, want[i].id);
    EXPECT_EQ(t->columns[i].type.source_name, want[i].source_name);
  }
  EXPECT_EQ(t->columns[6].type.precision, 38);
  EXPECT_EQ(t->columns[6].type.scale, 10);
  EXPECT_EQ(t->columns[7].type.precision, 12);
  EXPECT_EQ(t->columns[7].type.scale, 2);
  EXPECT_FALSE(t->columns[0].nullable);
  EXPECT_FALSE(t->columns[3].nullable);
  EXPECT_TRUE(t->columns[1].nullable);
  EXPECT_EQ(t->columns[3].default_expression, "7");
  EXPECT_EQ(t->primary_key, std::vector<int>{0});
  auto k = find_table(*src, "s2.k");
  EXPECT_EQ(k->primary_key, (std::vector<int>{2, 0}));
  EXPECT_TRUE(find_table(*src, "s2.nokey")->primary_key.empty());
}

TEST(PostgresSource, EveryTypeDecodesExactly) {
  ScratchDb db("decode");
  db.exec(kAllTypes);
  db.exec(
      "SET TIME ZONE 'UTC';"
      "INSERT INTO all_types VALUES (1, true, 32767, 2147483647, 1.5, 1e300,"
      " 9999999999999999999999999999.9999999999, -1234567890.12, 123.456789, 'héllo ☃ wörld', 'varchar', 'ab',"
      " 'nm', '\\x00ff0001'::bytea, '1969-12-31', '23:59:59.999999', '1900-01-01 00:00:00.000001',"
      " '1970-01-01 00:00:00+00', '1 year 2 mons 3 days 04:05:06.000007', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
      " '{\"a\": [1, 2]}', '{\"b\": null}', 5, 'happy', '{1,2,NULL}', '10.0.0.1/8', 12.34);"
      "INSERT INTO all_types (id, i4) VALUES (2, -2147483648);"
      "INSERT INTO all_types (id, b, i2, i4, n, n2, d, ts, tstz, iv, by, t) VALUES (-9223372036854775808, false,"
      " -32768, 0, -9999999999999999999999999999.9999999999, -0.01, '2000-01-01', '1960-06-15 12:00:00',"
      " '2038-01-19 03:14:08.5+00', '-1 mons -2 days -00:00:00.000001', '', '');"
      "INSERT INTO all_types (id, i4, n, t, by) VALUES (9223372036854775807, 1, 0.0000000001,"
      " repeat('x', 1048576), '\\x000000'::bytea)");
  auto src = make_source(db);
  auto t = find_table(*src, "public.all_types");
  auto splits = src->plan_splits(t, 1, 1000000);
  auto reader = src->open_reader();
  std::vector<std::shared_ptr<model::Batch>> batches;
  for (const auto &s : splits) {
    auto got = read_split(*reader, s);
    batches.insert(batches.end(), got.begin(), got.end());
  }
  // Rows by id.
  std::map<int64_t, std::pair<std::shared_ptr<model::Batch>, int64_t>> rows;
  for (auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r) rows[b->columns[0].value<int64_t>(r)] = {b, r};
  ASSERT_EQ(rows.size(), 4u);
  auto col = [&](int64_t id, const char *name) -> std::pair<const model::Column *, int64_t> {
    auto &[b, r] = rows.at(id);
    return {&b->columns[static_cast<size_t>(b->schema->find_column(name))], r};
  };
  auto str = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    return std::string(c->bytes(r));
  };
  auto valid = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    return c->is_valid(r);
  };
  auto dec_at = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    int128 v;
    std::memcpy(&v, c->fixed_bytes(r, 16), 16);
    return v;
  };
  auto i64 = [&](int64_t id, const char *name) {
    auto [c, r] = col(id, name);
    return c->value<int64_t>(r);
  };
  // Row 1.
  {
    auto [c, r] = col(1, "b");
    EXPECT_TRUE(c->bool_value(r));
  }
  EXPECT_EQ(col(1, "i2").first->value<int16_t>(col(1, "i2").second), 32767);
  EXPECT_EQ(col(1, "i4").first->value<int32_t>(col(1, "i4").second), 2147483647);
  EXPECT_EQ(col(1, "f4").first->value<float>(col(1, "f4").second), 1.5f);
  EXPECT_EQ(col(1, "f8").first->value<double>(col(1, "f8").second), 1e300);
  EXPECT_TRUE(dec_at(1, "n") == dec(999999999999999999LL, 0, 0) * 0 + [] {
    int128 v = 0;
    for (int i = 0; i < 38; ++i) v = v * 10 + 9;
    return v;
  }());
  EXPECT_TRUE(dec_at(1, "n2") == -int128(123456789012));
  EXPECT_EQ(str(1, "nu"), "123.456789");
  EXPECT_EQ(str(1, "t"), "héllo ☃ wörld");
  EXPECT_EQ(str(1, "vc"), "varchar");
  EXPECT_EQ(str(1, "c"), "ab   ");
  EXPECT_EQ(str(1, "nm"), "nm");
  EXPECT_EQ(str(1, "by"), std::string("\x00\xff\x00\x01", 4));
  EXPECT_EQ(col(1, "d").first->value<int32_t>(col(1, "d").second), -1);
  EXPECT_EQ(i64(1, "tm"), 86399999999LL);
  EXPECT_EQ(i64(1, "ts"), -2208988800000000LL + 1);
  EXPECT_EQ(i64(1, "tstz"), 0);
  {
    auto [c, r] = col(1, "iv");
    const uint8_t *p = c->fixed_bytes(r, 16);
    int32_t months, days;
    int64_t nanos;
    std::memcpy(&months, p, 4);
    std::memcpy(&days, p + 4, 4);
    std::memcpy(&nanos, p + 8, 8);
    EXPECT_EQ(months, 14);
    EXPECT_EQ(days, 3);
    EXPECT_EQ(nanos, (4 * 3600 + 5 * 60 + 6) * 1000000000LL + 7000);
  }
  {
    auto [c, r] = col(1, "u");
    const uint8_t want[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8,
                              0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
    EXPECT_EQ(std::memcmp(c->fixed_bytes(r, 16), want, 16), 0);
  }
  EXPECT_EQ(str(1, "j"), "{\"a\": [1, 2]}");
  EXPECT_EQ(str(1, "jb"), "{\"b\": null}");
  EXPECT_EQ(col(1, "dom").first->value<int32_t>(col(1, "dom").second), 5);
  EXPECT_EQ(str(1, "e"), "happy");
  EXPECT_EQ(str(1, "arr"), "{1,2,NULL}");
  EXPECT_EQ(str(1, "ip"), "10.0.0.1/8");
  EXPECT_EQ(str(1, "m"), "$12.34");
  // Row 2: NULLs everywhere but id and i4.
  EXPECT_EQ(col(2, "i4").first->value<int32_t>(col(2, "i4").second), -2147483648);
  for (const char *n : {"b",  "i2", "f4",   "f8", "n", "n2", "nu", "t",   "vc", "c",   "nm", "by", "d",
                        "tm", "ts", "tstz", "iv", "u", "j",  "jb", "dom", "e",  "arr", "ip", "m"}) {
    SCOPED_TRACE(n);
    EXPECT_FALSE(valid(2, n));
  }
  // Row 3: minimums and negatives.
  const int64_t min_id = std::numeric_limits<int64_t>::min();
  {
    auto [c, r] = col(min_id, "b");
    EXPECT_FALSE(c->bool_value(r));
  }
  EXPECT_EQ(col(min_id, "i2").first->value<int16_t>(col(min_id, "i2").second), -32768);
  {
    int128 v = 0;
    for (int i = 0; i < 38; ++i) v = v * 10 + 9;
    EXPECT_TRUE(dec_at(min_id, "n") == -v);
  }
  EXPECT_TRUE(dec_at(min_id, "n2") == -1);
  EXPECT_EQ(col(min_id, "d").first->value<int32_t>(col(min_id, "d").second), 10957);
  EXPECT_EQ(i64(min_id, "ts"), -301233600LL * 1000000);
  EXPECT_EQ(i64(min_id, "tstz"), 2147483648LL * 1000000 + 500000);
  {
    auto [c, r] = col(min_id, "iv");
    const uint8_t *p = c->fixed_bytes(r, 16);
    int32_t months, days;
    int64_t nanos;
    std::memcpy(&months, p, 4);
    std::memcpy(&days, p + 4, 4);
    std::memcpy(&nanos, p + 8, 8);
    EXPECT_EQ(months, -1);
    EXPECT_EQ(days, -2);
    EXPECT_EQ(nanos, -1000);
  }
  EXPECT_EQ(str(min_id, "by"), "");
  EXPECT_TRUE(valid(min_id, "by"));
  EXPECT_EQ(str(min_id, "t"), "");
  // Row 4: 1 MB text, bytea of zero bytes, smallest numeric step.
  const int64_t max_id = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(str(max_id, "t"), std::string(1048576, 'x'));
  EXPECT_EQ(str(max_id, "by"), std::string(3, '\0'));
  EXPECT_TRUE(dec_at(max_id, "n") == 1);
  (void)dec;
}

TEST(PostgresSource, NumericNanIsADataErrorAndInfinityKeepsItsSentinel) {
  ScratchDb db("nan");
  db.exec(
      "CREATE TABLE t (id int4 PRIMARY KEY, v numeric(10,2), ts timestamp, tstz timestamptz, d date);"
      "INSERT INTO t VALUES (1, 1.5, now(), now(), now()), (41, 'NaN', now(), now(), now())");
  auto src = make_source(db);
  auto t = find_table(*src, "public.t");
  auto splits = src->plan_splits(t, 1, 1000000);
  auto reader = src->open_reader();
  try {
    for (auto &s : splits) read_split(*reader, s);
    FAIL() << "NaN was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("column v"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("41"), std::string::npos) << e.what();
    EXPECT_NE(e.context().find("table=public.t"), std::string::npos) << e.context();
  }
  // PostgreSQL's infinity sentinels are kept as the same values (no epoch shift).
  db.exec(
      "UPDATE t SET v = 1, ts = '-infinity', tstz = '-infinity', d = '-infinity' WHERE id = 41;"
      "UPDATE t SET ts = 'infinity', tstz = 'infinity', d = 'infinity' WHERE id = 1");
  auto src2 = make_source(db);
  auto reader2 = src2->open_reader();
  std::map<int32_t, std::tuple<int64_t, int64_t, int32_t>> got;
  for (auto &s : src2->plan_splits(find_table(*src2, "public.t"), 1, 1000000))
    for (auto &b : read_split(*reader2, s))
      for (int64_t r = 0; r < b->num_rows; ++r)
        got[b->columns[0].value<int32_t>(r)] = {b->columns[2].value<int64_t>(r), b->columns[3].value<int64_t>(r),
                                                b->columns[4].value<int32_t>(r)};
  ASSERT_EQ(got.size(), 2u);
  const int64_t max64 = std::numeric_limits<int64_t>::max(), min64 = std::numeric_limits<int64_t>::min();
  const int32_t max32 = std::numeric_limits<int32_t>::max(), min32 = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(got[1], std::make_tuple(max64, max64, max32));
  EXPECT_EQ(got[41], std::make_tuple(min64, min64, min32));
}

void check_cover(const ScratchDb &db, const std::string &table, int64_t expect_rows, const std::string &kind) {
  auto src = make_source(db);
  auto t = find_table(*src, table);
  auto splits = src->plan_splits(t, 3, 1000);
  ASSERT_GE(splits.size(), 6u);
  std::set<std::string> streams;
  for (auto &s : splits) {
    EXPECT_EQ(s.range.rfind(kind + ":", 0), 0u) << s.range;
    streams.insert(s.stream);
  }
  EXPECT_EQ(streams.size(), splits.size());
  auto r1 = src->open_reader();
  auto r2 = src->open_reader();
  std::vector<int64_t> ids;
  for (size_t i = 0; i < splits.size(); ++i) {
    auto batches = read_split(i % 2 ? *r1 : *r2, splits[i], "", 700);
    ASSERT_FALSE(batches.empty());
    for (size_t b = 0; b + 1 < batches.size(); ++b) EXPECT_FALSE(batches[b]->position.stream_done);
    EXPECT_TRUE(batches.back()->position.stream_done);
    EXPECT_EQ(batches.back()->position.stream, splits[i].stream);
    auto k = keys_of(batches);
    ids.insert(ids.end(), k.begin(), k.end());
  }
  std::sort(ids.begin(), ids.end());
  ASSERT_EQ(static_cast<int64_t>(ids.size()), expect_rows);
  for (int64_t i = 0; i < expect_rows; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], i + 1);
}

TEST(PostgresSource, PkSplitsCoverEveryRowOnce) {
  ScratchDb db("pksplit");
  db.exec(
      "CREATE TABLE t (id int4 PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10000) g;"
      "DELETE FROM t WHERE id BETWEEN 3000 AND 5000 AND id % 3 = 0; INSERT INTO t VALUES (3000, 'back');"
      "ANALYZE t");
  auto src = make_source(db);
  auto t = find_table(*src, "public.t");
  auto splits = src->plan_splits(t, 2, 1000);
  ASSERT_FALSE(splits.empty());
  EXPECT_EQ(splits.front().range.rfind("pk:1:", 0), 0u);
  EXPECT_NE(splits.back().range.find(":10000"), std::string::npos);
  std::vector<int64_t> ids;
  auto reader = src->open_reader();
  for (auto &s : splits) {
    auto k = keys_of(read_split(*reader, s, "", 333));
    ids.insert(ids.end(), k.begin(), k.end());
  }
  std::vector<int64_t> want;
  for (auto &row : db.query("SELECT id FROM t ORDER BY id")) want.push_back(std::stoll(row[0]));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, want);
}

TEST(PostgresSource, PkAndCtidSplitsCoverEveryRowOnce) {
  ScratchDb db("cover");
  db.exec(
      "CREATE TABLE pk (id int8 PRIMARY KEY, pad text);"
      "INSERT INTO pk SELECT g, repeat('p', 100) FROM generate_series(1, 20000) g;"
      "CREATE TABLE heap (id int4, pad text);"
      "INSERT INTO heap SELECT g, repeat('h', 100) FROM generate_series(1, 20000) g; ANALYZE");
  check_cover(db, "public.pk", 20000, "pk");
  check_cover(db, "public.heap", 20000, "ctid");
}

TEST(PostgresSource, EmptyTablesGiveOneEmptyDoneBatch) {
  ScratchDb db("empty");
  db.exec("CREATE TABLE a (id int4 PRIMARY KEY); CREATE TABLE b (x text)");
  auto src = make_source(db);
  auto reader = src->open_reader();
  for (const char *name : {"public.a", "public.b"}) {
    auto splits = src->plan_splits(find_table(*src, name), 4, 1000);
    ASSERT_EQ(splits.size(), 1u);
    auto batches = read_split(*reader, splits[0]);
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0]->num_rows, 0);
    EXPECT_TRUE(batches[0]->position.stream_done);
  }
}

TEST(PostgresSource, ResumeReadsExactlyTheRest) {
  ScratchDb db("resume");
  db.exec(
      "CREATE TABLE pk (id int4 PRIMARY KEY); INSERT INTO pk SELECT generate_series(1, 5000);"
      "CREATE TABLE heap (id int4); INSERT INTO heap SELECT generate_series(1, 5000)");
  auto src = make_source(db);
  auto reader = src->open_reader();
  for (const char *name : {"public.pk", "public.heap"}) {
    SCOPED_TRACE(name);
    auto splits = src->plan_splits(find_table(*src, name), 1, 1000000);
    std::vector<int64_t> all;
    for (auto &s : splits) {
      auto batches = read_split(*reader, s, "", 400);
      std::vector<int64_t> first = keys_of(batches);
      if (batches.size() < 3) {
        all.insert(all.end(), first.begin(), first.end());
        continue;
      }
      // Stop after the second batch; resume from its position.
      std::vector<std::shared_ptr<model::Batch>> head(batches.begin(), batches.begin() + 2);
      auto head_keys = keys_of(head);
      auto rest = read_split(*reader, s, head.back()->position.value, 400);
      auto rest_keys = keys_of(rest);
      EXPECT_TRUE(rest.back()->position.stream_done);
      std::vector<int64_t> joined = head_keys;
      joined.insert(joined.end(), rest_keys.begin(), rest_keys.end());
      EXPECT_EQ(joined, first);
      all.insert(all.end(), joined.begin(), joined.end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), 5000u);
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i + 1);
  }
}

TEST(PostgresSource, ReadersShareOneSnapshot) {
  ScratchDb db("snapshot");
  db.exec(
      "CREATE TABLE t (id int4 PRIMARY KEY, v int4); INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;"
      "CREATE TABLE h (id int4); INSERT INTO h SELECT generate_series(1, 1000)");
  auto src = make_source(db);
  auto t = find_table(*src, "public.t");
  auto splits = src->plan_splits(t, 2, 1000000);
  auto hsplits = src->plan_splits(find_table(*src, "public.h"), 2, 1000000);
  // Changes after planning, from another connection.
  db.exec(
      "INSERT INTO t SELECT g, 1 FROM generate_series(1001, 1500) g; UPDATE t SET v = 1 WHERE id <= 10;"
      "DELETE FROM t WHERE id = 500; INSERT INTO h SELECT generate_series(1001, 2000)");
  auto reader = src->open_reader();
  std::vector<int64_t> ids;
  for (auto &s : splits) {
    auto batches = read_split(*reader, s);
    for (auto &b : batches)
      for (int64_t r = 0; r < b->num_rows; ++r) {
        ids.push_back(b->columns[0].value<int32_t>(r));
        EXPECT_EQ(b->columns[1].value<int32_t>(r), 0);
      }
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 500), ids.end());
  int64_t hrows = 0;
  auto reader2 = src->open_reader();
  for (auto &s : hsplits)
    for (auto &b : read_split(*reader2, s)) hrows += b->num_rows;
  EXPECT_EQ(hrows, 1000);
}

TEST(PostgresSource, WrongPasswordIsAuthWithoutPassword) {
  ScratchDb db("auth");
  SourceConfig c;
  c.conn = db.params();
  c.conn.password = "s3cret-wrong-pw";
  PostgresSource src(c);
  try {
    src.discover({});
    FAIL() << "connected with a wrong password";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::auth) << e.what();
    std::string all = std::string(e.what()) + " " + e.context();
    EXPECT_EQ(all.find("s3cret-wrong-pw"), std::string::npos) << all;
    EXPECT_NE(all.find("source.password"), std::string::npos) << all;
    EXPECT_NE(all.find(db.name()), std::string::npos) << all;
    EXPECT_NE(all.find("host="), std::string::npos) << all;
  }
}

TEST(PostgresSource, UnknownDatabaseIsNotFound) {
  SourceConfig c;
  c.conn = test::pg::params("ds_no_such_database_xyz");
  PostgresSource src(c);
  try {
    src.discover({});
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found) << e.what();
    EXPECT_NE(std::string(e.what()).find("ds_no_such_database_xyz"), std::string::npos) << e.what();
    EXPECT_EQ((std::string(e.what()) + e.context()).find(c.conn.password), std::string::npos);
  }
}

TEST(PostgresSource, MissingTableIsNotFound) {
  ScratchDb db("missing");
  db.exec("CREATE TABLE present (id int4)");
  auto src = make_source(db, {"public.absent"});
  try {
    src->discover({});
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find("public.absent"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("public.present"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(db.name()), std::string::npos) << e.what();
  }
  // A table dropped after discovery: not_found naming it when planned.
  auto src2 = make_source(db);
  auto t = find_table(*src2, "public.present");
  auto src3 = make_source(db);
  db.exec("DROP TABLE present");
  try {
    src3->plan_splits(t, 1, 1000);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find("public.present"), std::string::npos) << e.what();
  }
}

TEST(PostgresSource, PermissionDeniedIsAuth) {
  ScratchDb db("perm");
  const std::string role = db.name() + "_ro";
  db.exec(
      "CREATE TABLE secret (id int4 PRIMARY KEY); INSERT INTO secret VALUES (1);"
      "CREATE TABLE secret_heap (id int4); INSERT INTO secret_heap VALUES (1)");
  test::pg::exec("DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role + " LOGIN PASSWORD 'ro-pass-123'");
  struct DropRole {
    std::string role;
    ~DropRole() {
      try {
        test::pg::exec("DROP ROLE IF EXISTS " + role);
      } catch (...) {
      }
    }
  } drop{role};
  SourceConfig c;
  c.conn = db.params();
  c.conn.user = role;
  c.conn.password = "ro-pass-123";
  {
    PostgresSource src(c);
    auto tables = src.discover({});
    ASSERT_EQ(tables.size(), 2u);
    for (auto &t : tables) {
      SCOPED_TRACE(t->id.table_name);
      try {
        auto splits = src.plan_splits(t, 1, 1000);  // min/max of the key needs SELECT
        auto reader = src.open_reader();
        for (auto &s : splits) read_split(*reader, s);
        FAIL() << "read without SELECT privilege";
      } catch (const Error &e) {
        EXPECT_EQ(e.code(), Code::auth) << e.what();
        EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("public." + t->id.table_name), std::string::npos) << e.what();
        EXPECT_EQ((std::string(e.what()) + e.context()).find("ro-pass-123"), std::string::npos);
      }
    }
  }
  db.exec("DROP OWNED BY " + role);
}

TEST(PostgresSource, TerminatedBackendIsRetriableAndResumable) {
  ScratchDb db("kill");
  db.exec(
      "CREATE TABLE t (id int8 PRIMARY KEY, pad text);"
      "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g");
  auto src = make_source(db);
  auto t = find_table(*src, "public.t");
  auto splits = src->plan_splits(t, 1, 1000000);
  auto reader_ptr = src->open_reader();
  auto &reader = static_cast<PostgresSplitReader &>(*reader_ptr);
  const model::Split &s = splits[0];
  std::vector<int64_t> got;
  std::string position;
  int batches = 0;
  model::CancelToken cancel;
  try {
    reader.read(
        s, "", 1000,
        [&](std::shared_ptr<model::Batch> b) {
          auto k = keys_of({b});
          got.insert(got.end(), k.begin(), k.end());
          position = b->position.value;
          if (++batches == 2)
            RawConn().exec("SELECT pg_terminate_backend(" + std::to_string(reader.backend_pid()) + ")");
          return true;
        },
        cancel);
    FAIL() << "the read survived pg_terminate_backend";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::connection) << e.what();
    EXPECT_TRUE(e.retriable());
    EXPECT_NE(e.context().find("table=public.t"), std::string::npos) << e.context();
    EXPECT_NE(e.context().find(db.name()), std::string::npos) << e.context();
  }
  ASSERT_GE(batches, 2);
  // The engine retries from the last emitted position with the same reader.
  auto rest = read_split(reader, s, position, 5000);
  auto k = keys_of(rest);
  got.insert(got.end(), k.begin(), k.end());
  std::vector<int64_t> want;
  for (auto &sp : splits)
    if (&sp != &s) {
      auto more = keys_of(read_split(reader, sp));
      got.insert(got.end(), more.begin(), more.end());
    }
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 200000u);
  for (int64_t i = 0; i < 200000; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], i + 1);
}

TEST(PostgresSource, CancelStopsBetweenBatches) {
  ScratchDb db("cancel");
  db.exec("CREATE TABLE t (id int4 PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50000)");
  auto src = make_source(db);
  auto splits = src->plan_splits(find_table(*src, "public.t"), 1, 1000000);
  auto reader = src->open_reader();
  model::CancelToken cancel;
  int batches = 0;
  reader->read(
      splits[0], "", 100,
      [&](std::shared_ptr<model::Batch> b) {
        EXPECT_FALSE(b->position.stream_done);
        if (++batches == 3) cancel.cancel();
        return true;
      },
      cancel);
  EXPECT_EQ(batches, 3);
  // The reader is usable afterwards.
  EXPECT_EQ(keys_of(read_split(*reader, splits.back(), "49990")).size(), 10u);
}

}  // namespace
}  // namespace ds::connectors::postgres
