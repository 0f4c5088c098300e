#include "pipeline/events.hpp"

#include <cstdio>

namespace ds::pipeline {

const char *event_kind_name(int kind) {
  switch (static_cast<EventKind>(kind)) {
    case EventKind::pipeline_started: return "pipeline_started";
    case EventKind::table_started: return "table_started";
    case EventKind::table_finished: return "table_finished";
    case EventKind::split_finished: return "split_finished";
    case EventKind::checkpoint: return "checkpoint";
    case EventKind::schema_change: return "schema_change";
    case EventKind::warning: return "warning";
    case EventKind::retry: return "retry";
    case EventKind::pipeline_finished: return "pipeline_finished";
    case EventKind::pipeline_failed: return "pipeline_failed";
  }
  return "unknown";
}

void append_json_string(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

namespace {

void field(std::string &out, const char *name, int64_t v, bool comma = true) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(v);
  if (comma) out += ',';
}

}  // namespace

std::string MetricsSnapshot::to_json() const {
  std::string out = "{\"state\":";
  append_json_string(out, state);
  out += ',';
  field(out, "rows_read", rows_read);
  field(out, "rows_written", rows_written);
  field(out, "bytes_read", bytes_read);
  field(out, "bytes_written", bytes_written);
  field(out, "batches", batches);
  field(out, "errors", errors);
  field(out, "retries", retries);
  field(out, "values_adjusted", values_adjusted);
  field(out, "elapsed_us", elapsed_us);
  field(out, "lag_ms", lag_ms);
  field(out, "source_retained_bytes", source_retained_bytes);
  field(out, "tables_total", tables_total);
  field(out, "tables_done", tables_done);
  field(out, "rows_estimated", rows_estimated);
  out += "\"tables\":[";
  for (size_t i = 0; i < tables.size(); ++i) {
    const auto &t = tables[i];
    if (i) out += ',';
    out += "{\"name\":";
    append_json_string(out, t.name);
    out += ',';
    field(out, "rows_read", t.rows_read);
    field(out, "rows_written", t.rows_written);
    field(out, "bytes_read", t.bytes_read);
    field(out, "bytes_written", t.bytes_written, false);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace ds::pipeline
