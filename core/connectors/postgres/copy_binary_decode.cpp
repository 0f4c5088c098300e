#include "connectors/postgres/copy_binary_decode.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// Microseconds and days between 1970-01-01 and PostgreSQL's 2000-01-01 epoch.
constexpr int64_t kEpochShiftMicros = 946684800000000LL;
constexpr int32_t kEpochShiftDays = 10957;

inline uint16_t be16(const uint8_t *p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t *p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint64_t be64(const uint8_t *p) { return (static_cast<uint64_t>(be32(p)) << 32) | be32(p + 4); }

// 10^0 .. 10^38, the powers a decimal(p<=38) digit group can stand for.
struct Pow10Table {
  uint128 v[39];
  constexpr Pow10Table() : v() {
    v[0] = 1;
    for (int i = 1; i < 39; ++i) v[i] = v[i - 1] * 10;
  }
};
constexpr Pow10Table kPow10;
constexpr uint128 kMaxU128 = ~static_cast<uint128>(0);

std::string exceeds_text(const FieldPlan &f) {
  return "value exceeds decimal(" + std::to_string(f.precision) + "," + std::to_string(f.scale) + ")";
}

const char kSignature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

}  // namespace

FieldKind field_kind_for(const model::DataType &type) {
  using model::TypeId;
  switch (type.id) {
    case TypeId::boolean: return FieldKind::boolean;
    case TypeId::int16: return FieldKind::int16;
    case TypeId::int32: return FieldKind::int32;
    case TypeId::int8:
    case TypeId::uint64:
    case TypeId::int64: return FieldKind::int64;
    case TypeId::float32: return FieldKind::float32;
    case TypeId::float64: return FieldKind::float64;
    case TypeId::decimal: return FieldKind::numeric;
    case TypeId::binary: return FieldKind::bytea;
    case TypeId::date: return FieldKind::date;
    case TypeId::time: return FieldKind::time;
    case TypeId::timestamp:
    case TypeId::timestamp_tz: return FieldKind::timestamp;
    case TypeId::interval: return FieldKind::interval;
    case TypeId::uuid: return FieldKind::uuid;
    case TypeId::json: return type.source_name == "jsonb" ? FieldKind::jsonb : FieldKind::text;
    case TypeId::string:
    case TypeId::unknown: return FieldKind::text;
  }
  return FieldKind::text;
}

CopyBinaryDecoder::CopyBinaryDecoder(std::vector<FieldPlan> fields, int key_field, std::string context)
    : fields_(std::move(fields)), key_field_(key_field), context_(std::move(context)) {
  scratch_.resize(fields_.size());
  targets_.resize(fields_.size());
  field_bytes_.resize(fields_.size());
}

void CopyBinaryDecoder::set_builder(model::BatchBuilder *builder) {
  builder_ = builder;
  for (size_t i = 0; i < fields_.size(); ++i) {
    model::ColumnBuilder *b =
        builder && fields_[i].column >= 0 ? &builder->column(static_cast<size_t>(fields_[i].column)) : nullptr;
    targets_[i] = b;
    // A fresh builder for the next batch of the same stream: rows of one
    // table are alike, so the last batch's size (and an eighth more) is a
    // good guess.
    if (b && b->length() == 0 && field_bytes_[i] > 0 && model::is_variable(b->type().id))
      b->reserve_values(field_bytes_[i] + field_bytes_[i] / 8);
    field_bytes_[i] = 0;
  }
}

std::string CopyBinaryDecoder::key_text(const std::string &raw) const {
  if (key_field_ < 0 || raw.empty()) return "";
  const auto *p = reinterpret_cast<const uint8_t *>(raw.data());
  switch (fields_[static_cast<size_t>(key_field_)].kind) {
    case FieldKind::int16:
      if (raw.size() == 2) return std::to_string(static_cast<int16_t>(be16(p)));
      break;
    case FieldKind::int32:
      if (raw.size() == 4) return std::to_string(static_cast<int32_t>(be32(p)));
      break;
    case FieldKind::int64:
      if (raw.size() == 8) return std::to_string(static_cast<int64_t>(be64(p)));
      break;
    case FieldKind::tid:
      if (raw.size() == 6) return "(" + std::to_string(be32(p)) + "," + std::to_string(be16(p + 4)) + ")";
      break;
    default: break;
  }
  return "<" + std::to_string(raw.size()) + " bytes>";
}

