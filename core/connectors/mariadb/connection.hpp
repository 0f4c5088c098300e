// A thin RAII layer over MariaDB Connector/C shared by the mariadb source and
// sink: one connection, buffered and streamed results, LOAD DATA LOCAL INFILE
// fed from memory, and the mapping of server and client errors (errno) onto
// ds::Error codes. Messages say what failed and what to change; the context
// says where ("host=... port=... database=... table=..."); the password never
// appears in either.
//
// Every connection uses utf8mb4 (the server converts latin1 and other
// charsets for us), time_zone '+00:00' (TIMESTAMP values are read and written
// as UTC, whatever the server's zone), and sql_mode with STRICT_ALL_TABLES and
// NO_BACKSLASH_ESCAPES off, so a value that does not fit fails instead of
// being silently truncated.
#pragma once
#include <mysql.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/error.hpp"

namespace ds::connectors::mariadb {

struct ConnParams {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;  // secret: never in a message or context
  std::string database;
  int connect_timeout = 10;  // seconds
  // "source" or "sink": names the configuration keys in error hints ("check source.password").
  std::string role = "source";

  // "host=127.0.0.1 port=3306 database=x" (no password).
  std::string context() const;
};

// Builds the ds::Error for errno `code` (server ER_* or client CR_*) with the
// server's `message`. `table` ("db.table", may be empty) is named in the
// message of table-level errors and added to the context.
Error map_error(unsigned code, const std::string &message, const ConnParams &params, const std::string &table = "");

// `name` quoted with backticks (embedded backticks doubled).
std::string quote_identifier(const std::string &name);
// 'text' literal with quotes and backslashes escaped (valid in every sql_mode).
std::string quote_literal(std::string_view text);

// A fully read (buffered) result: small catalog queries.
class Result {
 public:
  Result() = default;
  explicit Result(MYSQL_RES *r);
  Result(const Result &) = delete;
  Result &operator=(const Result &) = delete;
  Result(Result &&o) noexcept;
  Result &operator=(Result &&o) noexcept;
  ~Result();

  size_t rows() const { return rows_.size(); }
  unsigned cols() const { return cols_; }
  bool is_null(size_t row, unsigned col) const { return !rows_[row][col].has_value(); }
  // Text value ("" for NULL).
  const std::string &value(size_t row, unsigned col) const;
  int64_t int_value(size_t row, unsigned col) const;  // 0 for NULL or non-numeric text
  const std::vector<std::string> &names() const { return names_; }

 private:
  unsigned cols_ = 0;
  std::vector<std::string> names_;
  std::vector<std::vector<std::optional<std::string>>> rows_;
};

// One streamed row: values and lengths straight from the client library's
// buffer, valid until the next row is fetched.
struct RowView {
  MYSQL_ROW values = nullptr;
  unsigned long *lengths = nullptr;
  bool is_null(unsigned col) const { return values[col] == nullptr; }
  std::string_view value(unsigned col) const { return std::string_view(values[col], lengths[col]); }
};

class Connection {
 public:
  // Connects; throws the mapped ds::Error (auth, not_found, retriable connection).
  explicit Connection(ConnParams params);
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  ~Connection();

  // Runs one statement and discards any result; returns affected rows.
  int64_t exec(const std::string &sql, const std::string &table = "");
  // Runs one statement and buffers its result (small results only).
  Result query(const std::string &sql, const std::string &table = "");
  // Runs one statement and streams its rows (mysql_use_result: the server
  // sends as we read, nothing is buffered whole). `on_row` returns false to
  // stop early; the rest of the result is then discarded by closing the
  // statement. Returns false when stopped early. `field_types` receives the
  // result's MYSQL_TYPE_* codes before the first row when non-null.
  bool stream(const std::string &sql, const std::function<bool(const RowView &)> &on_row, const std::string &table = "",
              std::vector<enum_field_types> *field_types = nullptr);

  // LOAD DATA LOCAL INFILE fed from memory: the statement's file name is
  // ignored and `produce` is called until it returns 0; it writes up to
  // `capacity` bytes into `buffer` and returns how many it wrote, or -1 after
  // storing an error of its own. Returns affected rows. A server that refuses
  // local infile gets a clear error saying what to change.
  int64_t load_data_local(const std::string &sql, const std::function<int(char *buffer, unsigned capacity)> &produce,
                          const std::string &table = "");

  std::string escape(std::string_view text) const;  // mysql_real_escape_string, without quotes

  unsigned long thread_id() const noexcept { return conn_ ? mysql_thread_id(conn_) : 0; }
  std::string server_version() const { return conn_ ? mysql_get_server_info(conn_) : ""; }
  bool is_mariadb() const;  // false for MySQL servers
  const ConnParams &params() const noexcept { return params_; }
  const std::string &context() const noexcept { return context_; }
  MYSQL *raw() const noexcept { return conn_; }

  // The error for the connection's last failure.
  Error last_error(const std::string &table = "") const;

 private:
  ConnParams params_;
  std::string context_;
  MYSQL *conn_ = nullptr;
};

}  // namespace ds::connectors::mariadb
