#include "connectors/host/host.hpp"

#include <algorithm>
#include <chrono>

#include "connectors/registry.hpp"
#include "connectors/sqlite/sqlite.hpp"

namespace ds::connectors::host {

// ------------------------------------------------------------------ Feed

bool Feed::push(Item item) {
  std::unique_lock<std::mutex> lock(mutex_);
  not_full_.wait(lock, [&] { return stopped_ || items_.size() < capacity_; });
  if (stopped_) return false;
  items_.push_back(std::move(item));
  not_empty_.notify_one();
  return true;
}

void Feed::finish(std::shared_ptr<Error> error) {
  Item end;
  end.kind = Item::Kind::end;
  end.error = std::move(error);
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back(std::move(end));
  not_empty_.notify_all();
}

void Feed::stop() noexcept {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
  } catch (...) {
    // A mutex that cannot be locked is already broken; the waiters below still wake.
  }
  not_full_.notify_all();
}

bool Feed::pop(Item &out, int64_t timeout_us) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [&] { return !items_.empty(); };
  if (timeout_us < 0)
    not_empty_.wait(lock, ready);
  else if (!not_empty_.wait_for(lock, std::chrono::microseconds(timeout_us), ready))
    return false;
  out = std::move(items_.front());
  items_.pop_front();
  not_full_.notify_one();
  return true;
}

void Feed::open_store(const std::string &path, const std::string &pipeline) {
  std::lock_guard<std::mutex> lock(store_mutex_);
  if (!store_) store_ = sqlite::open_file_checkpoint_store(path, pipeline);
}

model::CheckpointState Feed::load() {
  std::lock_guard<std::mutex> lock(store_mutex_);
  return store_ ? store_->load() : model::CheckpointState{};
}

void Feed::save(const std::vector<model::Position> &positions) {
  std::lock_guard<std::mutex> lock(store_mutex_);
  if (store_) store_->save(positions);
}

void Feed::clear() {
  std::lock_guard<std::mutex> lock(store_mutex_);
  if (store_) store_->clear();
}

void Feed::attach(model::ChangeSource *source) {
  std::lock_guard<std::mutex> lock(source_mutex_);
  source_ = source;
  if (source) stream_name_ = source->stream_name();
}

void Feed::acknowledge(const std::string &position) {
  std::lock_guard<std::mutex> lock(source_mutex_);
  if (source_) source_->acknowledge(position);
}

std::string Feed::change_stream_name() const {
  std::lock_guard<std::mutex> lock(source_mutex_);
  return stream_name_;
}

std::string Feed::token_of(const model::Position &position) const {
  if (position.stream.empty() || position.stream.rfind(model::kKnownColumnsPrefix, 0) == 0) return "";
  if (position.stream == change_stream_name()) return position.value;
  return position.stream + "@" + position.value;
}

// ---------------------------------------------------------------- writer

namespace {

Error closed_error() { return Error(Code::cancelled, "the change stream was closed", "sink=host"); }

// One lane's writer. A change stream that reconnects restarts after the last
// position the lane committed, so it sends again what this writer already
// handed to the host since then: those rows are skipped, counted, so the host
// never sees a change twice within a run (decoding the same WAL again yields
// the same rows in the same order).
class HostWriter : public model::SinkWriter {
 public:
  explicit HostWriter(std::shared_ptr<Feed> feed) : feed_(std::move(feed)) {}

  void write(const model::Batch &batch) override {
    const int64_t rows = batch.num_rows;
    const int64_t skip = std::clamp<int64_t>(host_has_ - seen_, 0, rows);
    seen_ += rows;
    host_has_ = std::max(host_has_, seen_);
    const bool ends = !batch.position.stream.empty();
    Item item;
    if (ends) item.positions.push_back(batch.position);
    if (skip == rows) {
      if (!ends) return;
      item.kind = Item::Kind::commit_point;  // the rows are there already; the position may be new
    } else {
      item.kind = Item::Kind::rows;
      item.token = ends ? feed_->token_of(batch.position) : "";
      if (skip == 0) {
        item.batch = std::make_shared<model::Batch>(batch);  // shares the buffers
      } else {
        std::vector<uint32_t> keep;
        keep.reserve(static_cast<size_t>(rows - skip));
        for (int64_t r = skip; r < rows; ++r) keep.push_back(static_cast<uint32_t>(r));
        auto tail = batch.take(keep.data(), keep.size());
        tail->position = batch.position;
        tail->keep_marks_of(batch);
        item.batch = tail;
      }
    }
    if (!feed_->push(std::move(item))) throw closed_error();
  }

  void commit(const std::vector<model::Position> *positions) override {
    if (positions && !positions->empty()) {
      Item item;
      item.kind = Item::Kind::commit_point;
      item.positions = *positions;
      if (!feed_->push(std::move(item))) throw closed_error();
    }
    host_has_ = std::max<int64_t>(0, host_has_ - seen_);
    seen_ = 0;
  }

