#include "connectors/discard/discard_sink.hpp"

#include <cerrno>
#include <cstdlib>

#include "model/error.hpp"

namespace ds::connectors::discard {

void DiscardWriter::write(const model::Batch &batch) {
  const int64_t n = batch.num_rows;
  const int64_t before = counters_->written.fetch_add(n, std::memory_order_relaxed);
  if (fail_after_rows_ > 0 && before + n > fail_after_rows_) {
    counters_->written.fetch_sub(n, std::memory_order_relaxed);
    throw Error(Code::io, "discard sink: injected failure after " + std::to_string(fail_after_rows_) + " rows");
  }
  counters_->batches.fetch_add(1, std::memory_order_relaxed);
  staged_ += n;
}

void DiscardWriter::commit(const std::vector<model::Position> *) {
  counters_->committed.fetch_add(staged_, std::memory_order_relaxed);
  counters_->commits.fetch_add(1, std::memory_order_relaxed);
  staged_ = 0;
}

DiscardSink::DiscardSink(int64_t fail_after_rows)
    : counters_(std::make_shared<DiscardCounters>()), fail_after_rows_(fail_after_rows) {}

std::unique_ptr<DiscardSink> DiscardSink::from_options(const model::Options &options) {
  int64_t fail_after = 0;
  if (options.has("fail_after_rows")) {
    const std::string text = options.get_string("fail_after_rows");
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < 0)
      throw Error(Code::config, "discard sink: 'fail_after_rows' must be a non-negative integer, got '" + text + "'");
    fail_after = v;
  }
  return std::make_unique<DiscardSink>(fail_after);
}

std::unique_ptr<model::SinkWriter> DiscardSink::open_writer(int) {
  return std::make_unique<DiscardWriter>(counters_, fail_after_rows_);
}

std::string DiscardSink::describe() const {
  return fail_after_rows_ > 0 ? "discard fail_after_rows=" + std::to_string(fail_after_rows_) : "discard";
}

}  // namespace ds::connectors::discard
