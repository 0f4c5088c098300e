// Thin RAII wrappers over the SQLite C API used by the sqlite connector, and
// the translation of SQLite result codes into ds::Error.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "model/error.hpp"

namespace ds::connectors::sqlite {

// The ds::Error code for a SQLite (extended) result code.
Code code_for(int rc);
// Throws ds::Error for `rc`, with `what` followed by SQLite's own message.
// SQLITE_BUSY/LOCKED become retriable timeouts.
[[noreturn]] void throw_sqlite(sqlite3 *db, int rc, const std::string &what, const std::string &context);

// "name" with embedded quotes doubled.
std::string quote_ident(std::string_view name);
// 'text' with embedded quotes doubled.
std::string quote_literal(std::string_view text);
// ASCII case-insensitive equality, as SQLite compares identifiers.
bool iequals(std::string_view a, std::string_view b);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3 *db, sqlite3_stmt *stmt, std::string context)
      : db_(db), stmt_(stmt), context_(std::move(context)) {}
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;
  Statement(Statement &&o) noexcept : db_(o.db_), stmt_(o.stmt_), context_(std::move(o.context_)) { o.stmt_ = nullptr; }
  Statement &operator=(Statement &&o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      db_ = o.db_;
      stmt_ = o.stmt_;
      context_ = std::move(o.context_);
      o.stmt_ = nullptr;
    }
    return *this;
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt *get() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

  // Binds with SQLITE_TRANSIENT (copies): for the few non-hot-path statements.
  void bind(int i, int64_t v) { check_bind(sqlite3_bind_int64(stmt_, i, v)); }
  void bind(int i, std::string_view v) {
    check_bind(sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int i) { check_bind(sqlite3_bind_null(stmt_, i)); }

  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else throws (after a reset).
  bool step(const std::string &what);
  void reset() noexcept { sqlite3_reset(stmt_); }
  // Steps to completion, ignoring rows.
  void run(const std::string &what) {
    while (step(what)) {
    }
    reset();
  }

  int64_t column_int64(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i) const {
    const unsigned char *p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char *>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  void check_bind(int rc);
  sqlite3 *db_ = nullptr;
  sqlite3_stmt *stmt_ = nullptr;
  std::string context_;
};

class Connection {
 public:
  enum class Mode { read_only, read_write_create };

  Connection() = default;
  // Opens `path`. read_only: the file must exist (not_found otherwise) and be a
  // SQLite database (data otherwise). `context` prefixes every error ("source=sqlite path=...").
  Connection(const std::string &path, Mode mode, std::string context, int busy_timeout_ms = 10000);
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;
  Connection(Connection &&o) noexcept : db_(o.db_), path_(std::move(o.path_)), context_(std::move(o.context_)) {
    o.db_ = nullptr;
  }
  Connection &operator=(Connection &&o) noexcept {
    if (this != &o) {
      close();
      db_ = o.db_;
      path_ = std::move(o.path_);
      context_ = std::move(o.context_);
      o.db_ = nullptr;
    }
    return *this;
  }
  ~Connection() { close(); }

  sqlite3 *get() const noexcept { return db_; }
  explicit operator bool() const noexcept { return db_ != nullptr; }
  const std::string &path() const noexcept { return path_; }
  const std::string &context() const noexcept { return context_; }

  // Prepares `sql` (errors carry `context`, or the connection's). A plain
  // SQLITE_ERROR at this point is an unknown table or column: Code::schema.
  Statement prepare(const std::string &sql, const std::string &context = {}) const;
  void exec(const std::string &sql, const std::string &what) const;
  // Runs a PRAGMA that returns one row (journal_mode) or none.
  std::string pragma(const std::string &sql) const;
  bool in_transaction() const noexcept { return db_ && sqlite3_get_autocommit(db_) == 0; }

 private:
  void close() noexcept;
  sqlite3 *db_ = nullptr;
  std::string path_;
  std::string context_;
};

}  // namespace ds::connectors::sqlite
