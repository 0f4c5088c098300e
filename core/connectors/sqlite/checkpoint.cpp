#include "connectors/sqlite/checkpoint.hpp"

#include "connectors/sqlite/catalog.hpp"
#include "connectors/sqlite/sqlite.hpp"

namespace ds::connectors::sqlite {

void ensure_checkpoint_table(const Connection &conn) {
  conn.exec(
      std::string("CREATE TABLE IF NOT EXISTS main.") + kCheckpointTable +
          " (pipeline TEXT NOT NULL, stream TEXT NOT NULL, position TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
          " updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, stream))",
      "cannot create the checkpoint table");
}

Statement prepare_checkpoint_upsert(const Connection &conn) {
  return conn.prepare(std::string("INSERT INTO main.") + kCheckpointTable +
                      " (pipeline, stream, position, done, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
                      " ON CONFLICT (pipeline, stream) DO UPDATE SET position = excluded.position,"
                      " done = excluded.done, updated_at = excluded.updated_at");
}

void upsert_checkpoint(Statement &upsert, const std::string &pipeline, const model::Position &position) {
  upsert.bind(1, pipeline);
  upsert.bind(2, position.stream);
  upsert.bind(3, position.value);
  upsert.bind(4, static_cast<int64_t>(position.stream_done ? 1 : 0));
  upsert.run("cannot record the checkpoint of stream " + position.stream);
}

SqliteCheckpointStore::SqliteCheckpointStore(const std::string &path, std::string pipeline, std::string context,
                                             int busy_timeout_ms)
    : conn_(path, Connection::Mode::read_write_create, std::move(context), busy_timeout_ms),
      pipeline_(std::move(pipeline)) {
  ensure_checkpoint_table(conn_);
}

model::CheckpointState SqliteCheckpointStore::load() {
  Statement st = conn_.prepare(std::string("SELECT stream, position, done FROM main.") + kCheckpointTable +
                               " WHERE pipeline = ?1");
  st.bind(1, pipeline_);
  model::CheckpointState out;
  while (st.step("cannot load the checkpoints")) {
    model::Position p{st.column_text(0), st.column_text(1), st.column_int64(2) != 0};
    std::string key = p.stream;
    out.emplace(std::move(key), std::move(p));
  }
  st.reset();
  return out;
}

void SqliteCheckpointStore::save(const std::vector<model::Position> &positions) {
  if (positions.empty()) return;
  conn_.exec("BEGIN IMMEDIATE", "cannot start a checkpoint transaction");
  try {
    Statement upsert = prepare_checkpoint_upsert(conn_);
    for (const auto &p : positions) upsert_checkpoint(upsert, pipeline_, p);
    conn_.exec("COMMIT", "cannot commit the checkpoints");
  } catch (...) {
    if (conn_.in_transaction()) sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void SqliteCheckpointStore::clear() {
  Statement st = conn_.prepare(std::string("DELETE FROM main.") + kCheckpointTable + " WHERE pipeline = ?1");
  st.bind(1, pipeline_);
  st.run("cannot clear the checkpoints");
}

std::unique_ptr<model::CheckpointStore> open_file_checkpoint_store(const std::string &path,
                                                                   const std::string &pipeline) {
  return std::make_unique<SqliteFileCheckpointStore>(path, pipeline);
}

}  // namespace ds::connectors::sqlite
