// YAML (and therefore JSON) pipeline files → PipelineSpec. Every value goes
// through the registry's typed keys; every error carries "file:line:column".
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>

#include "config/registry.hpp"
#include "config/values.hpp"
#include "model/error.hpp"

namespace ds::config {
namespace {

const std::vector<std::string> kSections = {"source", "sink", "route", "transform", "schema", "pipeline"};

std::string kind(const YAML::Node &node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: return "a single value";
    default: return "nothing";
  }
}

// One map entry, with its key already normalised.
struct Entry {
  std::string written;  // as in the file, for messages
  std::string key;      // canonical: '-' → '_'
  YAML::Node key_node;
  YAML::Node value;
};

class Parser {
 public:
  Parser(std::string file, std::string base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  PipelineSpec parse(const std::string &text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception &e) {
      // e.msg, not e.what(): the latter repeats the position in its own format.
      throw Error(Code::config, "invalid YAML: " + e.msg, at(e.mark));
    }
    if (!root.IsNull() && !root.IsMap())
      throw Error(
          Code::config,
          "a pipeline definition must be a map with the sections source, sink, route, transform, schema, pipeline; "
          "got " +
              kind(root),
          at(root));

    PipelineSpec spec;
    bool have_source = false, have_sink = false;
    for (const Entry &entry : entries(root, "the pipeline definition", true)) {
      if (entry.key == "source") {
        spec.source = parse_connector("source", entry);
        have_source = true;
      } else if (entry.key == "sink") {
        spec.sink = parse_connector("sink", entry);
        have_sink = true;
      } else if (entry.key == "route") {
        spec.routes = parse_routes(entry);
      } else if (entry.key == "transform") {
        spec.transforms = parse_transforms(entry);
      } else if (entry.key == "schema") {
        parse_schema(entry, spec);
      } else {
        parse_pipeline(entry, spec);
      }
    }
    detail::apply_defaults(detail::schema_keys(), spec.schema);
    const std::string file_context = Mark{file_, 0, 0}.to_string();
    if (!have_source) throw Error(Code::config, "missing 'source' section", file_context);
    if (!have_sink) throw Error(Code::config, "missing 'sink' section", file_context);
    validate(spec);
    return spec;
  }

 private:
  Mark mark(const YAML::Mark &m) const {
    // yaml-cpp counts from 0 and uses -1 for "unknown".
    return Mark{file_, m.line >= 0 ? m.line + 1 : 0, m.column >= 0 ? m.column + 1 : 0};
  }
  Mark mark(const YAML::Node &node) const { return mark(node.Mark()); }
  std::string at(const YAML::Mark &m) const { return mark(m).to_string(); }
  std::string at(const YAML::Node &node) const { return at(node.Mark()); }
  // A value's position, or its key's when the value has none (an empty value).
  std::string at(const Entry &entry) const {
    return entry.value.Mark().is_null() || entry.value.IsNull() ? at(entry.key_node) : at(entry.value);
  }

