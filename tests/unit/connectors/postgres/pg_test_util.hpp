// Shared fixtures of the PostgreSQL connector tests: the server from the
// DS_PG_* environment variables (`eval "$(scripts/db env)"`), direct SQL through
// raw libpq (bypassing the connector under test) and scratch databases.
// A missing variable or an unreachable server FAILS the test (never skips):
// the helpers throw std::runtime_error, which GoogleTest reports as a failure.
#pragma once
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"

namespace ds::test::pg {

struct Server {
  std::string host, user, password, database;
  int port = 5432;
};

inline std::string env_or_throw(const char *name) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    throw std::runtime_error(std::string("environment variable ") + name +
                             " is not set: run `eval \"$(scripts/db env)\"` after `scripts/db up`");
  return v;
}

// The server of the DS_PG_* variables; throws when one is unset.
inline Server server() {
  Server s;
  s.host = env_or_throw("DS_PG_HOST");
  s.port = std::stoi(env_or_throw("DS_PG_PORT"));
  s.user = env_or_throw("DS_PG_USER");
  s.password = env_or_throw("DS_PG_PASSWORD");
  s.database = env_or_throw("DS_PG_DATABASE");
  return s;
}

// Connection parameters for the connector under test, on `database`
// (default: DS_PG_DATABASE).
inline connectors::postgres::ConnParams params(const std::string &database = "") {
  Server s = server();
  connectors::postgres::ConnParams p;
  p.host = s.host;
  p.port = s.port;
  p.user = s.user;
  p.password = s.password;
  p.database = database.empty() ? s.database : database;
  p.application_name = "ds_unit_tests";
  p.connect_timeout = 5;
  return p;
}

// A raw libpq connection, closed on destruction. Throws when it cannot connect.
class RawConn {
 public:
  explicit RawConn(const std::string &database = "", const std::string &user = "", const std::string &password = "") {
    Server s = server();
    const std::string port = std::to_string(s.port);
    const std::string db = database.empty() ? s.database : database;
    const std::string u = user.empty() ? s.user : user;
    const std::string pw = user.empty() ? s.password : password;
    const char *keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", "application_name", nullptr};
    const char *values[] = {s.host.c_str(), port.c_str(), u.c_str(),        pw.c_str(),
                            db.c_str(),     "5",          "ds_test_helper", nullptr};
    conn_ = PQconnectdbParams(keys, values, 0);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn_);
      PQfinish(conn_);
      conn_ = nullptr;
      throw std::runtime_error("cannot connect to the test PostgreSQL at " + s.host + ":" + port + " database " + db +
                               " (is `scripts/db up` running?): " + msg);
    }
    PQsetNoticeProcessor(
        conn_, [](void *, const char *) {}, nullptr);  // no "does not exist, skipping" noise
  }
  RawConn(const RawConn &) = delete;
  RawConn &operator=(const RawConn &) = delete;
  ~RawConn() {
    if (conn_) PQfinish(conn_);
  }
  PGconn *get() const { return conn_; }
  int pid() const { return PQbackendPID(conn_); }

  // Runs SQL (several statements allowed); throws with the server's message on failure.
  void exec(const std::string &sql) {
    PGresult *r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      throw std::runtime_error("SQL failed: " + msg + " in: " + sql.substr(0, 500));
  }
  // Rows of a query as text ("" for NULL, use query_nulls to tell).
  std::vector<std::vector<std::string>> query(const std::string &sql) {
    PGresult *r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("query failed: " + msg + " in: " + sql.substr(0, 500));
    }
    std::vector<std::vector<std::string>> rows(static_cast<size_t>(PQntuples(r)));
    for (int i = 0; i < PQntuples(r); ++i)
      for (int j = 0; j < PQnfields(r); ++j) rows[i].emplace_back(PQgetvalue(r, i, j), PQgetlength(r, i, j));
    PQclear(r);
    return rows;
  }
  // The first column of the first row ("" when there is none).
  std::string scalar(const std::string &sql) {
    auto rows = query(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }

 private:
  PGconn *conn_ = nullptr;
};

// Runs SQL on `database` (default DS_PG_DATABASE) through a fresh connection.
inline void exec(const std::string &sql, const std::string &database = "") { RawConn(database).exec(sql); }

// A fresh database "ds_t_<pid>_<n>_<tag>" created from template0, dropped
// (WITH FORCE) on destruction. Use one per test or per fixture.
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
    admin.exec("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
    admin.exec("CREATE DATABASE \"" + name_ + "\" TEMPLATE template0 ENCODING 'UTF8'");
  }
  ScratchDb(const ScratchDb &) = delete;
  ScratchDb &operator=(const ScratchDb &) = delete;
  ~ScratchDb() {
    try {
      RawConn admin;
      // A database with a replication slot cannot be dropped (change-capture tests make slots).
      admin.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name_ +
                 "'");
      admin.exec("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
    } catch (...) {
    }
  }
  const std::string &name() const { return name_; }
  connectors::postgres::ConnParams params() const { return pg::params(name_); }
  void exec(const std::string &sql) const { RawConn(name_).exec(sql); }
  std::vector<std::vector<std::string>> query(const std::string &sql) const { return RawConn(name_).query(sql); }
  std::string scalar(const std::string &sql) const { return RawConn(name_).scalar(sql); }

 private:
  std::string name_;
};

}  // namespace ds::test::pg