void CopyBinaryDecoder::fail(const FieldPlan &f, const std::string &what, const uint8_t *row_key,
                             int32_t key_len) const {
  std::string key;
  if (row_key && key_len >= 0) key = key_text(std::string(reinterpret_cast<const char *>(row_key), key_len));
  throw Error(Code::data, "column " + f.name + ": " + what + (key.empty() ? "" : " (row key " + key + ")"),
              context_ + " column=" + f.name + (key.empty() ? "" : " row=" + key));
}

size_t CopyBinaryDecoder::parse_header(const uint8_t *p, size_t n) {
  if (n < 19) return 0;
  if (std::memcmp(p, kSignature, 11) != 0)
    throw Error(Code::data, "the COPY stream does not start with the binary signature", context_);
  uint32_t flags = be32(p + 11);
  if (flags & (1u << 16)) throw Error(Code::unsupported, "binary COPY with OIDs is not supported", context_);
  uint32_t ext = be32(p + 15);
  if (n < 19 + static_cast<size_t>(ext)) return 0;
  header_done_ = true;
  return 19 + ext;
}

// Base-10000 digit groups into the column's unscaled decimal128. Out of line:
// it is long, and the common fields' loop stays small without it.
void CopyBinaryDecoder::decode_numeric(const FieldPlan &f, model::ColumnBuilder &b, const uint8_t *p, int32_t len,
                                       const uint8_t *row_key, int32_t key_len) {
  if (len < 8) fail(f, "truncated binary numeric", row_key, key_len);
  int ndigits = static_cast<int16_t>(be16(p));
  int weight = static_cast<int16_t>(be16(p + 2));
  uint16_t sign = be16(p + 4);
  if (len != 8 + 2 * ndigits || ndigits < 0) fail(f, "malformed binary numeric", row_key, key_len);
  if (sign == 0xC000)
    fail(f, "NaN cannot be stored in decimal(" + std::to_string(f.precision) + "," + std::to_string(f.scale) + ")",
         row_key, key_len);
  if (sign == 0xD000 || sign == 0xF000)
    fail(f,
         std::string(sign == 0xD000 ? "Infinity" : "-Infinity") + " cannot be stored in decimal(" +
             std::to_string(f.precision) + "," + std::to_string(f.scale) + ")",
         row_key, key_len);
  if (sign != 0 && sign != 0x4000) fail(f, "malformed binary numeric sign", row_key, key_len);
  const uint128 limit = f.precision >= 0 && f.precision <= 38 ? kPow10.v[f.precision] : kMaxU128;
  uint128 acc = 0;
  for (int i = 0; i < ndigits; ++i) {
    uint32_t d = be16(p + 8 + 2 * i);
    if (d > 9999) fail(f, "malformed binary numeric digit", row_key, key_len);
    if (d == 0) continue;
    int e = 4 * (weight - i) + f.scale;  // power of ten of this digit group in the unscaled value
    uint128 term;
    if (e >= 0) {
      if (e > 38) fail(f, exceeds_text(f), row_key, key_len);
      // 9999 * 10^e overflows 128 bits from e = 35 on: such a group can
      // only fit when it is small enough.
      if (e > 34 && d > kMaxU128 / kPow10.v[e]) fail(f, exceeds_text(f), row_key, key_len);
      term = static_cast<uint128>(d) * kPow10.v[e];
    } else {
      if (e <= -4)
        fail(f, "value has more fractional digits than the scale " + std::to_string(f.scale), row_key, key_len);
      uint32_t div = static_cast<uint32_t>(kPow10.v[-e]);
      if (d % div != 0)
        fail(f, "value has more fractional digits than the scale " + std::to_string(f.scale), row_key, key_len);
      term = d / div;
    }
    if (__builtin_add_overflow(acc, term, &acc) || acc >= limit) fail(f, exceeds_text(f), row_key, key_len);
  }
  int128 v = static_cast<int128>(acc);
  if (sign == 0x4000) v = -v;
  std::memcpy(b.append_fixed_slot(), &v, 16);
}

