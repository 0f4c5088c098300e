#include "connectors/postgres/copy_binary_encode.hpp"

#include <algorithm>
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

// The most bytes one numeric takes, length word included: 39 significant
// digits (2^128 has 39) span at most 11 base-10000 groups.
constexpr size_t kMaxNumeric = 4 + 8 + 2 * 11;

constexpr uint32_t kPow10[] = {1, 10, 100, 1000, 10000};

// u % d and u / d for d = 10, 100 or 1000, as multiplications: a constant
// divisor the compiler can see, and 64 bits whenever the value fits.
template <uint32_t D>
uint32_t divide_small(uint128 &u) {
  if (u <= std::numeric_limits<uint64_t>::max()) {
    const uint64_t v = static_cast<uint64_t>(u);
    u = v / D;
    return static_cast<uint32_t>(v % D);
  }
  const uint32_t r = static_cast<uint32_t>(u % D);
  u /= D;
  return r;
}

[[noreturn]] void out_of_range(const std::string &what, Wire wire) {
  throw Error(Code::data, "value " + what + " does not fit PostgreSQL type " + wire_type_name(wire));
}

inline __attribute__((always_inline)) int64_t integer_at(const EncodeColumn &c, int64_t i) {
  const uint8_t *p = c.values;
  switch (c.type) {
    case TypeId::int8: return static_cast<int8_t>(p[i]);
    case TypeId::int16: {
      int16_t v;
      std::memcpy(&v, p + i * 2, 2);
      return v;
    }
    case TypeId::int32: {
      int32_t v;
      std::memcpy(&v, p + i * 4, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, p + i * 8, 8);
      return v;
    }
  }
}

