// SqliteSource and SqliteSplitReader over real SQLite files in a temp dir.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "connectors/sqlite/source.hpp"
#include "connectors/sqlite/values.hpp"
#include "model/error.hpp"
#include "sqlite_test_util.hpp"

namespace {

using namespace ds;
using namespace ds::connectors::sqlite;
using model::TypeId;

using ds::test::exec;
using ds::test::TempDir;

using Batches = std::vector<std::shared_ptr<model::Batch>>;

Batches read_split(SqliteSource &source, const model::Split &split, const std::string &resume, int64_t batch_rows) {
  auto reader = source.open_reader();
  Batches out;
  model::CancelToken cancel;
  reader->read(
      split, resume, batch_rows,
      [&](std::shared_ptr<model::Batch> b) {
        out.push_back(std::move(b));
        return true;
      },
      cancel);
  return out;
}

// Values of int64 column `col` over all batches.
std::vector<int64_t> ints(const Batches &batches, size_t col) {
  std::vector<int64_t> out;
  for (const auto &b : batches)
    for (int64_t r = 0; r < b->num_rows; ++r) out.push_back(b->columns[col].value<int64_t>(r));
  return out;
}

model::TableSchemaPtr find_table(const std::vector<model::TableSchemaPtr> &tables, const std::string &name) {
  for (const auto &t : tables)
    if (t->id.table_name == name) return t;
  return nullptr;
}

SourceConfig config_for(const std::string &path) {
  SourceConfig c;
  c.path = path;
  return c;
}

// ------------------------------------------------------------------ discover

TEST(SqliteSource, DiscoverTypesKeysAndNullability) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db,
       "CREATE TABLE t_all (id INTEGER PRIMARY KEY, b BOOLEAN NOT NULL, i BIGINT, r REAL, d DECIMAL(10,2), s "
       "VARCHAR(20),"
       " bl BLOB, untyped, dt DATE, ts DATETIME, tm TIME, j JSON, u UUID, n NUMERIC DEFAULT 7,"
       " g INTEGER GENERATED ALWAYS AS (i * 2) VIRTUAL);"
       "CREATE TABLE w (a TEXT, b INTEGER, c REAL, PRIMARY KEY (b, a)) WITHOUT ROWID;"
       "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT);"
       "INSERT INTO seq (x) VALUES ('a');"
       "CREATE TABLE k (code TEXT PRIMARY KEY, v INT);"
       "CREATE VIEW v AS SELECT * FROM w;"
       "CREATE TABLE _datasync_checkpoint (pipeline TEXT, stream TEXT, position TEXT, done INTEGER, updated_at TEXT,"
       " PRIMARY KEY (pipeline, stream));");
  SqliteSource source(config_for(db));
  auto tables = source.discover(model::TableSelector{});
  ASSERT_EQ(tables.size(), 4u);  // no view, no sqlite_sequence, no checkpoint table
  EXPECT_EQ(tables[0]->id.table_name, "k");
  EXPECT_EQ(tables[1]->id.table_name, "seq");
  EXPECT_EQ(tables[2]->id.table_name, "t_all");
  EXPECT_EQ(tables[3]->id.table_name, "w");
  EXPECT_EQ(tables[2]->id.schema_name, "main");
  EXPECT_EQ(tables[2]->id.namespace_name, "");

  const model::TableSchema &t = *tables[2];
  ASSERT_EQ(t.columns.size(), 14u) << "the generated column g is left out";
  std::vector<std::pair<std::string, TypeId>> expected = {
      {"id", TypeId::int64},  {"b", TypeId::boolean},    {"i", TypeId::int64},   {"r", TypeId::float64},
      {"d", TypeId::decimal}, {"s", TypeId::string},     {"bl", TypeId::binary}, {"untyped", TypeId::binary},
      {"dt", TypeId::date},   {"ts", TypeId::timestamp}, {"tm", TypeId::time},   {"j", TypeId::json},
      {"u", TypeId::uuid},    {"n", TypeId::unknown}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(t.columns[i].name, expected[i].first);
    EXPECT_EQ(t.columns[i].type.id, expected[i].second) << t.columns[i].name;
  }
  EXPECT_EQ(t.columns[4].type.precision, 10);
  EXPECT_EQ(t.columns[4].type.scale, 2);
  EXPECT_EQ(t.columns[5].type.source_name, "VARCHAR(20)");
  EXPECT_EQ(t.columns[13].type.source_name, "NUMERIC");
  EXPECT_EQ(t.columns[13].default_expression, "7");
  EXPECT_FALSE(t.columns[0].nullable) << "INTEGER PRIMARY KEY is the rowid";
  EXPECT_FALSE(t.columns[1].nullable);
  EXPECT_TRUE(t.columns[2].nullable);
  EXPECT_EQ(t.primary_key, std::vector<int>{0});

  const model::TableSchema &w = *tables[3];
  EXPECT_EQ(w.primary_key, (std::vector<int>{1, 0})) << "key order follows PRIMARY KEY (b, a)";
  EXPECT_FALSE(w.columns[0].nullable);
  EXPECT_FALSE(w.columns[1].nullable);
  EXPECT_TRUE(w.columns[2].nullable);
  const model::TableSchema &k = *tables[0];
  EXPECT_TRUE(k.columns[0].nullable) << "a TEXT key of a rowid table may hold NULL in SQLite";
  EXPECT_EQ(k.primary_key, std::vector<int>{0});

  auto some = source.discover(model::TableSelector{{"t_.*", "main\\.w"}, {}});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0]->id.table_name, "t_all");
  EXPECT_EQ(some[1]->id.table_name, "w");

  SourceConfig own = config_for(db);
  own.exclude_tables = {"seq", "k"};
  SqliteSource configured(own);
  auto rest = configured.discover(model::TableSelector{});
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0]->id.table_name, "t_all");
}

