#include "connectors/mariadb/encode.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/error.hpp"

namespace ds::connectors::mariadb {
namespace {

using model::InvalidValuePolicy;
using model::TypeId;
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
// MariaDB TIME spans ±838:59:59.999999.
constexpr int64_t kMaxTimeMicros = (838LL * 3600 + 59 * 60 + 59) * kMicrosPerSecond + 999999;
// Months of an interval count as 30 days when clamped, as PostgreSQL's justify_interval does.
constexpr int64_t kDaysPerMonth = 30;
// Rows are encoded ahead until this much text is waiting (a single large value may exceed it).
constexpr size_t kEncodeAhead = 64 * 1024;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Howard Hinnant's days → civil date.
void civil_from_days(int64_t z, int64_t &year, unsigned &month, unsigned &day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = y + (month <= 2);
}

void append_padded(std::string &out, uint64_t v, int width) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  for (int n = static_cast<int>(res.ptr - buf); n < width; ++n) out += '0';
  out.append(buf, res.ptr);
}

void append_int(std::string &out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_date(std::string &out, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0) out += '-';
  append_padded(out, static_cast<uint64_t>(y < 0 ? -y : y), 4);
  out += '-';
  append_padded(out, m, 2);
  out += '-';
  append_padded(out, d, 2);
}

// HH:MM:SS.ffffff of a non-negative span; hours may exceed 23.
void append_clock(std::string &out, int64_t micros) {
  const int64_t seconds = micros / kMicrosPerSecond;
  append_padded(out, static_cast<uint64_t>(seconds / 3600), 2);
  out += ':';
  append_padded(out, static_cast<uint64_t>(seconds / 60 % 60), 2);
  out += ':';
  append_padded(out, static_cast<uint64_t>(seconds % 60), 2);
  out += '.';
  append_padded(out, static_cast<uint64_t>(micros % kMicrosPerSecond), 6);
}

void append_timestamp(std::string &out, int64_t micros) {
  const int64_t days = floor_div(micros, kMicrosPerDay);
  append_date(out, days);
  out += ' ';
  append_clock(out, micros - days * kMicrosPerDay);
}

void append_time_span(std::string &out, int64_t micros) {
  if (micros < 0) out += '-';
  append_clock(out, micros < 0 ? -micros : micros);
}

void append_double(std::string &out, double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_escaped(std::string &out, const char *p, size_t n) {
  const char *end = p + n;
  const char *run = p;
  for (; p < end; ++p) {
    const char *escape;
    switch (*p) {
      case '\\': escape = "\\\\"; break;
      case '\t': escape = "\\t"; break;
      case '\n': escape = "\\n"; break;
      case '\0': escape = "\\0"; break;
      default: continue;
    }
    out.append(run, p);
    out.append(escape, 2);
    run = p + 1;
  }
  out.append(run, end);
}

struct Interval {
  int32_t months;
  int32_t days;
  int64_t nanos;
};

Interval interval_at(const model::Column &column, int64_t row) {
  Interval v;
  const uint8_t *p = column.fixed_bytes(row, 16);
  std::memcpy(&v.months, p, 4);
  std::memcpy(&v.days, p + 4, 4);
  std::memcpy(&v.nanos, p + 8, 8);
  return v;
}

// The interval in microseconds, months as 30 days, sub-microseconds truncated.
int128 interval_micros(const Interval &v) {
  return (static_cast<int128>(v.months) * kDaysPerMonth + v.days) * kMicrosPerDay + v.nanos / 1000;
}

int64_t clamp_micros(int128 v) {
  if (v > kMaxTimeMicros) return kMaxTimeMicros;
  if (v < -kMaxTimeMicros) return -kMaxTimeMicros;
  return static_cast<int64_t>(v);
}

int64_t date_min(const TimeRange &r) { return ceil_div(r.min_us, kMicrosPerDay); }
int64_t date_max(const TimeRange &r) { return floor_div(r.max_us, kMicrosPerDay); }

double float_max(TypeId id) {
  return id == TypeId::float32 ? static_cast<double>(std::numeric_limits<float>::max())
                               : std::numeric_limits<double>::max();
}

std::string range_text(const FieldPlan &plan, bool low) {
  std::string out;
  if (plan.type.id == TypeId::date)
    append_date(out, low ? date_min(plan.range) : date_max(plan.range));
  else
    append_timestamp(out, low ? plan.range.min_us : plan.range.max_us);
  return out;
}

std::string what_of(Issue issue, const FieldPlan &plan) {
  const char *kind = plan.type.id == TypeId::date ? "date" : "timestamp";
  switch (issue) {
    case Issue::nan: return "NaN";
    case Issue::positive_inf: return "+Infinity";
    case Issue::negative_inf: return "-Infinity";
    case Issue::too_early: return std::string(kind) + " before " + range_text(plan, true);
    case Issue::too_late: return std::string(kind) + " after " + range_text(plan, false);
    case Issue::interval_months: return "interval with months";
    case Issue::interval_range: return "interval beyond ±838:59:59.999999";
    case Issue::interval_nanos: return "interval below a microsecond";
    case Issue::none: break;
  }
  return "value";
}

// Why MariaDB cannot hold it, for error messages.
std::string why_of(Issue issue, const FieldPlan &plan) {
  switch (issue) {
    case Issue::nan:
    case Issue::positive_inf:
    case Issue::negative_inf: return "MariaDB floating-point columns hold neither NaN nor infinities";
    case Issue::too_early:
    case Issue::too_late:
      return "the column holds " + range_text(plan, true) + " .. " + range_text(plan, false) + " only";
    case Issue::interval_months: return "a MariaDB TIME has no months";
    case Issue::interval_range: return "a MariaDB TIME spans -838:59:59.999999 .. 838:59:59.999999 only";
    case Issue::interval_nanos: return "a MariaDB TIME stops at microseconds";
    case Issue::none: break;
  }
  return "";
}

// Whether `issue` under `policy` writes NULL.
bool becomes_null(Issue issue, InvalidValuePolicy policy) {
  return policy == InvalidValuePolicy::null || (policy == InvalidValuePolicy::clamp && issue == Issue::nan);
}

int128 decimal_at(const uint8_t *p) {
  int128 v;
  std::memcpy(&v, p, 16);
  return v;
}

}  // namespace

std::string load_expression(LoadVia via, const std::string &var) {
  switch (via) {
    case LoadVia::direct: return "";
    case LoadVia::bits_text: return "CAST(CONV(" + var + ", 2, 10) AS UNSIGNED)";
    case LoadVia::bits_number: return "CAST(" + var + " AS UNSIGNED)";
    case LoadVia::geometry_wkb: return "ST_GeomFromWKB(" + var + ")";
    case LoadVia::geometry_text: return "ST_GeomFromText(" + var + ")";
    case LoadVia::as_text: return "CONVERT(" + var + " USING utf8mb4)";
  }
  return "";
}

TimeRange TimeRange::datetime() { return {-62135596800LL * kMicrosPerSecond, 253402300800LL * kMicrosPerSecond - 1}; }

TimeRange TimeRange::timestamp() { return {kMicrosPerSecond, 2147483648LL * kMicrosPerSecond - 1}; }

bool is_checked(TypeId id) {
  switch (id) {
    case TypeId::float32:
    case TypeId::float64:
    case TypeId::date:
    case TypeId::timestamp:
    case TypeId::timestamp_tz:
    case TypeId::interval: return true;
    default: return false;
  }
}

Issue check_value(const FieldPlan &plan, const model::Column &column, int64_t row) {
  switch (plan.type.id) {
    case TypeId::float32:
    case TypeId::float64: {
      double v = plan.type.id == TypeId::float32 ? column.value<float>(row) : column.value<double>(row);
      if (std::isnan(v)) return Issue::nan;
      if (std::isinf(v)) return v > 0 ? Issue::positive_inf : Issue::negative_inf;
      return Issue::none;
    }
    case TypeId::date: {
      int64_t days = column.value<int32_t>(row);
      if (days < date_min(plan.range)) return Issue::too_early;
      if (days > date_max(plan.range)) return Issue::too_late;
      return Issue::none;
    }
    case TypeId::timestamp:
    case TypeId::timestamp_tz: {
      int64_t us = column.value<int64_t>(row);
      if (us < plan.range.min_us) return Issue::too_early;
      if (us > plan.range.max_us) return Issue::too_late;
      return Issue::none;
    }
    case TypeId::interval: {
      Interval v = interval_at(column, row);
      if (v.months != 0) return Issue::interval_months;
      int128 us = interval_micros(v);
      if (us > kMaxTimeMicros || us < -kMaxTimeMicros) return Issue::interval_range;
      if (v.nanos % 1000 != 0) return Issue::interval_nanos;
      return Issue::none;
    }
    default: return Issue::none;
  }
}

std::string describe_value(const FieldPlan &plan, const model::Column &column, int64_t row) {
  std::string out;
  switch (plan.type.id) {
    case TypeId::float32:
    case TypeId::float64: {
      double v = plan.type.id == TypeId::float32 ? column.value<float>(row) : column.value<double>(row);
      if (std::isnan(v)) return "NaN";
      if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
      append_double(out, v);
      return out;
    }
    case TypeId::date: append_date(out, column.value<int32_t>(row)); return out;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: append_timestamp(out, column.value<int64_t>(row)); return out;
    case TypeId::interval: {
      Interval v = interval_at(column, row);
      return std::to_string(v.months) + " months " + std::to_string(v.days) + " days " + std::to_string(v.nanos) +
             " ns";
    }
    default: return "value";
  }
}

std::string issue_reason(Issue issue, const FieldPlan &plan, InvalidValuePolicy policy) {
  std::string what = what_of(issue, plan);
  if (becomes_null(issue, policy)) return what + " written as NULL";
  switch (issue) {
    case Issue::positive_inf:
    case Issue::negative_inf: {
      std::string out = what + " clamped to " + (issue == Issue::negative_inf ? "-" : "");
      append_double(out, float_max(plan.type.id));
      return out;
    }
    case Issue::too_early: return what + " clamped to " + range_text(plan, true);
    case Issue::too_late: return what + " clamped to " + range_text(plan, false);
    case Issue::interval_months:
      return what + " written at 30 days a month (within ±838:59:59.999999, microseconds kept)";
    case Issue::interval_range: return what + " clamped to ±838:59:59.999999";
    case Issue::interval_nanos: return what + " truncated to microseconds";
    default: return what;
  }
}

bool row_is_sent(const model::Batch &batch, int64_t r) { return batch.op(r) != model::Op::update_before; }

bool field_is_sent(const model::Batch &batch, const FeedShape &shape, size_t c, int64_t r) {
  return !shape.staged || shape.key[c] || batch.op(r) != model::Op::remove;
}

std::vector<IssueCount> scan_invalid_values(const model::Batch &batch, const std::vector<FieldPlan> &plans,
                                            const FeedShape &shape, InvalidValuePolicy policy, const std::string &table,
                                            const std::string &context) {
  std::vector<IssueCount> counts;
  for (size_t c = 0; c < plans.size(); ++c) {
    const FieldPlan &plan = plans[c];
    if (!is_checked(plan.type.id)) continue;
    const model::Column &column = batch.columns[c];
    const size_t first = counts.size();
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      if (!column.is_valid(r) || !row_is_sent(batch, r) || !field_is_sent(batch, shape, c, r)) continue;
      Issue issue = check_value(plan, column, r);
      if (issue == Issue::none) continue;
      const std::string where = "column '" + plan.name + "' of " + table + " (batch row " + std::to_string(r + 1) + ")";
      if (policy == InvalidValuePolicy::error)
        throw Error(Code::data,
                    "cannot write " + describe_value(plan, column, r) + " into " + where + ": " + why_of(issue, plan) +
                        " — set pipeline.invalid_values to null (write NULL) or clamp (write the nearest value "
                        "MariaDB holds)",
                    context + " column=" + plan.name);
      if (plan.not_null && becomes_null(issue, policy))
        throw Error(Code::data,
                    "cannot write " + describe_value(plan, column, r) + " into " + where + ": " + why_of(issue, plan) +
                        ", and pipeline.invalid_values: " + model::invalid_value_policy_name(policy) +
                        " would write NULL into a NOT NULL column — make the column nullable" +
                        (issue == Issue::nan ? std::string() : " or set pipeline.invalid_values to clamp"),
                    context + " column=" + plan.name);
      bool found = false;
      for (size_t i = first; i < counts.size() && !found; ++i)
        if (counts[i].issue == issue) {
          ++counts[i].count;
          found = true;
        }
      if (!found) counts.push_back({c, issue, 1});
    }
  }
  return counts;
}

