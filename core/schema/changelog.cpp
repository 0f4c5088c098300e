#include "schema/changelog.hpp"

#include <cstring>

#include "model/connector.hpp"

namespace ds::schema {

model::TableSchemaPtr changelog_schema(const model::TableSchema &source) {
  auto out = std::make_shared<model::TableSchema>(source);
  out->primary_key.clear();
  out->indexes.clear();
  for (model::ColumnSchema &c : out->columns) {
    c.nullable = true;
    // Identity columns would refuse or renumber the source's values.
    c.auto_increment = false;
  }
  auto add = [&](const char *name, model::TypeId id, const char *comment) {
    model::ColumnSchema c;
    c.name = name;
    c.type.id = id;
    c.comment = comment;
    out->columns.push_back(std::move(c));
  };
  add(kChangelogOp, model::TypeId::string, "datasync change log: +I, -U, +U or -D");
  add(kChangelogPosition, model::TypeId::string, "datasync change log: the source position of the change");
  add(kChangelogSeq, model::TypeId::int64, "datasync change log: order of the change within its position");
  return out;
}

std::string changelog_commit_position(const std::vector<model::Position> *positions) {
  if (!positions) return "";
  for (const model::Position &p : *positions)
    if (p.stream.rfind(model::kKnownColumnsPrefix, 0) != 0) return p.value;
  return "";
}

std::shared_ptr<model::Batch> ChangelogRows::rows_of(const model::Batch &batch) {
  if (schemas_.size() > 64) schemas_.clear();  // a long stream's retired schemas
  auto &entry = schemas_[batch.schema.get()];
  if (!entry.first) entry = {batch.schema, changelog_schema(*batch.schema)};

  auto out = std::make_shared<model::Batch>(batch);
  out->schema = entry.second;
  out->ops = nullptr;
  const int64_t n = batch.num_rows;
  const bool positioned = !batch.position.stream.empty();
  model::DataType text, integer;
  text.id = model::TypeId::string;
  integer.id = model::TypeId::int64;
  model::ColumnBuilder op(text, n);
  model::ColumnBuilder position(text, n);
  model::ColumnBuilder seq(integer, n);
  for (int64_t r = 0; r < n; ++r) {
    const char *symbol = model::op_symbol(batch.op(r));
    op.append_bytes(symbol, std::strlen(symbol));
    if (positioned)
      position.append_bytes(batch.position.value.data(), batch.position.value.size());
    else
      position.append_null();
    seq.append_fixed<int64_t>(next_seq_++);
  }
  out->columns.push_back(op.finish());
  out->columns.push_back(position.finish());
  out->columns.push_back(seq.finish());
  if (!positioned && n > 0) pending_ = true;
  return out;
}

}  // namespace ds::schema
