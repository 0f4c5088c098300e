#include <memory>
#include "connectors/postgres/connection.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace ds::connectors::postgres {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool contains(const std::string &s, const char *needle) { return s.find(needle) != std::string::npos; }

// libpq's connection failures read 'connection to server at "h", port 5432
// failed: FATAL:  password authentication failed for user "x"'; keep the part
// after the last "FATAL:  " / "ERROR:  " when there is one.
std::string strip_prefix(const std::string &message) {
  std::string m = trim(message);
  for (const char *tag : {"FATAL:  ", "ERROR:  "}) {
    size_t at = m.rfind(tag);
    if (at != std::string::npos) return m.substr(at + std::strlen(tag));
  }
  return m;
}

// Text parameters as libpq takes them (null for SQL NULL); the pointers live as long as `params`.
std::vector<const char *> text_values(const std::vector<std::optional<std::string>> &params) {
  std::vector<const char *> values;
  values.reserve(params.size());
  for (const auto &p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

std::string with_table(const std::string &context, const std::string &table) {
  return table.empty() ? context : context + " table=" + table;
}

std::string field(const PGresult *r, int code) {
  const char *v = r ? PQresultErrorField(r, code) : nullptr;
  return v ? v : "";
}

}  // namespace

std::string ConnParams::context() const {
  return "host=" + host + " port=" + std::to_string(port) + " database=" + database;
}

int64_t Result::int_value(int row, int col) const {
  if (!r_ || is_null(row, col)) return 0;
  const char *p = PQgetvalue(r_, row, col);
  int64_t v = 0;
  std::from_chars(p, p + std::strlen(p), v);
  return v;
}

int64_t Result::affected_rows() const {
  const char *p = r_ ? PQcmdTuples(r_) : "";
  int64_t v = 0;
  if (p && *p) std::from_chars(p, p + std::strlen(p), v);
  return v;
}

Error map_error(const std::string &sqlstate, const std::string &raw_message, const ConnParams &params,
                const std::string &table) {
  const std::string message = strip_prefix(raw_message);
  const std::string ctx = with_table(params.context(), table);
  const std::string where = " (host " + params.host + ":" + std::to_string(params.port) + ", database " +
                            params.database + (table.empty() ? "" : ", table " + table) + ")";
  const std::string &role = params.role;
  auto scrub = [&](std::string m) { return scrub_secret(std::move(m), params.password); };

  if (sqlstate.empty()) {
    // Client-side: connection-time failures come without a SQLSTATE.
    if (contains(message, "password authentication failed") || contains(message, "no password supplied") ||
        contains(message, "authentication failed") ||
        (contains(message, "role \"") && contains(message, "does not exist")))
      return Error(Code::auth,
                   scrub("password authentication failed for user \"" + params.user + "\"" + where + " — check " +
                         role + ".user/" + role + ".password"),
                   ctx);
    if (contains(message, "database \"") && contains(message, "does not exist"))
      return Error(Code::not_found,
                   "database \"" + params.database + "\" does not exist on " + params.host + ":" +
                       std::to_string(params.port) + " — check " + role + ".database",
                   ctx);
    if (contains(message, "permission denied"))
      return Error(Code::auth, scrub("permission denied: " + message + where), ctx);
    return Error(Code::connection, scrub("connection to PostgreSQL failed: " + message + where), ctx, true);
  }
  if (sqlstate == "28P01" || sqlstate == "28000")
    return Error(Code::auth,
                 scrub("password authentication failed for user \"" + params.user + "\"" + where + " — check " + role +
                       ".user/" + role + ".password"),
                 ctx);
  if (sqlstate == "3D000")
    return Error(Code::not_found,
                 "database \"" + params.database + "\" does not exist on " + params.host + ":" +
                     std::to_string(params.port) + " — check " + role + ".database",
                 ctx);
  if (sqlstate == "42P01")
    return Error(Code::not_found,
                 scrub((table.empty() ? message : "table " + table + " does not exist (" + message + ")") + where),
                 ctx);
  if (sqlstate == "42501")
    return Error(Code::auth,
                 scrub("permission denied" + (table.empty() ? std::string() : " on table " + table) + " for user \"" +
                       params.user + "\": " + message + where),
                 ctx);
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate.compare(0, 2, "08") == 0)
    return Error(Code::connection, scrub("lost connection to PostgreSQL: " + message + where), ctx, true);
  if (sqlstate == "40001" || sqlstate == "40P01")
    return Error(Code::data, scrub(message + " [SQLSTATE " + sqlstate + "]" + where), ctx, true);
  if (sqlstate == "57014") return Error(Code::cancelled, scrub("statement cancelled: " + message + where), ctx);
  const std::string cls = sqlstate.substr(0, 2);
  if (cls == "XX" || cls == "42" || cls == "0A" || cls == "25" || cls == "26" || cls == "34")
    return Error(Code::internal, scrub(message + " [SQLSTATE " + sqlstate + "]" + where), ctx);
  return Error(Code::data, scrub(message + " [SQLSTATE " + sqlstate + "]" + where), ctx);
}

