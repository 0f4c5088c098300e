// Shared fixtures of the SQLite connector tests: a temporary directory and
// direct SQL on a database file, bypassing the connector under test.
#pragma once
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ds::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ds_sqlite_test_XXXXXX";
    const char *p = mkdtemp(tmpl);
    if (!p) std::abort();
    path_ = p;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void exec(const std::string &db, const std::string &sql) {
  sqlite3 *h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char *err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg << " in " << sql;
}

}  // namespace ds::test
