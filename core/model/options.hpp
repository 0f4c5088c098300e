// Validated key/value options of one configuration section (source, sink,
// pipeline). core/config fills them from its registry of typed keys; connectors
// read them by name. Values are already checked against their key's type.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ds::model {

class Options {
 public:
  void set(const std::string &key, std::string value) { values_[key] = std::move(value); }
  bool has(const std::string &key) const { return values_.count(key) != 0; }
  std::string get_string(const std::string &key, const std::string &fallback = "") const;
  int64_t get_int(const std::string &key, int64_t fallback = 0) const;
  bool get_bool(const std::string &key, bool fallback = false) const;
  // Lists are stored joined by '\x1f' (unit separator), so items may hold commas.
  std::vector<std::string> get_list(const std::string &key) const;
  const std::map<std::string, std::string> &values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace ds::model
