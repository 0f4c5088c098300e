// Schema changes under each evolution policy, per dialect, without a server
// (the sinks' tests run them on the real servers).
#include "schema/evolution.hpp"

#include <gtest/gtest.h>

#include "model/error.hpp"

namespace {

using ds::model::SchemaChange;
using ds::model::SchemaChangeKind;
using ds::model::TypeId;
using ds::schema::Dialect;
using ds::schema::EvolutionPolicy;
using ds::schema::plan_change;

ds::model::ColumnSchema column(std::string name, TypeId id, std::string spelling, bool nullable = true) {
  ds::model::ColumnSchema c;
  c.name = std::move(name);
  c.type.id = id;
  c.type.source_name = std::move(spelling);
  c.nullable = nullable;
  return c;
}

ds::schema::TargetInfo kv(Dialect d) {
  auto existing = std::make_shared<ds::model::TableSchema>();
  existing->id = {"", "public", "kv"};
  existing->columns = {column("k", TypeId::int64, "bigint", false), column("v", TypeId::string, "text", false),
                       column("n", TypeId::int32, "integer")};
  existing->primary_key = {0};
  ds::schema::TargetInfo t;
  t.dialect = d;
  t.target = {"", d == Dialect::sqlite ? "main" : "public", "kv"};
  t.existing = existing;
  return t;
}

SchemaChange change(SchemaChangeKind kind, std::string column = "", std::string new_name = "") {
  SchemaChange c;
  c.kind = kind;
  c.table = {"", "public", "kv"};
  c.column = std::move(column);
  c.new_name = std::move(new_name);
  return c;
}

TEST(SchemaEvolution, EvolveAppliesEveryChange) {
  auto add = change(SchemaChangeKind::add_column, "amount");
  add.new_type.id = TypeId::decimal;
  add.new_type.precision = 12;
  add.new_type.scale = 2;
  EXPECT_EQ(plan_change(add, EvolutionPolicy::evolve, kv(Dialect::postgres)).statements,
            std::vector<std::string>{"ALTER TABLE \"public\".\"kv\" ADD COLUMN \"amount\" numeric(12,2)"});
  EXPECT_EQ(plan_change(add, EvolutionPolicy::evolve, kv(Dialect::mariadb)).statements,
            std::vector<std::string>{"ALTER TABLE `public`.`kv` ADD COLUMN `amount` decimal(12,2)"});
  EXPECT_EQ(
      plan_change(change(SchemaChangeKind::drop_column, "n"), EvolutionPolicy::evolve, kv(Dialect::sqlite)).statements,
      std::vector<std::string>{"ALTER TABLE \"main\".\"kv\" DROP COLUMN \"n\""});
  EXPECT_EQ(
      plan_change(change(SchemaChangeKind::rename_column, "v", "label"), EvolutionPolicy::evolve, kv(Dialect::postgres))
          .statements,
      std::vector<std::string>{"ALTER TABLE \"public\".\"kv\" RENAME COLUMN \"v\" TO \"label\""});
  auto widen = change(SchemaChangeKind::alter_column_type, "n");
  widen.new_type.id = TypeId::int64;
  EXPECT_EQ(
      plan_change(widen, EvolutionPolicy::evolve, kv(Dialect::postgres)).statements,
      std::vector<std::string>{"ALTER TABLE \"public\".\"kv\" ALTER COLUMN \"n\" TYPE bigint USING \"n\"::bigint"});
  EXPECT_EQ(plan_change(widen, EvolutionPolicy::evolve, kv(Dialect::mariadb)).statements,
            std::vector<std::string>{"ALTER TABLE `public`.`kv` MODIFY COLUMN `n` bigint"});
  EXPECT_THROW(plan_change(widen, EvolutionPolicy::evolve, kv(Dialect::sqlite)), ds::Error);
  EXPECT_EQ(
      plan_change(change(SchemaChangeKind::truncate_table), EvolutionPolicy::evolve, kv(Dialect::sqlite)).statements,
      std::vector<std::string>{"DELETE FROM \"main\".\"kv\""});
  EXPECT_EQ(
      plan_change(change(SchemaChangeKind::drop_table), EvolutionPolicy::evolve, kv(Dialect::postgres)).statements,
      std::vector<std::string>{"DROP TABLE IF EXISTS \"public\".\"kv\""});
}

TEST(SchemaEvolution, LenientNeverLosesData) {
  auto t = kv(Dialect::postgres);
  auto drop = plan_change(change(SchemaChangeKind::drop_column, "v"), EvolutionPolicy::lenient, t);
  EXPECT_EQ(drop.statements,
            std::vector<std::string>{"ALTER TABLE \"public\".\"kv\" ALTER COLUMN \"v\" DROP NOT NULL"});
  EXPECT_NE(drop.skipped.find("kept"), std::string::npos);
  auto rename = plan_change(change(SchemaChangeKind::rename_column, "v", "label"), EvolutionPolicy::lenient, t);
  EXPECT_EQ(rename.statements, std::vector<std::string>{"ALTER TABLE \"public\".\"kv\" ADD COLUMN \"label\" text"});
  auto narrow = change(SchemaChangeKind::alter_column_type, "n");
  narrow.new_type.id = TypeId::int16;
  auto narrowed = plan_change(narrow, EvolutionPolicy::lenient, t);
  EXPECT_TRUE(narrowed.statements.empty());
  EXPECT_NE(narrowed.skipped.find("narrow"), std::string::npos);
  auto widen = change(SchemaChangeKind::alter_column_type, "n");
  widen.new_type.id = TypeId::int64;
  EXPECT_EQ(plan_change(widen, EvolutionPolicy::lenient, t).statements.size(), 1u);
  EXPECT_TRUE(plan_change(change(SchemaChangeKind::truncate_table), EvolutionPolicy::lenient, t).statements.empty());
  EXPECT_TRUE(plan_change(change(SchemaChangeKind::drop_table), EvolutionPolicy::lenient, t).statements.empty());
}

TEST(SchemaEvolution, IgnoreTryEvolveAndException) {
  auto t = kv(Dialect::postgres);
  auto drop = change(SchemaChangeKind::drop_column, "n");
  EXPECT_TRUE(plan_change(drop, EvolutionPolicy::ignore, t).statements.empty());
  auto tried = plan_change(drop, EvolutionPolicy::try_evolve, t);
  EXPECT_TRUE(tried.tolerate_failure);
  EXPECT_EQ(tried.statements.size(), 1u);
  try {
    plan_change(drop, EvolutionPolicy::exception, t);
    FAIL() << "exception policy must throw";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::schema);
    EXPECT_NE(std::string(e.what()).find("drop_column on public.kv column n"), std::string::npos) << e.what();
  }
}

}  // namespace
