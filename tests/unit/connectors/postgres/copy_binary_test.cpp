// The binary COPY codec on its own: numerics against a digit-string reference
// and against the server's own numeric_recv / numeric_send, sliced columns,
// and malformed input the server never sends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"
#include "connectors/postgres/copy_binary_decode.hpp"
#include "connectors/postgres/copy_binary_encode.hpp"
#include "model/error.hpp"
#include "pg_test_util.hpp"

namespace ds::connectors::postgres {
namespace {

using model::DataType;
using model::TypeId;
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

DataType of(TypeId id) {
  DataType t;
  t.id = id;
  return t;
}

DataType decimal(int16_t precision, int16_t scale) {
  DataType t;
  t.id = TypeId::decimal;
  t.precision = precision;
  t.scale = scale;
  return t;
}

std::string digits_of(uint128 u) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  return s;
}

// The numeric encoding written the obvious way, from the decimal digit string
// (how the encoder did it before it worked on base-10000 groups directly).
std::string reference_numeric(int128 v, int scale) {
  bool negative = v < 0;
  uint128 u = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
  std::string digits = digits_of(u);
  if (scale < 0) {
    if (u != 0) digits.append(static_cast<size_t>(-scale), '0');
    scale = 0;
  }
  while (static_cast<int>(digits.size()) < scale) digits.insert(digits.begin(), '0');
  size_t int_len = digits.size() - static_cast<size_t>(scale);
  std::string all((4 - int_len % 4) % 4, '0');
  int weight = static_cast<int>((int_len + all.size()) / 4) - 1;
  all += digits;
  all.append((4 - static_cast<size_t>(scale) % 4) % 4, '0');
  std::vector<uint16_t> groups;
  for (size_t i = 0; i < all.size(); i += 4) groups.push_back(static_cast<uint16_t>(std::stoi(all.substr(i, 4))));
  size_t first = 0, last = groups.size();
  while (first < last && groups[first] == 0) {
    ++first;
    --weight;
  }
  while (last > first && groups[last - 1] == 0) --last;
  if (first == last) {
    weight = 0;
    negative = false;
  }
  std::string out;
  auto put16 = [&](uint16_t x) {
    out.push_back(static_cast<char>(x >> 8));
    out.push_back(static_cast<char>(x));
  };
  const uint32_t len = static_cast<uint32_t>(8 + 2 * (last - first));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  put16(static_cast<uint16_t>(last - first));
  put16(static_cast<uint16_t>(static_cast<int16_t>(weight)));
  put16(negative ? 0x4000 : 0);
  put16(static_cast<uint16_t>(scale));
  for (size_t i = first; i < last; ++i) put16(groups[i]);
  return out;
}

// Values with every count of significant digits from 1 to 38, zeros inside
// and at both ends, both signs, and the largest magnitudes.
std::vector<int128> sample_values(uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int128> out = {0, 1, -1, 9999, 10000, -10000, 100000000};
  int128 max38 = 0;
  for (int i = 0; i < 38; ++i) max38 = max38 * 10 + 9;
  out.push_back(max38);
  out.push_back(-max38);
  for (int len = 1; len <= 38; ++len) {
    for (int k = 0; k < 6; ++k) {
      int128 v = 1 + static_cast<int128>(rng() % 9);
      for (int i = 1; i < len; ++i) v = v * 10 + static_cast<int128>((k % 3 == 0 && i % 5 == 0) ? 0 : rng() % 10);
      if (k == 1) v = v / 10 * 10;  // trailing zero
      out.push_back(k % 2 ? -v : v);
    }
  }
  return out;
}

std::string decimal_text(int128 v, int scale) {
  bool negative = v < 0;
  std::string d = digits_of(negative ? -static_cast<uint128>(v) : static_cast<uint128>(v));
  if (scale > 0) {
    while (static_cast<int>(d.size()) <= scale) d.insert(d.begin(), '0');
    d.insert(d.end() - scale, '.');
  }
  return (negative ? "-" : "") + d;
}

TEST(PostgresCopyEncode, NumericMatchesTheDigitStringEncoding) {
  for (int128 v : sample_values(7)) {
    for (int scale : {-9, -5, -4, -1, 0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 20, 37, 38, 41}) {
      std::string got;
      uint8_t bytes[16];
      std::memcpy(bytes, &v, 16);
      append_numeric(got, bytes, scale);
      ASSERT_EQ(got, reference_numeric(v, scale)) << decimal_text(v, 0) << " scale " << scale;
    }
  }
  for (uint64_t u : {uint64_t{0}, uint64_t{1}, uint64_t{10000}, uint64_t{18446744073709551615ULL}}) {
    std::string got;
    append_numeric_u64(got, u, false);
    EXPECT_EQ(got, reference_numeric(static_cast<int128>(u), 0));
    got.clear();
    append_numeric_u64(got, u, true);
    EXPECT_EQ(got, reference_numeric(-static_cast<int128>(u), 0));
  }
}

// Encodes `values` as decimal(38, scale) into a numeric column through COPY
// and reads the server's text back.
std::vector<std::string> through_server(Connection &conn, const std::vector<int128> &values, int scale) {
  conn.exec("DROP TABLE IF EXISTS pg_temp.nums; CREATE TEMP TABLE nums (i int4, v numeric)");
  model::ColumnBuilder ids(of(TypeId::int32), 0), nums(decimal(38, static_cast<int16_t>(scale)), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    ids.append_fixed(static_cast<int32_t>(i));
    uint8_t bytes[16];
    std::memcpy(bytes, &values[i], 16);
    nums.append_fixed_bytes(bytes);
  }
  model::Column id_col = ids.finish(), num_col = nums.finish();
  CopyBinaryEncoder enc({Wire::int4, Wire::numeric});
  std::string storage;
  CopyBuffer out(storage);
  CopyBinaryEncoder::append_header(out);
  for (size_t i = 0; i < values.size(); ++i) {
    CopyBinaryEncoder::begin_row(out, 2);
    enc.append_field(out, 0, id_col, of(TypeId::int32), static_cast<int64_t>(i));
    enc.append_field(out, 1, num_col, decimal(38, static_cast<int16_t>(scale)), static_cast<int64_t>(i));
  }
  CopyBinaryEncoder::append_trailer(out);
  conn.copy_in_begin("COPY pg_temp.nums FROM STDIN (FORMAT binary)");
  conn.put_copy_data(out.data(), out.size());
  conn.copy_in_end();
  Result r = conn.exec("SELECT v::text FROM pg_temp.nums ORDER BY i");
  std::vector<std::string> got;
  for (int i = 0; i < r.rows(); ++i) got.push_back(r.value(i, 0));
  return got;
}

TEST(PostgresCopyEncode, NumericsAreReadByTheServerAsTheirValue) {
  Connection conn(test::pg::params());
  const std::vector<int128> values = sample_values(11);
  for (int scale : {0, 1, 2, 3, 4, 5, 9, 10, 38}) {
    SCOPED_TRACE(scale);
    std::vector<std::string> got = through_server(conn, values, scale);
    ASSERT_EQ(got.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], decimal_text(values[i], scale));
  }
}