std::string decimal_text(const uint8_t *little_endian16, int scale) {
  int128 v = decimal_at(little_endian16);
  const bool negative = v < 0;
  uint128 u = negative ? static_cast<uint128>(0) - static_cast<uint128>(v) : static_cast<uint128>(v);
  char digits[48];
  int n = 0;
  if (u <= std::numeric_limits<uint64_t>::max()) {
    uint64_t small = static_cast<uint64_t>(u);
    do {
      digits[n++] = static_cast<char>('0' + small % 10);
      small /= 10;
    } while (small != 0);
  } else {
    do {
      digits[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
      u /= 10;
    } while (u != 0);
  }
  if (scale < 0) scale = 0;
  while (n <= scale) digits[n++] = '0';  // at least one digit before the point
  std::string out;
  out.reserve(static_cast<size_t>(n) + 2);
  if (negative) out += '-';
  for (int i = n - 1; i >= 0; --i) {
    out += digits[i];
    if (i == scale && scale > 0) out += '.';
  }
  return out;
}

void append_field(std::string &out, const FieldPlan &plan, const model::Column &column, int64_t row,
                  InvalidValuePolicy policy) {
  Issue issue = is_checked(plan.type.id) ? check_value(plan, column, row) : Issue::none;
  if (issue != Issue::none) {
    if (policy == InvalidValuePolicy::error)  // scan_invalid_values refuses these first
      throw Error(Code::data, "cannot write " + describe_value(plan, column, row) + " into column '" + plan.name +
                                  "': " + why_of(issue, plan));
    if (becomes_null(issue, policy)) {
      out += "\\N";
      return;
    }
  }
  switch (plan.type.id) {
    case TypeId::boolean: out += column.bool_value(row) ? '1' : '0'; return;
    case TypeId::int8: append_int(out, column.value<int8_t>(row)); return;
    case TypeId::int16: append_int(out, column.value<int16_t>(row)); return;
    case TypeId::int32: append_int(out, column.value<int32_t>(row)); return;
    case TypeId::int64: append_int(out, column.value<int64_t>(row)); return;
    case TypeId::uint64: append_padded(out, column.value<uint64_t>(row), 1); return;
    case TypeId::float32:
    case TypeId::float64: {
      double v = plan.type.id == TypeId::float32 ? column.value<float>(row) : column.value<double>(row);
      if (std::isinf(v)) v = v > 0 ? float_max(plan.type.id) : -float_max(plan.type.id);
      append_double(out, v);
      return;
    }
    case TypeId::decimal: out += decimal_text(column.fixed_bytes(row, 16), plan.type.scale); return;
    case TypeId::string:
    case TypeId::binary:
    case TypeId::json:
    case TypeId::unknown: {
      std::string_view b = column.bytes(row);
      append_escaped(out, b.data(), b.size());
      return;
    }
    case TypeId::date: {
      int64_t days = column.value<int32_t>(row);
      if (issue == Issue::too_early) days = date_min(plan.range);
      if (issue == Issue::too_late) days = date_max(plan.range);
      append_date(out, days);
      return;
    }
    case TypeId::time: append_clock(out, column.value<int64_t>(row)); return;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: {
      int64_t us = column.value<int64_t>(row);
      if (issue == Issue::too_early) us = plan.range.min_us;
      if (issue == Issue::too_late) us = plan.range.max_us;
      append_timestamp(out, us);
      return;
    }
    case TypeId::interval: append_time_span(out, clamp_micros(interval_micros(interval_at(column, row)))); return;
    case TypeId::uuid: {
      static const char hex[] = "0123456789abcdef";
      const uint8_t *p = column.fixed_bytes(row, 16);
      for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
      }
      return;
    }
  }
}

