#include "connectors/generator/generator_source.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>

#include "model/batch.hpp"
#include "model/error.hpp"

namespace ds::connectors::generator {
namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t checked_int(const model::Options &options, const char *key, int64_t fallback, int64_t min, int64_t max) {
  int64_t v = fallback;
  if (options.has(key)) {
    const std::string text = options.get_string(key);
    char *end = nullptr;
    errno = 0;
    long long parsed = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE)
      throw Error(Code::config, std::string("generator source: '") + key + "' must be an integer, got '" + text + "'");
    v = parsed;
  }
  if (v < min || v > max)
    throw Error(Code::config, std::string("generator source: '") + key + "' must be between " + std::to_string(min) +
                                  " and " + std::to_string(max) + ", got " + std::to_string(v));
  return v;
}

int table_number(const model::TableSchema &schema) {
  const std::string &name = schema.id.table_name;
  if (name.rfind("gen_", 0) == 0 && name.size() > 4) {
    int n = 0;
    for (size_t i = 4; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9' || n > 1000) return 0;
      n = n * 10 + (name[i] - '0');
    }
    return n;
  }
  return 0;
}

bool parse_int64(const char *p, int64_t &out) {
  if (*p == '\0') return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(p, &end, 10);
  if (*end != '\0' || errno == ERANGE) return false;
  out = v;
  return true;
}

}  // namespace

GeneratorConfig GeneratorConfig::from_options(const model::Options &options) {
  GeneratorConfig c;
  c.rows = checked_int(options, "rows", c.rows, 0, kMaxRows);
  c.tables = static_cast<int>(checked_int(options, "table_count", c.tables, 1, 100));
  c.seed = static_cast<uint64_t>(checked_int(options, "seed", static_cast<int64_t>(c.seed), INT64_MIN, INT64_MAX));
  c.null_fraction = static_cast<int>(checked_int(options, "null_fraction", c.null_fraction, 0, 100));
  return c;
}

StringPool::StringPool(uint64_t seed, uint32_t count, uint32_t min_len, uint32_t max_len) {
  if (max_len > kMaxCopy || min_len > max_len) throw Error(Code::internal, "generator: bad string pool lengths");
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-";  // 64 chars
  offsets_.reserve(count + 1);
  offsets_.push_back(0);
  uint64_t state = mix64(seed ^ 0x5851F42D4C957F2Dull);
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t h = mix64(state += kGamma);
    uint32_t len = min_len + static_cast<uint32_t>(h % (max_len - min_len + 1));
    for (uint32_t j = 0; j < len; ++j) {
      if (j % 10 == 0) h = mix64(state += kGamma);
      char ch = kAlphabet[h & 63];
      h >>= 6;
      // No leading or trailing space, so values survive trimming tools unchanged.
      if (ch == ' ' && (j == 0 || j + 1 == len)) ch = 'x';
      chars_.push_back(ch);
    }
    offsets_.push_back(static_cast<uint32_t>(chars_.size()));
  }
  // Readers copy kMaxCopy bytes from any string's start: pad the end.
  chars_.append(kMaxCopy, '\0');
}

GeneratorData::GeneratorData(const GeneratorConfig &c)
    : config(c),
      names(c.seed, kNamePoolSize, 8, StringPool::kMaxNameLength),
      notes(c.seed ^ 0xA0761D6478BD642Full, kNotePoolSize, 12, StringPool::kMaxNoteLength) {
  schemas.reserve(static_cast<size_t>(c.tables));
  for (int n = 1; n <= c.tables; ++n) schemas.push_back(make_schema(n));
}

uint64_t GeneratorData::table_key(int table) const {
  return mix64(config.seed ^ mix64(static_cast<uint64_t>(table) * kGamma + 0xE7037ED1A0B428DBull));
}

// Bit budget: h1 feeds qty (10 bits), active (1), name (12), price (the rest);
// h2 feeds score (top 32 bits) and created_at jitter (low 20); h3 feeds the
// note's null decision (low 32 bits) and its index (high bits).
RowValues row_values(uint64_t key, int64_t id, int null_fraction) {
  uint64_t s = key + static_cast<uint64_t>(id) * kGamma;
  uint64_t h1 = mix64(s);
  uint64_t h2 = mix64(s ^ 0xD6E8FEB86659FD93ull);
  uint64_t h3 = mix64(s + 0x8BB84B93962EACC9ull);
  RowValues r;
  r.id = id;
  r.qty = static_cast<int32_t>(h1 & 1023) + 1;
  r.active = (h1 >> 10) & 1;
  r.name_index = static_cast<uint32_t>(h1 >> 11) & (GeneratorData::kNamePoolSize - 1);
  r.price_cents = static_cast<int64_t>((h1 >> 23) % 10000000);  // 0.00 .. 99999.99
  r.score = static_cast<double>(h2 >> 32) * (1000.0 / 4294967296.0);
  r.created_at = GeneratorData::kEpochMicros + id * 1000000 + static_cast<int64_t>(h2 & 0xFFFFF);
  r.note_null = static_cast<int>(((h3 & 0xFFFFFFFFull) * 100) >> 32) < null_fraction;
  r.note_index = static_cast<uint32_t>(h3 >> 40) & (GeneratorData::kNotePoolSize - 1);
  return r;
}