std::string quote_identifier(const std::string &name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_literal(const std::string &text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

Connection::Connection(ConnParams params) : params_(std::move(params)), context_(params_.context()) {
  const std::string port = std::to_string(params_.port);
  const std::string timeout = std::to_string(params_.connect_timeout);
  const char *keys[] = {"host",
                        "port",
                        "user",
                        "password",
                        "dbname",
                        "application_name",
                        "connect_timeout",
                        "client_encoding",
                        "keepalives",
                        "keepalives_idle",
                        params_.replication ? "replication" : nullptr,
                        "options",
                        nullptr};
  const char *values[] = {params_.host.c_str(),
                          port.c_str(),
                          params_.user.c_str(),
                          params_.password.c_str(),
                          params_.database.c_str(),
                          params_.application_name.c_str(),
                          timeout.c_str(),
                          "UTF8",
                          "1",
                          "30",
                          "database",
                          "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3",
                          nullptr};
  conn_ = PQconnectdbParams(keys, values, 0);
  if (!conn_) throw Error(Code::nomem, "out of memory allocating a PostgreSQL connection", context_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    Error e = map_error("", PQerrorMessage(conn_), params_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw e;
  }
  PQsetNoticeProcessor(
      conn_, [](void *, const char *) {}, nullptr);  // server notices are not errors
  cancel_ = PQgetCancel(conn_);
}

Connection::~Connection() {
  if (cancel_) PQfreeCancel(cancel_);
  if (conn_) PQfinish(conn_);
}

Error Connection::error(const PGresult *r, const std::string &table) const {
  std::string state = field(r, PG_DIAG_SQLSTATE);
  std::string msg = field(r, PG_DIAG_MESSAGE_PRIMARY);
  if (msg.empty()) msg = conn_ ? PQerrorMessage(conn_) : "no connection";
  if (conn_ && PQstatus(conn_) == CONNECTION_BAD && state.empty()) state = "08006";
  // A statement error on a healthy connection without SQLSTATE (rare): internal.
  return map_error(state, msg, params_, table);
}

Result Connection::exec(const std::string &sql, const std::string &table) {
  Result r(PQexec(conn_, sql.c_str()));
  if (!r || (r.status() != PGRES_COMMAND_OK && r.status() != PGRES_TUPLES_OK)) throw error(r.get(), table);
  return r;
}

Result Connection::exec_params(const std::string &sql, const std::vector<std::optional<std::string>> &params,
                               const std::string &table) {
  const std::vector<const char *> values = text_values(params);
  Result r(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
  if (!r || (r.status() != PGRES_COMMAND_OK && r.status() != PGRES_TUPLES_OK)) throw error(r.get(), table);
  return r;
}

bool Connection::copy_out(const std::string &sql, const std::function<bool(const char *, int)> &on_data,
                          const std::string &table) {
  {
    Result r(PQexec(conn_, sql.c_str()));
    if (!r || r.status() != PGRES_COPY_OUT) throw error(r.get(), table);
  }
  bool stopped = false;
  for (;;) {
    char *buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      // Freed even when the callback throws (a value it cannot decode).
      std::unique_ptr<char, void (*)(void *)> owned(buf, PQfreemem);
      bool go = on_data(owned.get(), n);
      if (!go) {
        stopped = true;
        cancel();
        break;
      }
      continue;
    }
    if (buf) PQfreemem(buf);
    if (n == -1) break;  // done: the final result follows
    // -2: failure (lost connection, ...)
    Result r(PQgetResult(conn_));
    Error e = error(r.get(), table);
    while (PGresult *rest = PQgetResult(conn_)) PQclear(rest);
    throw e;
  }
  if (stopped) {
    // Drain what is left after the cancel request; its error (57014) is expected.
    for (;;) {
      char *buf = nullptr;
      int n = PQgetCopyData(conn_, &buf, 0);
      if (buf) PQfreemem(buf);
      if (n < 0) break;
    }
    while (PGresult *rest = PQgetResult(conn_)) PQclear(rest);
    return false;
  }
  Result r(PQgetResult(conn_));
  Error failure(Code::ok, "");
  bool failed = !r || r.status() != PGRES_COMMAND_OK;
  if (failed) failure = error(r.get(), table);
  while (PGresult *rest = PQgetResult(conn_)) PQclear(rest);
  if (failed) throw failure;
  return true;
}

void Connection::pipeline_begin() {
  if (in_pipeline()) return;
  if (PQenterPipelineMode(conn_) != 1) throw error(nullptr);
}

void Connection::pipeline_exec(const std::string &sql, const std::vector<std::optional<std::string>> &params,
                               const std::string &table) {
  pipeline_begin();
  const std::vector<const char *> values = text_values(params);
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                        0) != 1)
    throw error(nullptr, table);
  pipeline_queue_.push_back({table, ""});
}

void Connection::pipeline_exec_prepared(const std::string &name, const std::string &sql, int count,
                                        const char *const *values, const int *lengths, const std::string &table) {
  pipeline_begin();
  auto queued = [&] {
    return std::any_of(pipeline_queue_.begin(), pipeline_queue_.end(),
                       [&](const Queued &q) { return q.prepares == name; });
  };
  if (prepared_.count(name) == 0 && !queued()) {
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 1) throw error(nullptr, table);
    pipeline_queue_.push_back({table, name});
  }
  if (binary_formats_.size() < static_cast<size_t>(count)) binary_formats_.resize(static_cast<size_t>(count), 1);
  if (PQsendQueryPrepared(conn_, name.c_str(), count, values, lengths, binary_formats_.data(), 0) != 1)
    throw error(nullptr, table);
  pipeline_queue_.push_back({table, ""});
}

