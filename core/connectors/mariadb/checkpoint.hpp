// Checkpoints kept in a table of the target MariaDB server:
//   <checkpoint_database>._datasync_checkpoint(pipeline varchar(255),
//       stream varchar(512), position longtext, done tinyint(1),
//       updated_at datetime(6) (UTC), PRIMARY KEY (pipeline, stream))
// InnoDB, utf8mb4_bin (stream names differing only in case stay distinct; the
// key's 767 characters fit InnoDB's 3072-byte limit). The sink writers upsert
// into it in the data's own transaction; the store below reads and writes the
// same table for checkpoint_store: sink.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "connectors/mariadb/connection.hpp"
#include "model/connector.hpp"

namespace ds::connectors::mariadb {

constexpr const char *kCheckpointTable = "_datasync_checkpoint";

// `database`.`_datasync_checkpoint`.
std::string checkpoint_table_name(const std::string &database);

// CREATE DATABASE / TABLE IF NOT EXISTS. DDL commits implicitly in MariaDB:
// call it on a connection without an open transaction (never a writer's).
void ensure_checkpoint_table(Connection &conn, const std::string &database);

// Upserts the positions for `pipeline` (in the connection's current
// transaction, if any); a later position of the same stream wins.
void upsert_checkpoints(Connection &conn, const std::string &database, const std::string &pipeline,
                        const std::vector<model::Position> &positions);

class MariadbCheckpointStore : public model::CheckpointStore {
 public:
  MariadbCheckpointStore(ConnParams params, std::string database, std::string pipeline);

  model::CheckpointState load() override;
  void save(const std::vector<model::Position> &positions) override;  // one statement: atomic
  void clear() override;                                              // this pipeline's rows only

 private:
  Connection conn_;
  std::string database_;
  std::string pipeline_;
};

}  // namespace ds::connectors::mariadb
