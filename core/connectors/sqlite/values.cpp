#include "connectors/sqlite/values.hpp"

#include <charconv>
#include <cstring>

namespace ds::connectors::sqlite {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t pos, size_t n, int &out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

// 'YYYY-MM-DD' at the start of `s`.
bool parse_date_prefix(std::string_view s, int64_t &days) {
  int y = 0, m = 0, d = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, m) || !digits(s, 8, 2, d)) return false;
  if (m < 1 || m > 12 || d < 1 || static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(m))) return false;
  days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

// 'HH:MM[:SS[.fraction]]' starting at `pos`; advances `pos` past it.
bool parse_clock(std::string_view s, size_t &pos, int64_t &micros) {
  int h = 0, mi = 0, sec = 0;
  if (!digits(s, pos, 2, h) || pos + 2 >= s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2, mi)) return false;
  if (h > 23 || mi > 59) return false;
  pos += 5;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, sec) || sec > 59) return false;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t n = 0;
      while (pos < s.size() && is_digit(s[pos])) {
        if (n < 6)
          frac = frac * 10 + (s[pos] - '0');
        else if (s[pos] != '0')
          return false;  // finer than a microsecond: not exact
        ++n;
        ++pos;
      }
      if (n == 0 || n > 9) return false;
      for (size_t i = n; i < 6; ++i) frac *= 10;
    }
  }
  micros = ((h * 60 + mi) * 60 + sec) * kMicrosPerSecond + frac;
  return true;
}

char *put2(char *p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

char *put_clock(char *p, int64_t micros) {
  int64_t secs = micros / kMicrosPerSecond;
  int64_t frac = micros % kMicrosPerSecond;
  p = put2(p, static_cast<unsigned>(secs / 3600));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(secs / 60 % 60));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(secs % 60));
  if (frac) {
    *p++ = '.';
    for (int64_t div = 100000; div > 0; div /= 10) *p++ = static_cast<char>('0' + frac / div % 10);
  }
  return p;
}

char *put_date(char *p, int64_t y, unsigned m, unsigned d) {
  unsigned yy = static_cast<unsigned>(y);
  *p++ = static_cast<char>('0' + yy / 1000);
  *p++ = static_cast<char>('0' + yy / 100 % 10);
  *p++ = static_cast<char>('0' + yy / 10 % 10);
  *p++ = static_cast<char>('0' + yy % 10);
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  return put2(p, d);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t &year, unsigned &month, unsigned &day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  year = yoe + era * 400 + (month <= 2);
}

bool parse_date(std::string_view text, int32_t &days) {
  int64_t d = 0;
  if (text.size() != 10 || !parse_date_prefix(text, d)) return false;
  days = static_cast<int32_t>(d);
  return true;
}

bool parse_time(std::string_view text, int64_t &micros) {
  size_t pos = 0;
  return parse_clock(text, pos, micros) && pos == text.size();
}

bool parse_timestamp(std::string_view text, int64_t &micros, bool &had_offset, int32_t &offset_seconds) {
  int64_t days = 0;
  had_offset = false;
  offset_seconds = 0;
  if (!parse_date_prefix(text, days)) return false;
  size_t pos = 10;
  int64_t clock = 0;
  if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T' || text[pos] == 't')) {
    ++pos;
    if (!parse_clock(text, pos, clock)) return false;
    if (pos < text.size()) {
      char c = text[pos];
      if ((c == 'Z' || c == 'z') && pos + 1 == text.size()) {
        had_offset = true;
      } else if ((c == '+' || c == '-') && text.size() - pos == 6 && text[pos + 3] == ':') {
        int oh = 0, om = 0;
        if (!digits(text, pos + 1, 2, oh) || !digits(text, pos + 4, 2, om) || oh > 23 || om > 59) return false;
        had_offset = true;
        offset_seconds = (oh * 60 + om) * 60 * (c == '-' ? -1 : 1);
      } else {
        return false;
      }
    }
  } else if (pos != text.size()) {
    return false;
  }
  micros = days * kMicrosPerDay + clock - static_cast<int64_t>(offset_seconds) * kMicrosPerSecond;
  return true;
}

size_t format_date(int32_t days, char *out) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) return 0;
  return static_cast<size_t>(put_date(out, y, m, d) - out);
}

size_t format_time(int64_t micros, char *out) {
  if (micros < 0 || micros >= kMicrosPerDay) return 0;
  return static_cast<size_t>(put_clock(out, micros) - out);
}

size_t format_timestamp(int64_t micros, char *out) {
  int64_t days = micros / kMicrosPerDay;
  int64_t rem = micros % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) return 0;
  char *p = put_date(out, y, m, d);
  *p++ = ' ';
  return static_cast<size_t>(put_clock(p, rem) - out);
}

