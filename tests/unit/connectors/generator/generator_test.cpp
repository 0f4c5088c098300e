// Unit tests of the generator source and the discard sink.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "connectors/discard/discard_sink.hpp"
#include "connectors/generator/generator_source.hpp"
#include "model/error.hpp"

namespace {

using namespace ds::connectors::generator;
using ds::model::Batch;
using ds::model::Column;
using ds::model::TypeId;

GeneratorConfig config(int64_t rows, uint64_t seed = 42, int null_fraction = 10, int tables = 1) {
  GeneratorConfig c;
  c.rows = rows;
  c.seed = seed;
  c.null_fraction = null_fraction;
  c.tables = tables;
  return c;
}

// One row rendered cell by cell, so batches of different shapes compare.
std::string render_row(const Batch &b, int64_t i) {
  std::string out;
  for (size_t c = 0; c < b.columns.size(); ++c) {
    const Column &col = b.columns[c];
    if (!col.is_valid(i)) {
      out += "NULL|";
      continue;
    }
    switch (b.schema->columns[c].type.id) {
      case TypeId::int64:
      case TypeId::timestamp: out += std::to_string(col.value<int64_t>(i)); break;
      case TypeId::int32: out += std::to_string(col.value<int32_t>(i)); break;
      case TypeId::float64: out += std::to_string(col.value<double>(i)); break;
      case TypeId::boolean: out += col.bool_value(i) ? "t" : "f"; break;
      case TypeId::string: out += std::string(col.bytes(i)); break;
      case TypeId::decimal: {
        int64_t lo, hi;
        std::memcpy(&lo, col.fixed_bytes(i, 16), 8);
        std::memcpy(&hi, col.fixed_bytes(i, 16) + 8, 8);
        out += std::to_string(lo) + ":" + std::to_string(hi);
        break;
      }
      default: out += "?"; break;
    }
    out += "|";
  }
  return out;
}

struct Collected {
  std::vector<std::shared_ptr<Batch>> batches;
  std::vector<std::string> rows;
  std::vector<int64_t> ids;
};

Collected read_split(GeneratorSource &src, const ds::model::Split &split, const std::string &resume = "",
                     int64_t batch_rows = 1000) {
  Collected out;
  ds::model::CancelToken cancel;
  auto reader = src.open_reader();
  reader->read(
      split, resume, batch_rows,
      [&](std::shared_ptr<Batch> b) {
        for (int64_t i = 0; i < b->num_rows; ++i) {
          out.rows.push_back(render_row(*b, i));
          out.ids.push_back(b->columns[0].value<int64_t>(i));
        }
        out.batches.push_back(std::move(b));
        return true;
      },
      cancel);
  return out;
}

ds::model::TableSchemaPtr first_table(GeneratorSource &src) { return src.discover(ds::model::TableSelector{}).at(0); }

TEST(GeneratorSource, SchemaHasEightMixedColumns) {
  GeneratorSource src(config(10, 42, 10, 3));
  auto tables = src.discover(ds::model::TableSelector{});
  ASSERT_EQ(tables.size(), 3u);
  EXPECT_EQ(tables[0]->id.to_string(), "main.gen_1");
  EXPECT_EQ(tables[2]->id.to_string(), "main.gen_3");
  const auto &cols = tables[0]->columns;
  ASSERT_EQ(cols.size(), 8u);
  const TypeId want[] = {TypeId::int64,  TypeId::int32,   TypeId::decimal,   TypeId::float64,
                         TypeId::string, TypeId::boolean, TypeId::timestamp, TypeId::string};
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(cols[i].type.id, want[i]) << cols[i].name;
  EXPECT_EQ(cols[2].type.precision, 12);
  EXPECT_EQ(cols[2].type.scale, 2);
  EXPECT_TRUE(cols[7].nullable);
  EXPECT_FALSE(cols[0].nullable);
  EXPECT_EQ(tables[0]->primary_key, std::vector<int>{0});
}

TEST(GeneratorSource, DiscoverWithoutMatchNamesTheSelector) {
  GeneratorSource src(config(10));
  ds::model::TableSelector sel;
  sel.include = {"main\\.orders"};
  try {
    src.discover(sel);
    FAIL() << "expected not_found";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::not_found);
    EXPECT_NE(std::string(e.what()).find("main\\.orders"), std::string::npos) << e.what();
  }
}

