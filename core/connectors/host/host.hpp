// The "host" sink: batches go to host code that pulls them through a change
// stream (ds_change_stream, Pipeline.changes()) instead of to a database. The
// sink's writers put them in a bounded feed; the host takes them out, and
// only when it commits a position does the position reach the checkpoint and
// the source (decision 0010).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/connector.hpp"
#include "model/error.hpp"

namespace ds::connectors::host {

// One thing handed to the host, in the order the engine produced it.
struct Item {
  enum class Kind { rows, schema_change, commit_point, end };
  Kind kind = Kind::rows;
  model::BatchPtr batch;  // rows: the rows; schema_change: no rows, the table's columns from now on
  // What committing up to here records: the batch's own position, or (commit
  // points) the positions a writer committed.
  std::vector<model::Position> positions;
  std::string token;             // rows ending a transaction or a snapshot batch: what the host commits; else ""
  std::string description;       // schema_change: "add_column tier", "truncate_table", ...
  std::shared_ptr<Error> error;  // end: the run's failure, null when it finished
};

// The bounded queue between the engine's writers and the host, plus what
// outlives a run: the checkpoint store and the way to acknowledge the source.
// A mutex and two condition variables, not the lock-free queue of the lanes:
// several snapshot lanes feed one host, and the host must see their items in
// the order they were pushed (a change never before the snapshot rows it
// follows), which moodycamel only keeps per producer. One lock per batch is
// nothing beside what a batch costs.
class Feed {
 public:
  explicit Feed(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Engine side. Waits while the feed is full; false (the item dropped) once
  // stop() was called, so a blocked writer never outlives its host. Items
  // pushed after a dropped one are dropped too, so the host sees a prefix.
  bool push(Item item);
  // The end marker; never blocks, never dropped.
  void finish(std::shared_ptr<Error> error);
  // Producers stop waiting and later pushes are dropped. Safe from any thread.
  void stop() noexcept;

  // Host side: waits up to timeout_us (< 0: until an item comes); false on timeout.
  bool pop(Item &out, int64_t timeout_us);

  // The checkpoint store, opened once by whichever side comes first and
  // shared (one SQLite connection, one lock).
  void open_store(const std::string &path, const std::string &pipeline);
  model::CheckpointState load();
  void save(const std::vector<model::Position> &positions);
  void clear();

  // The change source the host's commits acknowledge; null detaches it (the
  // stream ends, the source is about to be destroyed).
  void attach(model::ChangeSource *source);
  // Tells the attached source that everything up to `position` is durable.
  void acknowledge(const std::string &position);
  // "" until a change stream attached.
  std::string change_stream_name() const;
  // What the host commits for a position: the change stream's positions as
  // the source wrote them (PostgreSQL "0/16B3F08"), a snapshot split's as
  // "<split>@<position>", "" for the checkpoint's own bookkeeping entries.
  std::string token_of(const model::Position &position) const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Item> items_;
  bool stopped_ = false;

  std::mutex store_mutex_;
  std::unique_ptr<model::CheckpointStore> store_;

  mutable std::mutex source_mutex_;
  model::ChangeSource *source_ = nullptr;
  std::string stream_name_;
};

class HostSink : public model::Sink {
 public:
  // `feed` is null when the pipeline is not read through a change stream
  // (ds_pipeline_run, cleanup): writing is then refused.
  HostSink(std::shared_ptr<Feed> feed, std::string checkpoint_path, std::string pipeline, std::string evolution);

  void prepare_table(const model::TableSchema &) override {}
  std::string apply_schema_change(const model::SchemaChange &change) override;
  std::unique_ptr<model::SinkWriter> open_writer(int lane) override;
  int max_lanes() const override { return 64; }
  std::unique_ptr<model::CheckpointStore> open_checkpoint_store(const std::string &pipeline_name) override;
  std::string describe() const override { return "host"; }
  bool take_acknowledgement(model::ChangeSource *source) override;

  const std::string &checkpoint_path() const { return checkpoint_path_; }

 private:
  std::shared_ptr<Feed> feed_;
  std::string checkpoint_path_;
  std::string pipeline_;
  std::string evolution_;
};

// The checkpoint file of a host sink: its `checkpoint_path` option (relative
// to base_dir), else "<pipeline>.checkpoint.db" in base_dir.
std::string checkpoint_path_of(const model::Options &options, const std::string &base_dir, const std::string &pipeline);

void register_connector();

}  // namespace ds::connectors::host