int128 pow10_128(int n) {
  int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

bool parse_decimal(std::string_view s, int precision, int scale, int128 &unscaled) {
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) negative = s[pos++] == '-';
  char sig[40];  // significant digits, without leading or trailing zeros
  int nsig = 0;
  int64_t pending_zeros = 0;  // zeros seen after the first significant digit, not yet placed
  int64_t frac_digits = 0;
  size_t ndigits = 0;
  bool seen_point = false;
  for (; pos < s.size(); ++pos) {
    char c = s[pos];
    if (c == '.') {
      if (seen_point) return false;
      seen_point = true;
      continue;
    }
    if (!is_digit(c)) break;
    ++ndigits;
    if (seen_point) ++frac_digits;
    if (c == '0') {
      if (nsig > 0) ++pending_zeros;
      continue;
    }
    if (nsig + pending_zeros + 1 > 38) return false;
    for (; pending_zeros > 0; --pending_zeros) sig[nsig++] = '0';
    sig[nsig++] = c;
  }
  if (ndigits == 0) return false;
  int64_t exponent = 0;
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    ++pos;
    bool eneg = false;
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) eneg = s[pos++] == '-';
    size_t start = pos;
    for (; pos < s.size() && is_digit(s[pos]); ++pos)
      if (exponent < 100000) exponent = exponent * 10 + (s[pos] - '0');
    if (pos == start) return false;
    if (eneg) exponent = -exponent;
  }
  if (pos != s.size()) return false;
  if (nsig == 0) {
    unscaled = 0;
    return true;
  }
  // value = sig * 10^(pending_zeros - frac_digits + exponent)
  int64_t shift = pending_zeros - frac_digits + exponent + scale;
  if (shift < 0) return false;  // a non-zero digit below the scale
  if (nsig + shift > precision) return false;
  int128 v = 0;
  for (int i = 0; i < nsig; ++i) v = v * 10 + (sig[i] - '0');
  for (int64_t i = 0; i < shift; ++i) v *= 10;
  unscaled = negative ? -v : v;
  return true;
}

size_t format_decimal(int128 unscaled, int scale, char *out) {
  if (scale < -40) return 0;
  uint128 u = unscaled < 0 ? -static_cast<uint128>(unscaled) : static_cast<uint128>(unscaled);
  char rev[48];
  int n = 0;
  do {
    rev[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  char *p = out;
  if (unscaled < 0) *p++ = '-';
  if (scale <= 0) {
    while (n > 0) *p++ = rev[--n];
    if (unscaled != 0)
      for (int i = 0; i < -scale; ++i) *p++ = '0';
  } else {
    while (n <= scale) rev[n++] = '0';
    while (n > scale) *p++ = rev[--n];
    *p++ = '.';
    while (n > 0) *p++ = rev[--n];
  }
  return static_cast<size_t>(p - out);
}

int significant_digits(int128 unscaled) {
  uint128 u = unscaled < 0 ? -static_cast<uint128>(unscaled) : static_cast<uint128>(unscaled);
  if (u == 0) return 0;
  while (u % 10 == 0) u /= 10;
  int n = 0;
  for (; u != 0; u /= 10) ++n;
  return n;
}

int128 load_int128(const uint8_t *p) {
  int128 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

bool parse_uuid(std::string_view text, uint8_t out[16]) {
  bool dashed = text.size() == 36;
  if (!dashed && text.size() != 32) return false;
  if (dashed && (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')) return false;
  int nibble = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) continue;
    char c = text[i];
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return false;
    if (nibble % 2 == 0)
      out[nibble / 2] = static_cast<uint8_t>(v << 4);
    else
      out[nibble / 2] = static_cast<uint8_t>(out[nibble / 2] | v);
    ++nibble;
  }
  return true;
}

void format_uuid(const uint8_t in[16], char *out) {
  static const char hex[] = "0123456789abcdef";
  char *p = out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = hex[in[i] >> 4];
    *p++ = hex[in[i] & 15];
  }
}

size_t format_double(double v, char *out) {
  auto r = std::to_chars(out, out + 32, v);
  return static_cast<size_t>(r.ptr - out);
}

size_t format_int(int64_t v, char *out) {
  auto r = std::to_chars(out, out + 21, v);
  return static_cast<size_t>(r.ptr - out);
}

size_t format_interval(int32_t months, int32_t days, int64_t nanos, char *out) {
  char *p = out;
  *p++ = 'P';
  if (months != 0) {
    p = std::to_chars(p, p + 12, months).ptr;
    *p++ = 'M';
  }
  if (days != 0) {
    p = std::to_chars(p, p + 12, days).ptr;
    *p++ = 'D';
  }
  if (nanos != 0 || (months == 0 && days == 0)) {
    *p++ = 'T';
    uint64_t u = nanos < 0 ? 0 - static_cast<uint64_t>(nanos) : static_cast<uint64_t>(nanos);
    if (nanos < 0) *p++ = '-';
    p = std::to_chars(p, p + 21, u / 1000000000u).ptr;
    uint64_t frac = u % 1000000000u;
    if (frac) {
      *p++ = '.';
      int width = 9;
      while (frac % 10 == 0) {
        frac /= 10;
        --width;
      }
      char digits9[9];
      for (int i = width - 1; i >= 0; --i) {
        digits9[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
      }
      std::memcpy(p, digits9, static_cast<size_t>(width));
      p += width;
    }
    *p++ = 'S';
  }
  return static_cast<size_t>(p - out);
}

}  // namespace ds::connectors::sqlite
