// The sqlite connector's registration: configuration keys and factories.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config/registry.hpp"
#include "connectors/registry.hpp"
#include "connectors/sqlite/sqlite.hpp"
#include "model/error.hpp"

namespace {

using namespace ds;

const config::KeySpec *find_key(const config::ConnectorKeys &keys, const std::string &name) {
  for (const auto &k : keys.keys)
    if (k.name == name) return &k;
  return nullptr;
}

TEST(SqliteRegister, KeysAndFactories) {
  connectors::sqlite::register_connector();
  const config::ConnectorKeys *src = config::Registry::instance().connector("source", "sqlite");
  ASSERT_NE(src, nullptr);
  const config::KeySpec *path = find_key(*src, "path");
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(path->type, config::KeyType::path);
  EXPECT_TRUE(path->required);
  EXPECT_FALSE(path->doc.empty());
  ASSERT_NE(find_key(*src, "tables"), nullptr);
  EXPECT_EQ(find_key(*src, "tables")->type, config::KeyType::list);
  ASSERT_NE(find_key(*src, "exclude_tables"), nullptr);

  const config::ConnectorKeys *snk = config::Registry::instance().connector("sink", "sqlite");
  ASSERT_NE(snk, nullptr);
  ASSERT_NE(find_key(*snk, "path"), nullptr);
  EXPECT_TRUE(find_key(*snk, "path")->required);
  ASSERT_NE(find_key(*snk, "create_tables"), nullptr);
  EXPECT_EQ(find_key(*snk, "create_tables")->type, config::KeyType::boolean);
  EXPECT_EQ(find_key(*snk, "create_tables")->default_value, "true");
  const config::KeySpec *jm = find_key(*snk, "journal_mode");
  ASSERT_NE(jm, nullptr);
  EXPECT_EQ(jm->default_value, "wal");
  EXPECT_EQ(jm->choices, (std::vector<std::string>{"wal", "delete", "truncate", "memory", "off"}));
  ASSERT_NE(find_key(*snk, "synchronous"), nullptr);
  EXPECT_EQ(find_key(*snk, "synchronous")->default_value, "normal");
  ASSERT_NE(find_key(*snk, "write_mode"), nullptr);
  EXPECT_EQ(find_key(*snk, "write_mode")->choices, (std::vector<std::string>{"insert", "upsert", "changelog"}));

  char tmpl[] = "/tmp/ds_sqlite_reg_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string db = dir + "/x.db";

  config::ConnectorSpec sink_spec;
  sink_spec.type = "sqlite";
  sink_spec.options.set("path", db);
  sink_spec.options.set("journal_mode", "delete");
  connectors::ConnectorContext ctx;
  ctx.pipeline_name = "my_pipeline";
  auto sink = connectors::create_sink(sink_spec, ctx);
  EXPECT_EQ(sink->describe(), "sqlite path=" + db);
  EXPECT_EQ(sink->max_lanes(), 1);
  model::TableSchema schema;
  schema.id = model::TableId{"", "main", "t"};
  model::ColumnSchema id;
  id.name = "id";
  id.type.id = model::TypeId::int64;
  id.nullable = false;
  schema.columns.push_back(id);
  sink->prepare_table(schema);
  auto writer = sink->open_writer(0);
  std::vector<model::Position> positions = {{"main.t#0", "rowid=1", true}};
  writer->commit(&positions);
  writer.reset();
  // The writer's checkpoint rows belong to the context's pipeline.
  auto state = sink->open_checkpoint_store("my_pipeline")->load();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state.begin()->second.value, "rowid=1");

  config::ConnectorSpec source_spec;
  source_spec.type = "sqlite";
  source_spec.options.set("path", db);
  auto source = connectors::create_source(source_spec, ctx);
  EXPECT_EQ(source->describe(), "sqlite path=" + db);
  auto tables = source->discover(model::TableSelector{});
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0]->id.table_name, "t");

  source_spec.options.set("exclude_tables", "t");
  auto excluding = connectors::create_source(source_spec, ctx);
  EXPECT_THROW(excluding->discover(model::TableSelector{}), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