void Connection::pipeline_sync() {
  if (!in_pipeline()) return;
  if (pipeline_queue_.empty()) {
    if (PQexitPipelineMode(conn_) != 1) throw error(nullptr);
    return;
  }
  std::vector<Queued> queue;
  queue.swap(pipeline_queue_);
  if (PQpipelineSync(conn_) != 1) throw error(nullptr, queue.front().table);
  std::optional<Error> first;
  size_t index = 0;  // the statement whose results are being read
  bool index_failed = false;
  for (;;) {
    Result r(PQgetResult(conn_));
    if (!r) {
      // The end of one statement's results (libpq returns null between them).
      if (PQstatus(conn_) == CONNECTION_BAD) throw error(nullptr, index < queue.size() ? queue[index].table : "");
      if (index < queue.size() && !index_failed && !queue[index].prepares.empty())
        prepared_.insert(queue[index].prepares);
      ++index;
      index_failed = false;
      if (index > queue.size() + 1)
        throw Error(Code::internal, "the pipeline's results ended without its sync", context_);
      continue;
    }
    const ExecStatusType status = r.status();
    if (status == PGRES_PIPELINE_SYNC) break;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) continue;
    index_failed = true;  // an error, or skipped after one (PGRES_PIPELINE_ABORTED)
    if (status == PGRES_FATAL_ERROR && !first) first = error(r.get(), index < queue.size() ? queue[index].table : "");
  }
  if (PQexitPipelineMode(conn_) != 1) throw error(nullptr);
  if (first) throw *first;
}

void Connection::copy_in_begin(const std::string &sql, const std::string &table) {
  copy_in_table_ = table;
  Result r(PQexec(conn_, sql.c_str()));
  if (!r || r.status() != PGRES_COPY_IN) throw error(r.get(), table);
}

void Connection::put_copy_data(const char *data, size_t size) {
  while (size > 0) {
    int chunk = size > (1u << 30) ? (1 << 30) : static_cast<int>(size);
    if (PQputCopyData(conn_, data, chunk) != 1) throw error(nullptr, copy_in_table_);
    data += chunk;
    size -= static_cast<size_t>(chunk);
  }
}

int64_t Connection::copy_in_end() {
  if (PQputCopyEnd(conn_, nullptr) != 1) throw error(nullptr, copy_in_table_);
  Result r(PQgetResult(conn_));
  bool failed = !r || r.status() != PGRES_COMMAND_OK;
  Error failure(Code::ok, "");
  if (failed) failure = error(r.get(), copy_in_table_);
  int64_t rows = r ? r.affected_rows() : 0;
  while (PGresult *rest = PQgetResult(conn_)) PQclear(rest);
  if (failed) throw failure;
  return rows;
}

void Connection::copy_in_abort(const std::string &reason) {
  if (!conn_) return;
  PQputCopyEnd(conn_, reason.c_str());
  while (PGresult *rest = PQgetResult(conn_)) PQclear(rest);
}

std::string Connection::escape_identifier(const std::string &name) const {
  if (!conn_) return quote_identifier(name);
  char *p = PQescapeIdentifier(conn_, name.data(), name.size());
  if (!p) return quote_identifier(name);
  std::string out(p);
  PQfreemem(p);
  return out;
}

std::string Connection::escape_literal(const std::string &text) const {
  if (!conn_) return quote_literal(text);
  char *p = PQescapeLiteral(conn_, text.data(), text.size());
  if (!p) return quote_literal(text);
  std::string out(p);
  PQfreemem(p);
  return out;
}

void Connection::cancel() noexcept {
  if (!cancel_) return;
  char err[256];
  PQcancel(cancel_, err, sizeof err);
}

bool Connection::in_transaction() const noexcept {
  if (!conn_) return false;
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

}  // namespace ds::connectors::postgres
