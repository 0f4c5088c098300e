// Batches as LOAD DATA LOCAL INFILE text for the mariadb sink, and the check
// of values MariaDB cannot hold.
//
// The statement always reads `CHARACTER SET binary FIELDS TERMINATED BY '\t'
// ESCAPED BY '\\' LINES TERMINATED BY '\n'`: the server takes the bytes as they
// are (UTF-8 text stays UTF-8, blobs stay byte-exact) and only the escapes
// below are interpreted. Per value:
//   NULL                     \N
//   string, json, unknown,   the bytes with \ → \\, tab → \t, newline → \n,
//   binary                   NUL → \0
//   boolean                  0 / 1
//   integers                 decimal text
//   float32 / float64        shortest text that reads back as the same double
//                            (float32 goes through its exact double: the
//                            shortest float text of FLT_MAX, 3.4028235e38, is
//                            above FLT_MAX as a double and MariaDB refuses it)
//   decimal                  exact decimal text
//   date                     YYYY-MM-DD
//   time                     HH:MM:SS.ffffff
//   timestamp, timestamp_tz  YYYY-MM-DD HH:MM:SS.ffffff (timestamp_tz in UTC:
//                            the session's time_zone is +00:00)
//   interval                 [-]HHH:MM:SS.ffffff (a MariaDB TIME)
//   uuid                     canonical 8-4-4-4-12 lowercase hex
// Columns whose target needs a conversion are read into a user variable and
// set by an expression (see LoadVia).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/batch.hpp"
#include "model/value_policy.hpp"

namespace ds::connectors::mariadb {

// How the target column takes the field.
enum class LoadVia : uint8_t {
  direct,         // the text goes straight into the column
  bits_text,      // bit(n) from "0101…" text: CAST(CONV(@v, 2, 10) AS UNSIGNED)
  bits_number,    // bit(n) from a number: CAST(@v AS UNSIGNED) (the text '1' would be the byte 0x31)
  geometry_wkb,   // spatial column from WKB bytes: ST_GeomFromWKB(@v)
  geometry_text,  // spatial column from WKT text: ST_GeomFromText(@v)
  // Columns that read a binary-charset value as bytes rather than as text:
  // MariaDB uuid/inet4/inet6 (16 raw bytes), MySQL json (refused), text in a
  // charset other than utf8mb4 (latin1 would keep the UTF-8 bytes as
  // mojibake): CONVERT(@v USING utf8mb4), which the server then converts.
  as_text,
};

// The SET expression for a field read into variable `var` ("@v3"); "" for direct.
std::string load_expression(LoadVia via, const std::string &var);

// The value range a date/time target column holds, in microseconds since the epoch.
struct TimeRange {
  int64_t min_us = 0;
  int64_t max_us = 0;
  static TimeRange datetime();   // 0001-01-01 00:00:00 .. 9999-12-31 23:59:59.999999
  static TimeRange timestamp();  // 1970-01-01 00:00:01 .. 2038-01-19 03:14:07.999999 UTC
};

// One batch column as the encoder sees it.
struct FieldPlan {
  model::DataType type;  // the batch column's engine type
  std::string name;      // the target column's name, for messages
  bool not_null = false;
  LoadVia via = LoadVia::direct;
  TimeRange range = TimeRange::datetime();
};

// Values MariaDB cannot hold.
enum class Issue : uint8_t {
  none,
  nan,              // float NaN
  positive_inf,     // +Infinity
  negative_inf,     // -Infinity
  too_early,        // date/timestamp before the column's range
  too_late,         // date/timestamp after it
  interval_months,  // an interval with months: TIME has no months
  interval_range,   // beyond ±838:59:59.999999
  interval_nanos,   // below a microsecond: TIME(6) stops at µs
};

// Whether values of this type are checked at all (floats, dates, timestamps, intervals).
bool is_checked(model::TypeId id);
// The issue of value `row` (which must not be null) of a checked column.
Issue check_value(const FieldPlan &plan, const model::Column &column, int64_t row);
// Text of the offending value for messages: "NaN", "10000-01-01", "1 mons 0 days 00:00:00"...
std::string describe_value(const FieldPlan &plan, const model::Column &column, int64_t row);
// What happened to such values under `policy`, for the value report:
// "NaN written as NULL", "date after 9999-12-31 clamped to 9999-12-31"...
std::string issue_reason(Issue issue, const FieldPlan &plan, model::InvalidValuePolicy policy);

// Which rows a load sends and how: direct loads send every row but -U ones;
// staged loads also send the row number and the op (0 upsert, 3 delete) and
// only the key columns of -D rows.
struct FeedShape {
  bool staged = false;
  std::vector<bool> key;  // per column, staged only
};

// Whether row `r` is sent (not a -U row) and, for staged loads, whether
// column `c` of it carries a value (-D rows carry their key only).
bool row_is_sent(const model::Batch &batch, int64_t r);
bool field_is_sent(const model::Batch &batch, const FeedShape &shape, size_t c, int64_t r);

// Counts the values of a batch MariaDB cannot hold, per column and issue.
// Under policy `error`, or when `null` (or a clamped NaN) would put NULL into
// a NOT NULL column, throws ds::Error(data) naming the table, the column, the
// row and the value, and saying how to change the policy.
struct IssueCount {
  size_t column = 0;
  Issue issue = Issue::none;
  int64_t count = 0;
};
std::vector<IssueCount> scan_invalid_values(const model::Batch &batch, const std::vector<FieldPlan> &plans,
                                            const FeedShape &shape, model::InvalidValuePolicy policy,
                                            const std::string &table, const std::string &context);

// Produces the LOAD DATA text of a batch piece by piece into the client
// library's buffer: at most a few rows are encoded ahead, never the whole batch.
class LoadDataFeed {
 public:
  LoadDataFeed(const model::Batch &batch, const std::vector<FieldPlan> &plans, FeedShape shape,
               model::InvalidValuePolicy policy);
  // Fills up to `capacity` bytes; returns how many, 0 at the end.
  int produce(char *buffer, unsigned capacity);
  int64_t rows_sent() const noexcept { return rows_sent_; }

 private:
  void encode_more();
  void encode_row(int64_t r);

  const model::Batch &batch_;
  const std::vector<FieldPlan> &plans_;
  FeedShape shape_;
  model::InvalidValuePolicy policy_;
  int64_t next_row_ = 0;
  int64_t rows_sent_ = 0;
  std::string pending_;
  size_t pending_at_ = 0;
};

// Appends the LOAD DATA text of one non-null value (exposed for tests).
void append_field(std::string &out, const FieldPlan &plan, const model::Column &column, int64_t row,
                  model::InvalidValuePolicy policy);
// Exact decimal text of a decimal128 value at `scale`: "-12.30".
std::string decimal_text(const uint8_t *little_endian16, int scale);

}  // namespace ds::connectors::mariadb
