#include "pipeline/routing.hpp"

#include <algorithm>

#include "model/error.hpp"
#include "schema/naming.hpp"

namespace ds::pipeline {
namespace {

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::regex compile(const std::string &pattern, const config::Mark &mark) {
  try {
    return std::regex(pattern);
  } catch (const std::regex_error &e) {
    throw Error(Code::config, "'" + pattern + "' is not a valid regex: " + e.what(), mark.to_string());
  }
}

model::TableId parse_target(const std::string &target, const model::TableId &source) {
  std::string name = target;
  size_t hole = name.find("<>");
  if (hole != std::string::npos) name.replace(hole, 2, source.table_name);
  model::TableId id = source;
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) {
    id.table_name = name;
  } else {
    id.schema_name = name.substr(0, dot);
    id.table_name = name.substr(dot + 1);
  }
  return id;
}

}  // namespace

bool table_matches(const std::regex &pattern, const model::TableId &id) {
  std::string qualified = id.schema_name.empty() ? id.table_name : id.schema_name + "." + id.table_name;
  return std::regex_match(qualified, pattern) || std::regex_match(id.table_name, pattern) ||
         std::regex_match(id.to_string(), pattern);
}

RoutedTable route_table(const model::TableSchemaPtr &source, const config::PipelineSpec &spec,
                        const std::set<std::string> *left_out) {
  RoutedTable out;
  out.source_schema = source;
  auto routed = std::make_shared<model::TableSchema>(*source);
  for (const auto &r : spec.routes) {
    if (!table_matches(compile(r.source_table, r.mark), source->id)) continue;
    routed->id = parse_target(r.sink_table, source->id);
    break;
  }

  std::vector<int> projection;
  for (size_t i = 0; i < source->columns.size(); ++i) projection.push_back(static_cast<int>(i));
  std::vector<std::string> names;
  for (const auto &c : source->columns) names.push_back(c.name);

  for (const auto &t : spec.transforms) {
    if (!table_matches(compile(t.source_table, t.mark), source->id)) continue;
    if (!t.filter.empty()) out.filter += (out.filter.empty() ? "(" : " AND (") + t.filter + ")";
    if (!t.projection.empty()) {
      std::vector<int> next;
      std::vector<std::string> next_names;
      for (const auto &raw : t.projection) {
        std::string item = trim(raw);
        if (item == "*") {
          next.insert(next.end(), projection.begin(), projection.end());
          next_names.insert(next_names.end(), names.begin(), names.end());
          continue;
        }
        std::string column = item, alias = item;
        std::smatch m;
        static const std::regex as_re(R"(^(\S+)\s+[Aa][Ss]\s+(\S+)$)");
        if (std::regex_match(item, m, as_re)) {
          column = m[1];
          alias = m[2];
        }
        auto it = std::find(names.begin(), names.end(), column);
        if (it == names.end())
          throw Error(Code::config,
                      "transform projection names column '" + column + "', which table " + source->id.to_string() +
                          " does not have",
                      t.mark.to_string());
        next.push_back(projection[static_cast<size_t>(it - names.begin())]);
        next_names.push_back(alias);
      }
      projection = next;
      names = next_names;
    }
    for (const auto &drop : t.drop_columns) {
      auto it = std::find(names.begin(), names.end(), trim(drop));
      if (it == names.end())
        throw Error(
            Code::config,
            "transform drops column '" + trim(drop) + "', which table " + source->id.to_string() + " does not have",
            t.mark.to_string());
      projection.erase(projection.begin() + (it - names.begin()));
      names.erase(it);
    }
    if (projection.empty())
      throw Error(Code::config, "transform leaves table " + source->id.to_string() + " without columns",
                  t.mark.to_string());
  }

  // The schema section: pruned columns, then target names, then forced types.
  const schema::SchemaOptions options = schema::SchemaOptions::from(spec.schema);
  for (size_t i = projection.size(); i-- > 0;) {
    const std::string &name = source->columns[static_cast<size_t>(projection[i])].name;
    if (!options.pruned(source->id, name) && !(left_out && left_out->count(name) != 0)) continue;
    projection.erase(projection.begin() + static_cast<std::ptrdiff_t>(i));
    names.erase(names.begin() + static_cast<std::ptrdiff_t>(i));
  }
  if (projection.empty())
    throw Error(Code::config, "schema.prune_columns leaves table " + source->id.to_string() + " without columns");
  routed->id.table_name = options.table_name(routed->id.table_name);
  for (auto &name : names) name = options.column_name(routed->id.table_name, name);
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = i + 1; j < names.size(); ++j)
      if (names[i] == names[j])
        throw Error(Code::schema,
                    "columns '" + source->columns[static_cast<size_t>(projection[i])].name + "' and '" +
                        source->columns[static_cast<size_t>(projection[j])].name + "' of table " +
                        source->id.to_string() + " both become '" + names[i] +
                        "' in the target; rename one (schema.rename_columns, or an alias in a transform projection)");

  bool identity = projection.size() == source->columns.size();
  for (size_t i = 0; identity && i < projection.size(); ++i)
    identity = projection[i] == static_cast<int>(i) && names[i] == source->columns[i].name;
  if (!identity) {
    routed->columns.clear();
    routed->primary_key.clear();
    for (size_t i = 0; i < projection.size(); ++i) {
      model::ColumnSchema c = source->columns[static_cast<size_t>(projection[i])];
      c.name = names[i];
      routed->columns.push_back(c);
    }
    // A key or an index survives only if every one of its columns does.
    auto remap = [&projection](const std::vector<int> &columns, std::vector<int> &out_columns) {
      out_columns.clear();
      for (int k : columns) {
        auto it = std::find(projection.begin(), projection.end(), k);
        if (it == projection.end()) {
          out_columns.clear();
          return false;
        }
        out_columns.push_back(static_cast<int>(it - projection.begin()));
      }
      return true;
    };
    remap(source->primary_key, routed->primary_key);
    routed->indexes.clear();
    for (const auto &index : source->indexes) {
      model::IndexSchema kept = index;
      if (remap(index.columns, kept.columns)) routed->indexes.push_back(std::move(kept));
    }
    out.projection = projection;
  }
  for (size_t i = 0; i < routed->columns.size(); ++i) {
    const size_t from = out.projection.empty() ? i : static_cast<size_t>(out.projection[i]);
    routed->columns[i].target_type = options.type_override(source->id, source->columns[from]);
  }
  out.routed_schema = routed;
  return out;
}

model::BatchPtr apply_route(const std::shared_ptr<model::Batch> &batch, const RoutedTable &table) {
  if (table.projection.empty()) {
    batch->schema = table.routed_schema;
    return batch;
  }
  auto out = std::make_shared<model::Batch>();
  out->schema = table.routed_schema;
  out->num_rows = batch->num_rows;
  out->ops = batch->ops;
  out->position = batch->position;
  out->keep_marks_of(*batch);
  out->columns.reserve(table.projection.size());
  for (int i : table.projection) out->columns.push_back(batch->columns[static_cast<size_t>(i)]);
  return out;
}

bool same_columns(const model::TableSchema &a, const model::TableSchema &b) {
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const auto &x = a.columns[i];
    const auto &y = b.columns[i];
    if (x.name != y.name || x.type != y.type || x.nullable != y.nullable) return false;
  }
  return true;
}

bool covers_columns(const model::TableSchema &whole, const model::TableSchema &part) {
  for (const auto &y : part.columns) {
    const int i = whole.find_column(y.name);
    if (i < 0) return false;
    const auto &x = whole.columns[static_cast<size_t>(i)];
    if (x.type != y.type || x.nullable != y.nullable) return false;
  }
  return true;
}

}  // namespace ds::pipeline
