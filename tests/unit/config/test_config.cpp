// Unit tests of core/config: YAML/JSON parsing, typed keys, error messages and
// positions, env substitution, secrets, set_key/validate and the docs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "config/registry.hpp"
#include "config/spec.hpp"
#include "model/error.hpp"

namespace {

using ds::Code;
using ds::config::KeySpec;
using ds::config::KeyType;
using ds::config::Registry;
namespace cfg = ds::config;

KeySpec key(std::string name, KeyType type, std::string default_value = "", bool required = false,
            bool secret = false) {
  KeySpec k;
  k.name = std::move(name);
  k.type = type;
  k.default_value = std::move(default_value);
  k.doc = "doc of " + k.name;
  k.required = required;
  k.secret = secret;
  return k;
}

KeySpec int_key(std::string name, int64_t min, int64_t max, std::string default_value = "", bool secret = false) {
  KeySpec k = key(std::move(name), KeyType::integer, std::move(default_value), false, secret);
  k.min = min;
  k.max = max;
  return k;
}

// Connector types owned by this test, registered with the real registry.
void register_test_connectors() {
  Registry &registry = Registry::instance();
  registry.register_connector("source", "testsrc", "A fake source for tests.",
                              {key("path", KeyType::path, "", true), key("password", KeyType::string, "", false, true),
                               key("tables", KeyType::list), int_key("rows", 1, 100)});
  KeySpec format = key("format", KeyType::choice, "csv");
  format.choices = {"csv", "json"};
  registry.register_connector("sink", "testsink", "A fake sink for tests.",
                              {key("path", KeyType::path), key("password", KeyType::string, "", false, true),
                               int_key("pin", 0, 9999, "", true), format, key("enabled", KeyType::boolean, "true"),
                               int_key("batch", 1, 1000, "10"), key("columns", KeyType::list, "a,b")});
}

class ConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { register_test_connectors(); }
};

// Runs `fn`, which must throw ds::Error, and returns that error.
ds::Error error_of(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const ds::Error &e) {
    return e;
  }
  ADD_FAILURE() << "expected a ds::Error";
  return ds::Error(Code::ok, "");
}

ds::Error yaml_error(const std::string &text) {
  return error_of([&] { cfg::parse_yaml(text, "pipeline.yaml"); });
}

const char *kMinimal =
    "source:\n"
    "  type: testsrc\n"
    "  path: /data/in.db\n"
    "sink:\n"
    "  type: testsink\n";