// Inlined into parse_tuple: it runs once per field of every row.
inline __attribute__((always_inline)) void CopyBinaryDecoder::decode_field(const FieldPlan &f, model::ColumnBuilder &b,
                                                                           const uint8_t *p, int32_t len,
                                                                           const uint8_t *row_key, int32_t key_len) {
  if (len < 0) {
    b.append_null();
    return;
  }
  auto need = [&](int32_t want) {
    if (len != want)
      fail(f, "binary value has " + std::to_string(len) + " bytes, expected " + std::to_string(want), row_key, key_len);
  };
  switch (f.kind) {
    case FieldKind::boolean:
      need(1);
      b.append_bool(p[0] != 0);
      return;
    case FieldKind::int16:
      need(2);
      b.append_fixed(static_cast<int16_t>(be16(p)));
      return;
    case FieldKind::int32:
      need(4);
      b.append_fixed(static_cast<int32_t>(be32(p)));
      return;
    case FieldKind::int64:
      need(8);
      b.append_fixed(static_cast<int64_t>(be64(p)));
      return;
    case FieldKind::float32: {
      need(4);
      uint32_t bits = be32(p);
      float v;
      std::memcpy(&v, &bits, 4);
      b.append_fixed(v);
      return;
    }
    case FieldKind::float64: {
      need(8);
      uint64_t bits = be64(p);
      double v;
      std::memcpy(&v, &bits, 8);
      b.append_fixed(v);
      return;
    }
    case FieldKind::numeric: return decode_numeric(f, b, p, len, row_key, key_len);
    case FieldKind::text:
    case FieldKind::bytea: b.append_bytes(p, static_cast<size_t>(len)); return;
    case FieldKind::jsonb:
      if (len < 1 || p[0] != 1) fail(f, "unsupported jsonb binary version", row_key, key_len);
      b.append_bytes(p + 1, static_cast<size_t>(len - 1));
      return;
    case FieldKind::date: {
      need(4);
      int32_t d = static_cast<int32_t>(be32(p));
      // infinity / -infinity keep their sentinels; finite dates (at most
      // 5874897 AD) cannot overflow the shift.
      if (d != std::numeric_limits<int32_t>::max() && d != std::numeric_limits<int32_t>::min()) d += kEpochShiftDays;
      b.append_fixed(d);
      return;
    }
    case FieldKind::time:
      need(8);
      b.append_fixed(static_cast<int64_t>(be64(p)));
      return;
    case FieldKind::timestamp: {
      need(8);
      int64_t t = static_cast<int64_t>(be64(p));
      // infinity / -infinity keep their sentinels. PostgreSQL's last
      // timestamps (after 294247-01-10 04:00:54.775806 UTC) do not fit the
      // model's int64 microseconds since 1970 (nor may they become a sentinel).
      if (t != std::numeric_limits<int64_t>::max() && t != std::numeric_limits<int64_t>::min() &&
          (__builtin_add_overflow(t, kEpochShiftMicros, &t) || t == std::numeric_limits<int64_t>::max()))
        fail(f, "timestamp after 294247-01-10 04:00:54.775806 UTC cannot be represented", row_key, key_len);
      b.append_fixed(t);
      return;
    }
    case FieldKind::interval: {
      need(16);
      int64_t micros = static_cast<int64_t>(be64(p));
      int32_t days = static_cast<int32_t>(be32(p + 8));
      int32_t months = static_cast<int32_t>(be32(p + 12));
      int64_t nanos;
      if (__builtin_mul_overflow(micros, int64_t{1000}, &nanos))
        fail(f, "interval time part does not fit in 64-bit nanoseconds", row_key, key_len);
      uint8_t *out = b.append_fixed_slot();
      std::memcpy(out, &months, 4);
      std::memcpy(out + 4, &days, 4);
      std::memcpy(out + 8, &nanos, 8);
      return;
    }
    case FieldKind::uuid:
      need(16);
      b.append_fixed_bytes(p);
      return;
    case FieldKind::tid: return;
  }
}

