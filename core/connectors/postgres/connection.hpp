// A thin RAII layer over libpq shared by the postgres source and sink: one
// connection, its results, COPY in both directions, and the mapping of server
// errors (SQLSTATE) onto ds::Error codes. Messages say what failed and the
// context says where ("host=... port=... database=... table=..."); the
// password never appears in either.
#pragma once
#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/error.hpp"

namespace ds::connectors::postgres {

struct ConnParams {
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string user;
  std::string password;  // secret: never in a message or context
  std::string database;
  std::string application_name = "datasync";
  int connect_timeout = 10;  // seconds
  // "source" or "sink": names the configuration keys in error hints ("check source.password").
  std::string role = "source";
  // A logical replication connection (replication=database) whose session
  // prints values in fixed formats: ISO dates, UTC, ISO 8601 intervals and
  // float text that round-trips (pgoutput sends text in the session's styles).
  bool replication = false;

  // "host=127.0.0.1 port=5432 database=x" (no user password).
  std::string context() const;
};

// Owns one PGresult.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult *r) : r_(r) {}
  Result(const Result &) = delete;
  Result &operator=(const Result &) = delete;
  Result(Result &&o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result &operator=(Result &&o) noexcept {
    if (this != &o) {
      reset();
      r_ = o.r_;
      o.r_ = nullptr;
    }
    return *this;
  }
  ~Result() { reset(); }

  PGresult *get() const noexcept { return r_; }
  explicit operator bool() const noexcept { return r_ != nullptr; }
  ExecStatusType status() const { return PQresultStatus(r_); }
  int rows() const { return r_ ? PQntuples(r_) : 0; }
  int cols() const { return r_ ? PQnfields(r_) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  // Text value ("" for NULL).
  std::string value(int row, int col) const { return std::string(PQgetvalue(r_, row, col), length(row, col)); }
  const char *raw_value(int row, int col) const { return PQgetvalue(r_, row, col); }
  size_t length(int row, int col) const { return static_cast<size_t>(PQgetlength(r_, row, col)); }
  int64_t int_value(int row, int col) const;  // parses the text value; 0 for NULL
  // Affected rows of an INSERT/UPDATE/DELETE/COPY ("" → 0).
  int64_t affected_rows() const;
  void reset() {
    if (r_) PQclear(r_);
    r_ = nullptr;
  }

 private:
  PGresult *r_ = nullptr;
};

// Builds the ds::Error for a server error. `sqlstate` may be empty (client-side
// failure: connection refused, lost connection); `message` is the server's or
// libpq's text. `table` ("schema.table", may be empty) is named in the message
// of table-level errors and added to the context.
Error map_error(const std::string &sqlstate, const std::string &message, const ConnParams &params,
                const std::string &table = "");

// Escapes an identifier without a connection ("a""b" → "\"a\"\"b\"").
std::string quote_identifier(const std::string &name);
// 'text' literal with quotes doubled (standard_conforming_strings is on).
std::string quote_literal(const std::string &text);

class Connection {
 public:
  // Connects; throws the mapped ds::Error (auth, not_found, connection retriable).
  explicit Connection(ConnParams params);
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  ~Connection();

  // Runs one or more statements; throws the mapped error when the last result
  // is not COMMAND_OK / TUPLES_OK. `table` only enriches errors.
  Result exec(const std::string &sql, const std::string &table = "");
  // One statement with text parameters (nullopt = NULL).
  Result exec_params(const std::string &sql, const std::vector<std::optional<std::string>> &params,
                     const std::string &table = "");

  // Runs a `COPY ... TO STDOUT` statement and hands every CopyData message to
  // `on_data` as it arrives (messages are not aligned with rows). When
  // `on_data` returns false the COPY is cancelled and copy_out returns false;
  // otherwise returns true at the end of the data.
  bool copy_out(const std::string &sql, const std::function<bool(const char *, int)> &on_data,
                const std::string &table = "");

  // `COPY ... FROM STDIN`: begin, put data (any chunking), end (throws the
  // server's error, e.g. a constraint violation). copy_in_abort() abandons it.
  void copy_in_begin(const std::string &sql, const std::string &table = "");
  void put_copy_data(const char *data, size_t size);
  // Returns the number of rows copied.
  int64_t copy_in_end();
  void copy_in_abort(const std::string &reason);

  // libpq pipeline mode: statements go out without waiting for their
  // results, so a small transaction (BEGIN, its rows, the checkpoint, COMMIT)
  // costs one round trip instead of one per statement. pipeline_sync() ends
  // the run: it reads every result, throws the first error (the server skips
  // the statements after it) and leaves pipeline mode. Nothing else may use
  // the connection while in_pipeline().
  void pipeline_exec(const std::string &sql, const std::vector<std::optional<std::string>> &params,
                     const std::string &table = "");  // text parameters (nullopt = NULL)
  // A named prepared statement with binary parameters, prepared on first use
  // on this connection (in the same pipeline).
  void pipeline_exec_prepared(const std::string &name, const std::string &sql, int count, const char *const *values,
                              const int *lengths, const std::string &table = "");
  void pipeline_sync();
  void pipeline_begin();  // enters pipeline mode (the pipeline_exec calls do it too)
  bool in_pipeline() const noexcept { return conn_ && PQpipelineStatus(conn_) != PQ_PIPELINE_OFF; }
  size_t pipeline_depth() const noexcept { return pipeline_queue_.size(); }

  std::string escape_identifier(const std::string &name) const;
  std::string escape_literal(const std::string &text) const;

  // Sends a cancel request for the running statement (safe from another thread).
  void cancel() noexcept;
  bool ok() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }
  bool in_transaction() const noexcept;
  int backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_) : 0; }
  int server_version() const noexcept { return conn_ ? PQserverVersion(conn_) : 0; }

  const ConnParams &params() const noexcept { return params_; }
  // "host=... port=... database=..." (no password).
  const std::string &context() const noexcept { return context_; }
  PGconn *raw() const noexcept { return conn_; }

  // The error for the connection's last failure (or for `r` when given).
  Error error(const PGresult *r, const std::string &table = "") const;

 private:
  ConnParams params_;
  std::string context_;
  PGconn *conn_ = nullptr;
  PGcancel *cancel_ = nullptr;
  std::string copy_in_table_;
  // What each statement sent in pipeline mode was, in order: its table (for
  // error messages) and, for a Parse, the statement it prepares.
  struct Queued {
    std::string table;
    std::string prepares;
  };
  std::vector<Queued> pipeline_queue_;
  std::set<std::string> prepared_;   // named statements that exist on this connection
  std::vector<int> binary_formats_;  // all 1: every prepared statement's parameters are binary
};

}  // namespace ds::connectors::postgres