TEST_F(ConfigTest, ParsesAFullPipeline) {
  const std::string text =
      "source:\n"
      "  type: testsrc\n"
      "  name: orders-db\n"
      "  path: /data/in.db\n"
      "  password: hunter2\n"
      "  tables: [app.orders, app.customers]\n"
      "  rows: 50\n"
      "sink:\n"
      "  type: testsink\n"
      "  path: /data/out\n"
      "  format: json\n"
      "  enabled: no\n"
      "route:\n"
      "  - source-table: app\\.orders\n"
      "    sink-table: ods.orders\n"
      "    description: orders\n"
      "  - source_table: app\\..*\n"
      "    sink_table: ods.<>\n"
      "transform:\n"
      "  - source-table: app\\.orders\n"
      "    projection: id, total AS amount, *\n"
      "    drop-columns: [secret, internal]\n"
      "    description: trim\n"
      "  - source-table: app\\.customers\n"
      "    projection: [id, name]\n"
      "pipeline:\n"
      "  name: nightly\n"
      "  mode: snapshot+cdc\n"
      "  parallelism: 8\n"
      "  batch-rows: 10000\n"
      "  queue_batches: 16\n"
      "  checkpoint-store: file\n"
      "  checkpoint-path: /var/ckpt.json\n"
      "  split_rows: 5000\n"
      "  max_retries: 0\n";
  cfg::PipelineSpec spec = cfg::parse_yaml(text, "full.yaml");

  EXPECT_EQ(spec.source.type, "testsrc");
  EXPECT_EQ(spec.source.name, "orders-db");
  EXPECT_EQ(spec.source.mark.to_string(), "full.yaml:1:1");
  EXPECT_EQ(spec.source.options.get_string("path"), "/data/in.db");
  EXPECT_EQ(spec.source.options.get_string("password"), "hunter2");
  EXPECT_EQ(spec.source.options.get_list("tables"), (std::vector<std::string>{"app.orders", "app.customers"}));
  EXPECT_EQ(spec.source.options.get_int("rows"), 50);
  EXPECT_FALSE(spec.source.options.has("type"));
  EXPECT_EQ(spec.source.options.values().size(), 4u);

  EXPECT_EQ(spec.sink.type, "testsink");
  EXPECT_EQ(spec.sink.mark.to_string(), "full.yaml:8:1");
  EXPECT_EQ(spec.sink.options.get_string("format"), "json");
  EXPECT_EQ(spec.sink.options.get_string("enabled"), "false");
  EXPECT_EQ(spec.sink.options.get_string("batch"), "10");

  ASSERT_EQ(spec.routes.size(), 2u);
  EXPECT_EQ(spec.routes[0].source_table, "app\\.orders");
  EXPECT_EQ(spec.routes[0].sink_table, "ods.orders");
  EXPECT_EQ(spec.routes[0].description, "orders");
  EXPECT_EQ(spec.routes[0].mark.to_string(), "full.yaml:14:5");
  EXPECT_EQ(spec.routes[1].source_table, "app\\..*");
  EXPECT_EQ(spec.routes[1].sink_table, "ods.<>");
  EXPECT_EQ(spec.routes[1].description, "");

  ASSERT_EQ(spec.transforms.size(), 2u);
  EXPECT_EQ(spec.transforms[0].source_table, "app\\.orders");
  EXPECT_EQ(spec.transforms[0].projection, (std::vector<std::string>{"id", "total AS amount", "*"}));
  EXPECT_EQ(spec.transforms[0].drop_columns, (std::vector<std::string>{"secret", "internal"}));
  EXPECT_EQ(spec.transforms[0].description, "trim");
  EXPECT_EQ(spec.transforms[1].projection, (std::vector<std::string>{"id", "name"}));
  EXPECT_TRUE(spec.transforms[1].drop_columns.empty());

  EXPECT_EQ(spec.name, "nightly");
  EXPECT_EQ(spec.mode, cfg::Mode::snapshot_and_cdc);
  EXPECT_EQ(spec.parallelism, 8);
  EXPECT_EQ(spec.batch_rows, 10000);
  EXPECT_EQ(spec.queue_batches, 16);
  EXPECT_EQ(spec.checkpoint_store, "file");
  EXPECT_EQ(spec.checkpoint_path, "/var/ckpt.json");
  EXPECT_EQ(spec.split_rows, 5000);
  EXPECT_EQ(spec.max_retries, 0);
}