// Decodes `COPY (SELECT v) TO STDOUT (FORMAT binary)` into decimal(p, s), on
// a connection of its own (a decoding error leaves it in the middle of the COPY).
std::vector<int128> decode_numerics(const std::string &select, int precision, int scale) {
  Connection conn(test::pg::params());
  auto schema = std::make_shared<model::TableSchema>();
  model::ColumnSchema c;
  c.name = "v";
  c.type = decimal(static_cast<int16_t>(precision), static_cast<int16_t>(scale));
  schema->columns.push_back(c);
  FieldPlan f;
  f.kind = FieldKind::numeric;
  f.column = 0;
  f.precision = precision;
  f.scale = scale;
  f.name = "v";
  model::BatchBuilder builder(schema, 0);
  CopyBinaryDecoder decoder({f}, -1, "test");
  decoder.set_builder(&builder);
  conn.copy_out("COPY (" + select + ") TO STDOUT (FORMAT binary)",
                [&](const char *data, int n) { return decoder.feed(data, static_cast<size_t>(n)); });
  EXPECT_TRUE(decoder.finished());
  auto batch = builder.finish({});
  std::vector<int128> out;
  for (int64_t r = 0; r < batch->num_rows; ++r) {
    int128 v;
    std::memcpy(&v, batch->columns[0].fixed_bytes(r, 16), 16);
    out.push_back(v);
  }
  return out;
}

