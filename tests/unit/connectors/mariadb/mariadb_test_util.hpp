// Shared fixtures of the MariaDB connector tests: the server from the
// DS_MARIADB_* environment variables (`eval "$(scripts/db env)"`), direct SQL
// through raw Connector/C (bypassing the connector under test) and scratch
// databases. A missing variable or an unreachable server FAILS the test (never
// skips): the helpers throw std::runtime_error, which GoogleTest reports.
#pragma once
#include <gtest/gtest.h>
#include <mysql.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/mariadb/connection.hpp"

namespace ds::test::mariadb {

struct Server {
  std::string host, user, password, database;
  int port = 3306;
};

inline std::string env_or_throw(const char *name) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    throw std::runtime_error(std::string("environment variable ") + name +
                             " is not set: run `eval \"$(scripts/db env)\"` after `scripts/db up`");
  return v;
}

// The server of the DS_MARIADB_* variables; throws when one is unset.
inline Server server() {
  Server s;
  s.host = env_or_throw("DS_MARIADB_HOST");
  s.port = std::stoi(env_or_throw("DS_MARIADB_PORT"));
  s.user = env_or_throw("DS_MARIADB_USER");
  s.password = env_or_throw("DS_MARIADB_PASSWORD");
  s.database = env_or_throw("DS_MARIADB_DATABASE");
  return s;
}

// Connection parameters for the connector under test, on `database`
// (default: DS_MARIADB_DATABASE).
inline connectors::mariadb::ConnParams params(const std::string &database = "") {
  Server s = server();
  connectors::mariadb::ConnParams p;
  p.host = s.host;
  p.port = s.port;
  p.user = s.user;
  p.password = s.password;
  p.database = database.empty() ? s.database : database;
  p.connect_timeout = 5;
  return p;
}

// A raw Connector/C connection (utf8mb4, time_zone +00:00), closed on
// destruction. Throws when it cannot connect.
class RawConn {
 public:
  explicit RawConn(const std::string &database = "", const std::string &user = "", const std::string &password = "") {
    Server s = server();
    const std::string db = database.empty() ? s.database : database;
    conn_ = mysql_init(nullptr);
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    unsigned timeout = 5;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    const std::string u = user.empty() ? s.user : user;
    const std::string pw = user.empty() ? s.password : password;
    if (!mysql_real_connect(conn_, s.host.c_str(), u.c_str(), pw.c_str(), db.c_str(), static_cast<unsigned>(s.port),
                            nullptr, CLIENT_MULTI_STATEMENTS)) {
      std::string msg = mysql_error(conn_);
      mysql_close(conn_);
      conn_ = nullptr;
      throw std::runtime_error("cannot connect to the test MariaDB at " + s.host + ":" + std::to_string(s.port) +
                               " database " + db + " (is `scripts/db up` running?): " + msg);
    }
    exec("SET time_zone = '+00:00'");
  }
  RawConn(const RawConn &) = delete;
  RawConn &operator=(const RawConn &) = delete;
  ~RawConn() {
    if (conn_) mysql_close(conn_);
  }
  MYSQL *get() const { return conn_; }
  unsigned long thread_id() const { return mysql_thread_id(conn_); }

  // Runs SQL (several statements allowed); throws with the server's message on failure.
  void exec(const std::string &sql) {
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0)
      throw std::runtime_error("SQL failed: " + std::string(mysql_error(conn_)) + " in: " + sql.substr(0, 500));
    for (;;) {
      if (MYSQL_RES *r = mysql_store_result(conn_)) mysql_free_result(r);
      int more = mysql_next_result(conn_);
      if (more > 0)
        throw std::runtime_error("SQL failed: " + std::string(mysql_error(conn_)) + " in: " + sql.substr(0, 500));
      if (more < 0) break;
    }
  }
  // Rows of a query; NULL is std::nullopt.
  std::vector<std::vector<std::optional<std::string>>> query_nulls(const std::string &sql) {
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0)
      throw std::runtime_error("query failed: " + std::string(mysql_error(conn_)) + " in: " + sql.substr(0, 500));
    MYSQL_RES *r = mysql_store_result(conn_);
    std::vector<std::vector<std::optional<std::string>>> rows;
    if (!r) return rows;
    unsigned n = mysql_num_fields(r);
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      unsigned long *len = mysql_fetch_lengths(r);
      std::vector<std::optional<std::string>> out(n);
      for (unsigned i = 0; i < n; ++i)
        if (row[i]) out[i] = std::string(row[i], len[i]);
      rows.push_back(std::move(out));
    }
    mysql_free_result(r);
    return rows;
  }
  // Rows as text ("" for NULL).
  std::vector<std::vector<std::string>> query(const std::string &sql) {
    std::vector<std::vector<std::string>> out;
    for (auto &row : query_nulls(sql)) {
      std::vector<std::string> r;
      for (auto &v : row) r.push_back(v ? *v : "");
      out.push_back(std::move(r));
    }
    return out;
  }
  // The first column of the first row ("" when there is none).
  std::string scalar(const std::string &sql) {
    auto rows = query(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }

 private:
  MYSQL *conn_ = nullptr;
};

// A fresh database "ds_t_<pid>_<n>_<tag>" (utf8mb4), dropped on destruction.
class ScratchDb {
 public:
  explicit ScratchDb(const std::string &tag = "") {
    static std::atomic<int> counter{0};
    name_ = "ds_t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    for (char c : tag) {
      if (name_.size() >= 60) break;
      name_ += (std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_');
    }
    RawConn admin;
    admin.exec("DROP DATABASE IF EXISTS `" + name_ + "`");
    admin.exec("CREATE DATABASE `" + name_ + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  }
  ScratchDb(const ScratchDb &) = delete;
  ScratchDb &operator=(const ScratchDb &) = delete;
  ~ScratchDb() {
    try {
      RawConn admin;
      admin.exec("DROP DATABASE IF EXISTS `" + name_ + "`");
    } catch (...) {
    }
  }
  const std::string &name() const { return name_; }
  connectors::mariadb::ConnParams params() const { return mariadb::params(name_); }
  void exec(const std::string &sql) const { RawConn(name_).exec(sql); }
  std::vector<std::vector<std::string>> query(const std::string &sql) const { return RawConn(name_).query(sql); }
  std::vector<std::vector<std::optional<std::string>>> query_nulls(const std::string &sql) const {
    return RawConn(name_).query_nulls(sql);
  }
  std::string scalar(const std::string &sql) const { return RawConn(name_).scalar(sql); }

 private:
  std::string name_;
};

}  // namespace ds::test::mariadb