TEST(GeneratorSource, SameSeedSameValuesOtherSeedOtherValues) {
  GeneratorSource a(config(5000, 7)), b(config(5000, 7)), c(config(5000, 8));
  auto split = a.plan_splits(first_table(a), 1, 0).at(0);
  auto ra = read_split(a, split), rb = read_split(b, split), rc = read_split(c, split);
  ASSERT_EQ(ra.rows.size(), 5000u);
  EXPECT_EQ(ra.rows, rb.rows);
  EXPECT_NE(ra.rows, rc.rows);
  // Tables of one source differ from each other too.
  GeneratorSource multi(config(100, 7, 10, 2));
  auto t = multi.discover(ds::model::TableSelector{});
  auto r1 = read_split(multi, multi.plan_splits(t[0], 1, 0)[0]);
  auto r2 = read_split(multi, multi.plan_splits(t[1], 1, 0)[0]);
  EXPECT_NE(r1.rows, r2.rows);
}

TEST(GeneratorSource, ValuesStayInTheirDomains) {
  GeneratorSource src(config(20000));
  auto r = read_split(src, src.plan_splits(first_table(src), 1, 0)[0], "", 4096);
  for (const auto &b : r.batches) {
    for (int64_t i = 0; i < b->num_rows; ++i) {
      int32_t qty = b->columns[1].value<int32_t>(i);
      EXPECT_GE(qty, 1);
      EXPECT_LE(qty, 1024);
      auto name = b->columns[4].bytes(i);
      ASSERT_GE(name.size(), 8u);
      ASSERT_LE(name.size(), 24u);
      for (char ch : name) ASSERT_TRUE(ch >= 0x20 && ch < 0x7f);
      double score = b->columns[3].value<double>(i);
      EXPECT_GE(score, 0.0);
      EXPECT_LT(score, 1000.0);
      int64_t price;
      std::memcpy(&price, b->columns[2].fixed_bytes(i, 16), 8);
      EXPECT_GE(price, 0);
      EXPECT_LE(price, 9999999);
    }
  }
}

// The reader writes Arrow buffers directly; the same rows built value by value
// through ColumnBuilder from row_values() must read back identically.
TEST(GeneratorSource, DirectBuffersMatchColumnBuilder) {
  for (int nf : {0, 10, 100}) {
    GeneratorConfig cfg = config(1000, 99, nf);
    GeneratorData data(cfg);
    GeneratorSource src(cfg);
    auto table = first_table(src);
    GeneratorReader reader(std::make_shared<const GeneratorData>(cfg));
    for (auto [first, last] : std::vector<std::pair<int64_t, int64_t>>{{1, 1000}, {17, 29}, {5, 5}, {3, 2}}) {
      auto fast = reader.generate(table, first, last);
      ds::model::BatchBuilder ref(table, 16);
      const uint64_t key = data.table_key(1);
      for (int64_t id = first; id <= last; ++id) {
        RowValues r = row_values(key, id, nf);
        ref.column(0).append_fixed<int64_t>(r.id);
        ref.column(1).append_fixed<int32_t>(r.qty);
        const int64_t dec[2] = {r.price_cents, 0};
        ref.column(2).append_fixed_bytes(dec);
        ref.column(3).append_fixed<double>(r.score);
        ref.column(4).append_bytes(data.names.data(r.name_index), data.names.length(r.name_index));
        ref.column(5).append_bool(r.active);
        ref.column(6).append_fixed<int64_t>(r.created_at);
        if (r.note_null)
          ref.column(7).append_null();
        else
          ref.column(7).append_bytes(data.notes.data(r.note_index), data.notes.length(r.note_index));
        ref.end_row();
      }
      auto slow = ref.finish(ds::model::Position{});
      ASSERT_EQ(fast->num_rows, slow->num_rows);
      ASSERT_EQ(fast->columns.size(), 8u);
      for (size_t c = 0; c < 8; ++c) {
        const Column &f = fast->columns[c], &s = slow->columns[c];
        EXPECT_EQ(f.length, fast->num_rows);
        EXPECT_EQ(f.null_count, s.null_count) << c;
        EXPECT_EQ(f.validity == nullptr, s.validity == nullptr) << "column " << c << " nf " << nf;
        EXPECT_EQ(f.offsets == nullptr, s.offsets == nullptr) << c;
        ASSERT_NE(f.values, nullptr);
        if (f.offsets) {
          EXPECT_EQ(f.offsets->size(), static_cast<size_t>(fast->num_rows + 1) * 4);
          int32_t end;
          std::memcpy(&end, f.offsets->data() + fast->num_rows * 4, 4);
          EXPECT_EQ(static_cast<size_t>(end), f.values->size());
        }
      }
      for (int64_t i = 0; i < fast->num_rows; ++i) ASSERT_EQ(render_row(*fast, i), render_row(*slow, i)) << "row " << i;
      EXPECT_EQ(fast->byte_size() > 0, true);
    }
  }
}

