#include <filesystem>
#include "connectors/sqlite/db.hpp"

#include <sys/stat.h>

namespace ds::connectors::sqlite {

Code code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return Code::ok;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Code::data;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM: return Code::io;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Code::timeout;
    case SQLITE_NOMEM: return Code::nomem;
    case SQLITE_AUTH: return Code::auth;
    case SQLITE_INTERRUPT: return Code::cancelled;
    case SQLITE_NOTFOUND: return Code::not_found;
    case SQLITE_SCHEMA: return Code::schema;
    default: return Code::internal;
  }
}

void throw_sqlite(sqlite3 *db, int rc, const std::string &what, const std::string &context) {
  std::string msg = what;
  const char *detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (detail && *detail) msg += ": " + std::string(detail);
  int primary = rc & 0xff;
  throw Error(code_for(rc), msg, context, primary == SQLITE_BUSY || primary == SQLITE_LOCKED);
}

std::string quote_ident(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string quote_literal(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) throw_sqlite(db_, rc, "cannot bind a statement parameter", context_);
}

bool Statement::step(const std::string &what) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  throw_sqlite(db_, rc, what, context_);
}

Connection::Connection(const std::string &path, Mode mode, std::string context, int busy_timeout_ms)
    : path_(path), context_(std::move(context)) {
  struct stat st {};
  if (mode == Mode::read_only) {
    if (::stat(path.c_str(), &st) != 0)
      throw Error(Code::not_found, "SQLite database file '" + path + "' does not exist", context_);
    if (S_ISDIR(st.st_mode)) throw Error(Code::data, "'" + path + "' is a directory, not a SQLite database", context_);
  } else {
    // A target in a directory that does not exist yet is created with it, like `mkdir -p`.
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (dir.empty()) dir = "/";
    std::error_code ec;
    if (path != ":memory:" && path.rfind("file:", 0) != 0) std::filesystem::create_directories(dir, ec);
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw Error(Code::io,
                  "cannot create the directory of SQLite database '" + path + "'" + (ec ? ": " + ec.message() : ""),
                  context_);
  }
  int flags = (mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw Error(code_for(rc), "cannot open SQLite database '" + path + "': " + detail, context_);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  // Reading the schema reads the header: a file that is not a database fails here.
  sqlite3_stmt *probe = nullptr;
  rc = sqlite3_prepare_v2(db_, "SELECT 1 FROM main.sqlite_schema LIMIT 1", -1, &probe, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(probe);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(probe);
  if (rc != SQLITE_OK) {
    int primary = rc & 0xff;
    std::string detail = sqlite3_errmsg(db_);
    close();
    if (primary == SQLITE_NOTADB) throw Error(Code::data, "file '" + path + "' is not a SQLite database", context_);
    throw Error(code_for(rc), "cannot read SQLite database '" + path + "': " + detail, context_,
                primary == SQLITE_BUSY || primary == SQLITE_LOCKED);
  }
}

void Connection::close() noexcept {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Statement Connection::prepare(const std::string &sql, const std::string &context) const {
  const std::string &ctx = context.empty() ? context_ : context;
  sqlite3_stmt *stmt = nullptr;
  int rc =
      sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    std::string msg = "cannot prepare SQL [" + sql + "]: " + sqlite3_errmsg(db_);
    int primary = rc & 0xff;
    // SQLITE_ERROR at prepare time means an unknown table or column, or bad SQL.
    Code code = primary == SQLITE_ERROR ? Code::schema : code_for(rc);
    throw Error(code, msg, ctx, primary == SQLITE_BUSY || primary == SQLITE_LOCKED);
  }
  return Statement(db_, stmt, ctx);
}

void Connection::exec(const std::string &sql, const std::string &what) const {
  char *err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = what + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    int primary = rc & 0xff;
    throw Error(code_for(rc), msg, context_, primary == SQLITE_BUSY || primary == SQLITE_LOCKED);
  }
}

std::string Connection::pragma(const std::string &sql) const {
  Statement s = prepare(sql);
  std::string out;
  if (s.step(sql)) out = s.column_text(0);
  s.reset();
  return out;
}

}  // namespace ds::connectors::sqlite
