// Pipeline events and counters shared by the runtime and the C ABI.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ds::pipeline {

// Numbering is the C ABI's DS_EVENT_*; appended, never renumbered.
enum class EventKind : int {
  pipeline_started = 1,
  table_started = 2,
  table_finished = 3,
  split_finished = 4,
  checkpoint = 5,
  schema_change = 6,
  warning = 7,
  retry = 8,
  pipeline_finished = 9,
  pipeline_failed = 10,
};
const char *event_kind_name(int kind);
// Appends `s` as a JSON string literal (quoted and escaped).
void append_json_string(std::string &out, const std::string &s);

struct Event {
  EventKind kind;
  std::string table;
  std::string message;
  int64_t rows = 0;
};
using EventListener = std::function<void(const Event &)>;

// Counters of one source table; updated per batch, never per row.
struct TableCounters {
  std::string name;
  std::atomic<int64_t> rows_read{0};
  std::atomic<int64_t> rows_written{0};
  std::atomic<int64_t> bytes_read{0};
  std::atomic<int64_t> bytes_written{0};
  std::atomic<int> splits_left{0};
  std::atomic<bool> started{false};
};

struct TableMetrics {
  std::string name;
  int64_t rows_read = 0, rows_written = 0, bytes_read = 0, bytes_written = 0;
};

struct MetricsSnapshot {
  int64_t rows_read = 0, rows_written = 0, bytes_read = 0, bytes_written = 0;
  int64_t batches = 0, errors = 0, retries = 0;
  int64_t elapsed_us = 0, lag_ms = -1;
  int64_t tables_total = 0, tables_done = 0, rows_estimated = 0;
  int64_t source_retained_bytes = -1;  // change capture: source log kept for the stream (a slot's WAL), -1 unknown
  int64_t values_adjusted = 0;         // values written as NULL or clamped under pipeline.invalid_values
  std::string state;                   // "created", "running", "finished", "failed", "cancelled"
  std::vector<TableMetrics> tables;
  std::string to_json() const;
};

}  // namespace ds::pipeline