TEST(GeneratorSource, SplitsCoverEveryIdExactlyOnce) {
  for (int64_t rows : {0LL, 1LL, 1000LL, 65535LL, 65536LL, 200003LL, 1000000LL}) {
    for (int par : {1, 2, 3, 8}) {
      GeneratorSource src(config(rows));
      auto splits = src.plan_splits(first_table(src), par, 0);
      ASSERT_GE(splits.size(), 1u);
      EXPECT_LE(static_cast<int>(splits.size()), par * GeneratorSource::kSplitsPerReader);
      std::set<std::string> streams;
      int64_t expect_first = 1, total = 0;
      for (size_t k = 0; k < splits.size(); ++k) {
        EXPECT_EQ(splits[k].stream, "main.gen_1#" + std::to_string(k + 1));
        streams.insert(splits[k].stream);
        int64_t first, last;
        parse_range(splits[k].range, first, last);
        EXPECT_EQ(first, expect_first) << "rows=" << rows << " par=" << par << " k=" << k;
        EXPECT_EQ(splits[k].estimated_rows, last - first + 1);
        expect_first = last + 1;
        total += last - first + 1;
      }
      EXPECT_EQ(streams.size(), splits.size());
      EXPECT_EQ(total, rows);
      EXPECT_EQ(expect_first, rows + 1);
    }
  }
}

TEST(GeneratorSource, SplitsRegenerateTheWholeTableIdentically) {
  const int64_t rows = 300000;
  GeneratorSource whole(config(rows)), parts(config(rows));
  // The whole table as one range, read by one reader.
  auto one = whole.plan_splits(first_table(whole), 1, 0).at(0);
  one.range = format_range(1, rows);
  auto all = read_split(whole, one, "", 8192);
  ASSERT_EQ(all.rows.size(), static_cast<size_t>(rows));
  auto splits = parts.plan_splits(first_table(parts), 2, 0);
  ASSERT_GT(splits.size(), 1u);
  std::vector<std::string> joined;
  std::set<int64_t> seen;
  // Read the splits in reverse order, each with its own reader.
  for (auto it = splits.rbegin(); it != splits.rend(); ++it) {
    auto r = read_split(parts, *it, "", 777);
    joined.insert(joined.begin(), r.rows.begin(), r.rows.end());
    for (int64_t id : r.ids) EXPECT_TRUE(seen.insert(id).second) << "duplicate id " << id;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(rows));
  EXPECT_EQ(joined, all.rows);
}

TEST(GeneratorSource, BatchesCarryResumablePositions) {
  GeneratorSource src(config(2500));
  auto split = src.plan_splits(first_table(src), 1, 0).at(0);
  auto r = read_split(src, split, "", 1000);
  ASSERT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.batches[0]->num_rows, 1000);
  EXPECT_EQ(r.batches[2]->num_rows, 500);
  EXPECT_EQ(r.batches[0]->position.stream, "main.gen_1#1");
  EXPECT_EQ(r.batches[0]->position.value, "id=1000");
  EXPECT_FALSE(r.batches[0]->position.stream_done);
  EXPECT_FALSE(r.batches[1]->position.stream_done);
  EXPECT_EQ(r.batches[2]->position.value, "id=2500");
  EXPECT_TRUE(r.batches[2]->position.stream_done);
}