  void rollback() override { seen_ = 0; }

 private:
  std::shared_ptr<Feed> feed_;
  int64_t host_has_ = 0;  // rows after the last commit that the host has
  int64_t seen_ = 0;      // rows after the last commit written in this attempt
};

}  // namespace

// ------------------------------------------------------------------ sink

HostSink::HostSink(std::shared_ptr<Feed> feed, std::string checkpoint_path, std::string pipeline, std::string evolution)
    : feed_(std::move(feed)),
      checkpoint_path_(std::move(checkpoint_path)),
      pipeline_(std::move(pipeline)),
      evolution_(std::move(evolution)) {}

namespace {

Error no_host() {
  return Error(Code::config,
               "sink type host hands the changes to host code: read them with ds_change_stream_open() (Python: "
               "Pipeline.changes()), not ds_pipeline_run()",
               "sink=host");
}

}  // namespace

std::string HostSink::apply_schema_change(const model::SchemaChange &change) {
  if (!feed_) throw no_host();
  using model::SchemaChangeKind;
  std::string what = model::schema_change_name(change.kind);
  if (!change.column.empty()) what += " " + change.column;
  if (change.kind == SchemaChangeKind::rename_column) what += " " + change.new_name;
  if (evolution_ == "exception")
    throw Error(Code::schema,
                "source schema change " + what +
                    " under schema.evolution: exception (set evolve, try_evolve or lenient to deliver it)",
                "table=" + change.table.to_string());
  // Under ignore the rows keep the columns the host first saw; a truncate
  // is about rows, not columns, so the host still hears of it.
  if (evolution_ == "ignore" && change.kind != SchemaChangeKind::truncate_table) return "";
  model::TableSchemaPtr schema = change.schema_after;
  if (!schema) {
    auto bare = std::make_shared<model::TableSchema>();
    bare->id = change.table;
    schema = bare;
  }
  Item item;
  item.kind = Item::Kind::schema_change;
  item.batch = model::BatchBuilder(schema, 0).finish({});
  item.description = what;
  if (!feed_->push(std::move(item))) throw closed_error();
  return "";
}

std::unique_ptr<model::SinkWriter> HostSink::open_writer(int /*lane*/) {
  if (!feed_) throw no_host();
  return std::make_unique<HostWriter>(feed_);
}

namespace {

// The host sink's checkpoint store: the feed's, shared with the host's commits.
class FeedStore : public model::CheckpointStore {
 public:
  explicit FeedStore(std::shared_ptr<Feed> feed) : feed_(std::move(feed)) {}
  model::CheckpointState load() override { return feed_->load(); }
  void save(const std::vector<model::Position> &positions) override { feed_->save(positions); }
  void clear() override { feed_->clear(); }

 private:
  std::shared_ptr<Feed> feed_;
};

}  // namespace

std::unique_ptr<model::CheckpointStore> HostSink::open_checkpoint_store(const std::string &pipeline_name) {
  // Without a host (cleanup) the file is opened alone, to be cleared.
  if (!feed_) return sqlite::open_file_checkpoint_store(checkpoint_path_, pipeline_name);
  feed_->open_store(checkpoint_path_, pipeline_name);
  return std::make_unique<FeedStore>(feed_);
}

bool HostSink::take_acknowledgement(model::ChangeSource *source) {
  if (!feed_) return false;
  feed_->attach(source);
  return true;
}

std::string checkpoint_path_of(const model::Options &options, const std::string &base_dir,
                               const std::string &pipeline) {
  std::string path = options.get_string("checkpoint_path");
  if (path.empty()) path = pipeline + ".checkpoint.db";
  if (path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
  return path;
}

void register_connector() {
  config::KeySpec path;
  path.name = "checkpoint_path";
  path.type = config::KeyType::path;
  path.doc =
      "SQLite file that keeps the positions the host committed (relative to the pipeline file); default "
      "`<pipeline name>.checkpoint.db`.";
  register_sink("host",
                "Hands every batch to host code that pulls them through a change stream (C: ds_change_stream_open, "
                "Python: Pipeline.changes()); a position is recorded, and acknowledged to the source, only when "
                "the host commits it. Needs `pipeline.checkpoint_store: sink` (the default).",
                {path}, [](const model::Options &options, const ConnectorContext &ctx) -> std::unique_ptr<model::Sink> {
                  return std::make_unique<HostSink>(ctx.host_feed,
                                                    checkpoint_path_of(options, ctx.base_dir, ctx.pipeline_name),
                                                    ctx.pipeline_name, ctx.evolution);
                });
}

}  // namespace ds::connectors::host