  // The entries of a map (null counts as empty), rejecting non-map nodes,
  // duplicate keys, and — when `top_level` — unknown sections.
  std::vector<Entry> entries(const YAML::Node &map, const std::string &what, bool top_level = false) const {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar())
        throw Error(Code::config, "keys in " + what + " must be plain names, got " + kind(it->first), at(it->first));
      Entry entry{it->first.Scalar(), detail::normalize_key(it->first.Scalar()), it->first, it->second};
      if (!seen.insert(entry.key).second)
        throw Error(Code::config, "duplicate key '" + entry.written + "' in " + what, at(entry.key_node));
      if (top_level && std::find(kSections.begin(), kSections.end(), entry.key) == kSections.end()) {
        std::string message = "unknown section '" + entry.written + "'";
        std::string hint = nearest(entry.key, kSections);
        if (!hint.empty()) message += "; did you mean '" + hint + "'?";
        throw Error(Code::config, message + " (valid: source, sink, route, transform, schema, pipeline)",
                    at(entry.key_node));
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  // A section's value must be a map; an empty section is an empty map.
  std::vector<Entry> section_entries(const Entry &section, const std::string &what) const {
    if (!section.value.IsNull() && !section.value.IsMap())
      throw Error(Code::config, what + " must be a map of keys, got " + kind(section.value), at(section));
    return entries(section.value, what);
  }

  // One scalar value, env-substituted; an empty value reads as "".
  std::string scalar(const Entry &entry, bool secret) const {
    if (entry.value.IsNull()) return "";
    if (!entry.value.IsScalar())
      throw Error(Code::config, entry.key + " must be a single value, got " + kind(entry.value), at(entry));
    return detail::substitute_env(entry.value.Scalar(), secret, at(entry));
  }

  // The stored text of one typed key, from a scalar or (for lists) a sequence.
  std::string value(const KeySpec &key, const Entry &entry) const {
    // `invalid_values: null` is YAML's null, not an empty value: a choice that
    // offers "null" takes it as written.
    // (An empty value's mark points past the key's line; a written null sits on it.)
    if (entry.value.IsNull() && key.type == KeyType::choice && entry.value.Mark().line == entry.key_node.Mark().line &&
        entry.value.Mark().column > entry.key_node.Mark().column &&
        std::find(key.choices.begin(), key.choices.end(), "null") != key.choices.end())
      return "null";
    if (entry.value.IsSequence()) {
      if (key.type != KeyType::list)
        throw Error(Code::config, key.name + " must be a single value, got a list", at(entry));
      std::vector<std::string> items;
      for (const auto &item : entry.value) {
        if (item.IsNull()) continue;
        if (!item.IsScalar())
          throw Error(Code::config, "items of " + key.name + " must be single values, got " + kind(item), at(item));
        items.push_back(detail::substitute_env(item.Scalar(), key.secret, at(item)));
      }
      return detail::convert_items(key, items);
    }
    if (entry.value.IsMap()) {
      std::string expected = key.type == KeyType::list ? "a list or a comma-separated string" : "a single value";
      throw Error(Code::config, key.name + " must be " + expected + ", got a map", at(entry));
    }
    return detail::convert_scalar(key, scalar(entry, key.secret), base_dir_, at(entry));
  }

  ConnectorSpec parse_connector(const std::string &role, const Entry &section) const {
    std::vector<Entry> items = section_entries(section, role);
    ConnectorSpec spec;
    spec.mark = mark(section.key_node);

    // The type decides which keys are valid, so it is read first wherever it is written.
    auto type_entry = std::find_if(items.begin(), items.end(), [](const Entry &e) { return e.key == "type"; });
    if (type_entry == items.end()) {
      std::vector<std::string> known = Registry::instance().connector_types(role);
      std::string list;
      for (const auto &type : known) list += (list.empty() ? "" : ", ") + type;
      throw Error(Code::config,
                  "missing required key 'type' in " + role + " (known types: " + (list.empty() ? "none" : list) + ")",
                  at(section.key_node));
    }
    spec.type = detail::trim(scalar(*type_entry, false));
    ConnectorKeys keys = detail::connector_keys(role, spec.type, at(*type_entry));
    const std::string where = detail::section_label(role, spec.type);

    for (const Entry &entry : items) {
      if (entry.key == "type") continue;
      if (entry.key == "name") {
        spec.name = scalar(entry, false);
        continue;
      }
      const KeySpec *key = detail::find_key(keys.keys, entry.key);
      if (key == nullptr) {
        std::vector<std::string> candidates = detail::key_names(keys.keys);
        candidates.insert(candidates.end(), {"type", "name"});
        detail::throw_unknown_key(entry.written, where, candidates, at(entry.key_node));
      }
      spec.options.set(key->name, value(*key, entry));
    }
    detail::apply_defaults(keys.keys, spec.options);
    detail::check_required(keys.keys, spec.options, where, at(section.key_node));
    return spec;
  }

  void parse_pipeline(const Entry &section, PipelineSpec &spec) const {
    const std::vector<KeySpec> &keys = Registry::instance().pipeline_keys();
    model::Options options;
    for (const Entry &entry : section_entries(section, "pipeline")) {
      const KeySpec *key = detail::find_key(keys, entry.key);
      if (key == nullptr)
        detail::throw_unknown_key(entry.written, "pipeline", detail::key_names(keys), at(entry.key_node));
      options.set(key->name, value(*key, entry));
    }
    // PipelineSpec's own initialisers match the registry, but the registry is
    // what the documentation shows, so its defaults are the ones applied.
    detail::apply_defaults(keys, options);
    for (const auto &[name, text] : options.values()) detail::set_pipeline_field(spec, name, text);
  }

  // The schema section: flat keys; rename and override rules are checked here
  // so a bad regex is reported with its position.
  void parse_schema(const Entry &section, PipelineSpec &spec) const {
    const std::vector<KeySpec> &keys = detail::schema_keys();
    for (const Entry &entry : section_entries(section, "schema")) {
      const KeySpec *key = detail::find_key(keys, entry.key);
      if (key == nullptr)
        detail::throw_unknown_key(entry.written, "schema", detail::key_names(keys), at(entry.key_node));
      spec.schema.set(key->name, value(*key, entry));
    }
    for (const char *name : {"rename_tables", "rename_columns", "type_overrides", "prune_columns"}) {
      for (const std::string &item : spec.schema.get_list(name)) {
        std::string message = detail::check_schema_rule(name, item);
        if (!message.empty()) throw Error(Code::config, message, at(section.key_node));
      }
    }
  }

  // The items of a route/transform list, each checked against `keys`.
  template <typename Fill>
  void parse_list(const Entry &section, const std::vector<KeySpec> &keys, Fill fill) const {
    if (section.value.IsNull()) return;
    if (!section.value.IsSequence())
      throw Error(Code::config, section.key + " must be a list of maps, got " + kind(section.value), at(section));
    size_t index = 0;
    for (const auto &item : section.value) {
      const std::string what = section.key + "[" + std::to_string(index++) + "]";
      if (!item.IsMap()) throw Error(Code::config, what + " must be a map of keys, got " + kind(item), at(item));
      model::Options options;
      std::string pattern_context;
      for (const Entry &entry : entries(item, what)) {
        const KeySpec *key = detail::find_key(keys, entry.key);
        if (key == nullptr) detail::throw_unknown_key(entry.written, what, detail::key_names(keys), at(entry.key_node));
        options.set(key->name, value(*key, entry));
        if (key->name == "source_table") pattern_context = at(entry);
      }
      detail::check_required(keys, options, what, at(item));
      check_regex(options.get_string("source_table"), what, pattern_context);
      fill(options, mark(item));
    }
  }

  // Routes and transforms match with std::regex (ECMAScript), as the pipeline does;
  // a bad pattern is reported here, with its position, rather than at run time.
  void check_regex(const std::string &pattern, const std::string &what, const std::string &context) const {
    try {
      std::regex compiled(pattern);
    } catch (const std::regex_error &e) {
      throw Error(Code::config,
                  "source_table of " + what + " is not a valid regex: '" + pattern + "' (" + e.what() + ")", context);
    }
  }

  std::vector<RouteSpec> parse_routes(const Entry &section) const {
    std::vector<RouteSpec> routes;
    parse_list(section, detail::route_keys(), [&](const model::Options &options, const Mark &where) {
      routes.push_back(RouteSpec{options.get_string("source_table"), options.get_string("sink_table"),
                                 options.get_string("description"), where});
    });
    return routes;
  }

  std::vector<TransformSpec> parse_transforms(const Entry &section) const {
    std::vector<TransformSpec> transforms;
    parse_list(section, detail::transform_keys(), [&](const model::Options &options, const Mark &where) {
      transforms.push_back(TransformSpec{options.get_string("source_table"), options.get_list("projection"),
                                         options.get_list("drop_columns"), options.get_string("filter"),
                                         options.get_string("description"), where});
    });
    return transforms;
  }

  std::string file_;
  std::string base_dir_;
};

}  // namespace

PipelineSpec parse_yaml(const std::string &text, const std::string &file_name, const std::string &base_dir) {
  return Parser(file_name.empty() ? "<string>" : file_name, base_dir).parse(text);
}

PipelineSpec parse_yaml_file(const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(Code::not_found, "pipeline file '" + path + "' does not exist", path);
  if (fs::is_directory(status)) throw Error(Code::io, "pipeline file '" + path + "' is a directory", path);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) throw Error(Code::io, "cannot read pipeline file '" + path + "'", path);

  fs::path absolute = fs::absolute(fs::path(path), ec);
  std::string base_dir = ec ? std::string() : absolute.parent_path().lexically_normal().string();
  return parse_yaml(text.str(), path, base_dir);
}

}  // namespace ds::config
