// The runtime: source readers → route → transforms → writer lanes → sink,
// joined by bounded lock-free queues, with a checkpointer that records a
// source position only once everything before it is durable in the sink.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "config/spec.hpp"
#include "connectors/registry.hpp"
#include "model/batch.hpp"
#include "model/connector.hpp"
#include "model/error.hpp"
#include "pipeline/events.hpp"

namespace ds::pipeline {

// A batch-at-a-time transform: returns the replacement batch, or null to pass
// the input on unchanged. Throws ds::Error to fail the pipeline.
using TransformFn = std::function<model::BatchPtr(const model::BatchPtr &)>;

class Pipeline {
 public:
  Pipeline(config::PipelineSpec spec, connectors::ConnectorContext context);
  ~Pipeline();
  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;

  // `table_pattern` is a regex on the routed "schema.table" ("" = all).
  void add_transform(const std::string &table_pattern, bool serial, TransformFn fn);
  void add_event_listener(EventListener listener);

  // Runs to completion; throws ds::Error (Code::cancelled after stop()).
  void run(bool fresh);
  // Safe from any thread at any time, also before run().
  void stop() noexcept;
  MetricsSnapshot metrics() const;
  const std::string &name() const { return spec_.name; }
  const config::PipelineSpec &spec() const { return spec_; }
  const connectors::ConnectorContext &context() const { return context_; }
  bool started() const { return started_.load(); }
  // Hands the run's batches to a host change stream (sink type "host",
  // core/pipeline/change_stream.hpp). Before run() only.
  void set_host_feed(std::shared_ptr<connectors::host::Feed> feed);

  // Schema migration without copying data: for every table the source
  // selects, the sink's DDL plan (as JSON, see schema_plan_json); with
  // `apply`, the plans are run too (destructive statements only when
  // allowed). Before run() only; the pipeline can still run afterwards.
  std::string schema(bool apply, bool allow_destructive);

  // Drops what change capture keeps in the source (slot, publication) and the
  // pipeline's checkpoint, so the next run starts afresh. Returns what was
  // dropped, one line each. Not while running.
  std::vector<std::string> cleanup();

 private:
  struct HostTransform;
  struct Run;
  void emit(const Event &event);

  config::PipelineSpec spec_;
  connectors::ConnectorContext context_;
  std::vector<std::unique_ptr<HostTransform>> transforms_;
  std::vector<EventListener> listeners_;
  std::mutex listener_mutex_;  // events are rare (per table or split), so a lock is fine here
  std::atomic<bool> stop_requested_{false};
  // The running run's cancellation, so stop() also wakes readers waiting on
  // an idle change stream.
  std::mutex cancel_mutex_;
  std::shared_ptr<model::CancelToken> run_cancel_;
  std::atomic<bool> started_{false};

  // Live counters, readable from any thread.
  mutable std::mutex tables_mutex_;
  std::vector<std::shared_ptr<TableCounters>> tables_;
  std::atomic<int64_t> batches_{0}, errors_{0}, retries_{0}, rows_estimated_{0};
  std::atomic<int64_t> tables_total_{0}, tables_done_{0};
  std::atomic<int64_t> start_us_{0}, end_us_{0};
  std::atomic<int> state_{0};
};

}  // namespace ds::pipeline
