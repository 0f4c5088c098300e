// Pipeline::schema: the schema-migration entry point behind `datasync schema`.
#include "pipeline/pipeline.hpp"
#include "connectors/sqlite/sqlite.hpp"
#include "pipeline/routing.hpp"

namespace ds::pipeline {
namespace {

void append_list(std::string &out, const char *name, const std::vector<std::string> &items) {
  out += '"';
  out += name;
  out += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, items[i]);
  }
  out += ']';
}

void append_field(std::string &out, const char *name, const std::string &value) {
  out += '"';
  out += name;
  out += "\":";
  append_json_string(out, value);
}

std::string plan_json(const model::TableDdlPlan &plan) {
  std::string out = "{";
  append_field(out, "source", plan.source.to_string());
  out += ',';
  append_field(out, "target", plan.target.to_string());
  out += ",\"exists\":";
  out += plan.exists ? "true" : "false";
  out += ',';
  append_list(out, "statements", plan.statements);
  out += ',';
  append_list(out, "destructive", plan.destructive);
  out += ',';
  append_list(out, "differences", plan.differences);
  out += ',';
  append_list(out, "notes", plan.notes);
  out += ",\"columns\":[";
  for (size_t i = 0; i < plan.columns.size(); ++i) {
    const model::ColumnTypeChoice &c = plan.columns[i];
    if (i) out += ',';
    out += '{';
    append_field(out, "column", c.column);
    out += ',';
    append_field(out, "source_type", c.source_type);
    out += ',';
    append_field(out, "engine_type", c.engine_type);
    out += ',';
    append_field(out, "target_type", c.target_type);
    out += ',';
    append_field(out, "fidelity", c.fidelity);
    out += ',';
    append_field(out, "note", c.note);
    out += '}';
  }
  return out + "]}";
}

}  // namespace

std::string Pipeline::schema(bool apply, bool allow_destructive) {
  if (started_.load())
    throw Error(Code::state, "schema migration runs before the pipeline does", "pipeline=" + spec_.name);
  auto source = connectors::create_source(spec_.source, context_);
  auto sink = connectors::create_sink(spec_.sink, context_);
  model::TableSelector selector;
  selector.include = spec_.source.options.get_list("tables");
  selector.exclude = spec_.source.options.get_list("exclude_tables");
  std::string out = "{\"pipeline\":";
  append_json_string(out, spec_.name);
  out += ",\"source\":";
  append_json_string(out, source->describe());
  out += ",\"sink\":";
  append_json_string(out, sink->describe());
  out += ",\"applied\":";
  out += apply ? "true" : "false";
  out += ",\"tables\":[";
  bool first = true;
  for (const auto &table : source->discover(selector)) {
    RoutedTable routed = route_table(table, spec_);
    model::TableDdlPlan plan = sink->plan_table(*routed.routed_schema);
    plan.source = table->id;
    if (apply) sink->apply_plan(plan, allow_destructive);
    if (!first) out += ',';
    first = false;
    out += plan_json(plan);
  }
  return out + "]}";
}

std::vector<std::string> Pipeline::cleanup() {
  if (started_.load()) throw Error(Code::state, "cleanup runs when the pipeline does not", "pipeline=" + spec_.name);
  auto source = connectors::create_source(spec_.source, context_);
  std::vector<std::string> dropped = source->cleanup_change_capture();
  auto sink = connectors::create_sink(spec_.sink, context_);
  if (spec_.checkpoint_store == "sink") {
    if (auto store = sink->open_checkpoint_store(spec_.name)) {
      store->clear();
      dropped.push_back("checkpoint of pipeline " + spec_.name);
    }
  } else if (spec_.checkpoint_store == "file" && !spec_.checkpoint_path.empty()) {
    std::string path = spec_.checkpoint_path;
    if (path[0] != '/' && !context_.base_dir.empty()) path = context_.base_dir + "/" + path;
    connectors::sqlite::open_file_checkpoint_store(path, spec_.name)->clear();
    dropped.push_back("checkpoint file " + path);
  }
  return dropped;
}

}  // namespace ds::pipeline