TEST(SqliteSource, MissingFileIsNotFound) {
  TempDir dir;
  std::string db = dir.file("nope.db");
  SqliteSource source(config_for(db));
  try {
    source.discover(model::TableSelector{});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_EQ(std::string(e.what()), "SQLite database file '" + db + "' does not exist");
    EXPECT_EQ(e.context(), "source=sqlite path=" + db);
  }
  EXPECT_FALSE(std::filesystem::exists(db)) << "a read-only source must not create the file";
}

TEST(SqliteSource, NonSqliteFileIsDataError) {
  TempDir dir;
  std::string db = dir.file("notes.txt");
  {
    std::ofstream f(db);
    for (int i = 0; i < 50; ++i) f << "this is a plain text file, not a database\n";
  }
  SqliteSource source(config_for(db));
  try {
    source.discover(model::TableSelector{});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data);
    EXPECT_NE(std::string(e.what()).find("is not a SQLite database"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(db), std::string::npos);
  }
}

TEST(SqliteSource, SelectorMatchingNothingListsTables) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db, "CREATE TABLE alpha (x); CREATE TABLE beta (y);");
  SqliteSource source(config_for(db));
  try {
    source.discover(model::TableSelector{{"gamma"}, {}});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    std::string m = e.what();
    EXPECT_NE(m.find("gamma"), std::string::npos) << m;
    EXPECT_NE(m.find("available tables: main.alpha, main.beta"), std::string::npos) << m;
  }
  std::string empty = dir.file("empty.db");
  exec(empty, "PRAGMA user_version = 1;");
  SqliteSource none(config_for(empty));
  try {
    none.discover(model::TableSelector{});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::not_found);
    EXPECT_NE(std::string(e.what()).find("has no tables"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------- values

TEST(SqliteSource, ReadsEveryTypeExactly) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db,
       "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, i BIGINT, r REAL, d DECIMAL(12,3), s TEXT, bl BLOB, dt DATE,"
       " ts DATETIME, tz TIMESTAMPTZ, tm TIME, j JSON, u UUID, n NUMERIC);"
       "INSERT INTO t VALUES (1, 1, 9223372036854775807, 1.5, '12345.678', 'héllo ✓', x'00ff00', '1969-07-20',"
       " '1969-07-20 20:17:40.123456', '2024-01-01 02:00:00+02:00', '23:59:59.999999', '{\"a\":[1,2]}',"
       " '123e4567-e89b-12d3-a456-426614174000', 'abc');"
       "INSERT INTO t VALUES (2, 0, -9223372036854775808, 7, -0.001, '', x'', '0001-01-01', '1900-01-01T00:00:00',"
       " '1970-01-01 00:00:00Z', '00:00', 123, x'00112233445566778899aabbccddeeff', 42);"
       "INSERT INTO t (id) VALUES (3);"
       "INSERT INTO t (id, r, n, j) VALUES (4, 0.1 + 0.2, 0.30000000000000004, 2.5);");
  SqliteSource source(config_for(db));
  auto tables = source.discover(model::TableSelector{});
  auto splits = source.plan_splits(tables[0], 1, 0);
  ASSERT_EQ(splits.size(), 1u);
  Batches batches = read_split(source, splits[0], "", 100);
  ASSERT_EQ(batches.size(), 1u);
  const model::Batch &b = *batches[0];
  ASSERT_EQ(b.num_rows, 4);
  EXPECT_TRUE(b.position.stream_done);
  EXPECT_EQ(b.position.value, "rowid=4");
  EXPECT_EQ(b.position.stream, "main.t#0");

  auto text = [&](size_t c, int64_t r) { return std::string(b.columns[c].bytes(r)); };
  EXPECT_TRUE(b.columns[1].bool_value(0));
  EXPECT_FALSE(b.columns[1].bool_value(1));
  EXPECT_EQ(b.columns[2].value<int64_t>(0), INT64_MAX);
  EXPECT_EQ(b.columns[2].value<int64_t>(1), INT64_MIN);
  EXPECT_EQ(b.columns[3].value<double>(0), 1.5);
  EXPECT_EQ(b.columns[3].value<double>(1), 7.0) << "an integer in a REAL column converts";
  EXPECT_EQ(b.columns[3].value<double>(3), 0.1 + 0.2);
  EXPECT_TRUE(load_int128(b.columns[4].fixed_bytes(0, 16)) == 12345678);
  EXPECT_TRUE(load_int128(b.columns[4].fixed_bytes(1, 16)) == -1);
  EXPECT_EQ(text(5, 0), "héllo ✓");
  EXPECT_EQ(text(5, 1), "");
  EXPECT_TRUE(b.columns[5].is_valid(1));
  EXPECT_EQ(text(6, 0), std::string("\0\xff\0", 3));
  EXPECT_EQ(text(6, 1), "");
  EXPECT_TRUE(b.columns[6].is_valid(1)) << "an empty blob is not NULL";
  EXPECT_FALSE(b.columns[6].is_valid(2));
  EXPECT_EQ(b.columns[7].value<int32_t>(0), -165);
  EXPECT_EQ(b.columns[7].value<int32_t>(1), -719162);
  EXPECT_EQ(b.columns[8].value<int64_t>(0), -14182939876544);
  EXPECT_EQ(b.columns[8].value<int64_t>(1), -2208988800000000);
  EXPECT_EQ(b.columns[9].value<int64_t>(0), 1704067200000000) << "the offset is applied";
  EXPECT_EQ(b.columns[9].value<int64_t>(1), 0);
  EXPECT_EQ(b.columns[10].value<int64_t>(0), 86399999999);
  EXPECT_EQ(b.columns[10].value<int64_t>(1), 0);
  EXPECT_EQ(text(11, 0), "{\"a\":[1,2]}");
  EXPECT_EQ(text(11, 1), "123") << "JSON 123 is stored as INTEGER by NUMERIC affinity";
  EXPECT_EQ(text(11, 3), "2.5");
  const uint8_t uuid1[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                             0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
  EXPECT_EQ(std::memcmp(b.columns[12].fixed_bytes(0, 16), uuid1, 16), 0);
  EXPECT_EQ(b.columns[12].fixed_bytes(1, 16)[15], 0xff) << "a 16-byte blob is a UUID too";
  EXPECT_EQ(text(13, 0), "abc");
  EXPECT_EQ(text(13, 1), "42");
  EXPECT_EQ(text(13, 3), "0.30000000000000004") << "reals are given their shortest exact text";
  for (size_t c = 1; c < b.columns.size(); ++c) EXPECT_FALSE(b.columns[c].is_valid(2)) << "column " << c;
}

TEST(SqliteSource, StorageClassMismatchNamesValueAndPlace) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db,
       "CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER);"
       "INSERT INTO t VALUES (1, 5), (2, 'abc');"
       "CREATE TABLE r (id INTEGER PRIMARY KEY, c INTEGER);"
       "INSERT INTO r VALUES (10, 1.5);"
       "CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE);"
       "INSERT INTO d VALUES (7, '2024-02-30');"
       "CREATE TABLE s (id INTEGER PRIMARY KEY, name TEXT);"
       "INSERT INTO s VALUES (3, x'0102');");
  SqliteSource source(config_for(db));
  auto tables = source.discover(model::TableSelector{});
  auto expect_error = [&](const std::string &table, const std::vector<std::string> &in_message,
                          const std::string &context) {
    auto schema = find_table(tables, table);
    ASSERT_TRUE(schema);
    auto splits = source.plan_splits(schema, 1, 0);
    try {
      read_split(source, splits[0], "", 100);
      FAIL() << "expected an error reading " << table;
    } catch (const Error &e) {
      EXPECT_EQ(e.code(), Code::data);
      for (const auto &s : in_message)
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " lacks " << s;
      EXPECT_EQ(e.context(), context);
    }
  };
  expect_error("t", {"TEXT value 'abc'", "INTEGER"}, "source=sqlite table=main.t column=c rowid=2");
  expect_error("r", {"REAL value 1.5", "INTEGER"}, "source=sqlite table=main.r column=c rowid=10");
  expect_error("d", {"TEXT value '2024-02-30'", "DATE", "YYYY-MM-DD"}, "source=sqlite table=main.d column=day rowid=7");
  expect_error("s", {"BLOB value x'0102'", "TEXT"}, "source=sqlite table=main.s column=name rowid=3");
}

