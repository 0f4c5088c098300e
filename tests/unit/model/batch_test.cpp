// model::last_change_per_key: what a set-based sink applies of a change batch.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "model/batch.hpp"

namespace ds::model {
namespace {

ColumnSchema column(const std::string &name, TypeId id) {
  ColumnSchema c;
  c.name = name;
  c.type.id = id;
  return c;
}

struct Row {
  std::optional<std::string> a;  // nullopt: NULL
  std::string b;
  Op op;
};

std::shared_ptr<Batch> batch_of(const std::vector<Row> &rows) {
  auto schema = std::make_shared<TableSchema>();
  schema->columns = {column("a", TypeId::string), column("b", TypeId::string), column("n", TypeId::int64)};
  BatchBuilder b(schema, static_cast<int64_t>(rows.size()), true);
  int64_t n = 0;
  for (const Row &r : rows) {
    if (r.a)
      b.column(0).append_bytes(r.a->data(), r.a->size());
    else
      b.column(0).append_null();
    b.column(1).append_bytes(r.b.data(), r.b.size());
    b.column(2).append_int(n++);
    b.end_row(r.op);
  }
  return b.finish({});
}

std::string summary(const std::vector<LastChange> &changes) {
  std::string out;
  for (const LastChange &c : changes) out += std::to_string(c.row) + (c.first_was_insert ? "i" : "") + " ";
  return out;
}

TEST(LastChangePerKey, KeepsEachKeysLastRowInRowOrderAndWhetherItsFirstInserted) {
  const Op I = Op::insert, UB = Op::update_before, UA = Op::update_after, D = Op::remove;
  auto batch = batch_of({{"k1", "", I},
                         {"k2", "", UA},
                         {"k1", "", D},
                         {"k3", "", UB},
                         {"k3", "", UA},
                         {"k4", "", I},
                         {"k4", "", UA},
                         {"k2", "", D}});
  // k1: insert..delete -> row 2; k3: the -U is not a change -> row 4; k4 -> row 6; k2 -> row 7.
  EXPECT_EQ(summary(last_change_per_key(*batch, {0})), "2i 4 6i 7 ");
  // Every key once: the rows as they are.
  EXPECT_EQ(summary(last_change_per_key(*batch_of({{"x", "", UA}, {"y", "", I}}), {0})), "0 1i ");
}

TEST(LastChangePerKey, ComparesCompositeKeysWholeAndNullAsItsOwnValue) {
  // ("ab", "c") and ("a", "bc") are different keys; so are NULL and "".
  auto batch = batch_of({{"ab", "c", Op::insert},
                         {"a", "bc", Op::insert},
                         {std::nullopt, "", Op::insert},
                         {"", "", Op::insert},
                         {std::nullopt, "", Op::remove},
                         {"ab", "c", Op::update_after}});
  EXPECT_EQ(summary(last_change_per_key(*batch, {0, 1})), "1i 3i 4i 5i ");
  // On the second column alone, "c"/"bc"/"" repeat.
  EXPECT_EQ(summary(last_change_per_key(*batch, {1})), "1i 4i 5i ");
}

}  // namespace
}  // namespace ds::model