TEST(GeneratorSource, ResumesRightAfterThePosition) {
  GeneratorSource src(config(10000));
  auto split = src.plan_splits(first_table(src), 1, 0).at(0);
  auto full = read_split(src, split, "", 1024);
  for (int64_t after : {0LL, 1LL, 1023LL, 4096LL, 9999LL}) {
    auto rest = read_split(src, split, "id=" + std::to_string(after), 1024);
    ASSERT_EQ(rest.rows.size(), static_cast<size_t>(10000 - after)) << after;
    EXPECT_EQ(rest.ids.front(), after + 1);
    EXPECT_TRUE(std::equal(rest.rows.begin(), rest.rows.end(), full.rows.begin() + after));
    EXPECT_TRUE(rest.batches.back()->position.stream_done);
  }
  // Resuming at (or past) the end emits one empty, finished batch.
  auto done = read_split(src, split, "id=10000");
  ASSERT_EQ(done.batches.size(), 1u);
  EXPECT_EQ(done.batches[0]->num_rows, 0);
  EXPECT_TRUE(done.batches[0]->position.stream_done);
  EXPECT_EQ(done.batches[0]->position.value, "id=10000");
  EXPECT_THROW(read_split(src, split, "rowid=12"), ds::Error);
}

TEST(GeneratorSource, EmptyTableEmitsOneFinishedBatch) {
  GeneratorSource src(config(0));
  auto splits = src.plan_splits(first_table(src), 4, 0);
  ASSERT_EQ(splits.size(), 1u);
  auto r = read_split(src, splits[0]);
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0]->num_rows, 0);
  EXPECT_EQ(r.batches[0]->columns.size(), 8u);
  EXPECT_TRUE(r.batches[0]->position.stream_done);
  EXPECT_EQ(r.batches[0]->position.stream, "main.gen_1#1");
}

TEST(GeneratorSource, NullFractionIsRoughlyRight) {
  for (int nf : {0, 10, 50, 100}) {
    GeneratorSource src(config(100000, 42, nf));
    auto r = read_split(src, src.plan_splits(first_table(src), 1, 0)[0], "", 8192);
    int64_t nulls = 0;
    for (const auto &b : r.batches) {
      nulls += b->columns[7].null_count;
      for (size_t c = 0; c < 7; ++c) EXPECT_EQ(b->columns[c].null_count, 0);
    }
    double got = 100.0 * static_cast<double>(nulls) / 100000.0;
    EXPECT_NEAR(got, nf, 0.6) << "null_fraction=" << nf;
    if (nf == 0) {
      EXPECT_EQ(nulls, 0);
    }
    if (nf == 100) {
      EXPECT_EQ(nulls, 100000);
    }
  }
}

TEST(GeneratorSource, StopsOnCancelAndWhenEmitRefuses) {
  GeneratorSource src(config(100000));
  auto split = src.plan_splits(first_table(src), 1, 0).at(0);
  auto reader = src.open_reader();
  ds::model::CancelToken cancel;
  int batches = 0;
  reader->read(
      split, "", 1000,
      [&](std::shared_ptr<Batch>) {
        if (++batches == 3) cancel.cancel();
        return true;
      },
      cancel);
  EXPECT_EQ(batches, 3);
  ds::model::CancelToken never;
  batches = 0;
  reader->read(
      split, "", 1000, [&](std::shared_ptr<Batch>) { return ++batches < 2; }, never);
  EXPECT_EQ(batches, 2);
}