// ------------------------------------------------------------------- splits

TEST(SqliteSource, SplitsCoverEveryRowOnceAndResume) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db,
       "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);"
       "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 30000)"
       " INSERT INTO big SELECT x, 'v' || x FROM n;"
       "DELETE FROM big WHERE id BETWEEN 5000 AND 9000 OR id % 7 = 0;"
       "INSERT INTO big VALUES (-50, 'neg'), (9223372036854775807, 'max'), (1000000000000, 'far');");
  int64_t total = 0;
  std::set<int64_t> expected;
  for (int64_t i = 1; i <= 30000; ++i)
    if (!(i >= 5000 && i <= 9000) && i % 7 != 0) expected.insert(i);
  expected.insert({-50, INT64_MAX, 1000000000000});
  total = static_cast<int64_t>(expected.size());

  SourceConfig cfg = config_for(db);
  cfg.min_split_rows = 1000;
  SqliteSource source(cfg);
  auto table = source.discover(model::TableSelector{})[0];
  auto splits = source.plan_splits(table, 4, 0);
  ASSERT_EQ(splits.size(), 8u) << "2 x parallelism";
  int64_t prev_hi = 0;
  int64_t estimated = 0;
  for (size_t i = 0; i < splits.size(); ++i) {
    EXPECT_EQ(splits[i].stream, "main.big#" + std::to_string(i));
    int64_t lo = 0, hi = 0;
    ASSERT_EQ(std::sscanf(splits[i].range.c_str(), "rowid:%ld:%ld", &lo, &hi), 2) << splits[i].range;
    if (i == 0)
      EXPECT_EQ(lo, -50);
    else
      EXPECT_EQ(lo, prev_hi + 1) << "no gap between splits";
    EXPECT_LE(lo, hi);
    prev_hi = hi;
    estimated += splits[i].estimated_rows;
  }
  EXPECT_EQ(prev_hi, INT64_MAX);
  EXPECT_EQ(estimated, total);

  std::multiset<int64_t> seen;
  for (const auto &split : splits) {
    Batches batches = read_split(source, split, "", 1000);
    ASSERT_FALSE(batches.empty());
    for (size_t i = 0; i < batches.size(); ++i) {
      EXPECT_EQ(batches[i]->position.stream, split.stream);
      EXPECT_EQ(batches[i]->position.stream_done, i + 1 == batches.size());
      EXPECT_LE(batches[i]->num_rows, 1000);
      if (batches[i]->num_rows > 0) {
        int64_t last = batches[i]->columns[0].value<int64_t>(batches[i]->num_rows - 1);
        EXPECT_EQ(batches[i]->position.value, "rowid=" + std::to_string(last));
      }
    }
    for (int64_t id : ints(batches, 0)) seen.insert(id);
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  EXPECT_TRUE(std::equal(seen.begin(), seen.end(), expected.begin(), expected.end())) << "every row exactly once";

  // Resume from the middle of a split: exactly the remaining rows, in order.
  const model::Split &split = splits[0];
  Batches first = read_split(source, split, "", 333);
  ASSERT_GE(first.size(), 4u);
  std::vector<int64_t> all = ints(first, 0);
  Batches head(first.begin(), first.begin() + 3);
  std::vector<int64_t> done_part = ints(head, 0);
  Batches rest = read_split(source, split, first[2]->position.value, 333);
  std::vector<int64_t> remaining = ints(rest, 0);
  std::vector<int64_t> expected_rest(all.begin() + static_cast<long>(done_part.size()), all.end());
  EXPECT_EQ(remaining, expected_rest);
  EXPECT_TRUE(rest.back()->position.stream_done);

  // Resuming a finished split: one empty batch marking the stream done.
  Batches none = read_split(source, split, first.back()->position.value, 333);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0]->num_rows, 0);
  EXPECT_TRUE(none[0]->position.stream_done);
  EXPECT_EQ(none[0]->position.value, first.back()->position.value);

  // split_rows caps the rows per split.
  SourceConfig small = config_for(db);
  small.split_rows = 5000;
  SqliteSource by_size(small);
  auto many = by_size.plan_splits(table, 1, 0);
  EXPECT_EQ(static_cast<int64_t>(many.size()), (total + 4999) / 5000);
  // ... and so does the pipeline's hint, passed per call.
  EXPECT_EQ(static_cast<int64_t>(source.plan_splits(table, 1, 5000).size()), (total + 4999) / 5000);
  // Planning is stable across runs.
  auto again = source.plan_splits(table, 4, 0);
  for (size_t i = 0; i < splits.size(); ++i) EXPECT_EQ(again[i].range, splits[i].range);
}