template <typename T>
T fixed_at(const EncodeColumn &c, int64_t i) {
  T v;
  std::memcpy(&v, c.values + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

// Base-10000 digit groups of `u`, least significant first, appended at
// groups[n...]; uint128 values are cut into 64-bit pieces first because a
// 128-bit division is a library call and a 64-bit one by a constant is a multiply.
void push_groups(uint128 u, uint16_t *groups, int &n) {
  constexpr uint64_t kTen16 = 10000000000000000ULL;
  while (u > std::numeric_limits<uint64_t>::max()) {
    uint64_t low = static_cast<uint64_t>(u % kTen16);
    u /= kTen16;
    for (int k = 0; k < 4; ++k) {
      groups[n++] = static_cast<uint16_t>(low % 10000);
      low /= 10000;
    }
  }
  for (uint64_t v = static_cast<uint64_t>(u); v != 0; v /= 10000) groups[n++] = static_cast<uint16_t>(v % 10000);
}

// PostgreSQL's numeric for the value `magnitude` * 10^-scale (sign apart):
// base-10000 digit groups aligned on the decimal point, leading and trailing
// zero groups dropped, dscale = max(scale, 0).
__attribute__((noinline)) void put_numeric(CopyBuffer &out, uint128 magnitude, bool negative, int scale) {
  out.reserve(kMaxNumeric);
  const int dscale = std::max(scale, 0);
  if (magnitude == 0) {
    out.put32(8);
    out.put16(0);  // ndigits
    out.put16(0);  // weight
    out.put16(0x0000);
    out.put16(static_cast<uint16_t>(dscale));
    return;
  }
  // Digits below the decimal point come in whole groups: `pad` zeros are
  // appended to the last one (or, for a negative scale, the value's lowest
  // group takes `pad` of its zeros and `extra` all-zero groups follow).
  int pad, fraction_groups = 0, extra = 0;
  if (scale >= 0) {
    pad = (4 - scale % 4) % 4;
    fraction_groups = (scale + pad) / 4;
  } else {
    pad = (-scale) % 4;
    extra = (-scale) / 4;
  }
  uint16_t groups[16];  // least significant first
  int n = 0;
  if (pad != 0) {
    const uint32_t low = pad == 1   ? divide_small<1000>(magnitude)
                         : pad == 2 ? divide_small<100>(magnitude)
                                    : divide_small<10>(magnitude);
    groups[n++] = static_cast<uint16_t>(low * kPow10[pad]);
  }
  push_groups(magnitude, groups, n);
  const int weight = n - fraction_groups - 1 + extra;
  int low = 0;
  while (groups[low] == 0) ++low;  // trailing zeros; the top group is never 0
  const int ndigits = n - low;
  out.put32(static_cast<uint32_t>(8 + 2 * ndigits));
  out.put16(static_cast<uint16_t>(ndigits));
  out.put16(static_cast<uint16_t>(static_cast<int16_t>(weight)));
  out.put16(negative ? 0x4000 : 0x0000);
  out.put16(static_cast<uint16_t>(dscale));
  for (int i = n - 1; i >= low; --i) out.put16(groups[i]);
}

void put_decimal(CopyBuffer &out, const uint8_t *p, int scale) {
  uint64_t lo, hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  const int128 v = static_cast<int128>((static_cast<uint128>(hi) << 64) | lo);
  const bool negative = v < 0;
  put_numeric(out, negative ? -static_cast<uint128>(v) : static_cast<uint128>(v), negative, scale);
}

// Value `i` of a bound column (validity already checked). Inlined into the
// row loop: it runs once per field of every row.
inline __attribute__((always_inline)) void put_value(CopyBuffer &out, const EncodeColumn &c, int64_t i) {
  switch (c.wire) {
    case Wire::boolean: {
      const int64_t j = i + c.offset;  // bitmaps keep the slice offset
      out.reserve(5);
      out.put32(1);
      out.put8((c.values[j >> 3] >> (j & 7)) & 1);
      return;
    }
    case Wire::int2: {
      const int64_t v = integer_at(c, i);
      if (v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max())
        out_of_range(std::to_string(v), c.wire);
      out.reserve(6);
      out.put32(2);
      out.put16(static_cast<uint16_t>(v));
      return;
    }
    case Wire::int4: {
      const int64_t v = integer_at(c, i);
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        out_of_range(std::to_string(v), c.wire);
      out.reserve(8);
      out.put32(4);
      out.put32(static_cast<uint32_t>(v));
      return;
    }
    case Wire::int8:
      out.reserve(12);
      out.put32(8);
      out.put64(static_cast<uint64_t>(integer_at(c, i)));
      return;
    case Wire::float4:
      out.reserve(8);
      out.put32(4);
      out.put32(fixed_at<uint32_t>(c, i));  // the float's bits
      return;
    case Wire::float8: {
      const double d = c.type == TypeId::float32 ? static_cast<double>(fixed_at<float>(c, i)) : fixed_at<double>(c, i);
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      out.reserve(12);
      out.put32(8);
      out.put64(bits);
      return;
    }
    case Wire::numeric:
      switch (c.type) {
        case TypeId::decimal: return put_decimal(out, c.values + i * 16, c.scale);
        case TypeId::uint64: return put_numeric(out, fixed_at<uint64_t>(c, i), false, 0);
        default: {
          const int64_t v = integer_at(c, i);
          return put_numeric(out, v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v), v < 0, 0);
        }
      }
    case Wire::text:
    case Wire::bytea: {
      const uint32_t len = static_cast<uint32_t>(c.offsets[i + 1] - c.offsets[i]);
      out.reserve(4 + static_cast<size_t>(len));
      out.put32(len);
      out.put_bytes(c.values + c.offsets[i], len);
      return;
    }
    case Wire::jsonb: {
      const uint32_t len = static_cast<uint32_t>(c.offsets[i + 1] - c.offsets[i]);
      out.reserve(5 + static_cast<size_t>(len));
      out.put32(len + 1);
      out.put8(1);  // jsonb binary format version
      out.put_bytes(c.values + c.offsets[i], len);
      return;
    }
    case Wire::date: {
      int32_t d = fixed_at<int32_t>(c, i);
      // INT32_MIN / INT32_MAX are -infinity / infinity in both.
      if (d != std::numeric_limits<int32_t>::min() && d != std::numeric_limits<int32_t>::max())
        d = static_cast<int32_t>(d - kEpochShiftDays);
      out.reserve(8);
      out.put32(4);
      out.put32(static_cast<uint32_t>(d));
      return;
    }
    case Wire::time:
      out.reserve(12);
      out.put32(8);
      out.put64(fixed_at<uint64_t>(c, i));
      return;
    case Wire::timestamp: {
      int64_t v = fixed_at<int64_t>(c, i);
      if (v != std::numeric_limits<int64_t>::min() && v != std::numeric_limits<int64_t>::max()) {
        if (v < std::numeric_limits<int64_t>::min() + kEpochShiftMicros) out_of_range(std::to_string(v), c.wire);
        v -= kEpochShiftMicros;
      }
      out.reserve(12);
      out.put32(8);
      out.put64(static_cast<uint64_t>(v));
      return;
    }
    case Wire::interval: {
      const uint8_t *p = c.values + i * 16;
      int32_t months, days;
      int64_t nanos;
      std::memcpy(&months, p, 4);
      std::memcpy(&days, p + 4, 4);
      std::memcpy(&nanos, p + 8, 8);
      out.reserve(20);
      out.put32(16);
      out.put64(static_cast<uint64_t>(nanos / 1000));
      out.put32(static_cast<uint32_t>(days));
      out.put32(static_cast<uint32_t>(months));
      return;
    }
    case Wire::uuid:
      out.reserve(20);
      out.put32(16);
      out.put_bytes(c.values + i * 16, 16);
      return;
  }
}

EncodeColumn bind_column(const model::Column &column, const model::DataType &type, Wire wire) {
  EncodeColumn c;
  c.validity = column.validity ? column.validity->data() : nullptr;
  // A column without a buffer (every value NULL) is never read through it;
  // pointing at zeros instead of null keeps every read path well defined.
  alignas(8) static const uint8_t kNoBuffer[16] = {};
  c.values = column.values ? column.values->data() : kNoBuffer;
  c.offsets = reinterpret_cast<const int32_t *>(column.offsets ? column.offsets->data() : kNoBuffer);
  c.offset = column.offset;
  c.type = type.id;
  c.scale = type.scale;
  c.wire = wire;
  // Fixed-width and offset buffers are indexed from the slice's start; a
  // bitmap (bool values, validity) keeps the bit offset.
  if (column.offset != 0 && model::layout_of(type.id) != model::Layout::bitmap) {
    if (column.offsets)
      c.offsets += column.offset;
    else if (c.values)
      c.values += column.offset * model::fixed_width(type.id);
  }
  return c;
}

inline bool valid_at(const EncodeColumn &c, int64_t row) {
  if (!c.validity) return true;
  const int64_t j = row + c.offset;
  return (c.validity[j >> 3] >> (j & 7)) & 1;
}

}  // namespace

