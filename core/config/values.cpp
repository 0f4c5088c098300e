#include "config/values.hpp"

#include <regex>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "model/error.hpp"

namespace ds::config::detail {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool valid_env_name(const std::string &name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

std::string joined(const std::vector<std::string> &items, const std::string &separator) {
  std::string out;
  for (const auto &item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// "an integer between 1 and 64", omitting the bounds nobody set.
std::string integer_range(const KeySpec &key) {
  const bool has_min = key.min != std::numeric_limits<int64_t>::min();
  const bool has_max = key.max != std::numeric_limits<int64_t>::max();
  if (has_min && has_max) return "an integer between " + std::to_string(key.min) + " and " + std::to_string(key.max);
  if (has_min) return "an integer >= " + std::to_string(key.min);
  if (has_max) return "an integer <= " + std::to_string(key.max);
  return "an integer";
}

// Strict decimal parse: optional sign, digits only, no overflow.
bool parse_int(const std::string &text, int64_t &out) {
  std::string digits = text.empty() || text[0] != '+' ? text : text.substr(1);
  // from_chars accepts a leading '-' itself; after a '+' only a digit may follow.
  if (digits.empty() || (digits.size() != text.size() && !std::isdigit(static_cast<unsigned char>(digits[0]))))
    return false;
  const char *end = digits.data() + digits.size();
  auto result = std::from_chars(digits.data(), end, out);
  return result.ec == std::errc() && result.ptr == end;
}

std::string resolve_path(const std::string &value, const std::string &base_dir) {
  // ":memory:" and SQLite "file:" URIs are not file system paths.
  if (value.empty() || base_dir.empty() || value == ":memory:" || value.rfind("file:", 0) == 0) return value;
  std::filesystem::path path(value);
  if (path.is_absolute()) return value;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

std::string normalize_key(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

std::string trim(const std::string &text) {
  const char *space = " \t\r\n";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

std::string substitute_env(const std::string &text, bool secret, const std::string &context) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string::npos)
      throw Error(Code::config, "unterminated '${' (end it with '}', or write '$${' for a literal '${')", context);
    std::string name = text.substr(i + 2, close - i - 2);
    if (!valid_env_name(name)) {
      // In a secret value the "name" may be part of the secret itself.
      throw Error(Code::config,
                  secret ? std::string("invalid environment variable reference in a secret value")
                         : "invalid environment variable name '" + name + "' in '${" + name +
                               "}' (write '$${' for a literal '${')",
                  context);
    }
    const char *value = std::getenv(name.c_str());
    if (value == nullptr) throw Error(Code::config, "environment variable '" + name + "' is not set", context);
    out += value;
    i = close + 1;
  }
  return out;
}

std::vector<std::string> split_list(const std::string &text) {
  std::vector<std::string> items;
  std::string current;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      // Keep escapes verbatim (they are regex syntax) but never count "\(" as nesting.
      current += c;
      current += text[++i];
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      items.push_back(trim(current));
      current.clear();
      continue;
    }
    current += c;
  }
  items.push_back(trim(current));
  items.erase(std::remove(items.begin(), items.end(), std::string()), items.end());
  return items;
}

std::string join_list(const std::vector<std::string> &items) { return joined(items, std::string(1, kListSeparator)); }

std::string shown(const KeySpec &key, const std::string &value) { return key.secret ? "'***'" : "'" + value + "'"; }

std::string convert_scalar(const KeySpec &key, const std::string &raw, const std::string &base_dir,
                           const std::string &context) {
  switch (key.type) {
    case KeyType::string: return raw;
    case KeyType::path: return resolve_path(trim(raw), base_dir);
    case KeyType::list: return join_list(split_list(raw));
    case KeyType::integer: {
      int64_t value = 0;
      if (!parse_int(trim(raw), value) || value < key.min || value > key.max)
        throw Error(Code::config, key.name + " must be " + integer_range(key) + ", got " + shown(key, raw), context);
      return std::to_string(value);
    }
    case KeyType::boolean: {
      std::string text = lower(trim(raw));
      if (text == "true" || text == "yes" || text == "on" || text == "1") return "true";
      if (text == "false" || text == "no" || text == "off" || text == "0") return "false";
      throw Error(Code::config,
                  key.name + " must be a boolean (true/false, yes/no, on/off, 1/0), got " + shown(key, raw), context);
    }
    case KeyType::choice: {
      std::string text = trim(raw);
      for (const auto &choice : key.choices)
        if (choice == text) return choice;
      // Case does not matter, but the registered spelling is what is stored.
      for (const auto &choice : key.choices)
        if (lower(choice) == lower(text)) return choice;
      std::string message = key.name + " must be one of " + joined(key.choices, ", ") + "; got " + shown(key, raw);
      std::string hint = key.secret ? "" : nearest(text, key.choices);
      if (!hint.empty()) message += "; did you mean '" + hint + "'?";
      throw Error(Code::config, message, context);
    }
  }
  throw Error(Code::internal, "unhandled key type for " + key.name, context);
}

std::string convert_items(const KeySpec &key, const std::vector<std::string> &items) {
  (void)key;  // every list key stores its items the same way today
  std::vector<std::string> kept;
  for (const auto &item : items) {
    std::string text = trim(item);
    if (!text.empty()) kept.push_back(text);
  }
  return join_list(kept);
}

const KeySpec *find_key(const std::vector<KeySpec> &keys, const std::string &name) {
  for (const auto &key : keys)
    if (key.name == name) return &key;
  return nullptr;
}

std::vector<std::string> key_names(const std::vector<KeySpec> &keys) {
  std::vector<std::string> names;
  for (const auto &key : keys) names.push_back(key.name);
  return names;
}

void throw_unknown_key(const std::string &written, const std::string &where, const std::vector<std::string> &candidates,
                       const std::string &context) {
  std::string message = "unknown key '" + written + "' in " + where;
  std::string hint = nearest(normalize_key(written), candidates);
  if (!hint.empty()) message += "; did you mean '" + hint + "'?";
  throw Error(Code::config, message, context);
}

std::string section_label(const std::string &role, const std::string &type) {
  return type.empty() ? role : role + " (type " + type + ")";
}

ConnectorKeys connector_keys(const std::string &role, const std::string &type, const std::string &context) {
  const Registry &registry = Registry::instance();
  if (type.empty()) throw Error(Code::config, role + " type must not be empty", context);
  if (const ConnectorKeys *keys = registry.connector(role, type)) return *keys;
  std::vector<std::string> known = registry.connector_types(role);
  std::string message = "unknown " + role + " type '" + type + "'";
  std::string hint = nearest(type, known);
  if (!hint.empty()) message += "; did you mean '" + hint + "'?";
  message += " (known: " + (known.empty() ? std::string("none") : joined(known, ", ")) + ")";
  throw Error(Code::config, message, context);
}

void apply_defaults(const std::vector<KeySpec> &keys, model::Options &options) {
  for (const auto &key : keys) {
    if (key.default_value.empty() || options.has(key.name)) continue;
    // Defaults go through the same conversion so lists and booleans are stored
    // canonically. A default that fails it is the registrant's bug, not the user's.
    try {
      options.set(key.name, convert_scalar(key, key.default_value, "", ""));
    } catch (const Error &e) {
      throw Error(Code::internal, std::string("registered default is invalid: ") + e.what(), "key " + key.name);
    }
  }
}

void check_required(const std::vector<KeySpec> &keys, const model::Options &options, const std::string &where,
                    const std::string &context) {
  for (const auto &key : keys) {
    if (key.required && options.get_string(key.name).empty())
      throw Error(Code::config, "missing required key '" + key.name + "' in " + where, context);
  }
}

namespace {
KeySpec item_key(std::string name, KeyType type, std::string doc, bool required = false) {
  KeySpec key;
  key.name = std::move(name);
  key.type = type;
  key.doc = std::move(doc);
  key.required = required;
  return key;
}
}  // namespace

const std::vector<KeySpec> &route_keys() {
  static const std::vector<KeySpec> keys = {
      item_key("source_table", KeyType::string,
               "Regex matched against the whole source table name (`schema.table` or `table`).", true),
      item_key("sink_table", KeyType::string,
               "Target table (`schema.table` or `table`); `<>` in it is replaced by the matched source table name.",
               true),
      item_key("description", KeyType::string, "Free text, for people reading the file."),
  };
  return keys;
}

const std::vector<KeySpec> &transform_keys() {
  static const std::vector<KeySpec> keys = {
      item_key("source_table", KeyType::string,
               "Regex matched against the whole source table name; the transform applies to matching tables.", true),
      item_key("projection", KeyType::list,
               "Columns to keep: `col`, `col AS alias` or `*`, as a list or a comma-separated string. "
               "Empty keeps every column."),
      item_key("drop_columns", KeyType::list,
               "Columns removed after the projection, as a list or a comma-separated string."),
      item_key("filter", KeyType::string,
               "Row predicate in the source's SQL dialect (e.g. `created_at >= '2024-01-01'`), pushed into the "
               "source's query so filtered rows are never read. SQL sources only."),
      item_key("description", KeyType::string, "Free text, for people reading the file."),
  };
  return keys;
}

void set_pipeline_field(PipelineSpec &spec, const std::string &key, const std::string &text) {
  auto as_int = [&text] { return std::strtoll(text.c_str(), nullptr, 10); };
  if (key == "name") {
    spec.name = text;
  } else if (key == "mode") {
    spec.mode = text == "cdc" ? Mode::cdc : text == "snapshot+cdc" ? Mode::snapshot_and_cdc : Mode::snapshot;
  } else if (key == "parallelism") {
    spec.parallelism = static_cast<int>(as_int());
  } else if (key == "batch_rows") {
    spec.batch_rows = as_int();
  } else if (key == "queue_batches") {
    spec.queue_batches = static_cast<int>(as_int());
  } else if (key == "checkpoint_store") {
    spec.checkpoint_store = text;
  } else if (key == "checkpoint_path") {
    spec.checkpoint_path = text;
  } else if (key == "split_rows") {
    spec.split_rows = as_int();
  } else if (key == "max_retries") {
    spec.max_retries = static_cast<int>(as_int());
  } else if (key == "invalid_values") {
    spec.invalid_values = text;
  } else {
    // The registry's pipeline keys and this function must agree.
    throw Error(Code::internal, "pipeline key '" + key + "' has no PipelineSpec field");
  }
}

const std::vector<KeySpec> &schema_keys() {
  static const std::vector<KeySpec> keys = [] {
    auto choice = [](std::string name, std::string doc, std::vector<std::string> choices, std::string def) {
      KeySpec k = item_key(std::move(name), KeyType::choice, std::move(doc));
      k.choices = std::move(choices);
      k.default_value = std::move(def);
      return k;
    };
    const std::string rule =
        " Each rule is `pattern => replacement`: a regex matched against the whole name, "
        "`$1`... in the replacement (write them as a YAML list: a string is split at commas).";
    return std::vector<KeySpec>{
        choice("table_case", "Case of target table names.", {"keep", "lower", "upper"}, "keep"),
        item_key("table_prefix", KeyType::string, "Put before every target table name."),
        item_key("table_suffix", KeyType::string, "Put after every target table name."),
        item_key("rename_tables", KeyType::list,
                 "Rename target tables (after routing, case and prefix/suffix)." + rule),
        choice("column_case", "Case of target column names.", {"keep", "lower", "upper"}, "keep"),
        item_key("rename_columns", KeyType::list,
                 "Rename target columns (after transforms and case); the pattern may match `table.column` or "
                 "`column`." +
                     rule),
        item_key("prune_columns", KeyType::list,
                 "Columns left out of the target: regexes matched against `schema.table.column`, `table.column` "
                 "or `column` of the source."),
        item_key("type_overrides", KeyType::list,
                 "Column types forced on new target columns: `pattern => type`, where the pattern matches a source "
                 "column (`schema.table.column`, `table.column` or `column`) or, written `type:pattern`, a source "
                 "type spelling (`type:tinyint\\(1\\) => smallint`) or engine type (`type:uint64 => numeric(20,0)`)."),
        choice("evolution",
               "What a source schema change does to the target (Flink CDC 3's policies): apply it, "
               "try it and ignore failures, apply it without losing data (add columns, never drop; a rename "
               "becomes an add), ignore it, or fail.",
               {"evolve", "try_evolve", "lenient", "ignore", "exception"}, "lenient"),
    };
  }();
  return keys;
}

std::string check_schema_rule(const std::string &key, const std::string &item) {
  std::string pattern = item;
  if (key != "prune_columns") {
    size_t arrow = item.find("=>");
    if (arrow == std::string::npos) return "schema." + key + " rule '" + item + "' must be 'pattern => replacement'";
    pattern = trim(item.substr(0, arrow));
    if (key == "type_overrides" && trim(item.substr(arrow + 2)).empty())
      return "schema.type_overrides rule '" + item + "' names no type after '=>'";
    if (key == "type_overrides" && pattern.rfind("type:", 0) == 0) pattern = pattern.substr(5);
  }
  try {
    std::regex compiled(pattern);
  } catch (const std::regex_error &e) {
    return "schema." + key + " pattern '" + pattern + "' is not a valid regex: " + e.what();
  }
  return "";
}

}  // namespace ds::config::detail