LoadDataFeed::LoadDataFeed(const model::Batch &batch, const std::vector<FieldPlan> &plans, FeedShape shape,
                           InvalidValuePolicy policy)
    : batch_(batch), plans_(plans), shape_(std::move(shape)), policy_(policy) {
  pending_.reserve(kEncodeAhead * 2);
}

void LoadDataFeed::encode_row(int64_t r) {
  const size_t ncols = plans_.size();
  for (size_t c = 0; c < ncols; ++c) {
    if (c) pending_ += '\t';
    const model::Column &column = batch_.columns[c];
    if (!column.is_valid(r) || !field_is_sent(batch_, shape_, c, r))
      pending_ += "\\N";
    else
      append_field(pending_, plans_[c], column, r, policy_);
  }
  if (shape_.staged) {
    pending_ += '\t';
    append_int(pending_, r);
    pending_ += batch_.op(r) == model::Op::remove ? "\t3" : "\t0";
  }
  pending_ += '\n';
  ++rows_sent_;
}

void LoadDataFeed::encode_more() {
  pending_.clear();
  pending_at_ = 0;
  while (next_row_ < batch_.num_rows && pending_.size() < kEncodeAhead) {
    int64_t r = next_row_++;
    if (row_is_sent(batch_, r)) encode_row(r);
  }
}

int LoadDataFeed::produce(char *buffer, unsigned capacity) {
  size_t written = 0;
  while (written < capacity) {
    if (pending_at_ == pending_.size()) {
      encode_more();
      if (pending_.empty()) break;
    }
    size_t n = std::min<size_t>(capacity - written, pending_.size() - pending_at_);
    std::memcpy(buffer + written, pending_.data() + pending_at_, n);
    pending_at_ += n;
    written += n;
  }
  return static_cast<int>(written);
}

}  // namespace ds::connectors::mariadb
