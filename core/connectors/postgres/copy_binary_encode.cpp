#include "connectors/postgres/copy_binary_encode.hpp"

#include <cstring>
#include <limits>

#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

using model::TypeId;
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// Microseconds and days between 1970-01-01 (engine epoch) and 2000-01-01 (PostgreSQL's).
constexpr int64_t kEpochShiftDays = 10957;
constexpr int64_t kEpochShiftMicros = kEpochShiftDays * 86400LL * 1000000LL;

inline void put16(std::string &out, uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
inline void put32(std::string &out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
inline void put64(std::string &out, uint64_t v) {
  put32(out, static_cast<uint32_t>(v >> 32));
  put32(out, static_cast<uint32_t>(v));
}

int64_t integer_value(const model::Column &c, TypeId id, int64_t row) {
  switch (id) {
    case TypeId::int8: return c.value<int8_t>(row);
    case TypeId::int16: return c.value<int16_t>(row);
    case TypeId::int32: return c.value<int32_t>(row);
    default: return c.value<int64_t>(row);
  }
}

[[noreturn]] void out_of_range(const std::string &what, Wire wire) {
  throw Error(Code::data, "value " + what + " does not fit PostgreSQL type " + wire_type_name(wire));
}

// Numeric from a decimal digit string (most significant first, no sign) and a
// scale >= 0: base-10000 digits aligned on the decimal point.
void append_numeric_digits(std::string &out, std::string digits, int scale, bool negative) {
  while (static_cast<int>(digits.size()) < scale) digits.insert(digits.begin(), '0');
  size_t int_len = digits.size() - static_cast<size_t>(scale);
  size_t int_pad = (4 - int_len % 4) % 4;
  size_t frac_pad = (4 - static_cast<size_t>(scale) % 4) % 4;
  std::string all(int_pad, '0');
  all += digits;
  all.append(frac_pad, '0');
  int weight = static_cast<int>((int_len + int_pad) / 4) - 1;
  std::vector<uint16_t> groups;
  groups.reserve(all.size() / 4);
  for (size_t i = 0; i < all.size(); i += 4)
    groups.push_back(static_cast<uint16_t>((all[i] - '0') * 1000 + (all[i + 1] - '0') * 100 + (all[i + 2] - '0') * 10 +
                                           (all[i + 3] - '0')));
  size_t first = 0;
  while (first < groups.size() && groups[first] == 0) {
    ++first;
    --weight;
  }
  size_t last = groups.size();
  while (last > first && groups[last - 1] == 0) --last;
  size_t ndigits = last - first;
  if (ndigits == 0) {
    weight = 0;
    negative = false;
  }
  put32(out, static_cast<uint32_t>(8 + 2 * ndigits));
  put16(out, static_cast<uint16_t>(ndigits));
  put16(out, static_cast<uint16_t>(static_cast<int16_t>(weight)));
  put16(out, negative ? 0x4000 : 0x0000);
  put16(out, static_cast<uint16_t>(scale));
  for (size_t i = first; i < last; ++i) put16(out, groups[i]);
}

std::string decimal_digits(uint128 u) {
  char rev[48];
  int n = 0;
  do {
    rev[n++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  } while (u != 0);
  std::string s;
  s.reserve(static_cast<size_t>(n));
  while (n > 0) s.push_back(rev[--n]);
  return s;
}

}  // namespace

const char *wire_type_name(Wire wire) {
  switch (wire) {
    case Wire::boolean: return "bool";
    case Wire::int2: return "int2";
    case Wire::int4: return "int4";
    case Wire::int8: return "int8";
    case Wire::float4: return "float4";
    case Wire::float8: return "float8";
    case Wire::numeric: return "numeric";
    case Wire::text: return "text";
    case Wire::jsonb: return "jsonb";
    case Wire::bytea: return "bytea";
    case Wire::date: return "date";
    case Wire::time: return "time";
    case Wire::timestamp: return "timestamp";
    case Wire::interval: return "interval";
    case Wire::uuid: return "uuid";
  }
  return "text";
}

Wire natural_wire(TypeId id) {
  switch (id) {
    case TypeId::boolean: return Wire::boolean;
    case TypeId::int8:
    case TypeId::int16: return Wire::int2;
    case TypeId::int32: return Wire::int4;
    case TypeId::int64: return Wire::int8;
    case TypeId::uint64:
    case TypeId::decimal: return Wire::numeric;
    case TypeId::float32: return Wire::float4;
    case TypeId::float64: return Wire::float8;
    case TypeId::string:
    case TypeId::unknown: return Wire::text;
    case TypeId::json: return Wire::jsonb;
    case TypeId::binary: return Wire::bytea;
    case TypeId::date: return Wire::date;
    case TypeId::time: return Wire::time;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return Wire::timestamp;
    case TypeId::interval: return Wire::interval;
    case TypeId::uuid: return Wire::uuid;
  }
  return Wire::text;
}

std::optional<Wire> wire_for(const model::DataType &type, const std::string &t, bool is_enum) {
  switch (type.id) {
    case TypeId::boolean:
      if (t == "bool") return Wire::boolean;
      break;
    case TypeId::int8:
    case TypeId::int16:
    case TypeId::int32:
    case TypeId::int64:
      if (t == "int2" && (type.id == TypeId::int8 || type.id == TypeId::int16)) return Wire::int2;
      if (t == "int4" && type.id != TypeId::int64) return Wire::int4;
      if (t == "int8") return Wire::int8;
      if (t == "numeric") return Wire::numeric;
      break;
    case TypeId::uint64:
    case TypeId::decimal:
      if (t == "numeric") return Wire::numeric;
      break;
    case TypeId::float32:
      if (t == "float4") return Wire::float4;
      if (t == "float8") return Wire::float8;
      break;
    case TypeId::float64:
      if (t == "float8") return Wire::float8;
      break;
    case TypeId::string:
    case TypeId::json:
    case TypeId::unknown:
      if (t == "text" || t == "varchar" || t == "bpchar" || t == "json" || is_enum) return Wire::text;
      if (t == "jsonb") return Wire::jsonb;
      break;
    case TypeId::binary:
      if (t == "bytea") return Wire::bytea;
      break;
    case TypeId::date:
      if (t == "date") return Wire::date;
      break;
    case TypeId::time:
      if (t == "time") return Wire::time;
      break;
    case TypeId::timestamp:
      if (t == "timestamp") return Wire::timestamp;
      break;
    case TypeId::timestamp_tz:
      if (t == "timestamptz") return Wire::timestamp;
      break;
    case TypeId::interval:
      if (t == "interval") return Wire::interval;
      break;
    case TypeId::uuid:
      if (t == "uuid") return Wire::uuid;
      break;
  }
  return std::nullopt;
}

void CopyBinaryEncoder::append_header(std::string &out) {
  static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
  out.append(sig, sizeof sig);
  put32(out, 0);  // flags
  put32(out, 0);  // header extension length
}

void CopyBinaryEncoder::append_trailer(std::string &out) { put16(out, 0xffff); }

void CopyBinaryEncoder::begin_row(std::string &out, int16_t fields) { put16(out, static_cast<uint16_t>(fields)); }

void CopyBinaryEncoder::append_null(std::string &out) { put32(out, 0xffffffffu); }

void CopyBinaryEncoder::append_int2(std::string &out, int16_t v) {
  put32(out, 2);
  put16(out, static_cast<uint16_t>(v));
}

void CopyBinaryEncoder::append_int8(std::string &out, int64_t v) {
  put32(out, 8);
  put64(out, static_cast<uint64_t>(v));
}

void append_numeric(std::string &out, const uint8_t *p, int scale) {
  uint64_t lo, hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  int128 v = static_cast<int128>((static_cast<uint128>(hi) << 64) | lo);
  bool negative = v < 0;
  uint128 u = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
  std::string digits = decimal_digits(u);
  if (scale < 0) {
    if (u != 0) digits.append(static_cast<size_t>(-scale), '0');
    scale = 0;
  }
  append_numeric_digits(out, std::move(digits), scale, negative);
}

void append_numeric_u64(std::string &out, uint64_t v, bool negative) {
  append_numeric_digits(out, decimal_digits(v), 0, negative);
}

void CopyBinaryEncoder::append_field(std::string &out, size_t field, const model::Column &c,
                                     const model::DataType &type, int64_t row) const {
  if (!c.is_valid(row)) return append_null(out);
  const Wire wire = wires_[field];
  switch (wire) {
    case Wire::boolean:
      put32(out, 1);
      out.push_back(c.bool_value(row) ? 1 : 0);
      return;
    case Wire::int2: {
      int64_t v = integer_value(c, type.id, row);
      if (v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max())
        out_of_range(std::to_string(v), wire);
      return append_int2(out, static_cast<int16_t>(v));
    }
    case Wire::int4: {
      int64_t v = integer_value(c, type.id, row);
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        out_of_range(std::to_string(v), wire);
      put32(out, 4);
      put32(out, static_cast<uint32_t>(static_cast<int32_t>(v)));
      return;
    }
    case Wire::int8: return append_int8(out, integer_value(c, type.id, row));
    case Wire::float4: {
      float f = c.value<float>(row);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put32(out, 4);
      put32(out, bits);
      return;
    }
    case Wire::float8: {
      double d = type.id == TypeId::float32 ? static_cast<double>(c.value<float>(row)) : c.value<double>(row);
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      put32(out, 8);
      put64(out, bits);
      return;
    }
    case Wire::numeric:
      switch (type.id) {
        case TypeId::decimal: return append_numeric(out, c.fixed_bytes(row, 16), type.scale);
        case TypeId::uint64: return append_numeric_u64(out, c.value<uint64_t>(row), false);
        default: {
          int64_t v = integer_value(c, type.id, row);
          uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
          return append_numeric_u64(out, mag, v < 0);
        }
      }
    case Wire::text:
    case Wire::bytea: {
      std::string_view s = c.bytes(row);
      put32(out, static_cast<uint32_t>(s.size()));
      out.append(s.data(), s.size());
      return;
    }
    case Wire::jsonb: {
      std::string_view s = c.bytes(row);
      put32(out, static_cast<uint32_t>(s.size() + 1));
      out.push_back(1);
      out.append(s.data(), s.size());
      return;
    }
    case Wire::date: {
      int32_t d = c.value<int32_t>(row);
      // INT32_MIN / INT32_MAX are -infinity / infinity in both.
      if (d != std::numeric_limits<int32_t>::min() && d != std::numeric_limits<int32_t>::max())
        d = static_cast<int32_t>(d - kEpochShiftDays);
      put32(out, 4);
      put32(out, static_cast<uint32_t>(d));
      return;
    }
    case Wire::time: return append_int8(out, c.value<int64_t>(row));
    case Wire::timestamp: {
      int64_t v = c.value<int64_t>(row);
      if (v != std::numeric_limits<int64_t>::min() && v != std::numeric_limits<int64_t>::max()) {
        if (v < std::numeric_limits<int64_t>::min() + kEpochShiftMicros) out_of_range(std::to_string(v), wire);
        v -= kEpochShiftMicros;
      }
      return append_int8(out, v);
    }
    case Wire::interval: {
      const uint8_t *p = c.fixed_bytes(row, 16);
      int32_t months, days;
      int64_t nanos;
      std::memcpy(&months, p, 4);
      std::memcpy(&days, p + 4, 4);
      std::memcpy(&nanos, p + 8, 8);
      put32(out, 16);
      put64(out, static_cast<uint64_t>(nanos / 1000));
      put32(out, static_cast<uint32_t>(days));
      put32(out, static_cast<uint32_t>(months));
      return;
    }
    case Wire::uuid:
      put32(out, 16);
      out.append(reinterpret_cast<const char *>(c.fixed_bytes(row, 16)), 16);
      return;
  }
}

}  // namespace ds::connectors::postgres
