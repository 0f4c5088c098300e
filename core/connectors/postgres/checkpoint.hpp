// Checkpoints kept in a table of the target PostgreSQL database:
//   <checkpoint_schema>._datasync_checkpoint(pipeline text, stream text, position text,
//       done boolean, updated_at timestamptz default now(), PRIMARY KEY (pipeline, stream))
// The sink writers upsert into it in the data's own transaction; the store
// below reads and writes the same table for checkpoint_store: sink.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "connectors/postgres/connection.hpp"
#include "model/connector.hpp"

namespace ds::connectors::postgres {

constexpr const char *kCheckpointTable = "_datasync_checkpoint";

// "schema"."_datasync_checkpoint".
std::string checkpoint_table_name(const std::string &schema);

// CREATE SCHEMA / TABLE IF NOT EXISTS in a transaction of its own, serialized
// with other creators by an advisory lock. Call outside any open transaction.
void ensure_checkpoint_table(Connection &conn, const std::string &schema);

// Upserts the positions for `pipeline` (in the connection's current transaction, if any;
// queued when the connection is in pipeline mode).
void upsert_checkpoints(Connection &conn, const std::string &schema, const std::string &pipeline,
                        const std::vector<model::Position> &positions);

class PostgresCheckpointStore : public model::CheckpointStore {
 public:
  PostgresCheckpointStore(ConnParams params, std::string schema, std::string pipeline);

  model::CheckpointState load() override;
  void save(const std::vector<model::Position> &positions) override;  // one transaction
  void clear() override;                                              // this pipeline's rows only

 private:
  Connection conn_;
  std::string schema_;
  std::string pipeline_;
};

}  // namespace ds::connectors::postgres