size_t CopyBinaryDecoder::parse_tuple(const uint8_t *p, size_t n) {
  if (n < 2) return 0;
  int16_t count = static_cast<int16_t>(be16(p));
  if (count == -1) {
    finished_ = true;
    return 2;
  }
  const size_t nf = fields_.size();
  if (static_cast<size_t>(count) != nf)
    throw Error(Code::data, "COPY row has " + std::to_string(count) + " fields, expected " + std::to_string(nf),
                context_);
  // The whole tuple must be here before anything is appended to the batch.
  FieldBytes *fields = scratch_.data();
  size_t at = 2;
  for (size_t i = 0; i < nf; ++i) {
    if (n - at < 4) return 0;
    int32_t len = static_cast<int32_t>(be32(p + at));
    at += 4;
    if (len < -1) throw Error(Code::data, "negative field length in the COPY stream", context_);
    if (len > 0 && n - at < static_cast<size_t>(len)) return 0;
    fields[i] = {p + at, len};
    if (len > 0) at += static_cast<size_t>(len);
  }
  const uint8_t *key = nullptr;
  int32_t key_len = -1;
  if (key_field_ >= 0) {
    key = fields[key_field_].data;
    key_len = fields[key_field_].len;
  }
  const FieldPlan *plans = fields_.data();
  model::ColumnBuilder *const *targets = targets_.data();
  size_t *bytes = field_bytes_.data();
  for (size_t i = 0; i < nf; ++i) {
    if (!targets[i]) continue;
    decode_field(plans[i], *targets[i], fields[i].data, fields[i].len, key, key_len);
    bytes[i] += static_cast<size_t>(std::max(fields[i].len, int32_t{0}));
  }
  builder_->end_row();
  if (key_len == 8) {  // int8 keys
    std::memcpy(key_buf_, key, 8);
    key_len_ = 8;
    key_stale_ = true;
  } else if (key_len >= 0 && key_len <= static_cast<int32_t>(sizeof key_buf_)) {
    std::memcpy(key_buf_, key, static_cast<size_t>(key_len));
    key_len_ = key_len;
    key_stale_ = true;
  } else {
    if (key_len > 0)
      last_key_.assign(reinterpret_cast<const char *>(key), static_cast<size_t>(key_len));
    else
      last_key_.clear();
    key_stale_ = false;
  }
  ++rows_;
  return at;
}

bool CopyBinaryDecoder::feed(const char *data, size_t size) {
  const uint8_t *p;
  size_t n;
  const bool buffered = !pending_.empty();
  if (buffered) {
    pending_.append(data, size);
    p = reinterpret_cast<const uint8_t *>(pending_.data());
    n = pending_.size();
  } else {
    p = reinterpret_cast<const uint8_t *>(data);
    n = size;
  }
  size_t at = 0;
  bool go = true;
  while (at < n && !finished_) {
    size_t used = header_done_ ? parse_tuple(p + at, n - at) : parse_header(p + at, n - at);
    if (used == 0) break;
    at += used;
    if (last_row_seen_ != rows_ && on_row_) {  // a tuple (not the header or trailer) was decoded
      last_row_seen_ = rows_;
      if (!on_row_()) {
        go = false;
        break;
      }
    }
  }
  if (buffered) {
    pending_.erase(0, at);
  } else if (at < n && go && !finished_) {
    pending_.assign(data + at, n - at);
  }
  return go;
}

}  // namespace ds::connectors::postgres
