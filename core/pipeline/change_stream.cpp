#include "pipeline/change_stream.hpp"

#include <algorithm>
#include <chrono>

namespace ds::pipeline {

using connectors::host::Item;

namespace {

// A commit point without rows: what next() hands out for a position whose
// transaction (or split) brought no rows the host has not seen.
model::BatchPtr commit_point_batch() {
  static const model::BatchPtr empty = [] {
    auto b = std::make_shared<model::Batch>();
    b->schema = std::make_shared<model::TableSchema>();
    return b;
  }();
  return empty;
}

}  // namespace

ChangeStream::ChangeStream(std::shared_ptr<Pipeline> pipeline, bool fresh, std::function<void()> on_run_end)
    : pipeline_(std::move(pipeline)) {
  const config::PipelineSpec &spec = pipeline_->spec();
  const std::string where = "pipeline=" + spec.name;
  if (spec.sink.type != "host")
    throw Error(Code::config,
                "a change stream reads a pipeline whose sink is the host (sink: {type: host}); this pipeline's sink "
                "is " +
                    (spec.sink.type.empty() ? std::string("missing") : "of type " + spec.sink.type),
                where);
  if (spec.checkpoint_store != "sink")
    throw Error(Code::config,
                "a change stream records the positions the host commits in the host sink's checkpoint file: "
                "pipeline.checkpoint_store must be sink (it is " +
                    spec.checkpoint_store + ")",
                where);
  if (pipeline_->started())
    throw Error(Code::state, "the pipeline has run already; a pipeline runs once: create a new one to read changes",
                where);
  feed_ = std::make_shared<connectors::host::Feed>(static_cast<size_t>(std::max(1, spec.queue_batches)));
  pipeline_->set_host_feed(feed_);
  thread_ = std::thread([this, fresh, where, on_run_end = std::move(on_run_end)] {
    std::shared_ptr<Error> error;
    try {
      pipeline_->run(fresh);
    } catch (const Error &e) {
      error = std::make_shared<Error>(e);
    } catch (const std::bad_alloc &) {
      error = std::make_shared<Error>(Code::nomem, "out of memory", where);
    } catch (const std::exception &e) {
      error = std::make_shared<Error>(Code::internal, std::string("unexpected failure: ") + e.what(), where);
    }
    try {
      feed_->finish(std::move(error));
    } catch (...) {
      // Out of memory for the end marker: the host's next() then waits for
      // its timeout, and close() still ends the stream.
    }
    if (on_run_end) on_run_end();
  });
}

ChangeStream::~ChangeStream() {
  try {
    close();
  } catch (...) {
    // Destruction cannot report; close() only fails when joining does.
  }
}

std::vector<model::Position> ChangeStream::unseen(const std::vector<model::Position> &positions) {
  std::vector<model::Position> out;
  for (const auto &p : positions) {
    auto it = seen_.find(p.stream);
    if (it != seen_.end() && it->second == p.value) continue;
    seen_[p.stream] = p.value;
    out.push_back(p);
  }
  return out;
}

void ChangeStream::save(const std::vector<model::Position> &positions) {
  if (positions.empty()) return;
  feed_->save(positions);
  const std::string stream = feed_->change_stream_name();
  std::string acknowledged;
  for (const auto &p : positions)
    if (!stream.empty() && p.stream == stream) acknowledged = p.value;
  if (!acknowledged.empty()) feed_->acknowledge(acknowledged);
}

bool ChangeStream::next(int64_t timeout_ms, Delivery &out) {
  if (closed_) throw Error(Code::state, "the change stream is closed", "pipeline=" + pipeline_->name());
  if (failure_) throw *failure_;
  if (finished_) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms));
  for (;;) {
    int64_t wait_us = -1;
    if (timeout_ms >= 0)
      wait_us = std::max<int64_t>(
          0,
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now()).count());
    Item item;
    if (!feed_->pop(item, wait_us)) return false;
    std::lock_guard<std::mutex> lock(ledger_mutex_);
    switch (item.kind) {
      case Item::Kind::end:
        finished_ = true;
        if (item.error) {
          failure_ = item.error;
          throw *failure_;
        }
        return false;
      case Item::Kind::schema_change:
        tail_dirty_ = true;
        out = Delivery{Kind::schema_change, item.batch, "", item.description};
        return true;
      case Item::Kind::rows: {
        std::vector<model::Position> fresh = unseen(item.positions);
        if (item.token.empty()) {
          carry_.insert(carry_.end(), fresh.begin(), fresh.end());
          tail_dirty_ = true;
        } else {
          Unit unit{item.token, std::move(carry_)};
          carry_.clear();
          unit.positions.insert(unit.positions.end(), fresh.begin(), fresh.end());
          units_.push_back(std::move(unit));
          tail_dirty_ = false;
        }
        out = Delivery{Kind::rows, item.batch, item.token, ""};
        return true;
      }
      case Item::Kind::commit_point: {
        std::vector<model::Position> fresh = unseen(item.positions);
        if (fresh.empty()) continue;
        carry_.insert(carry_.end(), fresh.begin(), fresh.end());
        if (units_.empty() && !tail_dirty_) {
          // The host committed all it was given and no row lies between:
          // recording this position needs no word from it (an empty
          // transaction, a table's columns, an empty split).
          std::vector<model::Position> positions = std::move(carry_);
          carry_.clear();
          save(positions);
          continue;
        }
        const std::string stream = feed_->change_stream_name();
        std::string token;
        for (const auto &p : fresh) {
          std::string t = feed_->token_of(p);
          if (t.empty()) continue;
          if (token.empty() || p.stream == stream) token = t;
        }
        if (token.empty()) continue;  // bookkeeping only: goes with the next unit
        units_.push_back(Unit{token, std::move(carry_)});
        carry_.clear();
        tail_dirty_ = false;
        out = Delivery{Kind::rows, commit_point_batch(), token, ""};
        return true;
      }
    }
  }
}

void ChangeStream::commit(const std::string &position) {
  const std::string where = "pipeline=" + pipeline_->name();
  if (position.empty())
    throw Error(Code::invalid_argument,
                "commit needs a position: a batch inside a source transaction carries none (commit the one that "
                "ends it)",
                where);
  std::lock_guard<std::mutex> lock(ledger_mutex_);
  size_t end = 0;
  while (end < units_.size() && units_[end].token != position) ++end;
  if (end == units_.size()) {
    if (position == last_committed_) return;  // committing twice is harmless
    throw Error(Code::invalid_argument,
                "position '" + position +
                    "' is not pending on this change stream: commit positions that its batches carried, in order "
                    "(a later one covers every earlier one)",
                where);
  }
  ++end;
  std::map<std::string, model::Position> merged;
  for (size_t i = 0; i < end; ++i)
    for (const auto &p : units_[i].positions) merged[p.stream] = p;
  const bool everything = end == units_.size() && !tail_dirty_;
  if (everything)
    for (const auto &p : carry_) merged[p.stream] = p;
  std::vector<model::Position> positions;
  positions.reserve(merged.size());
  for (auto &kv : merged) positions.push_back(std::move(kv.second));
  save(positions);  // throws before anything is forgotten: the host may try again
  units_.erase(units_.begin(), units_.begin() + static_cast<std::ptrdiff_t>(end));
  if (everything) carry_.clear();
  last_committed_ = position;
}

void ChangeStream::close() {
  if (closed_) return;
  closed_ = true;
  pipeline_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ds::pipeline