void CopyBuffer::grow(size_t n) {
  const size_t used = size();
  storage_.resize(std::max({storage_.size() * 2, used + n, size_t{4096}}));
  pos_ = storage_.data() + used;
  end_ = storage_.data() + storage_.size();
}

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

void CopyBinaryEncoder::append_header(CopyBuffer &out) {
  static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
  out.reserve(19);
  out.put_bytes(sig, sizeof sig);
  out.put32(0);  // flags
  out.put32(0);  // header extension length
}

void CopyBinaryEncoder::append_trailer(CopyBuffer &out) {
  out.reserve(2);
  out.put16(0xffff);
}

void CopyBinaryEncoder::begin_row(CopyBuffer &out, int16_t fields) {
  out.reserve(2);
  out.put16(static_cast<uint16_t>(fields));
}

void CopyBinaryEncoder::append_null(CopyBuffer &out) {
  out.reserve(4);
  out.put32(0xffffffffu);
}

void CopyBinaryEncoder::append_int2(CopyBuffer &out, int16_t v) {
  out.reserve(6);
  out.put32(2);
  out.put16(static_cast<uint16_t>(v));
}

void CopyBinaryEncoder::append_int8(CopyBuffer &out, int64_t v) {
  out.reserve(12);
  out.put32(8);
  out.put64(static_cast<uint64_t>(v));
}

std::vector<EncodeColumn> CopyBinaryEncoder::bind(const model::Batch &batch,
                                                  const std::vector<model::ColumnSchema> &schema) const {
  std::vector<EncodeColumn> out;
  out.reserve(wires_.size());
  for (size_t i = 0; i < wires_.size() && i < batch.columns.size(); ++i)
    out.push_back(bind_column(batch.columns[i], schema[i].type, wires_[i]));
  return out;
}

void CopyBinaryEncoder::append_row(CopyBuffer &out, const std::vector<EncodeColumn> &columns, int64_t row,
                                   size_t &field) const {
  const size_t n = columns.size();
  for (size_t i = 0; i < n; ++i) {
    const EncodeColumn &c = columns[i];
    if (!valid_at(c, row)) {
      out.reserve(4);
      out.put32(0xffffffffu);
      continue;
    }
    field = i;
    put_value(out, c, row);
  }
}

void CopyBinaryEncoder::append_field(CopyBuffer &out, size_t field, const model::Column &column,
                                     const model::DataType &type, int64_t row) const {
  const EncodeColumn c = bind_column(column, type, wires_[field]);
  if (!valid_at(c, row)) return append_null(out);
  put_value(out, c, row);
}

void append_numeric(CopyBuffer &out, const uint8_t *int128_le, int scale) { put_decimal(out, int128_le, scale); }

void append_numeric_u64(CopyBuffer &out, uint64_t v, bool negative) { put_numeric(out, v, negative, 0); }

void append_numeric(std::string &out, const uint8_t *int128_le, int scale) {
  std::string storage;
  CopyBuffer b(storage);
  append_numeric(b, int128_le, scale);
  out.append(b.data(), b.size());
}

void append_numeric_u64(std::string &out, uint64_t v, bool negative) {
  std::string storage;
  CopyBuffer b(storage);
  append_numeric_u64(b, v, negative);
  out.append(b.data(), b.size());
}

}  // namespace ds::connectors::postgres
