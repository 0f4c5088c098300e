#include "model/value_policy.hpp"

#include "model/error.hpp"

namespace ds::model {

InvalidValuePolicy parse_invalid_value_policy(const std::string &text) {
  if (text == "error" || text.empty()) return InvalidValuePolicy::error;
  if (text == "null") return InvalidValuePolicy::null;
  if (text == "clamp") return InvalidValuePolicy::clamp;
  throw Error(Code::config, "invalid_values must be error, null or clamp, not '" + text + "'");
}

const char *invalid_value_policy_name(InvalidValuePolicy policy) {
  switch (policy) {
    case InvalidValuePolicy::error: return "error";
    case InvalidValuePolicy::null: return "null";
    case InvalidValuePolicy::clamp: return "clamp";
  }
  return "error";
}

void ValueReport::record(const std::string &table, const std::string &column, const std::string &reason,
                         int64_t count) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Entry &e = entries_[table + '\x1f' + column + '\x1f' + reason];
  if (e.count == 0) {
    e.table = table;
    e.column = column;
    e.reason = reason;
  }
  e.count += count;
}

int64_t ValueReport::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t n = 0;
  for (const auto &kv : entries_) n += kv.second.count;
  return n;
}

std::vector<ValueReport::Entry> ValueReport::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto &kv : entries_) out.push_back(kv.second);
  return out;
}

}  // namespace ds::model
