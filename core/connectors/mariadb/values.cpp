#include "connectors/mariadb/values.hpp"

namespace ds::connectors::mariadb {
namespace {

bool digits(std::string_view s, size_t at, size_t count, int &out) {
  if (at + count > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + count; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// ".f…" at `at` (1 to 6 digits) → microseconds; an absent fraction is 0.
bool fraction_micros(std::string_view s, size_t at, int64_t &micros) {
  micros = 0;
  if (at == s.size()) return true;
  if (s[at] != '.' || at + 1 == s.size() || s.size() - at - 1 > 6) return false;
  int64_t v = 0;
  size_t n = 0;
  for (size_t i = at + 1; i < s.size(); ++i, ++n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  for (; n < 6; ++n) v *= 10;
  micros = v;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int days_in_month(int year, int month) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 31;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

bool DateParts::valid() const {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

DateParts DateParts::clamped() const {
  DateParts c = *this;
  if (c.year < 1) c.year = 1;
  if (c.month < 1) c.month = 1;
  if (c.month > 12) c.month = 12;
  if (c.day < 1) c.day = 1;
  if (c.day > days_in_month(c.year, c.month)) c.day = days_in_month(c.year, c.month);
  return c;
}

bool parse_date(std::string_view s, DateParts &out) {
  out = DateParts();
  return s.size() == 10 && s[4] == '-' && s[7] == '-' && digits(s, 0, 4, out.year) && digits(s, 5, 2, out.month) &&
         digits(s, 8, 2, out.day);
}

bool parse_datetime(std::string_view s, DateParts &out) {
  int h = 0, mi = 0, sec = 0;
  int64_t frac = 0;
  if (s.size() < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' || !parse_date(s.substr(0, 10), out) ||
      !digits(s, 11, 2, h) || !digits(s, 14, 2, mi) || !digits(s, 17, 2, sec) || !fraction_micros(s, 19, frac))
    return false;
  if (h > 23 || mi > 59 || sec > 59) return false;
  out.micros_of_day = ((h * 60LL + mi) * 60 + sec) * 1000000 + frac;
  return true;
}

bool parse_time(std::string_view s, int64_t &micros) {
  size_t at = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) at = 1;
  size_t colon = s.find(':', at);
  if (colon == std::string_view::npos || colon == at || colon - at > 4) return false;
  int h = 0, mi = 0, sec = 0;
  int64_t frac = 0;
  if (!digits(s, at, colon - at, h) || colon + 6 > s.size() || s[colon + 3] != ':' || !digits(s, colon + 1, 2, mi) ||
      !digits(s, colon + 4, 2, sec) || !fraction_micros(s, colon + 6, frac) || mi > 59 || sec > 59)
    return false;
  micros = ((h * 60LL + mi) * 60 + sec) * 1000000 + frac;
  if (negative) micros = -micros;
  return true;
}

bool parse_decimal(std::string_view s, int scale, int128 &out) {
  size_t at = 0;
  bool negative = false;
  if (at < s.size() && (s[at] == '-' || s[at] == '+')) negative = s[at++] == '-';
  int128 v = 0;
  int total = 0, fraction = -1;
  bool any = false;
  for (; at < s.size(); ++at) {
    char c = s[at];
    if (c == '.') {
      if (fraction >= 0) return false;
      fraction = 0;
      continue;
    }
    if (c < '0' || c > '9') return false;
    any = true;
    if (fraction >= 0 && ++fraction > scale) return false;
    if (v != 0 || c != '0') ++total;  // leading zeros do not count towards 38 digits
    if (total > 38) return false;
    v = v * 10 + (c - '0');
  }
  if (!any) return false;
  for (int i = fraction < 0 ? 0 : fraction; i < scale; ++i) {
    if (++total > 38 && v != 0) return false;
    v *= 10;
  }
  out = negative ? -v : v;
  return true;
}

bool parse_uuid(std::string_view s, uint8_t out[16]) {
  if (s.size() != 36) return false;
  size_t o = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[o++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return o == 16;
}

std::string bits_text(std::string_view raw, int bits) {
  std::string out(static_cast<size_t>(bits > 0 ? bits : 0), '0');
  const size_t nbytes = raw.size();
  for (int i = 0; i < bits; ++i) {
    // Bit i counted from the least significant bit of the last byte.
    const size_t byte = static_cast<size_t>(i / 8);
    if (byte >= nbytes) break;
    const unsigned char b = static_cast<unsigned char>(raw[nbytes - 1 - byte]);
    if ((b >> (i % 8)) & 1) out[static_cast<size_t>(bits - 1 - i)] = '1';
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char digits16[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits16[c >> 4];
    out += digits16[c & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, std::string &out) {
  if (hex.size() % 2) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace ds::connectors::mariadb