model::TableSchemaPtr make_schema(int n) {
  using model::ColumnSchema;
  using model::DataType;
  using model::TypeId;
  auto t = std::make_shared<model::TableSchema>();
  t->id.schema_name = "main";
  t->id.table_name = "gen_" + std::to_string(n);
  auto col = [&](const char *name, TypeId id, const char *spelling, bool nullable, int16_t p = 0, int16_t s = 0) {
    ColumnSchema c;
    c.name = name;
    c.type.id = id;
    c.type.precision = p;
    c.type.scale = s;
    c.type.source_name = spelling;
    c.nullable = nullable;
    t->columns.push_back(std::move(c));
  };
  col("id", TypeId::int64, "int64", false);
  col("qty", TypeId::int32, "int32", false);
  col("price", TypeId::decimal, "decimal(12,2)", false, 12, 2);
  col("score", TypeId::float64, "float64", false);
  col("name", TypeId::string, "string", false);
  col("active", TypeId::boolean, "bool", false);
  col("created_at", TypeId::timestamp, "timestamp", false);
  col("note", TypeId::string, "string", true);
  t->primary_key = {0};
  return t;
}

std::string format_range(int64_t first, int64_t last) { return std::to_string(first) + ".." + std::to_string(last); }

void parse_range(const std::string &range, int64_t &first, int64_t &last) {
  size_t dots = range.find("..");
  if (dots != std::string::npos && parse_int64(range.substr(0, dots).c_str(), first) &&
      parse_int64(range.substr(dots + 2).c_str(), last))
    return;
  throw Error(Code::state, "generator source: malformed split range '" + range + "' (expected 'first..last')");
}

int64_t parse_resume(const std::string &resume_after) {
  if (resume_after.empty()) return INT64_MIN;
  int64_t n = 0;
  if (resume_after.rfind("id=", 0) == 0 && parse_int64(resume_after.c_str() + 3, n)) return n;
  throw Error(Code::state, "generator source: malformed resume position '" + resume_after + "' (expected 'id=<n>')");
}

// ---- reader

namespace {

// One malloc'ed block per batch, carved into 64-byte aligned regions; every
// column buffer of the batch shares it as owner. One allocation instead of a
// dozen, and one block of steady size that malloc recycles from batch to batch
// instead of returning memory to the kernel and faulting it back in.
class BatchBlock {
 public:
  static constexpr size_t kAlign = 64;
  // Reserves `bytes` in the next region; returns its index.
  size_t region(size_t bytes) {
    regions_.push_back(total_);
    total_ += (bytes + kAlign - 1) / kAlign * kAlign;
    return regions_.size() - 1;
  }
  void allocate() {
    raw_ = static_cast<uint8_t *>(std::malloc(total_ + kAlign));
    if (!raw_) throw std::bad_alloc();
    owner_ = std::shared_ptr<void>(raw_, [](void *p) { std::free(p); });
    uintptr_t addr = reinterpret_cast<uintptr_t>(raw_);
    base_ = raw_ + ((kAlign - addr % kAlign) % kAlign);
  }
  uint8_t *at(size_t region) const { return base_ + regions_[region]; }
  model::BufferPtr buffer(size_t region, size_t size) const {
    return std::make_shared<const model::Buffer>(at(region), size, owner_);
  }

 private:
  std::vector<size_t> regions_;
  size_t total_ = 0;
  uint8_t *raw_ = nullptr;
  uint8_t *base_ = nullptr;
  std::shared_ptr<void> owner_;
};

model::Column make_column(int64_t n, model::BufferPtr values, model::BufferPtr offsets = nullptr,
                          model::BufferPtr validity = nullptr, int64_t null_count = 0) {
  model::Column c;
  c.length = n;
  c.null_count = null_count;
  c.values = std::move(values);
  c.offsets = std::move(offsets);
  c.validity = std::move(validity);
  return c;
}

}  // namespace