TEST(PostgresCopyDecode, NumericsOfEveryScaleDecodeExactly) {
  const std::vector<int128> values = sample_values(13);
  for (int scale : {0, 1, 2, 3, 4, 5, 7, 8, 10, 20, 37, 38}) {
    SCOPED_TRACE(scale);
    std::string list;
    for (int128 v : values) list += (list.empty() ? "" : "), (") + decimal_text(v, scale);
    std::vector<int128> got = decode_numerics(
        "SELECT v::numeric(38," + std::to_string(scale) + ") FROM (VALUES (" + list + ")) AS t(v)", 38, scale);
    ASSERT_EQ(got.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_TRUE(got[i] == values[i]) << decimal_text(values[i], scale);
  }
  // A column of a smaller scale than the value's digits, and values too large
  // for the precision, are data errors, never wrapped or rounded values.
  EXPECT_THROW(decode_numerics("SELECT 1.25::numeric", 10, 1), Error);
  EXPECT_THROW(decode_numerics("SELECT 100::numeric", 2, 0), Error);
  EXPECT_THROW(decode_numerics("SELECT 1e38::numeric", 38, 0), Error);
  // 3403 * 10^36 (one digit group of a 40-digit number) wraps around 128 bits
  // to about 1.8e35, which would pass the precision check unnoticed.
  EXPECT_THROW(decode_numerics("SELECT 3403e36::numeric", 38, 0), Error);
  EXPECT_THROW(decode_numerics("SELECT 3403e36::numeric + 1", 38, 0), Error);
}

// What the server sends, decoded (whole messages, or cut anywhere, as a
// tuple may arrive in pieces) and encoded again, gives the server's bytes
// back: every type the decoder reads natively, NULLs, empty and long values,
// over batches of 97 rows (so a batch's size hints the next one's buffers).
TEST(PostgresCopyDecode, DecodedRowsEncodeBackToTheSameBytes) {
  Connection conn(test::pg::params());
  std::vector<std::string> messages;
  conn.copy_out(
      "COPY (SELECT i::int8, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END, (i % 30000 - 15000)::int2,"
      " (i * 7919)::int4, CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 37 - 5000) / 100.0)::numeric(12,2) END,"
      " (i / 7.0)::float4, i / 3.0::float8, repeat(md5(i::text), i % 5), CASE WHEN i % 13 = 0 THEN NULL ELSE"
      " decode(md5(i::text), 'hex') END, date '2000-01-01' + i, time '00:00' + i * interval '1 second',"
      " timestamp '1960-01-01' + i * interval '1 hour', timestamptz '2000-01-01 00:00+00' + i * interval '1 minute',"
      " make_interval(0, i % 12, 0, i % 28, 0, 0, i / 1000.0), md5(i::text)::uuid,"
      " json_build_object('i', i, 's', repeat('x', i % 50)), jsonb_build_object('i', i, 'ok', i % 2 = 0),"
      " CASE WHEN i = 500 THEN repeat('y', 100000) ELSE '' END"
      " FROM generate_series(1, 1000) AS i) TO STDOUT (FORMAT binary)",
      [&](const char *data, int n) {
        messages.emplace_back(data, static_cast<size_t>(n));
        return true;
      });
  std::string stream;
  for (const std::string &m : messages) stream += m;

  const TypeId ids[] = {TypeId::int64,   TypeId::boolean,   TypeId::int16,        TypeId::int32,    TypeId::decimal,
                        TypeId::float32, TypeId::float64,   TypeId::string,       TypeId::binary,   TypeId::date,
                        TypeId::time,    TypeId::timestamp, TypeId::timestamp_tz, TypeId::interval, TypeId::uuid,
                        TypeId::json,    TypeId::json,      TypeId::string};
  auto schema = std::make_shared<model::TableSchema>();
  std::vector<FieldPlan> plans;
  std::vector<Wire> wires;
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i) {
    model::ColumnSchema c;
    c.name = "c" + std::to_string(i);
    c.type = ids[i] == TypeId::decimal ? decimal(12, 2) : of(ids[i]);
    if (i == 16) c.type.source_name = "jsonb";
    schema->columns.push_back(c);
    FieldPlan f;
    f.kind = field_kind_for(c.type);
    f.column = static_cast<int>(i);
    f.precision = c.type.precision;
    f.scale = c.type.scale;
    f.name = c.name;
    plans.push_back(f);
    wires.push_back(ids[i] == TypeId::json && i == 15 ? Wire::text : natural_wire(ids[i]));
  }

  auto decode_encode = [&](const std::vector<std::string> &chunks) {
    std::vector<std::shared_ptr<model::Batch>> batches;
    auto builder = std::make_unique<model::BatchBuilder>(schema, 97);
    CopyBinaryDecoder decoder(plans, 0, "test");
    decoder.set_builder(builder.get());
    decoder.set_on_row([&] {
      if (builder->num_rows() < 97) return true;
      batches.push_back(builder->finish({}));
      builder = std::make_unique<model::BatchBuilder>(schema, 97);
      decoder.set_builder(builder.get());
      return true;
    });
    for (const std::string &c : chunks) EXPECT_TRUE(decoder.feed(c.data(), c.size()));
    EXPECT_TRUE(decoder.finished());
    EXPECT_EQ(decoder.key_text(decoder.last_key()), "1000");
    batches.push_back(builder->finish({}));
    CopyBinaryEncoder enc(wires);
    std::string storage;
    CopyBuffer out(storage);
    CopyBinaryEncoder::append_header(out);
    int64_t rows = 0;
    for (const auto &b : batches) {
      const std::vector<EncodeColumn> bound = enc.bind(*b, schema->columns);
      size_t field = 0;
      for (int64_t r = 0; r < b->num_rows; ++r) {
        CopyBinaryEncoder::begin_row(out, static_cast<int16_t>(wires.size()));
        enc.append_row(out, bound, r, field);
      }
      rows += b->num_rows;
    }
    CopyBinaryEncoder::append_trailer(out);
    EXPECT_EQ(rows, 1000);
    return std::string(out.data(), out.size());
  };

  EXPECT_TRUE(decode_encode(messages) == stream);
  std::mt19937 rng(5);
  std::vector<std::string> pieces;
  for (size_t at = 0; at < stream.size();) {
    size_t n = std::min<size_t>(stream.size() - at, 1 + rng() % (at < 3000 ? 7 : 5000));
    pieces.push_back(stream.substr(at, n));
    at += n;
  }
  EXPECT_TRUE(decode_encode(pieces) == stream);
}

