// What a connector does with a value its counterpart cannot hold (a MariaDB
// zero date going to PostgreSQL, a NaN going to MariaDB, ...), and the tally
// of every such value so nothing is changed silently: the pipeline reports
// each (table, column, reason) with its count as a warning event, in the
// metrics and in the run summary.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ds::model {

enum class InvalidValuePolicy : uint8_t {
  error,  // fail with DS_ERR_DATA naming table, column and value (the default)
  null,   // write NULL instead (an error still when the column is NOT NULL)
  clamp,  // write the nearest value the target holds (zero date → 0001-01-01, NaN → NULL, ±inf → ±max)
};

InvalidValuePolicy parse_invalid_value_policy(const std::string &text);  // "error", "null", "clamp"
const char *invalid_value_policy_name(InvalidValuePolicy policy);

// Thread-safe tally of adjusted values. Adjustments are rare, so a mutex per
// record is fine; connectors call record() once per batch and reason with the
// batch's count where they can.
class ValueReport {
 public:
  struct Entry {
    std::string table;   // "schema.table"
    std::string column;  // column name
    std::string reason;  // "zero date '0000-00-00' written as NULL"
    int64_t count = 0;
  };

  void record(const std::string &table, const std::string &column, const std::string &reason, int64_t count = 1);
  int64_t total() const;
  std::vector<Entry> entries() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // by table + column + reason
};

}  // namespace ds::model
