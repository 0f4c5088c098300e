// Decodes PostgreSQL's binary COPY stream ("PGCOPY\n\377\r\n\0", flags,
// header extension, tuples, trailer -1) straight into a BatchBuilder. Bytes
// arrive in arbitrary chunks (CopyData messages); a tuple split across chunks
// is buffered until complete, so memory stays one tuple plus one batch.
//
// Dates and timestamps are shifted from PostgreSQL's 2000-01-01 epoch to the
// model's 1970-01-01 one, except PostgreSQL's infinity sentinels, which are
// kept as the same values in the model: 'infinity' / '-infinity' timestamps
// and timestamptz are INT64_MAX / INT64_MIN microseconds, dates INT32_MAX /
// INT32_MIN days (the sink's encoder passes them back unchanged). Finite
// timestamps after 294247-01-10 04:00:54.775806 UTC (PostgreSQL goes up to
// 294276 AD) do not fit int64 microseconds since 1970: Code::data error.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/batch.hpp"

namespace ds::connectors::postgres {

// How one field of the COPY row is decoded.
enum class FieldKind : uint8_t {
  boolean,
  int16,
  int32,
  int64,
  float32,
  float64,
  numeric,  // into decimal(p,s)
  text,     // text, varchar, bpchar, name, json, `col::text` of unknown types: raw bytes
  bytea,
  date,
  time,
  timestamp,  // timestamp and timestamptz
  interval,
  uuid,
  jsonb,  // version byte 1 + text
  tid,    // an extra ctid field: not stored, captured as the row key
};

struct FieldPlan {
  FieldKind kind = FieldKind::text;
  int column = -1;  // builder column; -1 for extra fields that are not stored
  int precision = 0;
  int scale = 0;
  std::string name;  // for errors
};

// Picks the field kind for a column of the engine's type ("jsonb" told apart by source_name).
FieldKind field_kind_for(const model::DataType &type);

class CopyBinaryDecoder {
 public:
  // `key_field` is the index of the field whose raw bytes identify the row
  // (the integer key or the extra ctid), or -1. `context` prefixes errors.
  CopyBinaryDecoder(std::vector<FieldPlan> fields, int key_field, std::string context);

  void set_builder(model::BatchBuilder *builder);
  // Called after each complete row; returns false to stop decoding.
  void set_on_row(std::function<bool()> on_row) { on_row_ = std::move(on_row); }

  // Consumes a chunk; returns false when on_row asked to stop. Throws
  // ds::Error(data) on a malformed stream or an unrepresentable value.
  bool feed(const char *data, size_t size);
  bool finished() const { return finished_; }  // the trailer was seen
  // Raw bytes of the key field of the last complete row ("" before the first).
  const std::string &last_key() const {
    if (key_stale_) {
      last_key_.assign(key_buf_, static_cast<size_t>(key_len_));
      key_stale_ = false;
    }
    return last_key_;
  }
  // Text of a key field's bytes: integer value, or "(block,item)" for a ctid.
  std::string key_text(const std::string &raw) const;
  int64_t rows() const { return rows_; }

 private:
  // Decodes one tuple at p (n bytes available). Returns bytes used, 0 when incomplete.
  size_t parse_tuple(const uint8_t *p, size_t n);
  size_t parse_header(const uint8_t *p, size_t n);
  void decode_field(const FieldPlan &f, model::ColumnBuilder &b, const uint8_t *p, int32_t len, const uint8_t *row_key,
                    int32_t key_len);
  void decode_numeric(const FieldPlan &f, model::ColumnBuilder &b, const uint8_t *p, int32_t len,
                      const uint8_t *row_key, int32_t key_len);
  [[noreturn]] void fail(const FieldPlan &f, const std::string &what, const uint8_t *row_key, int32_t key_len) const;

  std::vector<FieldPlan> fields_;
  int key_field_;
  std::string context_;
  model::BatchBuilder *builder_ = nullptr;
  std::function<bool()> on_row_;
  std::string pending_;
  bool header_done_ = false;
  bool finished_ = false;
  // The key of every row is kept in key_buf_ and made a string only when
  // asked for (at the end of a batch): a string assignment per row costs more.
  char key_buf_[16] = {};
  int32_t key_len_ = 0;
  mutable bool key_stale_ = false;
  mutable std::string last_key_;
  int64_t rows_ = 0;
  int64_t last_row_seen_ = 0;
  struct FieldBytes {
    const uint8_t *data;
    int32_t len;  // -1: NULL
  };
  std::vector<FieldBytes> scratch_;  // the fields of the tuple being decoded
  // The builder column of each field (null for fields that are not stored),
  // resolved once per batch.
  std::vector<model::ColumnBuilder *> targets_;
  // Bytes of each field in the current batch: the next batch's variable-width
  // columns reserve that much at once instead of growing by doubling.
  std::vector<size_t> field_bytes_;
};

}  // namespace ds::connectors::postgres
