// Exact conversions between the text forms SQLite databases hold and the
// engine's physical values: dates, times and timestamps (proleptic Gregorian,
// microseconds), decimals (Arrow decimal128 unscaled integers), UUIDs,
// intervals and doubles. Nothing here allocates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ds::connectors::sqlite {

__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// Days since 1970-01-01 of a proleptic Gregorian date (any year).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
void civil_from_days(int64_t days, int64_t &year, unsigned &month, unsigned &day);

// 'YYYY-MM-DD'.
bool parse_date(std::string_view text, int32_t &days);
// 'HH:MM[:SS[.fraction]]'; fractions finer than a microsecond must be zero.
bool parse_time(std::string_view text, int64_t &micros);
// 'YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|(+|-)HH:MM]' to microseconds since
// the epoch. An offset is subtracted (the result is UTC); `had_offset` tells
// whether one was present, `offset_seconds` its value.
bool parse_timestamp(std::string_view text, int64_t &micros, bool &had_offset, int32_t &offset_seconds);

// Writers return the length written, 0 when the value cannot be written
// (a year outside 0000..9999, a time outside one day).
constexpr size_t kDateChars = 10;
constexpr size_t kTimeChars = 15;       // HH:MM:SS.ffffff
constexpr size_t kTimestampChars = 26;  // YYYY-MM-DD HH:MM:SS.ffffff
size_t format_date(int32_t days, char *out);
// 'HH:MM:SS', plus '.ffffff' when the fraction is not zero.
size_t format_time(int64_t micros, char *out);
// 'YYYY-MM-DD HH:MM:SS', plus '.ffffff' when the fraction is not zero.
size_t format_timestamp(int64_t micros, char *out);

// Parses a decimal literal ('-12.50', '1.0e+35', '.5') exactly into the
// unscaled value at `scale`. False when it is not a number, has non-zero digits
// beyond `scale`, or needs more than `precision` digits.
bool parse_decimal(std::string_view text, int precision, int scale, int128 &unscaled);
// Unscaled value and scale to text ('-0.05'); 0 when the scale is below -40.
// `out` needs 96 bytes.
size_t format_decimal(int128 unscaled, int scale, char *out);
// Significant digits of the decimal's value, ignoring trailing zeros (0 for zero).
int significant_digits(int128 unscaled);
// The Arrow decimal128 value at `p` (16 bytes, little-endian two's complement).
int128 load_int128(const uint8_t *p);
// 10^n for 0 <= n <= 38.
int128 pow10_128(int n);

// 36-char 8-4-4-4-12 hex (either case), or 32 hex digits without dashes.
bool parse_uuid(std::string_view text, uint8_t out[16]);
// Lowercase 8-4-4-4-12; writes exactly 36 chars.
void format_uuid(const uint8_t in[16], char *out);

// Shortest text that reads back to the same double ('0.30000000000000004', '1e+20').
// `out` needs 32 bytes.
size_t format_double(double v, char *out);
size_t format_int(int64_t v, char *out);  // `out` needs 21 bytes

// ISO 8601 duration of an Arrow month_day_nano interval, e.g. 'P14M3DT4.5S'
// (months and days kept apart, as the interval does). `out` needs 64 bytes.
size_t format_interval(int32_t months, int32_t days, int64_t nanos, char *out);

}  // namespace ds::connectors::sqlite