// Writes the Arrow buffers directly, in one pass over the rows: fixed-width
// values through typed pointers, strings as fixed-size copies from the padded
// pools (the destination has as much slack), bits packed a byte at a time.
// The result is what ColumnBuilder would build (tests check it), minus the
// per-value bookkeeping.
std::shared_ptr<model::Batch> GeneratorReader::generate(const model::TableSchemaPtr &schema, int64_t first,
                                                        int64_t last) const {
  const GeneratorData &d = *data_;
  const int table = table_number(*schema);
  if (table < 1 || table > d.config.tables || schema->columns.size() != 8)
    throw Error(Code::state, "generator source: no table '" + schema->id.to_string() + "'");
  const int64_t n = last >= first ? last - first + 1 : 0;
  if (n > kMaxBatchRows)
    throw Error(Code::invalid_argument,
                "generator source: a batch holds at most " + std::to_string(kMaxBatchRows) + " rows");
  const size_t un = static_cast<size_t>(n);
  const size_t bitmap_bytes = (un + 7) / 8;
  constexpr size_t kNameCopy = StringPool::kMaxNameLength;
  constexpr size_t kNoteCopy = StringPool::kMaxNoteLength;

  BatchBlock block;
  const size_t r_id = block.region(un * 8), r_qty = block.region(un * 4), r_price = block.region(un * 16),
               r_score = block.region(un * 8), r_created = block.region(un * 8),
               r_name_off = block.region((un + 1) * 4), r_name = block.region(un * kNameCopy + kNameCopy),
               r_note_off = block.region((un + 1) * 4), r_note = block.region(un * kNoteCopy + kNoteCopy),
               r_active = block.region(bitmap_bytes), r_valid = block.region(bitmap_bytes);
  block.allocate();

  int64_t *p_id = reinterpret_cast<int64_t *>(block.at(r_id));
  int32_t *p_qty = reinterpret_cast<int32_t *>(block.at(r_qty));
  int64_t *p_price = reinterpret_cast<int64_t *>(block.at(r_price));
  double *p_score = reinterpret_cast<double *>(block.at(r_score));
  int64_t *p_created = reinterpret_cast<int64_t *>(block.at(r_created));
  int32_t *p_name_off = reinterpret_cast<int32_t *>(block.at(r_name_off));
  int32_t *p_note_off = reinterpret_cast<int32_t *>(block.at(r_note_off));
  uint8_t *p_name = block.at(r_name), *p_note = block.at(r_note);
  uint8_t *p_active = block.at(r_active), *p_valid = block.at(r_valid);

  const uint64_t key = d.table_key(table);
  const int nf = d.config.null_fraction;
  const StringPool &names = d.names;
  const StringPool &notes = d.notes;
  int32_t name_end = 0, note_end = 0;
  int64_t nulls = 0;
  uint8_t active_byte = 0, valid_byte = 0;
  p_name_off[0] = 0;
  p_note_off[0] = 0;
  for (size_t i = 0; i < un; ++i) {
    const RowValues r = row_values(key, first + static_cast<int64_t>(i), nf);
    p_id[i] = r.id;
    p_qty[i] = r.qty;
    p_price[2 * i] = r.price_cents;  // decimal128, little endian, non-negative
    p_price[2 * i + 1] = 0;
    p_score[i] = r.score;
    p_created[i] = r.created_at;
    const uint32_t name_len = names.length(r.name_index);
    std::memcpy(p_name + name_end, names.data(r.name_index), kNameCopy);
    name_end += static_cast<int32_t>(name_len);
    p_name_off[i + 1] = name_end;
    const unsigned bit = static_cast<unsigned>(i & 7);
    active_byte = static_cast<uint8_t>(active_byte | (static_cast<unsigned>(r.active) << bit));
    if (r.note_null) {
      ++nulls;
    } else {
      std::memcpy(p_note + note_end, notes.data(r.note_index), kNoteCopy);
      note_end += static_cast<int32_t>(notes.length(r.note_index));
      valid_byte = static_cast<uint8_t>(valid_byte | (1u << bit));
    }
    p_note_off[i + 1] = note_end;
    if (bit == 7) {
      p_active[i >> 3] = active_byte;
      p_valid[i >> 3] = valid_byte;
      active_byte = valid_byte = 0;
    }
  }
  if (un & 7) {
    p_active[un >> 3] = active_byte;
    p_valid[un >> 3] = valid_byte;
  }

  auto b = std::make_shared<model::Batch>();
  b->schema = schema;
  b->num_rows = n;
  b->columns.reserve(8);
  b->columns.push_back(make_column(n, block.buffer(r_id, un * 8)));
  b->columns.push_back(make_column(n, block.buffer(r_qty, un * 4)));
  b->columns.push_back(make_column(n, block.buffer(r_price, un * 16)));
  b->columns.push_back(make_column(n, block.buffer(r_score, un * 8)));
  b->columns.push_back(
      make_column(n, block.buffer(r_name, static_cast<size_t>(name_end)), block.buffer(r_name_off, (un + 1) * 4)));
  b->columns.push_back(make_column(n, block.buffer(r_active, bitmap_bytes)));
  b->columns.push_back(make_column(n, block.buffer(r_created, un * 8)));
  model::BufferPtr validity = nulls ? block.buffer(r_valid, bitmap_bytes) : nullptr;  // none when nothing is null
  b->columns.push_back(make_column(n, block.buffer(r_note, static_cast<size_t>(note_end)),
                                   block.buffer(r_note_off, (un + 1) * 4), std::move(validity), nulls));
  return b;
}

