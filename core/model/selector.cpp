#include <regex>

#include "model/connector.hpp"
#include "model/error.hpp"

namespace ds::model {
namespace {

// A pattern selects a table when it matches, as a whole, its "schema.table"
// name, its bare table name, or (for sources with namespaces) its full name.
bool any_matches(const std::vector<std::string> &patterns, const TableId &id) {
  std::string qualified = id.schema_name.empty() ? id.table_name : id.schema_name + "." + id.table_name;
  std::string full = id.to_string();
  for (const std::string &pattern : patterns) {
    std::regex re;
    try {
      re = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error &e) {
      throw Error(Code::config, "table pattern '" + pattern + "' is not a valid regular expression: " + e.what());
    }
    if (std::regex_match(qualified, re) || std::regex_match(id.table_name, re) || std::regex_match(full, re))
      return true;
  }
  return false;
}

}  // namespace

bool TableSelector::matches(const TableId &id) const {
  if (!include.empty() && !any_matches(include, id)) return false;
  return !any_matches(exclude, id);  // exclude wins over include
}

}  // namespace ds::model
