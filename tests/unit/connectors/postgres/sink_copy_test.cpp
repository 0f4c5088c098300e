// The postgres writer keeps one direct COPY open across the batches of a
// table: what that must not change (every row once, errors, rollback, a
// mix of tables and staged writes), against the real server of `scripts/db`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connectors/postgres/sink.hpp"
#include "model/error.hpp"
#include "pg_test_util.hpp"

namespace ds::connectors::postgres {
namespace {

using model::Op;
using model::TypeId;
using Rows = std::vector<std::vector<std::string>>;

model::ColumnSchema col(const std::string &name, TypeId id, bool nullable = true) {
  model::ColumnSchema c;
  c.name = name;
  c.type.id = id;
  c.nullable = nullable;
  return c;
}

std::shared_ptr<model::TableSchema> kv(const std::string &name) {
  auto t = std::make_shared<model::TableSchema>();
  t->id.schema_name = "public";
  t->id.table_name = name;
  t->columns = {col("k", TypeId::int64, false), col("v", TypeId::string)};
  t->primary_key = {0};
  return t;
}

// Rows k = from .. to - 1 with v = "v<k>".
std::shared_ptr<model::Batch> rows(const model::TableSchemaPtr &s, int64_t from, int64_t to,
                                   const std::vector<Op> &ops = {}) {
  model::BatchBuilder b(s, to - from, !ops.empty());
  for (int64_t k = from; k < to; ++k) {
    b.column(0).append_int(k);
    const std::string v = "v" + std::to_string(k);
    b.column(1).append_bytes(v.data(), v.size());
    b.end_row(ops.empty() ? Op::insert : ops[static_cast<size_t>(k - from)]);
  }
  return b.finish({});
}

SinkConfig config_for(const test::pg::ScratchDb &db) {
  SinkConfig c;
  c.params = db.params();
  c.pipeline_name = "p1";
  return c;
}

std::string digest(const test::pg::ScratchDb &db, const std::string &table) {
  return db.scalar("SELECT count(*) || ',' || coalesce(sum(k), 0) || ',' || count(DISTINCT v) FROM public." + table);
}

TEST(PostgresSinkCopy, BatchesOfTablesAndStagedWritesInterleave) {
  test::pg::ScratchDb db("sink_copy_mix");
  PostgresSink sink(config_for(db));
  auto a = kv("a"), b = kv("b");
  sink.prepare_table(*a);
  sink.prepare_table(*b);
  auto w = sink.open_writer(0);
  // Three batches into a's COPY, then b, then a again, then a's staged
  // upsert (an update of k = 5), then a again: each switch ends the COPY.
  w->write(*rows(a, 0, 1000));
  w->write(*rows(a, 1000, 2000));
  w->write(*rows(a, 2000, 2500));
  w->write(*rows(b, 0, 10));
  w->write(*rows(a, 2500, 3000));
  model::BatchBuilder up(a, 1, true);
  up.column(0).append_int(5);
  up.column(1).append_bytes("five", 4);
  up.end_row(Op::update_after);
  w->write(*up.finish({}));
  w->write(*rows(a, 3000, 3100));
  std::vector<model::Position> pos = {{"public.a#0", "3099", true}};
  w->commit(&pos);
  EXPECT_EQ(digest(db, "a"), "3100,4803450,3100");
  EXPECT_EQ(db.scalar("SELECT v FROM public.a WHERE k = 5"), "five");
  EXPECT_EQ(digest(db, "b"), "10,45,10");
  EXPECT_EQ(db.scalar("SELECT position FROM public._datasync_checkpoint"), "3099");
  // After a commit the next batch opens a new COPY in a new transaction.
  w->write(*rows(b, 10, 20));
  w->commit(nullptr);
  EXPECT_EQ(digest(db, "b"), "20,190,20");
}

TEST(PostgresSinkCopy, AViolationInAnOpenCopyFailsTheCommitAndRollsBackEveryBatch) {
  test::pg::ScratchDb db("sink_copy_dup");
  PostgresSink sink(config_for(db));
  auto a = kv("a");
  sink.prepare_table(*a);
  auto w = sink.open_writer(0);
  w->write(*rows(a, 0, 100));
  w->commit(nullptr);
  try {
    w->write(*rows(a, 100, 200));
    w->write(*rows(a, 150, 160));  // duplicates of the batch before, in the same COPY
    w->write(*rows(a, 200, 300));
    w->commit(nullptr);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::data) << e.what();
    EXPECT_NE(std::string(e.what()).find("public.a"), std::string::npos) << e.what();
  }
  w->rollback();
  EXPECT_EQ(digest(db, "a"), "100,4950,100");
  // The writer goes on after the rollback.
  w->write(*rows(a, 100, 200));
  w->write(*rows(a, 200, 300));
  w->commit(nullptr);
  EXPECT_EQ(digest(db, "a"), "300,44850,300");
}

TEST(PostgresSinkCopy, RollbackAndCloseAbandonAnOpenCopy) {
  test::pg::ScratchDb db("sink_copy_rb");
  PostgresSink sink(config_for(db));
  auto a = kv("a");
  sink.prepare_table(*a);
  {
    auto w = sink.open_writer(0);
    w->write(*rows(a, 0, 100));
    w->rollback();  // with the COPY open
    w->write(*rows(a, 0, 50));
    w->commit(nullptr);
    w->write(*rows(a, 50, 100));  // left open when the writer goes away
  }
  EXPECT_EQ(digest(db, "a"), "50,1225,50");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db.name() +
                      "' AND state <> 'idle' AND application_name = 'ds_unit_tests'"),
            "0");
}

}  // namespace
}  // namespace ds::connectors::postgres
