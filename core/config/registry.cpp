// The registry of typed keys, plus the operations that work on an already
// built PipelineSpec (set_key, validate, redact). YAML parsing is in
// yaml_parser.cpp; the value checks both share are in values.cpp.
#include "config/registry.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "config/values.hpp"
#include "model/error.hpp"

namespace ds::config {
namespace {

KeySpec make_key(std::string name, KeyType type, std::string default_value, std::string doc) {
  KeySpec key;
  key.name = std::move(name);
  key.type = type;
  key.default_value = std::move(default_value);
  key.doc = std::move(doc);
  return key;
}

KeySpec make_int(std::string name, std::string default_value, int64_t min, int64_t max, std::string doc) {
  KeySpec key = make_key(std::move(name), KeyType::integer, std::move(default_value), std::move(doc));
  key.min = min;
  key.max = max;
  return key;
}

KeySpec make_choice(std::string name, std::string default_value, std::vector<std::string> choices, std::string doc) {
  KeySpec key = make_key(std::move(name), KeyType::choice, std::move(default_value), std::move(doc));
  key.choices = std::move(choices);
  return key;
}

std::vector<KeySpec> builtin_pipeline_keys() {
  const int64_t no_max = std::numeric_limits<int64_t>::max();
  return {
      make_key("name", KeyType::string, "pipeline", "Name of the pipeline, shown in logs, metrics and checkpoints."),
      make_choice("mode", "snapshot", {"snapshot", "cdc", "snapshot+cdc"},
                  "What to copy: the current contents, the changes from now on, or the contents then the changes."),
      make_int("parallelism", "1", 1, 64, "Reader threads and writer lanes (the sink may allow fewer)."),
      make_int("batch_rows", "4096", 1, 1000000, "Rows per batch."),
      make_int("queue_batches", "8", 1, 1024, "Capacity of each bounded queue between stages, in batches."),
      make_choice("checkpoint_store", "sink", {"sink", "file", "none"},
                  "Where progress is recorded: in the sink, in the file `checkpoint_path`, or not at all."),
      make_key("checkpoint_path", KeyType::path, "", "Checkpoint file, for `checkpoint_store: file`."),
      make_int("split_rows", "1000000", 1, no_max, "Rows per snapshot split (a hint to the source)."),
      make_int("max_retries", "3", 0, 100, "Retriable errors tolerated per split before the pipeline fails."),
      make_choice("invalid_values", "error", {"error", "null", "clamp"},
                  "Values the other side cannot hold (a zero date into PostgreSQL, NaN into MariaDB): fail naming "
                  "the value, write NULL, or write the nearest value it holds. Every adjusted value is counted and "
                  "reported."),
  };
}

std::string type_name(const KeySpec &key) {
  switch (key.type) {
    case KeyType::string: return "string";
    case KeyType::boolean: return "boolean";
    case KeyType::list: return "list";
    case KeyType::path: return "path";
    case KeyType::choice: {
      std::string out = "choice:";
      for (size_t i = 0; i < key.choices.size(); ++i) out += (i ? ", `" : " `") + key.choices[i] + "`";
      return out;
    }
    case KeyType::integer: {
      const bool has_min = key.min != std::numeric_limits<int64_t>::min();
      const bool has_max = key.max != std::numeric_limits<int64_t>::max();
      if (has_min && has_max) return "integer " + std::to_string(key.min) + "..." + std::to_string(key.max);
      if (has_min) return "integer >= " + std::to_string(key.min);
      if (has_max) return "integer <= " + std::to_string(key.max);
      return "integer";
    }
  }
  return "string";
}

// Markdown table cells may not contain '|' or line breaks.
std::string cell(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

void key_table(std::ostringstream &out, const std::vector<KeySpec> &keys) {
  out << "| Key | Type | Default | Description |\n|---|---|---|---|\n";
  for (const auto &key : keys) {
    std::string doc = key.doc;
    if (key.secret) doc = "**Secret**: never shown in errors or logs. " + doc;
    if (key.required) doc = "**Required.** " + doc;
    out << "| `" << key.name << "`" << (key.secret ? " (secret)" : "") << " | " << cell(type_name(key)) << " | "
        << (key.default_value.empty() ? "" : "`" + cell(key.default_value) + "`") << " | " << cell(doc) << " |\n";
  }
}

// The keys every connector section accepts besides its type's own.
std::vector<KeySpec> section_keys(const ConnectorKeys &connector) {
  KeySpec type = make_key("type", KeyType::string, "", "`" + connector.type + "`.");
  type.required = true;
  std::vector<KeySpec> keys = {type, make_key("name", KeyType::string, "", "Display name.")};
  keys.insert(keys.end(), connector.keys.begin(), connector.keys.end());
  return keys;
}

size_t levenshtein(const std::string &a, const std::string &b) {
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitution = previous[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

ConnectorSpec &connector_section(PipelineSpec &spec, const std::string &role) {
  return role == "source" ? spec.source : spec.sink;
}

// Where a problem in a section is: its position in the file, or its name when
// the spec was built with set_key().
std::string where(const Mark &mark, const std::string &fallback) { return mark.line > 0 ? mark.to_string() : fallback; }

}  // namespace

std::string Mark::to_string() const {
  std::string out = file.empty() ? "<string>" : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

std::vector<KeySpec> server_connection_keys(const std::string &default_port, const std::string &database_doc) {
  KeySpec port = key_spec("port", KeyType::integer, "TCP port of the server.", default_port);
  port.min = 1;
  port.max = 65535;
  KeySpec password = key_spec("password", KeyType::string, "Password of the user (never printed).");
  password.secret = true;
  KeySpec timeout = key_spec("connect_timeout", KeyType::integer, "Seconds to wait for a connection.", "10");
  timeout.min = 1;
  timeout.max = 3600;
  return {key_spec("host", KeyType::string, "Host name or address of the server.", "127.0.0.1"),
          port,
          key_spec("user", KeyType::string, "User to connect as.", "", true),
          password,
          key_spec("database", KeyType::string, database_doc, "", true),
          timeout};
}

Registry::Registry() : pipeline_keys_(builtin_pipeline_keys()) {}

Registry &Registry::instance() {
  static Registry registry;
  return registry;
}

void Registry::register_connector(const std::string &role, const std::string &type, std::string doc,
                                  std::vector<KeySpec> keys) {
  if (role != "source" && role != "sink")
    throw Error(Code::invalid_argument, "connector role must be 'source' or 'sink', got '" + role + "'", type);
  std::lock_guard<std::mutex> lock(mutex_);
  auto &map = role == "source" ? sources_ : sinks_;
  map[type] = ConnectorKeys{type, std::move(doc), std::move(keys)};
}

const ConnectorKeys *Registry::connector(const std::string &role, const std::string &type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto *map = role == "source" ? &sources_ : role == "sink" ? &sinks_ : nullptr;
  if (map == nullptr) return nullptr;
  auto it = map->find(type);
  return it == map->end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::connector_types(const std::string &role) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> types;
  const auto *map = role == "source" ? &sources_ : role == "sink" ? &sinks_ : nullptr;
  if (map != nullptr)
    for (const auto &kv : *map) types.push_back(kv.first);
  return types;
}

const std::vector<KeySpec> &Registry::pipeline_keys() const { return pipeline_keys_; }

std::string Registry::markdown() const {
  std::ostringstream out;
  out << "# Configuration reference\n\n"
         "<!-- Generated by ds::config::Registry::markdown(); do not edit by hand. -->\n\n"
         "A pipeline file (YAML, or JSON) has the sections `source`, `sink`, `route`, `transform`, `schema` "
         "and `pipeline`; `source` and `sink` are required. Keys may be written with `-` or `_`. Unknown keys are "
         "errors. `${VAR}` in any value is replaced by the environment variable `VAR` (`$${` stands for a literal "
         "`${`). Relative paths are resolved against the directory of the pipeline file. Lists are written as a "
         "YAML list or as a comma-separated string.\n\n";
  out << "## pipeline\n\n";
  key_table(out, pipeline_keys_);
  out << "\n## route\n\nA list; each item routes the matching source tables to one sink table.\n\n";
  key_table(out, detail::route_keys());
  out << "\n## transform\n\nA list; each item keeps, renames and drops columns of the matching tables.\n\n";
  key_table(out, detail::transform_keys());
  out << "\n## schema\n\nHow target tables are named and typed when the sink creates them (and by `datasync "
         "schema`), and what source schema changes do.\n\n";
  key_table(out, detail::schema_keys());

  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto &[title, map] : {std::make_pair("Sources", &sources_), std::make_pair("Sinks", &sinks_)}) {
    out << "\n## " << title << "\n";
    if (map->empty()) out << "\nNone registered.\n";
    for (const auto &kv : *map) {
      out << "\n### " << kv.first << "\n\n";
      if (!kv.second.doc.empty()) out << kv.second.doc << "\n\n";
      key_table(out, section_keys(kv.second));
    }
  }
  return out.str();
}

std::string nearest(const std::string &wrong, const std::vector<std::string> &candidates) {
  if (wrong.empty()) return "";
  const size_t limit = std::max<size_t>(2, wrong.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto &candidate : candidates) {
    size_t distance = levenshtein(wrong, candidate);
    // Replacing every character of a short word is no longer a "typo".
    if (distance < best_distance && distance < std::max(wrong.size(), candidate.size())) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

void set_key(PipelineSpec &spec, const std::string &dotted_key, const std::string &value) {
  const std::string &context = dotted_key;
  size_t dot = dotted_key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == dotted_key.size())
    throw Error(Code::config, "key '" + dotted_key + "' must be 'section.key', e.g. 'source.type'", context);
  const std::string section = detail::normalize_key(dotted_key.substr(0, dot));
  const std::string written = dotted_key.substr(dot + 1);
  const std::string key = detail::normalize_key(written);

  if (section == "pipeline") {
    const KeySpec *spec_key = detail::find_key(Registry::instance().pipeline_keys(), key);
    if (spec_key == nullptr)
      detail::throw_unknown_key(written, "pipeline", detail::key_names(Registry::instance().pipeline_keys()), context);
    std::string text = detail::substitute_env(value, spec_key->secret, context);
    detail::set_pipeline_field(spec, key, detail::convert_scalar(*spec_key, text, "", context));
    return;
  }
  if (section == "schema") {
    const KeySpec *spec_key = detail::find_key(detail::schema_keys(), key);
    if (spec_key == nullptr)
      detail::throw_unknown_key(written, "schema", detail::key_names(detail::schema_keys()), context);
    std::string text = detail::convert_scalar(*spec_key, detail::substitute_env(value, false, context), "", context);
    spec.schema.set(spec_key->name, text);
    if (spec_key->type == KeyType::list)
      for (const std::string &item : spec.schema.get_list(spec_key->name)) {
        std::string message = detail::check_schema_rule(key, item);
        if (!message.empty()) throw Error(Code::config, message, context);
      }
    return;
  }
  if (section != "source" && section != "sink") {
    std::string message = "unknown section '" + dotted_key.substr(0, dot) + "' in key '" + dotted_key + "'";
    std::string hint = nearest(section, {"source", "sink", "schema", "pipeline"});
    if (!hint.empty()) message += "; did you mean '" + hint + "'?";
    throw Error(Code::config, message + " (settable sections: source, sink, schema, pipeline)", context);
  }

  ConnectorSpec &connector = connector_section(spec, section);
  if (key == "type") {
    std::string type = detail::trim(detail::substitute_env(value, false, context));
    ConnectorKeys keys = detail::connector_keys(section, type, context);
    // A new type has other keys: what was set for the old one cannot carry over.
    connector.type = type;
    connector.options = model::Options();
    detail::apply_defaults(keys.keys, connector.options);
    return;
  }
  if (key == "name") {
    connector.name = detail::substitute_env(value, false, context);
    return;
  }
  if (connector.type.empty())
    throw Error(Code::config, section + " type is not set; set '" + section + ".type' before '" + dotted_key + "'",
                context);
  ConnectorKeys keys = detail::connector_keys(section, connector.type, context);
  const KeySpec *spec_key = detail::find_key(keys.keys, key);
  if (spec_key == nullptr) {
    std::vector<std::string> candidates = detail::key_names(keys.keys);
    candidates.insert(candidates.end(), {"type", "name"});
    detail::throw_unknown_key(written, detail::section_label(section, connector.type), candidates, context);
  }
  std::string text = detail::substitute_env(value, spec_key->secret, context);
  connector.options.set(key, detail::convert_scalar(*spec_key, text, "", context));
}

void validate(PipelineSpec &spec) {
  for (const std::string role : {"source", "sink"}) {
    ConnectorSpec &connector = connector_section(spec, role);
    const std::string context = where(connector.mark, role);
    if (connector.type.empty())
      throw Error(Code::config, "missing " + role + " type (set '" + role + ".type')", context);
    ConnectorKeys keys = detail::connector_keys(role, connector.type, context);
    // Specs assembled by hand may lack defaults; fill them so connectors see the documented values.
    detail::apply_defaults(keys.keys, connector.options);
    detail::check_required(keys.keys, connector.options, detail::section_label(role, connector.type), context);
  }
}

std::string redact(const std::string &text, const PipelineSpec &spec) {
  std::vector<std::string> secrets;
  for (const std::string role : {"source", "sink"}) {
    const ConnectorSpec &connector = role == "source" ? spec.source : spec.sink;
    const ConnectorKeys *keys = Registry::instance().connector(role, connector.type);
    if (keys == nullptr) continue;
    for (const auto &key : keys->keys) {
      if (!key.secret) continue;
      std::string value = connector.options.get_string(key.name);
      if (!value.empty()) secrets.push_back(value);
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
  std::string out = text;
  for (const auto &secret : secrets) {
    for (size_t pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 3))
      out.replace(pos, secret.size(), "***");
  }
  return out;
}

}  // namespace ds::config
