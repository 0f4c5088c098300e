// Checkpoints kept in a SQLite table:
//   _datasync_checkpoint(pipeline, stream, position, done, updated_at, PRIMARY KEY(pipeline, stream))
// either inside the sink database (checkpoint_store: sink; the sink writer also
// writes it in the data's own transaction) or in a file of its own
// (checkpoint_store: file).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "connectors/sqlite/db.hpp"
#include "model/connector.hpp"

namespace ds::connectors::sqlite {

// CREATE TABLE IF NOT EXISTS for the checkpoint table.
void ensure_checkpoint_table(const Connection &conn);
// Prepared upsert of one row: ?1 pipeline, ?2 stream, ?3 position, ?4 done.
Statement prepare_checkpoint_upsert(const Connection &conn);
void upsert_checkpoint(Statement &upsert, const std::string &pipeline, const model::Position &position);

class SqliteCheckpointStore : public model::CheckpointStore {
 public:
  // Opens (creating when missing) the database at `path` and its checkpoint table.
  SqliteCheckpointStore(const std::string &path, std::string pipeline, std::string context,
                        int busy_timeout_ms = 10000);

  model::CheckpointState load() override;
  void save(const std::vector<model::Position> &positions) override;  // one transaction
  void clear() override;                                              // this pipeline's rows only

 private:
  Connection conn_;
  std::string pipeline_;
};

// A standalone SQLite file holding only the checkpoint table.
class SqliteFileCheckpointStore : public SqliteCheckpointStore {
 public:
  SqliteFileCheckpointStore(const std::string &path, const std::string &pipeline)
      : SqliteCheckpointStore(path, pipeline, "checkpoint_store=file path=" + path) {}
};

}  // namespace ds::connectors::sqlite