// An Arrow slice (offset != 0) encodes from its own first row.
TEST(PostgresCopyEncode, SlicedColumnsEncodeFromTheirOffset) {
  struct Case {
    DataType type;
    Wire wire;
  };
  const DataType text = of(TypeId::string), boolean = of(TypeId::boolean), int32 = of(TypeId::int32),
                 uuid = of(TypeId::uuid);
  for (const Case &k : {Case{text, Wire::text}, Case{boolean, Wire::boolean}, Case{int32, Wire::int4},
                        Case{decimal(10, 2), Wire::numeric}, Case{uuid, Wire::uuid}}) {
    SCOPED_TRACE(wire_type_name(k.wire));
    model::ColumnBuilder b(k.type, 0);
    for (int i = 0; i < 21; ++i) {
      if (i % 4 == 3) {
        b.append_null();
        continue;
      }
      switch (k.type.id) {
        case TypeId::string: {
          const std::string v = std::to_string(i * 7);
          b.append_bytes(v.data(), v.size());
          break;
        }
        case TypeId::boolean: b.append_bool(i % 3 == 0); break;
        case TypeId::int32: b.append_fixed(static_cast<int32_t>(i * 1000 - 7)); break;
        default: {
          uint8_t bytes[16] = {};
          int128 v = i * 12345 - 99;
          std::memcpy(bytes, &v, 16);
          if (k.type.id == TypeId::uuid) bytes[15] = static_cast<uint8_t>(i);
          b.append_fixed_bytes(bytes);
        }
      }
    }
    const model::Column whole = b.finish();
    CopyBinaryEncoder enc({k.wire});
    for (int64_t skip : {1, 5, 8, 13}) {
      model::Column slice = whole;
      slice.offset = skip;
      slice.length = whole.length - skip;
      for (int64_t r = 0; r < slice.length; ++r) {
        std::string a_storage, b_storage;
        CopyBuffer a(a_storage), c(b_storage);
        enc.append_field(a, 0, slice, k.type, r);
        enc.append_field(c, 0, whole, k.type, r + skip);
        ASSERT_EQ(std::string(a.data(), a.size()), std::string(c.data(), c.size())) << "skip " << skip << " row " << r;
      }
    }
  }
}

TEST(PostgresCopyEncode, BufferGrowsAcrossLargeValuesAndKeepsItsStorage) {
  std::string storage;
  {
    CopyBuffer out(storage);
    const std::string big(3 << 20, 'x');
    for (int i = 0; i < 3; ++i) {
      out.reserve(4 + big.size());
      out.put32(static_cast<uint32_t>(big.size()));
      out.put_bytes(big.data(), big.size());
    }
    ASSERT_EQ(out.size(), 3 * (4 + big.size()));
    EXPECT_EQ(std::memcmp(out.data(), "\0\x30\0\0xxx", 7), 0);
  }
  const size_t kept = storage.size();
  CopyBuffer again(storage);
  EXPECT_TRUE(again.empty());
  again.reserve(kept);
  EXPECT_EQ(storage.size(), kept);  // reused, not grown
}

}  // namespace
}  // namespace ds::connectors::postgres