TEST_F(ConfigTest, AppliesDefaults) {
  cfg::PipelineSpec spec = cfg::parse_yaml(kMinimal);
  EXPECT_EQ(spec.name, "pipeline");
  EXPECT_EQ(spec.mode, cfg::Mode::snapshot);
  EXPECT_EQ(spec.parallelism, 1);
  EXPECT_EQ(spec.batch_rows, 4096);
  EXPECT_EQ(spec.queue_batches, 8);
  EXPECT_EQ(spec.checkpoint_store, "sink");
  EXPECT_EQ(spec.checkpoint_path, "");
  EXPECT_EQ(spec.split_rows, 1000000);
  EXPECT_EQ(spec.max_retries, 3);
  EXPECT_TRUE(spec.routes.empty());
  EXPECT_TRUE(spec.transforms.empty());
  // Keys without a default stay unset; defaults are stored canonically.
  EXPECT_FALSE(spec.source.options.has("rows"));
  EXPECT_EQ(spec.sink.options.get_string("format"), "csv");
  EXPECT_EQ(spec.sink.options.get_string("enabled"), "true");
  EXPECT_EQ(spec.sink.options.get_int("batch"), 10);
  EXPECT_EQ(spec.sink.options.get_list("columns"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec.source.mark.to_string(), "<string>:1:1");
}

TEST_F(ConfigTest, UnknownKeySuggestsNearestWithPosition) {
  ds::Error e = yaml_error(std::string(kMinimal) + "  pasword: x\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "unknown key 'pasword' in sink (type testsink); did you mean 'password'?");
  EXPECT_EQ(e.context(), "pipeline.yaml:6:3");

  e = yaml_error(std::string(kMinimal) + "pipeline:\n  paralelism: 2\n");
  EXPECT_STREQ(e.what(), "unknown key 'paralelism' in pipeline; did you mean 'parallelism'?");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:3");

  e = yaml_error(std::string(kMinimal) + "route:\n  - source-table: a\n    sink-tabel: b\n");
  EXPECT_STREQ(e.what(), "unknown key 'sink-tabel' in route[0]; did you mean 'sink_table'?");
  EXPECT_EQ(e.context(), "pipeline.yaml:8:5");

  e = yaml_error(std::string(kMinimal) + "transform:\n  - source-table: a\n    projektion: b\n");
  EXPECT_STREQ(e.what(), "unknown key 'projektion' in transform[0]; did you mean 'projection'?");

  // Nothing close: no suggestion.
  e = yaml_error(std::string(kMinimal) + "  completely_different: 1\n");
  EXPECT_STREQ(e.what(), "unknown key 'completely_different' in sink (type testsink)");
}

TEST_F(ConfigTest, UnknownSection) {
  ds::Error e = yaml_error(std::string(kMinimal) + "pipline:\n  name: x\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(
      e.what(),
      "unknown section 'pipline'; did you mean 'pipeline'? (valid: source, sink, route, transform, schema, pipeline)");
  EXPECT_EQ(e.context(), "pipeline.yaml:6:1");
}

TEST_F(ConfigTest, BadIntegerAndRange) {
  ds::Error e = yaml_error(std::string(kMinimal) + "pipeline:\n  parallelism: abc\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "parallelism must be an integer between 1 and 64, got 'abc'");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:16");

  e = yaml_error(std::string(kMinimal) + "pipeline:\n  parallelism: 65\n");
  EXPECT_STREQ(e.what(), "parallelism must be an integer between 1 and 64, got '65'");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  max_retries: -1\n");
  EXPECT_STREQ(e.what(), "max_retries must be an integer between 0 and 100, got '-1'");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  split_rows: 0\n");
  EXPECT_STREQ(e.what(), "split_rows must be an integer >= 1, got '0'");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  batch_rows: 99999999999999999999\n");
  EXPECT_STREQ(e.what(), "batch_rows must be an integer between 1 and 1000000, got '99999999999999999999'");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  parallelism: 2.5\n");
  EXPECT_STREQ(e.what(), "parallelism must be an integer between 1 and 64, got '2.5'");
  e = yaml_error("source:\n  type: testsrc\n  path: x\n  rows: 101\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "rows must be an integer between 1 and 100, got '101'");
  EXPECT_EQ(e.context(), "pipeline.yaml:4:9");

  // The edges are valid.
  EXPECT_EQ(cfg::parse_yaml(std::string(kMinimal) + "pipeline:\n  parallelism: 64\n").parallelism, 64);
  EXPECT_EQ(cfg::parse_yaml(std::string(kMinimal) + "pipeline:\n  parallelism: '+1'\n").parallelism, 1);
}

TEST_F(ConfigTest, ChoicesAndBooleans) {
  ds::Error e = yaml_error(std::string(kMinimal) + "pipeline:\n  mode: full\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "mode must be one of snapshot, cdc, snapshot+cdc; got 'full'");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:9");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  mode: snapshto\n");
  EXPECT_STREQ(e.what(), "mode must be one of snapshot, cdc, snapshot+cdc; got 'snapshto'; did you mean 'snapshot'?");

  EXPECT_EQ(cfg::parse_yaml(std::string(kMinimal) + "pipeline:\n  mode: CDC\n").mode, cfg::Mode::cdc);

  for (auto [given, stored] : std::vector<std::pair<std::string, std::string>>{{"yes", "true"},
                                                                               {"On", "true"},
                                                                               {"1", "true"},
                                                                               {"TRUE", "true"},
                                                                               {"no", "false"},
                                                                               {"off", "false"},
                                                                               {"0", "false"},
                                                                               {"False", "false"}}) {
    cfg::PipelineSpec spec = cfg::parse_yaml(std::string(kMinimal) + "  enabled: " + given + "\n");
    EXPECT_EQ(spec.sink.options.get_string("enabled"), stored) << given;
  }
  // YAML reads a bare null as "no value"; a choice offering "null" takes it as written.
  EXPECT_EQ(cfg::parse_yaml(std::string(kMinimal) + "pipeline:\n  invalid_values: null\n").invalid_values, "null");
  EXPECT_EQ(cfg::parse_yaml(std::string(kMinimal) + "pipeline:\n  invalid_values: clamp\n").invalid_values, "clamp");
  e = yaml_error(std::string(kMinimal) + "pipeline:\n  mode:\n");
  EXPECT_EQ(e.code(), Code::config);  // an empty value is still no value
  e = yaml_error(std::string(kMinimal) + "  enabled: maybe\n");
  EXPECT_STREQ(e.what(), "enabled must be a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'");
  EXPECT_EQ(e.context(), "pipeline.yaml:6:12");
}

TEST_F(ConfigTest, MissingAndUnknownType) {
  ds::Error e = yaml_error("source:\n  path: x\nsink:\n  type: testsink\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_EQ(std::string(e.what()).rfind("missing required key 'type' in source (known types: ", 0), 0u) << e.what();
  EXPECT_NE(std::string(e.what()).find("testsrc"), std::string::npos);
  EXPECT_EQ(e.context(), "pipeline.yaml:1:1");

  e = yaml_error("source:\n  type: tstsrc\n  path: x\nsink:\n  type: testsink\n");
  EXPECT_EQ(e.code(), Code::config);
  const std::string message = e.what();
  EXPECT_EQ(message.rfind("unknown source type 'tstsrc'; did you mean 'testsrc'? (known: ", 0), 0u) << message;
  EXPECT_NE(message.find("testsrc"), std::string::npos);
  EXPECT_EQ(message.back(), ')');
  EXPECT_EQ(e.context(), "pipeline.yaml:2:9");

  // A sink type is not a source type.
  e = yaml_error("source:\n  type: testsink\nsink:\n  type: testsink\n");
  EXPECT_EQ(std::string(e.what()).rfind("unknown source type 'testsink'", 0), 0u) << e.what();
}

TEST_F(ConfigTest, MissingSectionsAndRequiredKeys) {
  ds::Error e = yaml_error("sink:\n  type: testsink\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "missing 'source' section");
  EXPECT_EQ(e.context(), "pipeline.yaml");

  e = yaml_error("source:\n  type: testsrc\n  path: x\n");
  EXPECT_STREQ(e.what(), "missing 'sink' section");

  e = yaml_error("");
  EXPECT_STREQ(e.what(), "missing 'source' section");

  e = yaml_error("source:\n  type: testsrc\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "missing required key 'path' in source (type testsrc)");
  EXPECT_EQ(e.context(), "pipeline.yaml:1:1");

  e = yaml_error(std::string(kMinimal) + "route:\n  - source-table: a\n");
  EXPECT_STREQ(e.what(), "missing required key 'sink_table' in route[0]");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:5");
}

TEST_F(ConfigTest, MalformedYamlAndWrongShapes) {
  ds::Error e = yaml_error("source:\n  type: testsrc\n  tables: [a, b\nsink:\n  type: testsink\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "invalid YAML: end of sequence flow not found");
  EXPECT_EQ(e.context(), "pipeline.yaml:4:5");  // where yaml-cpp notices the unclosed list

  e = yaml_error("source: 1\n  bad: 2\n");
  EXPECT_STREQ(e.what(), "invalid YAML: illegal map value");
  EXPECT_EQ(e.context(), "pipeline.yaml:2:6");

  e = yaml_error("- a\n- b\n");
  EXPECT_STREQ(
      e.what(),
      "a pipeline definition must be a map with the sections source, sink, route, transform, schema, pipeline; "
      "got a list");
  EXPECT_EQ(e.context(), "pipeline.yaml:1:1");

  e = yaml_error("source: [1, 2]\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "source must be a map of keys, got a list");
  EXPECT_EQ(e.context(), "pipeline.yaml:1:9");

  e = yaml_error(std::string(kMinimal) + "route:\n  source-table: a\n");
  EXPECT_STREQ(e.what(), "route must be a list of maps, got a map");

  e = yaml_error(std::string(kMinimal) + "route:\n  - just a string\n");
  EXPECT_STREQ(e.what(), "route[0] must be a map of keys, got a single value");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:5");

  e = yaml_error(std::string(kMinimal) + "  batch: [1, 2]\n");
  EXPECT_STREQ(e.what(), "batch must be a single value, got a list");
  EXPECT_EQ(e.context(), "pipeline.yaml:6:10");

  e = yaml_error(std::string(kMinimal) + "  batch: 5\n  batch: 6\n");
  EXPECT_STREQ(e.what(), "duplicate key 'batch' in sink");
  EXPECT_EQ(e.context(), "pipeline.yaml:7:3");

  e = yaml_error(std::string(kMinimal) + "pipeline:\n  batch-rows: 5\n  batch_rows: 6\n");
  EXPECT_STREQ(e.what(), "duplicate key 'batch_rows' in pipeline");

  e = yaml_error(std::string(kMinimal) + "route:\n  - source-table: 'a('\n    sink-table: b\n");
  EXPECT_EQ(std::string(e.what()).rfind("source_table of route[0] is not a valid regex: 'a('", 0), 0u) << e.what();
  EXPECT_EQ(e.context(), "pipeline.yaml:7:19");
}

TEST_F(ConfigTest, EnvironmentSubstitution) {
  ASSERT_EQ(setenv("DS_TEST_DIR", "/srv/data", 1), 0);
  ASSERT_EQ(setenv("DS_TEST_ROWS", "42", 1), 0);
  ASSERT_EQ(unsetenv("DS_TEST_MISSING"), 0);
  cfg::PipelineSpec spec = cfg::parse_yaml(
      "source:\n  type: testsrc\n  path: ${DS_TEST_DIR}/in.db\n  rows: ${DS_TEST_ROWS}\n"
      "  tables: a, $${literal}, b${DS_TEST_ROWS}\nsink:\n  type: testsink\n");
  EXPECT_EQ(spec.source.options.get_string("path"), "/srv/data/in.db");
  EXPECT_EQ(spec.source.options.get_string("rows"), "42");
  EXPECT_EQ(spec.source.options.get_list("tables"), (std::vector<std::string>{"a", "${literal}", "b42"}));

  ds::Error e = yaml_error(std::string(kMinimal) + "  path: ${DS_TEST_MISSING}/x\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "environment variable 'DS_TEST_MISSING' is not set");
  EXPECT_EQ(e.context(), "pipeline.yaml:6:9");

  e = yaml_error(std::string(kMinimal) + "  path: ${DS_TEST_DIR\n");
  EXPECT_STREQ(e.what(), "unterminated '${' (end it with '}', or write '$${' for a literal '${')");

  // Substitution happens before validation: the substituted text is checked.
  ASSERT_EQ(setenv("DS_TEST_ROWS", "many", 1), 0);
  e = yaml_error("source:\n  type: testsrc\n  path: x\n  rows: ${DS_TEST_ROWS}\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "rows must be an integer between 1 and 100, got 'many'");
}

TEST_F(ConfigTest, SecretsNeverInErrorsAndRedacted) {
  const std::string secret = "s3cr3t-9";
  ds::Error e = yaml_error(std::string(kMinimal) + "  pin: " + secret + "\n");
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "pin must be an integer between 0 and 9999, got '***'");
  EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos);
  EXPECT_EQ(e.context().find(secret), std::string::npos);

  ASSERT_EQ(setenv("DS_TEST_PIN", "hidden-value", 1), 0);
  e = yaml_error(std::string(kMinimal) + "  pin: ${DS_TEST_PIN}\n");
  EXPECT_STREQ(e.what(), "pin must be an integer between 0 and 9999, got '***'");

  e = yaml_error(std::string(kMinimal) + "  password: ab${c d}ef\n");
  EXPECT_STREQ(e.what(), "invalid environment variable reference in a secret value");
  EXPECT_EQ(std::string(e.what()).find("c d"), std::string::npos);

  e = error_of([] {
    cfg::PipelineSpec spec;
    cfg::set_key(spec, "sink.type", "testsink");
    cfg::set_key(spec, "sink.pin", "topsecret");
  });
  EXPECT_STREQ(e.what(), "pin must be an integer between 0 and 9999, got '***'");
  EXPECT_EQ(e.context(), "sink.pin");

  cfg::PipelineSpec spec = cfg::parse_yaml(
      "source:\n  type: testsrc\n  path: x\n  password: hunter2\nsink:\n  type: testsink\n  password: pa55word\n"
      "  pin: 1234\n  path: hunter\n");
  EXPECT_EQ(cfg::redact("login hunter2 failed; sink pa55word pin 1234 at hunter", spec),
            "login *** failed; sink *** pin *** at hunter");
  EXPECT_EQ(cfg::redact("hunter2hunter2", spec), "******");
  EXPECT_EQ(cfg::redact("nothing here", spec), "nothing here");
  EXPECT_EQ(cfg::redact("abc", cfg::PipelineSpec{}), "abc");
}

TEST_F(ConfigTest, ListParsing) {
  auto tables = [](const std::string &value) {
    return cfg::parse_yaml("source:\n  type: testsrc\n  path: x\n  tables: " + value + "\nsink:\n  type: testsink\n")
        .source.options.get_list("tables");
  };
  using List = std::vector<std::string>;
  EXPECT_EQ(tables("[a, 'b,c', d]"), (List{"a", "b,c", "d"}));
  EXPECT_EQ(tables("a, b ,c"), (List{"a", "b", "c"}));
  EXPECT_EQ(tables("'app\\.t_\\d{1,3}, app\\.(x|y), [ab,c]z'"), (List{"app\\.t_\\d{1,3}", "app\\.(x|y)", "[ab,c]z"}));
  EXPECT_EQ(tables("'a\\(, b'"), (List{"a\\(", "b"}));
  EXPECT_EQ(tables("'a,,b,'"), (List{"a", "b"}));
  EXPECT_EQ(tables("single"), (List{"single"}));
  EXPECT_EQ(tables("''"), (List{}));
  EXPECT_EQ(tables("\n    - one\n    - 'x{1,3}'"), (List{"one", "x{1,3}"}));

  ds::Error e = yaml_error("source:\n  type: testsrc\n  path: x\n  tables: {a: 1}\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "tables must be a list or a comma-separated string, got a map");
  e = yaml_error("source:\n  type: testsrc\n  path: x\n  tables: [a, [b]]\nsink:\n  type: testsink\n");
  EXPECT_STREQ(e.what(), "items of tables must be single values, got a list");
  EXPECT_EQ(e.context(), "pipeline.yaml:4:15");
}

TEST_F(ConfigTest, RelativePathsResolveAgainstBaseDir) {
  const std::string text =
      "source:\n  type: testsrc\n  path: data/in.db\nsink:\n  type: testsink\n  path: ../out/./x.db\n"
      "pipeline:\n  checkpoint_path: ckpt.json\n";
  cfg::PipelineSpec spec = cfg::parse_yaml(text, "p.yaml", "/etc/ds/jobs");
  EXPECT_EQ(spec.source.options.get_string("path"), "/etc/ds/jobs/data/in.db");
  EXPECT_EQ(spec.sink.options.get_string("path"), "/etc/ds/out/x.db");
  EXPECT_EQ(spec.checkpoint_path, "/etc/ds/jobs/ckpt.json");

  spec = cfg::parse_yaml(text);  // no base_dir: left as written
  EXPECT_EQ(spec.source.options.get_string("path"), "data/in.db");

  spec = cfg::parse_yaml("source:\n  type: testsrc\n  path: ':memory:'\nsink:\n  type: testsink\n  path: /abs/x.db\n",
                         "p.yaml", "/base");
  EXPECT_EQ(spec.source.options.get_string("path"), ":memory:");
  EXPECT_EQ(spec.sink.options.get_string("path"), "/abs/x.db");
}

TEST_F(ConfigTest, ParsesJson) {
  cfg::PipelineSpec spec = cfg::parse_yaml(
      "{\n"
      "  \"source\": {\"type\": \"testsrc\", \"path\": \"/in.db\", \"tables\": [\"a\", \"b\"], \"rows\": 7},\n"
      "  \"sink\": {\"type\": \"testsink\", \"enabled\": false},\n"
      "  \"route\": [{\"source-table\": \"a\", \"sink-table\": \"b\"}],\n"
      "  \"pipeline\": {\"parallelism\": 4, \"mode\": \"cdc\"}\n"
      "}\n",
      "p.json");
  EXPECT_EQ(spec.source.options.get_string("path"), "/in.db");
  EXPECT_EQ(spec.source.options.get_list("tables"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec.source.options.get_int("rows"), 7);
  EXPECT_EQ(spec.sink.options.get_string("enabled"), "false");
  ASSERT_EQ(spec.routes.size(), 1u);
  EXPECT_EQ(spec.routes[0].sink_table, "b");
  EXPECT_EQ(spec.parallelism, 4);
  EXPECT_EQ(spec.mode, cfg::Mode::cdc);

  ds::Error e = error_of([] { cfg::parse_yaml("{\"source\": {\"type\": \"testsrc\", \"pth\": 1}}", "p.json"); });
  EXPECT_STREQ(e.what(), "unknown key 'pth' in source (type testsrc); did you mean 'path'?");
  EXPECT_EQ(e.context(), "p.json:1:32");
}

TEST_F(ConfigTest, SetKeyAndValidate) {
  cfg::PipelineSpec spec;
  ds::Error e = error_of([&] { cfg::validate(spec); });
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_STREQ(e.what(), "missing source type (set 'source.type')");
  EXPECT_EQ(e.context(), "source");

  e = error_of([&] { cfg::set_key(spec, "source.path", "x"); });
  EXPECT_STREQ(e.what(), "source type is not set; set 'source.type' before 'source.path'");

  cfg::set_key(spec, "source.type", "testsrc");
  EXPECT_EQ(spec.source.type, "testsrc");
  cfg::set_key(spec, "source.path", "rel/in.db");
  cfg::set_key(spec, "source.tables", "a, b{1,2}");
  cfg::set_key(spec, "source.name", "src");
  EXPECT_EQ(spec.source.options.get_string("path"), "rel/in.db");
  EXPECT_EQ(spec.source.options.get_list("tables"), (std::vector<std::string>{"a", "b{1,2}"}));
  EXPECT_EQ(spec.source.name, "src");

  e = error_of([&] { cfg::set_key(spec, "source.rows", "0"); });
  EXPECT_STREQ(e.what(), "rows must be an integer between 1 and 100, got '0'");
  EXPECT_EQ(e.context(), "source.rows");
  e = error_of([&] { cfg::set_key(spec, "source.pth", "x"); });
  EXPECT_STREQ(e.what(), "unknown key 'pth' in source (type testsrc); did you mean 'path'?");
  e = error_of([&] { cfg::set_key(spec, "sorce.path", "x"); });
  EXPECT_STREQ(e.what(),
               "unknown section 'sorce' in key 'sorce.path'; did you mean 'source'? (settable sections: source, sink, "
               "schema, pipeline)");
  e = error_of([&] { cfg::set_key(spec, "parallelism", "2"); });
  EXPECT_STREQ(e.what(), "key 'parallelism' must be 'section.key', e.g. 'source.type'");
  e = error_of([&] { cfg::set_key(spec, "sink.type", "tstsink"); });
  EXPECT_EQ(std::string(e.what()).rfind("unknown sink type 'tstsink'; did you mean 'testsink'? (known: ", 0), 0u);
  EXPECT_TRUE(spec.sink.type.empty());  // a refused type changes nothing

  cfg::set_key(spec, "pipeline.parallelism", "12");
  cfg::set_key(spec, "pipeline.mode", "snapshot+cdc");
  cfg::set_key(spec, "pipeline.batch-rows", "100");
  EXPECT_EQ(spec.parallelism, 12);
  EXPECT_EQ(spec.mode, cfg::Mode::snapshot_and_cdc);
  EXPECT_EQ(spec.batch_rows, 100);
  e = error_of([&] { cfg::set_key(spec, "pipeline.parallelism", "0"); });
  EXPECT_STREQ(e.what(), "parallelism must be an integer between 1 and 64, got '0'");
  EXPECT_EQ(spec.parallelism, 12);
  e = error_of([&] { cfg::set_key(spec, "pipeline.mode", "stream"); });
  EXPECT_STREQ(e.what(), "mode must be one of snapshot, cdc, snapshot+cdc; got 'stream'");

  e = error_of([&] { cfg::validate(spec); });
  EXPECT_STREQ(e.what(), "missing sink type (set 'sink.type')");

  cfg::set_key(spec, "sink.type", "testsink");
  EXPECT_EQ(spec.sink.options.get_string("format"), "csv");
  cfg::set_key(spec, "sink.format", "json");
  cfg::set_key(spec, "sink.enabled", "off");
  EXPECT_EQ(spec.sink.options.get_string("enabled"), "false");
  cfg::validate(spec);

  // A new type starts from that type's defaults.
  cfg::set_key(spec, "sink.type", "testsink");
  EXPECT_EQ(spec.sink.options.get_string("format"), "csv");
  EXPECT_EQ(spec.sink.options.get_string("enabled"), "true");

  // Required keys are checked on the whole spec.
  cfg::set_key(spec, "source.type", "testsrc");
  EXPECT_FALSE(spec.source.options.has("path"));
  e = error_of([&] { cfg::validate(spec); });
  EXPECT_STREQ(e.what(), "missing required key 'path' in source (type testsrc)");
  EXPECT_EQ(e.context(), "source");
}

TEST_F(ConfigTest, MarkdownDocumentsEveryKey) {
  const std::string md = Registry::instance().markdown();
  for (const char *expected :
       {"# Configuration reference",
        "## pipeline",
        "| `parallelism` | integer 1...64 | `1` |",
        "| `mode` | choice: `snapshot`, `cdc`, `snapshot+cdc` | `snapshot` |",
        "| `checkpoint_path` | path |  |",
        "| `split_rows` | integer >= 1 | `1000000` |",
        "## route",
        "| `sink_table` | string |  | **Required.**",
        "## transform",
        "| `drop_columns` | list |",
        "## Sources",
        "### testsrc",
        "A fake source for tests.",
        "| `type` | string |  | **Required.** `testsrc`. |",
        "| `path` | path |  | **Required.** doc of path |",
        "| `password` (secret) | string |  | **Secret**: never shown in errors or logs. doc of password |",
        "| `rows` | integer 1...100 |  | doc of rows |",
        "## Sinks",
        "### testsink",
        "| `format` | choice: `csv`, `json` | `csv` | doc of format |"}) {
    EXPECT_NE(md.find(expected), std::string::npos) << "missing: " << expected << "\n" << md;
  }
  EXPECT_LT(md.find("## Sources"), md.find("### testsrc"));
  EXPECT_LT(md.find("### testsrc"), md.find("## Sinks"));
  EXPECT_LT(md.find("## Sinks"), md.find("### testsink"));
}

TEST_F(ConfigTest, ParsesFiles) {
  char dir_template[] = "/tmp/ds_config_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir = dir_template;
  {
    std::ofstream out(dir / "job.yaml");
    out << "source:\n  type: testsrc\n  path: in.db\nsink:\n  type: testsink\n  bogus: 1\n";
  }
  ds::Error e = error_of([&] { cfg::parse_yaml_file((dir / "job.yaml").string()); });
  EXPECT_EQ(e.code(), Code::config);
  EXPECT_EQ(e.context(), (dir / "job.yaml").string() + ":6:3");
  {
    std::ofstream out(dir / "job.yaml");
    out << "source:\n  type: testsrc\n  path: in.db\nsink:\n  type: testsink\n";
  }
  cfg::PipelineSpec spec = cfg::parse_yaml_file((dir / "job.yaml").string());
  EXPECT_EQ(spec.source.options.get_string("path"), (dir / "in.db").string());
  EXPECT_EQ(spec.source.mark.file, (dir / "job.yaml").string());

  // A relative file name: paths still resolve against the file's absolute directory.
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.parent_path());
  const std::string relative = (dir.filename() / "job.yaml").string();
  spec = cfg::parse_yaml_file(relative);
  std::filesystem::current_path(cwd);
  EXPECT_EQ(spec.source.options.get_string("path"), (dir / "in.db").string());
  EXPECT_EQ(spec.source.mark.to_string(), relative + ":1:1");

  e = error_of([&] { cfg::parse_yaml_file((dir / "nope.yaml").string()); });
  EXPECT_EQ(e.code(), Code::not_found);
  EXPECT_STREQ(e.what(), ("pipeline file '" + (dir / "nope.yaml").string() + "' does not exist").c_str());
  e = error_of([&] { cfg::parse_yaml_file(dir.string()); });
  EXPECT_EQ(e.code(), Code::io);
  EXPECT_STREQ(e.what(), ("pipeline file '" + dir.string() + "' is a directory").c_str());

  std::filesystem::remove_all(dir);
}

TEST(ConfigNearest, EditDistance) {
  EXPECT_EQ(cfg::nearest("pasword", {"path", "password", "tables"}), "password");
  EXPECT_EQ(cfg::nearest("Password", {"path", "password"}), "password");
  EXPECT_EQ(cfg::nearest("sqllite", {"generator", "sqlite", "discard"}), "sqlite");
  EXPECT_EQ(cfg::nearest("tabels", {"tables", "rows"}), "tables");
  EXPECT_EQ(cfg::nearest("bat", {"cat", "hat"}), "cat");  // tie: the first candidate wins
  EXPECT_EQ(cfg::nearest("xyz", {"path", "rows"}), "");
  EXPECT_EQ(cfg::nearest("", {"a"}), "");
  EXPECT_EQ(cfg::nearest("ab", {"cd"}), "");  // replacing everything is no typo
  // Longer words tolerate more edits: len 12 → 4.
  EXPECT_EQ(cfg::nearest("chekpnt_stre", {"checkpoint_store"}), "checkpoint_store");
  EXPECT_EQ(cfg::nearest("abcdefgh", {"abcdxxxx"}), "");
}

TEST(ConfigMark, ToString) {
  EXPECT_EQ((cfg::Mark{"p.yaml", 12, 5}).to_string(), "p.yaml:12:5");
  EXPECT_EQ((cfg::Mark{"", 3, 1}).to_string(), "<string>:3:1");
  EXPECT_EQ((cfg::Mark{"p.yaml", 0, 0}).to_string(), "p.yaml");
  EXPECT_EQ((cfg::Mark{"p.yaml", 4, 0}).to_string(), "p.yaml:4");
  EXPECT_EQ(cfg::Mark{}.to_string(), "<string>");
}

}  // namespace
