#include "model/options.hpp"

#include <cstdlib>

namespace ds::model {

std::string Options::get_string(const std::string &key, const std::string &fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

int64_t Options::get_int(const std::string &key, int64_t fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : std::strtoll(it->second.c_str(), nullptr, 10);
}

bool Options::get_bool(const std::string &key, bool fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second == "true";
}

std::vector<std::string> Options::get_list(const std::string &key) const {
  std::vector<std::string> out;
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t sep = it->second.find('\x1f', start);
    out.push_back(it->second.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 1;
  }
  return out;
}

}  // namespace ds::model
