// Unit tests of the host sink's writer and feed: a change stream replayed
// after a reconnect does not hand the host a row twice; positions become
// commit points; a stopped feed refuses writers instead of blocking them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "connectors/host/host.hpp"
#include "model/error.hpp"

namespace {

using ds::connectors::host::Feed;
using ds::connectors::host::HostSink;
using ds::connectors::host::Item;

std::shared_ptr<ds::model::TableSchema> table() {
  auto schema = std::make_shared<ds::model::TableSchema>();
  schema->id.schema_name = "public";
  schema->id.table_name = "t";
  ds::model::ColumnSchema id;
  id.name = "id";
  id.type.id = ds::model::TypeId::int64;
  schema->columns.push_back(id);
  return schema;
}

// Rows [first, first + n) as a change batch; a position ends the transaction.
ds::model::Batch rows(int64_t first, int64_t n, const std::string &position = "") {
  ds::model::BatchBuilder b(table(), n, true);
  for (int64_t i = 0; i < n; ++i) {
    b.column(0).append_int(first + i);
    b.end_row(ds::model::Op::insert);
  }
  auto batch = b.finish(position.empty() ? ds::model::Position{} : ds::model::Position{"cdc", position, false});
  batch->transaction_open = position.empty();
  return *batch;
}

class FakeChangeSource : public ds::model::ChangeSource {
 public:
  void stream(const std::string &, int64_t, const ds::model::BatchEmitter &,
              const std::function<void(const ds::model::SchemaChange &)> &, const ds::model::CancelToken &) override {}
  void acknowledge(const std::string &position) override { acknowledged.push_back(position); }
  std::vector<std::string> acknowledged;
};

std::vector<int64_t> drain(Feed &feed, std::vector<std::string> *tokens = nullptr) {
  std::vector<int64_t> ids;
  Item item;
  while (feed.pop(item, 0)) {
    if (tokens && !item.token.empty()) tokens->push_back(item.token);
    if (item.kind != Item::Kind::rows) continue;
    for (int64_t r = 0; r < item.batch->num_rows; ++r) ids.push_back(item.batch->columns[0].value<int64_t>(r));
  }
  return ids;
}

TEST(HostSink, ReplayAfterAReconnectSkipsWhatTheHostHas) {
  auto feed = std::make_shared<Feed>(100);
  HostSink sink(feed, "", "p", "lenient");
  FakeChangeSource source;
  ASSERT_TRUE(sink.take_acknowledgement(&source));  // change positions are then the source's own text
  auto writer = sink.open_writer(0);
  writer->write(rows(1, 3, "0/10"));
  writer->commit(nullptr);            // the lane's commit: 1..3 are the new base
  writer->write(rows(4, 2));          // a transaction in progress...
  writer->write(rows(6, 2, "0/20"));  // ...ends, not yet committed by the lane
  writer->write(rows(8, 1));          // the next one starts
  writer->rollback();                 // the connection is lost: the stream restarts after 0/10
  writer->write(rows(4, 6, "0/30"));  // grouped differently this time: 4..8 again, and 9
  std::vector<std::string> tokens;
  EXPECT_EQ(drain(*feed, &tokens), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(tokens, (std::vector<std::string>{"0/10", "0/20", "0/30"}));
  sink.take_acknowledgement(nullptr);
}

TEST(HostSink, AReplayThatOnlyRepeatsStillHandsOnItsPosition) {
  auto feed = std::make_shared<Feed>(100);
  HostSink sink(feed, "", "p", "lenient");
  auto writer = sink.open_writer(0);
  writer->write(rows(1, 4));
  writer->rollback();
  writer->write(rows(1, 4, "0/40"));  // the same rows, now with their commit
  Item item;
  ASSERT_TRUE(feed->pop(item, 0));
  EXPECT_EQ(item.kind, Item::Kind::rows);
  ASSERT_TRUE(feed->pop(item, 0));
  EXPECT_EQ(item.kind, Item::Kind::commit_point);
  ASSERT_EQ(item.positions.size(), 1u);
  EXPECT_EQ(item.positions[0].value, "0/40");
}

TEST(HostSink, AStoppedFeedRefusesWritersAndSnapshotPositionsNameTheirSplit) {
  auto feed = std::make_shared<Feed>(1);
  HostSink sink(feed, "", "p", "lenient");
  auto writer = sink.open_writer(0);
  ds::model::Batch snapshot = rows(1, 1);
  snapshot.position = {"public.t#0", "id=1", false};
  snapshot.transaction_open = false;
  writer->write(snapshot);
  feed->stop();
  try {
    writer->write(rows(2, 1, "0/1"));  // the feed is full and stopped: no wait
    FAIL() << "expected a cancelled error";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::cancelled);
  }
  std::vector<std::string> tokens;
  drain(*feed, &tokens);
  EXPECT_EQ(tokens, (std::vector<std::string>{"public.t#0@id=1"}));
}

TEST(HostSink, WithoutAStreamWritingIsAConfigError) {
  HostSink sink(nullptr, "", "p", "lenient");
  try {
    sink.open_writer(0);
    FAIL() << "expected a config error";
  } catch (const ds::Error &e) {
    EXPECT_EQ(e.code(), ds::Code::config);
    EXPECT_NE(std::string(e.what()).find("ds_change_stream_open"), std::string::npos);
  }
}

}  // namespace
