// A pull stream of a pipeline's batches for host code with no sink of its
// own (sink type "host"): the pipeline runs on a thread of the stream's, its
// writers fill a bounded feed, the host takes batches with next() and
// commits positions, which only then reach the checkpoint and the source.
// Decision 0010 explains the choices.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/host/host.hpp"
#include "model/batch.hpp"
#include "pipeline/pipeline.hpp"

namespace ds::pipeline {

class ChangeStream {
 public:
  enum class Kind { rows, schema_change };
  struct Delivery {
    Kind kind = Kind::rows;
    model::BatchPtr batch;
    // What to commit to record everything delivered up to here; "" inside
    // a source transaction (and for schema changes).
    std::string position;
    std::string schema_change;  // "add_column tier", "truncate_table"...
  };

  // Checks the pipeline (sink type host, checkpoint_store sink, not run yet)
  // and starts its run. `on_run_end` is called on the run's thread when it
  // has returned (the C ABI clears its running flag there).
  ChangeStream(std::shared_ptr<Pipeline> pipeline, bool fresh, std::function<void()> on_run_end);
  ~ChangeStream();
  ChangeStream(const ChangeStream &) = delete;
  ChangeStream &operator=(const ChangeStream &) = delete;

  // The next batch, waiting up to timeout_ms (< 0: as long as it takes).
  // False on timeout, or when the run finished (finished() then says so).
  // Throws the run's error (again at every later call), Code::state after close().
  bool next(int64_t timeout_ms, Delivery &out);
  bool finished() const { return finished_ || closed_; }
  // Records everything delivered up to and including the batch that carried
  // `position` in the checkpoint, then acknowledges it to the source.
  // Throws Code::invalid_argument for a position that is not pending.
  void commit(const std::string &position);
  // Stops the run and waits for it; what was not delivered is dropped (it
  // comes again after a reopen). Idempotent.
  void close();

 private:
  struct Unit {
    std::string token;
    std::vector<model::Position> positions;
  };
  // The positions in `positions` this stream has not seen yet (a writer's
  // commit repeats those its batches carried).
  std::vector<model::Position> unseen(const std::vector<model::Position> &positions);
  void save(const std::vector<model::Position> &positions);

  std::shared_ptr<Pipeline> pipeline_;
  std::shared_ptr<connectors::host::Feed> feed_;
  std::thread thread_;
  bool closed_ = false;
  bool finished_ = false;
  std::shared_ptr<Error> failure_;

  std::mutex ledger_mutex_;
  // Delivered, not yet committed, in delivery order.
  std::deque<Unit> units_;
  // Positions with no token of their own (the checkpoint's bookkeeping), saved with the next unit.
  std::vector<model::Position> carry_;
  bool tail_dirty_ = false;                  // something without a position was delivered after the last unit
  std::map<std::string, std::string> seen_;  // stream -> latest value delivered
  std::string last_committed_;
};

}  // namespace ds::pipeline