TEST(GeneratorSource, OptionsAreChecked) {
  ds::model::Options o;
  GeneratorConfig d = GeneratorConfig::from_options(o);
  EXPECT_EQ(d.rows, 1000000);
  EXPECT_EQ(d.tables, 1);
  EXPECT_EQ(d.seed, 42u);
  EXPECT_EQ(d.null_fraction, 10);
  o.set("rows", "123");
  o.set("table_count", "4");
  o.set("seed", "-5");
  o.set("null_fraction", "0");
  GeneratorConfig c = GeneratorConfig::from_options(o);
  EXPECT_EQ(c.rows, 123);
  EXPECT_EQ(c.tables, 4);
  EXPECT_EQ(static_cast<int64_t>(c.seed), -5);
  for (auto [key, bad] : std::vector<std::pair<std::string, std::string>>{
           {"rows", "-1"}, {"rows", "12x"}, {"table_count", "0"}, {"table_count", "101"}, {"null_fraction", "101"}}) {
    ds::model::Options b;
    b.set(key, bad);
    try {
      GeneratorConfig::from_options(b);
      ADD_FAILURE() << key << "=" << bad << " accepted";
    } catch (const ds::Error &e) {
      EXPECT_EQ(e.code(), ds::Code::config);
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos);
    }
  }
  GeneratorSource src(c);
  EXPECT_EQ(src.describe(), "generator rows=123 table_count=4 seed=-5 null_fraction=0");
}

// Printed, not asserted: generating must stay far below the engine's budget
// of 100 ns per row end to end (10 M rows/s).
TEST(GeneratorSource, MicroMeasureRowsPerSecond) {
  const int64_t rows = 2000000;
  GeneratorSource src(config(rows));
  auto table = first_table(src);
  auto split = src.plan_splits(table, 1, 0).at(0);
  split.range = format_range(1, rows);
  auto reader = src.open_reader();
  ds::model::CancelToken cancel;
  int64_t seen = 0;
  auto t0 = std::chrono::steady_clock::now();
  reader->read(
      split, "", 8192,
      [&](std::shared_ptr<Batch> b) {
        seen += b->num_rows;
        return true;
      },
      cancel);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(seen, rows);
  std::printf("[  MEASURE ] generator: %lld rows in %.3f s = %.2f M rows/s (%.1f ns/row, batch_rows 8192)\n",
              static_cast<long long>(rows), secs, rows / secs / 1e6, secs * 1e9 / rows);
}

// ---- discard sink

TEST(DiscardSink, CountsRowsAndCommits) {
  using ds::connectors::discard::DiscardSink;
  DiscardSink sink;
  EXPECT_EQ(sink.max_lanes(), 64);
  EXPECT_EQ(sink.open_checkpoint_store("p"), nullptr);
  GeneratorSource src(config(3000));
  auto r = read_split(src, src.plan_splits(first_table(src), 1, 0)[0], "", 1000);
  sink.prepare_table(*r.batches[0]->schema);
  auto w1 = sink.open_writer(0), w2 = sink.open_writer(1);
  w1->write(*r.batches[0]);
  w2->write(*r.batches[1]);
  w1->commit(nullptr);
  EXPECT_EQ(sink.rows_written(), 2000);
  EXPECT_EQ(sink.rows_committed(), 1000);
  w2->rollback();
  w2->commit(nullptr);
  EXPECT_EQ(sink.rows_committed(), 1000);
  w2->write(*r.batches[2]);
  w2->commit(nullptr);
  EXPECT_EQ(sink.rows_committed(), 2000);
  EXPECT_EQ(sink.rows_written(), 3000);
  EXPECT_EQ(sink.batches(), 3);
}

TEST(DiscardSink, InjectsAFailureAfterNRows) {
  using ds::connectors::discard::DiscardSink;
  ds::model::Options o;
  o.set("fail_after_rows", "2500");
  auto sink = DiscardSink::from_options(o);
  EXPECT_EQ(sink->describe(), "discard fail_after_rows=2500");
  GeneratorSource src(config(5000));
  auto r = read_split(src, src.plan_splits(first_table(src), 1, 0)[0], "", 1000);
  auto w = sink->open_writer(0);
  w->write(*r.batches[0]);
  w->write(*r.batches[1]);
  try {
    w->write(*r.batches[2]);
    FAIL() << "expected the injected failure";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::io);
    EXPECT_STREQ(e.what(), "discard sink: injected failure after 2500 rows");
  }
  EXPECT_EQ(sink->rows_written(), 2000);
  ds::model::Options bad;
  bad.set("fail_after_rows", "-3");
  EXPECT_THROW(DiscardSink::from_options(bad), ds::Error);
}

}  // namespace
