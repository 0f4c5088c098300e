#include "schema/naming.hpp"

#include <algorithm>
#include <cctype>

#include "model/error.hpp"

namespace ds::schema {
namespace {

std::string trim(const std::string &s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

std::string apply_case(const std::string &how, std::string name) {
  if (how == "lower")
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  else if (how == "upper")
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

NameRule compile(const std::string &key, const std::string &text, bool with_replacement) {
  NameRule rule;
  rule.text = text;
  std::string pattern = text;
  if (with_replacement) {
    size_t arrow = text.find("=>");
    if (arrow == std::string::npos)
      throw Error(Code::config, "schema." + key + " rule '" + text + "' must be 'pattern => replacement'");
    pattern = trim(text.substr(0, arrow));
    rule.replacement = trim(text.substr(arrow + 2));
  }
  if (key == "type_overrides" && pattern.rfind("type:", 0) == 0) {
    rule.matches_type = true;
    pattern = pattern.substr(5);
  }
  try {
    rule.pattern = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error &e) {
    throw Error(Code::config, "schema." + key + " pattern '" + pattern + "' is not a valid regex: " + e.what());
  }
  return rule;
}

std::vector<NameRule> compile_all(const model::Options &o, const std::string &key, bool with_replacement) {
  std::vector<NameRule> out;
  for (const std::string &text : o.get_list(key)) out.push_back(compile(key, text, with_replacement));
  return out;
}

std::string rename(const std::vector<NameRule> &rules, const std::string &qualified, const std::string &name) {
  std::string current = name;
  for (const NameRule &rule : rules) {
    // A rule naming "table.column" rewrites the column part only.
    if (!qualified.empty() && std::regex_match(qualified + "." + current, rule.pattern)) {
      std::string whole = std::regex_replace(qualified + "." + current, rule.pattern, rule.replacement);
      size_t dot = whole.rfind('.');
      current = dot == std::string::npos ? whole : whole.substr(dot + 1);
    } else if (std::regex_match(current, rule.pattern)) {
      current = std::regex_replace(current, rule.pattern, rule.replacement);
    }
  }
  return current;
}

bool matches_column(const std::regex &pattern, const model::TableId &source, const std::string &column) {
  const std::string table_column = source.table_name + "." + column;
  const std::string qualified = source.schema_name.empty() ? table_column : source.schema_name + "." + table_column;
  return std::regex_match(qualified, pattern) || std::regex_match(table_column, pattern) ||
         std::regex_match(column, pattern);
}

}  // namespace

EvolutionPolicy parse_evolution_policy(const std::string &name) {
  if (name == "evolve") return EvolutionPolicy::evolve;
  if (name == "try_evolve") return EvolutionPolicy::try_evolve;
  if (name == "lenient" || name.empty()) return EvolutionPolicy::lenient;
  if (name == "ignore") return EvolutionPolicy::ignore;
  if (name == "exception") return EvolutionPolicy::exception;
  throw Error(Code::config,
              "schema.evolution must be one of evolve, try_evolve, lenient, ignore, exception; not '" + name + "'");
}

const char *evolution_policy_name(EvolutionPolicy p) {
  switch (p) {
    case EvolutionPolicy::evolve: return "evolve";
    case EvolutionPolicy::try_evolve: return "try_evolve";
    case EvolutionPolicy::lenient: return "lenient";
    case EvolutionPolicy::ignore: return "ignore";
    case EvolutionPolicy::exception: return "exception";
  }
  return "lenient";
}

SchemaOptions SchemaOptions::from(const model::Options &o) {
  SchemaOptions s;
  s.table_case = o.get_string("table_case", "keep");
  s.table_prefix = o.get_string("table_prefix");
  s.table_suffix = o.get_string("table_suffix");
  s.rename_tables = compile_all(o, "rename_tables", true);
  s.column_case = o.get_string("column_case", "keep");
  s.rename_columns = compile_all(o, "rename_columns", true);
  s.prune_columns = compile_all(o, "prune_columns", false);
  s.type_overrides = compile_all(o, "type_overrides", true);
  s.evolution = parse_evolution_policy(o.get_string("evolution", "lenient"));
  return s;
}

std::string SchemaOptions::table_name(const std::string &routed_name) const {
  std::string name = table_prefix + apply_case(table_case, routed_name) + table_suffix;
  return rename(rename_tables, "", name);
}

std::string SchemaOptions::column_name(const std::string &table, const std::string &column) const {
  return rename(rename_columns, table, apply_case(column_case, column));
}

bool SchemaOptions::pruned(const model::TableId &source, const std::string &column) const {
  for (const NameRule &rule : prune_columns)
    if (matches_column(rule.pattern, source, column)) return true;
  return false;
}

std::string SchemaOptions::type_override(const model::TableId &source, const model::ColumnSchema &column) const {
  for (const NameRule &rule : type_overrides) {
    if (rule.matches_type) {
      if ((!column.type.source_name.empty() && std::regex_match(column.type.source_name, rule.pattern)) ||
          std::regex_match(model::to_string(column.type), rule.pattern) ||
          std::regex_match(std::string(model::type_name(column.type.id)), rule.pattern))
        return rule.replacement;
    } else if (matches_column(rule.pattern, source, column.name)) {
      return rule.replacement;
    }
  }
  return "";
}

}  // namespace ds::schema
