#include "connectors/postgres/text_values.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

__extension__ typedef __int128 int128;

[[noreturn]] void bad(const std::string &what, std::string_view text, const std::string &why) {
  std::string shown(text.substr(0, 80));
  throw Error(Code::data, what + ": cannot read '" + shown + "' as " + why);
}

// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  // Unsigned digits; false when there are none.
  bool number(int64_t &out, int *digits = nullptr) {
    size_t start = i;
    int64_t v = 0;
    while (!done() && s[i] >= '0' && s[i] <= '9') {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return false;
      v = v * 10 + (s[i] - '0');
      ++i;
    }
    if (digits) *digits = static_cast<int>(i - start);
    out = v;
    return i > start;
  }
  // ".ffffff" → microseconds (at most 6 digits, as PostgreSQL prints).
  bool fraction_micros(int64_t &out) {
    out = 0;
    if (!eat('.')) return true;
    int64_t v;
    int digits;
    if (!number(v, &digits) || digits > 6) return false;
    for (int k = digits; k < 6; ++k) v *= 10;
    out = v;
    return true;
  }
};

struct Ymd {
  int64_t y = 0, m = 0, d = 0;
  int64_t days(bool bc) const {  // the year y BC is astronomical year 1 - y
    return days_from_civil(bc ? 1 - y : y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  }
};

bool parse_date(Cursor &c, Ymd &date) {
  if (!c.number(date.y) || !c.eat('-') || !c.number(date.m) || !c.eat('-') || !c.number(date.d)) return false;
  return date.m >= 1 && date.m <= 12 && date.d >= 1 && date.d <= 31;
}

bool parse_time(Cursor &c, int64_t &micros) {
  int64_t h, mi, s, f;
  if (!c.number(h) || !c.eat(':') || !c.number(mi) || !c.eat(':') || !c.number(s) || !c.fraction_micros(f))
    return false;
  micros = ((h * 60 + mi) * 60 + s) * 1000000 + f;
  return true;
}

void append_date(model::ColumnBuilder &b, std::string_view t, const std::string &what) {
  if (t == "infinity") return b.append_fixed(std::numeric_limits<int32_t>::max());
  if (t == "-infinity") return b.append_fixed(std::numeric_limits<int32_t>::min());
  Cursor c{t};
  Ymd date;
  if (!parse_date(c, date)) bad(what, t, "a date");
  const bool bc = c.s.substr(c.i) == " BC";
  if (!bc && !c.done()) bad(what, t, "a date");
  b.append_fixed(static_cast<int32_t>(date.days(bc)));
}

void append_timestamp(model::ColumnBuilder &b, std::string_view t, bool with_zone, const std::string &what) {
  if (t == "infinity") return b.append_fixed(std::numeric_limits<int64_t>::max());
  if (t == "-infinity") return b.append_fixed(std::numeric_limits<int64_t>::min());
  Cursor c{t};
  Ymd date;
  int64_t micros;
  if (!parse_date(c, date) || !c.eat(' ') || !parse_time(c, micros)) bad(what, t, "a timestamp");
  int64_t offset_seconds = 0;
  if (with_zone && (c.peek() == '+' || c.peek() == '-')) {
    const int sign = c.peek() == '-' ? -1 : 1;
    ++c.i;
    int64_t h = 0, m = 0, s = 0;
    if (!c.number(h)) bad(what, t, "a timestamp with time zone");
    if (c.eat(':') && !c.number(m)) bad(what, t, "a timestamp with time zone");
    if (c.eat(':') && !c.number(s)) bad(what, t, "a timestamp with time zone");
    offset_seconds = sign * (h * 3600 + m * 60 + s);
  }
  const bool bc = c.s.substr(c.i) == " BC";
  if (!bc && !c.done()) bad(what, t, "a timestamp");
  const int64_t days = date.days(bc);
  int64_t v;
  if (__builtin_mul_overflow(days, int64_t{86400000000}, &v) || __builtin_add_overflow(v, micros, &v) ||
      __builtin_sub_overflow(v, offset_seconds * 1000000, &v) || v == std::numeric_limits<int64_t>::max() ||
      v == std::numeric_limits<int64_t>::min())
    bad(what, t, "a timestamp the engine holds (int64 microseconds since 1970)");
  b.append_fixed(v);
}

// ISO 8601 as IntervalStyle=iso_8601 prints it: P1Y2M3DT4H5M6.5S, each part signed.
void append_interval(model::ColumnBuilder &b, std::string_view t, const std::string &what) {
  Cursor c{t};
  if (!c.eat('P')) bad(what, t, "an ISO 8601 interval");
  int64_t months = 0, days = 0, nanos = 0;
  bool time_part = false;
  while (!c.done()) {
    if (c.eat('T')) {
      time_part = true;
      continue;
    }
    const int sign = c.eat('-') ? -1 : 1;
    int64_t n, frac = 0;
    if (!c.number(n)) bad(what, t, "an ISO 8601 interval");
    if (c.peek() == '.' && !c.fraction_micros(frac)) bad(what, t, "an ISO 8601 interval");
    const char unit = c.peek();
    ++c.i;
    if (!time_part && unit == 'Y')
      months += sign * n * 12;
    else if (!time_part && unit == 'M')
      months += sign * n;
    else if (!time_part && unit == 'W')
      days += sign * n * 7;
    else if (!time_part && unit == 'D')
      days += sign * n;
    else if (time_part && unit == 'H')
      nanos += sign * n * 3600000000000LL;
    else if (time_part && unit == 'M')
      nanos += sign * n * 60000000000LL;
    else if (time_part && unit == 'S')
      nanos += sign * (n * 1000000000LL + frac * 1000);
    else
      bad(what, t, "an ISO 8601 interval");
  }
  if (months > std::numeric_limits<int32_t>::max() || months < std::numeric_limits<int32_t>::min() ||
      days > std::numeric_limits<int32_t>::max() || days < std::numeric_limits<int32_t>::min())
    bad(what, t, "an interval the engine holds");
  int32_t m32 = static_cast<int32_t>(months), d32 = static_cast<int32_t>(days);
  uint8_t out[16];
  std::memcpy(out, &m32, 4);
  std::memcpy(out + 4, &d32, 4);
  std::memcpy(out + 8, &nanos, 8);
  b.append_fixed_bytes(out);
}

void append_decimal(model::ColumnBuilder &b, const model::DataType &type, std::string_view t, const std::string &what) {
  Cursor c{t};
  const bool negative = c.eat('-');
  int128 v = 0;
  int fraction_digits = 0, digits = 0;
  bool seen_point = false;
  for (; !c.done(); ++c.i) {
    char ch = c.s[c.i];
    if (ch == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (ch < '0' || ch > '9')
      bad(what, t, "decimal(" + std::to_string(type.precision) + "," + std::to_string(type.scale) + ")");
    if (seen_point) ++fraction_digits;
    if (v != 0 || ch != '0') ++digits;
    v = v * 10 + (ch - '0');
    if (digits > 38) bad(what, t, "decimal(" + std::to_string(type.precision) + "," + std::to_string(type.scale) + ")");
  }
  if (fraction_digits > type.scale)
    bad(what, t, "a value with at most " + std::to_string(type.scale) + " fraction digits");
  for (int k = fraction_digits; k < type.scale; ++k) v *= 10;
  int128 limit = 1;
  for (int k = 0; k < type.precision; ++k) limit *= 10;
  if (v >= limit) bad(what, t, "decimal(" + std::to_string(type.precision) + "," + std::to_string(type.scale) + ")");
  if (negative) v = -v;
  b.append_fixed_bytes(&v);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void append_text_value(model::ColumnBuilder &b, const model::DataType &type, std::string_view t,
                       const std::string &what) {
  using model::TypeId;
  switch (type.id) {
    case TypeId::boolean:
      if (t == "t") return b.append_bool(true);
      if (t == "f") return b.append_bool(false);
      bad(what, t, "a boolean");
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64: {
      int64_t v = 0;
      auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      if (r.ec != std::errc() || r.ptr != t.data() + t.size()) bad(what, t, "an integer");
      return b.append_int(v);
    }
    case TypeId::uint64: {
      uint64_t v = 0;
      auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      if (r.ec != std::errc() || r.ptr != t.data() + t.size()) bad(what, t, "an unsigned integer");
      return b.append_fixed(v);
    }
    case TypeId::float32:
    case TypeId::float64: {
      double v;
      if (t == "NaN")
        v = std::numeric_limits<double>::quiet_NaN();
      else if (t == "Infinity")
        v = std::numeric_limits<double>::infinity();
      else if (t == "-Infinity")
        v = -std::numeric_limits<double>::infinity();
      else if (type.id == TypeId::float32) {
        float f = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), f);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) bad(what, t, "a real");
        return b.append_fixed(f);
      } else {
        auto r = std::from_chars(t.data(), t.data() + t.size(), v);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) bad(what, t, "a double precision");
      }
      if (type.id == TypeId::float32) return b.append_fixed(static_cast<float>(v));
      return b.append_fixed(v);
    }
    case TypeId::decimal: return append_decimal(b, type, t, what);
    case TypeId::string:
    case TypeId::json:
    case TypeId::unknown: return b.append_bytes(t.data(), t.size());
    case TypeId::binary: {
      if (t.size() < 2 || t[0] != '\\' || t[1] != 'x' || t.size() % 2 != 0) bad(what, t, "hex bytea");
      std::string bytes((t.size() - 2) / 2, '\0');
      for (size_t i = 0; i < bytes.size(); ++i) {
        int hi = hex_value(t[2 + 2 * i]), lo = hex_value(t[3 + 2 * i]);
        if (hi < 0 || lo < 0) bad(what, t, "hex bytea");
        bytes[i] = static_cast<char>(hi * 16 + lo);
      }
      return b.append_bytes(bytes.data(), bytes.size());
    }
    case TypeId::date: return append_date(b, t, what);
    case TypeId::time: {
      Cursor c{t};
      int64_t micros;
      if (!parse_time(c, micros) || !c.done()) bad(what, t, "a time");
      return b.append_fixed(micros);
    }
    case TypeId::timestamp: return append_timestamp(b, t, false, what);
    case TypeId::timestamp_tz: return append_timestamp(b, t, true, what);
    case TypeId::interval: return append_interval(b, t, what);
    case TypeId::uuid: {
      uint8_t out[16];
      size_t k = 0;
      for (size_t i = 0; i < t.size() && k < 32; ++i) {
        if (t[i] == '-') continue;
        int h = hex_value(t[i]);
        if (h < 0) bad(what, t, "a uuid");
        if (k % 2 == 0)
          out[k / 2] = static_cast<uint8_t>(h << 4);
        else
          out[k / 2] = static_cast<uint8_t>(out[k / 2] | h);
        ++k;
      }
      if (k != 32) bad(what, t, "a uuid");
      return b.append_fixed_bytes(out);
    }
  }
  bad(what, t, model::type_name(type.id));
}

}  // namespace ds::connectors::postgres