void GeneratorReader::read(const model::Split &split, const std::string &resume_after, int64_t batch_rows,
                           const model::BatchEmitter &emit, const model::CancelToken &cancel) {
  if (!split.filter.empty())
    throw Error(Code::unsupported,
                "the generator source cannot filter rows (transform filter '" + split.filter +
                    "'); filters are for SQL sources",
                "source=generator split=" + split.stream);
  int64_t first = 0, last = -1;
  parse_range(split.range, first, last);
  const int64_t resumed = parse_resume(resume_after);
  int64_t next = resumed == INT64_MIN ? first : std::max(first, resumed + 1);
  batch_rows = std::min<int64_t>(std::max<int64_t>(batch_rows, 1), kMaxBatchRows);
  if (next > last) {
    // Empty split, or resumed past its end: one empty batch records completion.
    if (cancel.cancelled()) return;
    auto batch = generate(split.schema, 1, 0);
    batch->position.stream = split.stream;
    batch->position.value = resume_after.empty() ? "id=" + std::to_string(first - 1) : resume_after;
    batch->position.stream_done = true;
    emit(std::move(batch));
    return;
  }
  while (next <= last) {
    if (cancel.cancelled()) return;
    const int64_t end = (last - next + 1 > batch_rows) ? next + batch_rows - 1 : last;
    auto batch = generate(split.schema, next, end);
    batch->position.stream = split.stream;
    batch->position.value = "id=" + std::to_string(end);
    batch->position.stream_done = end == last;
    if (!emit(std::move(batch))) return;
    next = end + 1;
  }
}

// ---- source

GeneratorSource::GeneratorSource(const GeneratorConfig &config)
    : data_(std::make_shared<const GeneratorData>(config)) {}

std::vector<model::TableSchemaPtr> GeneratorSource::discover(const model::TableSelector &selector) {
  std::vector<model::TableSchemaPtr> out;
  for (const auto &s : data_->schemas)
    if (selector.matches(s->id)) out.push_back(s);
  if (out.empty()) {
    auto join = [](const std::vector<std::string> &v) {
      std::string s;
      for (const auto &x : v) s += (s.empty() ? "" : ", ") + x;
      return s.empty() ? std::string("(any)") : s;
    };
    std::string msg = "generator source: no table matches include [" + join(selector.include) + "]";
    if (!selector.exclude.empty()) msg += " exclude [" + join(selector.exclude) + "]";
    msg += "; tables are main.gen_1 .. main.gen_" + std::to_string(data_->config.tables);
    throw Error(Code::not_found, msg);
  }
  return out;
}

std::vector<model::Split> GeneratorSource::plan_splits(const model::TableSchemaPtr &table, int parallelism,
                                                       int64_t /*split_rows: splits follow parallelism*/) {
  const int64_t rows = data_->config.rows;
  const int64_t wanted = static_cast<int64_t>(std::max(parallelism, 1)) * kSplitsPerReader;
  const int64_t by_size = std::max<int64_t>(1, rows / kMinSplitRows);
  const int64_t count = std::min(wanted, by_size);
  std::vector<model::Split> out;
  out.reserve(static_cast<size_t>(count));
  const std::string base = table->id.to_string() + "#";
  for (int64_t k = 0; k < count; ++k) {
    // Even split; the first rows % count splits take one extra row.
    const int64_t first = 1 + k * (rows / count) + std::min(k, rows % count);
    const int64_t size = rows / count + (k < rows % count ? 1 : 0);
    model::Split s;
    s.schema = table;
    s.stream = base + std::to_string(k + 1);
    s.range = format_range(first, first + size - 1);
    s.estimated_rows = size;
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<model::SplitReader> GeneratorSource::open_reader() { return std::make_unique<GeneratorReader>(data_); }

std::string GeneratorSource::describe() const {
  const GeneratorConfig &c = data_->config;
  return "generator rows=" + std::to_string(c.rows) + " table_count=" + std::to_string(c.tables) +
         " seed=" + std::to_string(static_cast<int64_t>(c.seed)) + " null_fraction=" + std::to_string(c.null_fraction);
}

}  // namespace ds::connectors::generator