TEST(SqliteSource, EmptyTableEmitsOneDoneBatch) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db, "CREATE TABLE e (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE ew (k TEXT PRIMARY KEY) WITHOUT ROWID;");
  SqliteSource source(config_for(db));
  for (const auto &t : source.discover(model::TableSelector{})) {
    auto splits = source.plan_splits(t, 4, 0);
    ASSERT_EQ(splits.size(), 1u);
    Batches b = read_split(source, splits[0], "", 10);
    ASSERT_EQ(b.size(), 1u) << t->id.table_name;
    EXPECT_EQ(b[0]->num_rows, 0);
    EXPECT_TRUE(b[0]->position.stream_done);
    EXPECT_EQ(b[0]->columns.size(), t->columns.size());
    // Its position is a valid resume point.
    Batches again = read_split(source, splits[0], b[0]->position.value, 10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0]->num_rows, 0);
  }
}

TEST(SqliteSource, WithoutRowidResumesAfterTheLastKey) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(
      db,
      "CREATE TABLE w (k INTEGER, t TEXT, v INTEGER, PRIMARY KEY (k, t)) WITHOUT ROWID;"
      "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 59)"
      " INSERT INTO w SELECT x / 4, char(65 + x % 4) || (CASE x % 3 WHEN 0 THEN '\"q' WHEN 1 THEN '\\\\ é' ELSE "
      "char(10) END), x FROM n;"
      "CREATE TABLE bk (b BLOB, r REAL, PRIMARY KEY (b, r)) WITHOUT ROWID;"
      "INSERT INTO bk VALUES (x'00', 1.0), (x'00', 2.5), (x'0001', -1e300), (x'ff', 0.1), (x'', 3.0), (x'ff00', 4.0);");
  SqliteSource source(config_for(db));
  auto tables = source.discover(model::TableSelector{});
  for (const auto &table : tables) {
    auto splits = source.plan_splits(table, 8, 0);
    ASSERT_EQ(splits.size(), 1u);
    EXPECT_EQ(splits[0].range, "pk");
    EXPECT_EQ(splits[0].stream, "main." + table->id.table_name + "#0");
    const int64_t rows = table->id.table_name == "w" ? 60 : 6;
    EXPECT_EQ(splits[0].estimated_rows, rows);
    const int64_t batch_rows = table->id.table_name == "w" ? 7 : 2;
    Batches all = read_split(source, splits[0], "", batch_rows);
    int64_t n = 0;
    for (const auto &b : all) n += b->num_rows;
    ASSERT_EQ(n, rows);
    EXPECT_TRUE(all.back()->position.stream_done);
    // From every batch's position, exactly the rows after it.
    int64_t consumed = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      consumed += all[i]->num_rows;
      EXPECT_EQ(all[i]->position.value.rfind("pk=[", 0), 0u) << all[i]->position.value;
      Batches rest = read_split(source, splits[0], all[i]->position.value, 1000);
      ASSERT_EQ(rest.size(), 1u);
      ASSERT_EQ(rest[0]->num_rows, rows - consumed) << "after " << all[i]->position.value;
      // Same rows as the tail of the full read: compare the first column's bytes.
      int64_t k = 0;
      for (size_t j = i + 1; j < all.size(); ++j)
        for (int64_t r = 0; r < all[j]->num_rows; ++r, ++k) {
          if (table->id.table_name == "w") {
            EXPECT_EQ(rest[0]->columns[2].value<int64_t>(k), all[j]->columns[2].value<int64_t>(r));
          } else {
            EXPECT_EQ(rest[0]->columns[0].bytes(k), all[j]->columns[0].bytes(r));
            EXPECT_EQ(rest[0]->columns[1].value<double>(k), all[j]->columns[1].value<double>(r));
          }
        }
    }
  }
  // A malformed position is a state error, not a silent restart.
  auto splits = source.plan_splits(find_table(tables, "w"), 1, 0);
  try {
    read_split(source, splits[0], "rowid=3", 10);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::state);
  }
}

TEST(SqliteSource, StopsWhenEmitRefusesOrCancelled) {
  TempDir dir;
  std::string db = dir.file("d.db");
  exec(db,
       "CREATE TABLE t (id INTEGER PRIMARY KEY);"
       "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100) INSERT INTO t SELECT x FROM n;");
  SqliteSource source(config_for(db));
  auto split = source.plan_splits(source.discover(model::TableSelector{})[0], 1, 0)[0];
  auto reader = source.open_reader();
  model::CancelToken cancel;
  int calls = 0;
  reader->read(
      split, "", 10, [&](std::shared_ptr<model::Batch>) { return ++calls < 2; }, cancel);
  EXPECT_EQ(calls, 2);
  calls = 0;
  reader->read(
      split, "", 10,
      [&](std::shared_ptr<model::Batch> b) {
        ++calls;
        EXPECT_FALSE(b->position.stream_done);
        cancel.cancel();
        return true;
      },
      cancel);
  EXPECT_EQ(calls, 1);
}

}  // namespace
