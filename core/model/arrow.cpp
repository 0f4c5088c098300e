#include "model/arrow.hpp"

#include <cstdlib>
#include <cstring>
#include <map>

#include "model/error.hpp"

namespace ds::model {
namespace {

// ------------------------------------------------------------------ export

struct SchemaPrivate {
  std::string format, name, metadata;
  std::vector<ArrowSchema *> children;
};

std::string encode_metadata(const std::vector<std::pair<std::string, std::string>> &kv) {
  if (kv.empty()) return {};
  std::string out;
  auto put32 = [&](int32_t v) { out.append(reinterpret_cast<const char *>(&v), 4); };
  put32(static_cast<int32_t>(kv.size()));
  for (const auto &p : kv) {
    put32(static_cast<int32_t>(p.first.size()));
    out += p.first;
    put32(static_cast<int32_t>(p.second.size()));
    out += p.second;
  }
  return out;
}

void release_schema(ArrowSchema *s) {
  if (!s || !s->release) return;
  auto *priv = static_cast<SchemaPrivate *>(s->private_data);
  for (ArrowSchema *child : priv->children) {
    if (child->release) child->release(child);
    delete child;
  }
  delete priv;
  s->release = nullptr;
}

void fill_schema(ArrowSchema *s, std::string format, std::string name, std::string metadata, int64_t flags,
                 std::vector<ArrowSchema *> children) {
  auto *priv = new SchemaPrivate{std::move(format), std::move(name), std::move(metadata), std::move(children)};
  s->format = priv->format.c_str();
  s->name = priv->name.c_str();
  s->metadata = priv->metadata.empty() ? nullptr : priv->metadata.data();
  s->flags = flags;
  s->n_children = static_cast<int64_t>(priv->children.size());
  s->children = priv->children.empty() ? nullptr : priv->children.data();
  s->dictionary = nullptr;
  s->release = release_schema;
  s->private_data = priv;
}

ArrowSchema *column_schema(const ColumnSchema &c) {
  std::vector<std::pair<std::string, std::string>> meta;
  if (c.type.id == TypeId::json) {
    meta.emplace_back("ARROW:extension:name", "arrow.json");
    meta.emplace_back("ARROW:extension:metadata", "");
  } else if (c.type.id == TypeId::uuid) {
    meta.emplace_back("ARROW:extension:name", "arrow.uuid");
    meta.emplace_back("ARROW:extension:metadata", "");
  }
  if (c.type.id == TypeId::json || c.type.id == TypeId::uuid || c.type.id == TypeId::unknown)
    meta.emplace_back("datasync.type", type_name(c.type.id));
  if (!c.type.source_name.empty()) meta.emplace_back("datasync.source_type", c.type.source_name);
  auto *s = new ArrowSchema();
  fill_schema(s, arrow_format(c.type), c.name, encode_metadata(meta), c.nullable ? ARROW_FLAG_NULLABLE : 0, {});
  return s;
}

struct ArrayPrivate {
  std::shared_ptr<const Batch> keep_alive;
  std::vector<const void *> buffers;
  std::vector<ArrowArray *> children;
};

void release_array(ArrowArray *a) {
  if (!a || !a->release) return;
  auto *priv = static_cast<ArrayPrivate *>(a->private_data);
  for (ArrowArray *child : priv->children) {
    if (child->release) child->release(child);
    delete child;
  }
  delete priv;
  a->release = nullptr;
}

void fill_array(ArrowArray *a, int64_t length, int64_t null_count, int64_t offset, std::vector<const void *> buffers,
                std::vector<ArrowArray *> children, std::shared_ptr<const Batch> keep_alive) {
  auto *priv = new ArrayPrivate{std::move(keep_alive), std::move(buffers), std::move(children)};
  a->length = length;
  a->null_count = null_count;
  a->offset = offset;
  a->n_buffers = static_cast<int64_t>(priv->buffers.size());
  a->buffers = priv->buffers.data();
  a->n_children = static_cast<int64_t>(priv->children.size());
  a->children = priv->children.empty() ? nullptr : priv->children.data();
  a->dictionary = nullptr;
  a->release = release_array;
  a->private_data = priv;
}

ArrowArray *column_array(const Column &c, TypeId type, const BatchPtr &batch) {
  std::vector<const void *> buffers;
  buffers.push_back(c.validity ? c.validity->data() : nullptr);
  if (is_variable(type)) buffers.push_back(c.offsets->data());
  buffers.push_back(c.values->data());
  auto *a = new ArrowArray();
  fill_array(a, c.length, c.null_count, c.offset, std::move(buffers), {}, batch);
  return a;
}

// ------------------------------------------------------------------ import

std::map<std::string, std::string> decode_metadata(const char *m) {
  std::map<std::string, std::string> out;
  if (!m) return out;
  auto get32 = [&m]() {
    int32_t v;
    std::memcpy(&v, m, 4);
    m += 4;
    return v;
  };
  int32_t n = get32();
  for (int32_t i = 0; i < n; ++i) {
    int32_t kl = get32();
    std::string k(m, static_cast<size_t>(kl));
    m += kl;
    int32_t vl = get32();
    std::string v(m, static_cast<size_t>(vl));
    m += vl;
    out[k] = v;
  }
  return out;
}

// Owns an imported ArrowArray (and its schema) until the last buffer that
// points into it is gone.
struct ImportedArray {
  ArrowArray array{};
  ~ImportedArray() {
    if (array.release) array.release(&array);
  }
};

int64_t count_nulls(const uint8_t *validity, int64_t offset, int64_t length) {
  int64_t nulls = 0;
  for (int64_t i = 0; i < length; ++i) {
    int64_t j = offset + i;
    if (!((validity[j >> 3] >> (j & 7)) & 1)) ++nulls;
  }
  return nulls;
}

}  // namespace

void export_batch(const BatchPtr &batch, ArrowSchema *out_schema, ArrowArray *out_array) {
  const TableSchema &schema = *batch->schema;
  std::vector<ArrowSchema *> fields;
  std::vector<ArrowArray *> arrays;
  try {
    for (size_t i = 0; i < schema.columns.size(); ++i) {
      fields.push_back(column_schema(schema.columns[i]));
      arrays.push_back(column_array(batch->columns[i], schema.columns[i].type.id, batch));
    }
    if (batch->ops) {
      ColumnSchema op;
      op.name = kOpColumn;
      op.type.id = TypeId::int8;
      op.nullable = false;
      fields.push_back(column_schema(op));
      Column c;
      c.length = batch->num_rows;
      c.values = batch->ops;
      arrays.push_back(column_array(c, TypeId::int8, batch));
    }
    std::vector<std::pair<std::string, std::string>> meta{{"datasync.table", schema.id.to_string()}};
    fill_schema(out_schema, "+s", "", encode_metadata(meta), 0, std::move(fields));
    fill_array(out_array, batch->num_rows, 0, 0, {nullptr}, std::move(arrays), batch);
  } catch (...) {
    for (ArrowSchema *f : fields) {
      release_schema(f);
      delete f;
    }
    for (ArrowArray *a : arrays) {
      release_array(a);
      delete a;
    }
    throw;
  }
}

std::shared_ptr<Batch> import_batch(ArrowSchema *schema, ArrowArray *array, const TableSchema *like) {
  // Take both over at once so every exit path releases them.
  auto holder = std::make_shared<ImportedArray>();
  holder->array = *array;
  array->release = nullptr;
  struct SchemaGuard {
    ArrowSchema s;
    ~SchemaGuard() {
      if (s.release) s.release(&s);
    }
  } schema_guard{*schema};
  schema->release = nullptr;

  const ArrowSchema &s = schema_guard.s;
  const ArrowArray &a = holder->array;
  if (!s.format || std::strcmp(s.format, "+s") != 0)
    throw Error(Code::unsupported, std::string("an imported batch must be an Arrow struct array (+s), got '") +
                                       (s.format ? s.format : "(null)") + "'");
  if (s.n_children != a.n_children)
    throw Error(Code::invalid_argument, "Arrow schema and array disagree on the number of columns");

  auto table = std::make_shared<TableSchema>();
  if (like) table->id = like->id;
  auto batch = std::make_shared<Batch>();
  batch->num_rows = a.length;
  std::shared_ptr<void> owner = holder;

  for (int64_t i = 0; i < s.n_children; ++i) {
    const ArrowSchema &fs = *s.children[i];
    const ArrowArray &fa = *a.children[i];
    std::string name = fs.name ? fs.name : "";
    int64_t offset = fa.offset + a.offset;
    int64_t length = a.length;
    if (fa.length < a.offset + a.length)
      throw Error(Code::invalid_argument, "Arrow column '" + name + "' is shorter than its batch");

    if (name == kOpColumn && std::strcmp(fs.format, "c") == 0) {
      if (fa.null_count != 0 && fa.buffers[0]) throw Error(Code::data, "the __op column must not hold nulls");
      const uint8_t *ops = static_cast<const uint8_t *>(fa.buffers[1]) + offset;
      batch->ops = std::make_shared<const Buffer>(ops, static_cast<size_t>(length), owner);
      continue;
    }

    ColumnSchema col;
    col.name = name;
    try {
      col.type = from_arrow_format(fs.format);
    } catch (const Error &e) {
      throw Error(e.code(), std::string(e.what()) + " (column '" + name + "')");
    }
    auto meta = decode_metadata(fs.metadata);
    auto ext = meta.find("ARROW:extension:name");
    auto dstype = meta.find("datasync.type");
    if ((ext != meta.end() && ext->second == "arrow.json") || (dstype != meta.end() && dstype->second == "json"))
      col.type.id = TypeId::json;
    else if (dstype != meta.end() && dstype->second == "unknown" && col.type.id == TypeId::string)
      col.type.id = TypeId::unknown;
    auto src = meta.find("datasync.source_type");
    if (src != meta.end()) col.type.source_name = src->second;
    col.nullable = (fs.flags & ARROW_FLAG_NULLABLE) != 0;
    if (like) {
      int k = like->find_column(name);
      if (k >= 0) {
        const auto &orig = like->columns[static_cast<size_t>(k)];
        // Same type as before the transform: keep the source's spelling too.
        if (orig.type == col.type && col.type.source_name.empty()) col.type.source_name = orig.type.source_name;
        col.default_expression = orig.default_expression;
      }
    }

    Column c;
    c.length = length;
    c.offset = offset;
    const auto *validity = static_cast<const uint8_t *>(fa.buffers[0]);
    size_t bitmap_bytes = static_cast<size_t>((offset + length + 7) / 8);
    if (validity && fa.null_count != 0) {
      c.validity = std::make_shared<const Buffer>(validity, bitmap_bytes, owner);
      c.null_count = (fa.null_count > 0 && fa.offset == offset) ? fa.null_count : count_nulls(validity, offset, length);
    }
    switch (layout_of(col.type.id)) {
      case Layout::bitmap:
        c.values = std::make_shared<const Buffer>(static_cast<const uint8_t *>(fa.buffers[1]), bitmap_bytes, owner);
        break;
      case Layout::fixed: {
        size_t width = static_cast<size_t>(fixed_width(col.type.id));
        c.values = std::make_shared<const Buffer>(static_cast<const uint8_t *>(fa.buffers[1]),
                                                  static_cast<size_t>(offset + length) * width, owner);
        break;
      }
      case Layout::variable: {
        const auto *offs = static_cast<const int32_t *>(fa.buffers[1]);
        c.offsets = std::make_shared<const Buffer>(reinterpret_cast<const uint8_t *>(offs),
                                                   static_cast<size_t>(offset + length + 1) * 4, owner);
        size_t data_size = length > 0 || offset > 0 ? static_cast<size_t>(offs[offset + length]) : 0;
        static const uint8_t empty = 0;
        const auto *data = static_cast<const uint8_t *>(fa.buffers[2]);
        c.values = std::make_shared<const Buffer>(data ? data : &empty, data_size, owner);
        break;
      }
    }
    table->columns.push_back(col);
    batch->columns.push_back(std::move(c));
  }
  if (like) {
    for (int k : like->primary_key) {
      int j = table->find_column(like->columns[static_cast<size_t>(k)].name);
      if (j < 0) {
        table->primary_key.clear();
        break;
      }
      table->primary_key.push_back(j);
    }
  }
  batch->schema = table;
  return batch;
}

}  // namespace ds::model
