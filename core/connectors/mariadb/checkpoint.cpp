#include "connectors/mariadb/checkpoint.hpp"

#include "connectors/mariadb/ddl.hpp"

namespace ds::connectors::mariadb {
namespace {

std::string table_display(const std::string &database) { return database + "." + kCheckpointTable; }

// MySQL 8.0.19+ names the inserted row with an alias (VALUES() is deprecated
// from 8.0.20); MariaDB has only VALUES().
bool uses_row_alias(const Connection &conn) {
  return !conn.is_mariadb() && server_version_number(conn.server_version()) >= 80019;
}

}  // namespace

std::string checkpoint_table_name(const std::string &database) {
  return quote_identifier(database) + "." + quote_identifier(kCheckpointTable);
}

void ensure_checkpoint_table(Connection &conn, const std::string &database) {
  const std::string display = table_display(database);
  // Only when missing: CREATE DATABASE needs a privilege a sink user may lack.
  Result exists =
      conn.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " + quote_literal(database), display);
  if (exists.rows() == 0)
    conn.exec(
        "CREATE DATABASE IF NOT EXISTS " + quote_identifier(database) + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        display);
  conn.exec("CREATE TABLE IF NOT EXISTS " + checkpoint_table_name(database) +
                " (pipeline varchar(255) NOT NULL, stream varchar(512) NOT NULL, position longtext NOT NULL,"
                " done tinyint(1) NOT NULL DEFAULT 0, updated_at datetime(6) NOT NULL,"
                " PRIMARY KEY (pipeline, stream)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            display);
}

void upsert_checkpoints(Connection &conn, const std::string &database, const std::string &pipeline,
                        const std::vector<model::Position> &positions) {
  if (positions.empty()) return;
  // A multi-row INSERT applies its rows in order: the later position of a
  // stream updates the earlier one.
  std::string sql =
      "INSERT INTO " + checkpoint_table_name(database) + " (pipeline, stream, position, done, updated_at) VALUES ";
  const std::string p = quote_literal(pipeline);
  for (size_t i = 0; i < positions.size(); ++i) {
    const model::Position &pos = positions[i];
    sql += (i ? ", (" : "(") + p + ", " + quote_literal(pos.stream) + ", " + quote_literal(pos.value) + ", " +
           (pos.stream_done ? "1" : "0") + ", UTC_TIMESTAMP(6))";
  }
  if (uses_row_alias(conn))
    sql += " AS n ON DUPLICATE KEY UPDATE position = n.position, done = n.done, updated_at = n.updated_at";
  else
    sql += " ON DUPLICATE KEY UPDATE position = VALUES(position), done = VALUES(done), updated_at = VALUES(updated_at)";
  conn.exec(sql, table_display(database));
}

MariadbCheckpointStore::MariadbCheckpointStore(ConnParams params, std::string database, std::string pipeline)
    : conn_(std::move(params)), database_(std::move(database)), pipeline_(std::move(pipeline)) {
  ensure_checkpoint_table(conn_, database_);
}

model::CheckpointState MariadbCheckpointStore::load() {
  Result r = conn_.query("SELECT stream, position, done FROM " + checkpoint_table_name(database_) +
                             " WHERE pipeline = " + quote_literal(pipeline_),
                         table_display(database_));
  model::CheckpointState out;
  for (size_t i = 0; i < r.rows(); ++i) {
    model::Position pos{r.value(i, 0), r.value(i, 1), r.value(i, 2) == "1"};
    std::string key = pos.stream;
    out.emplace(std::move(key), std::move(pos));
  }
  return out;
}

void MariadbCheckpointStore::save(const std::vector<model::Position> &positions) {
  upsert_checkpoints(conn_, database_, pipeline_, positions);
}

void MariadbCheckpointStore::clear() {
  conn_.exec("DELETE FROM " + checkpoint_table_name(database_) + " WHERE pipeline = " + quote_literal(pipeline_),
             table_display(database_));
}

}  // namespace ds::connectors::mariadb
