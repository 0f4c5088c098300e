// Parsers of the text protocol's value spellings (what mysql_use_result hands
// over) into the engine's physical values. Pure functions without a server,
// so every boundary can be checked directly.
//
// Dates are checked here too: MariaDB keeps '0000-00-00', '2020-00-15' and,
// under ALLOW_INVALID_DATES, '2020-02-31', none of which any other system
// holds; the source decides what to do with them (InvalidValuePolicy).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ds::connectors::mariadb {

__extension__ typedef __int128 int128;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
int days_in_month(int year, int month);

// The parts of a DATE, DATETIME or TIMESTAMP value as MariaDB spells them.
struct DateParts {
  int year = 0, month = 0, day = 0;
  int64_t micros_of_day = 0;  // 0 for a DATE

  // A real calendar date (year 1..9999): what every other system can hold.
  bool valid() const;
  // '0000-00-00' / '0000-00-00 00:00:00': MariaDB's "no date".
  bool zero() const { return year == 0 && month == 0 && day == 0 && micros_of_day == 0; }
  // The nearest valid date: year 0 → 0001, month 0 → 01, day 0 → 01, a day past
  // the month's end → its last day; the time of day is kept.
  DateParts clamped() const;
  int64_t days() const { return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)); }
  int64_t micros() const { return days() * 86400000000LL + micros_of_day; }
};

// "YYYY-MM-DD". Syntax only: an invalid date parses and says so through valid().
bool parse_date(std::string_view text, DateParts &out);
// "YYYY-MM-DD HH:MM:SS[.f…]" (1 to 6 fraction digits).
bool parse_datetime(std::string_view text, DateParts &out);
// "[-]H…H:MM:SS[.f…]" (TIME spans -838:59:59 .. 838:59:59) → signed microseconds.
bool parse_time(std::string_view text, int64_t &micros);
// "[-]digits[.digits]" with at most `scale` fraction digits (fewer are padded)
// → the unscaled value; false on bad syntax or more than 38 digits.
bool parse_decimal(std::string_view text, int scale, int128 &out);
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case) → 16 bytes.
bool parse_uuid(std::string_view text, uint8_t out[16]);
// The `bits` lowest bits of a BIT(n) value's big-endian bytes as "0101…".
std::string bits_text(std::string_view raw, int bits);

std::string to_hex(std::string_view bytes);
bool from_hex(std::string_view hex, std::string &out);

}  // namespace ds::connectors::mariadb
