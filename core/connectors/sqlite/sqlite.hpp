#pragma once
#include <memory>
#include <string>

#include "model/connector.hpp"

namespace ds::connectors::sqlite {
// Registers the sqlite connector's factories and configuration keys.
void register_connector();

// The checkpoint store of `checkpoint_store: file`: a SQLite file at `path`
// (created when missing) holding the _datasync_checkpoint table, scoped to `pipeline`.
std::unique_ptr<model::CheckpointStore> open_file_checkpoint_store(const std::string &path,
                                                                   const std::string &pipeline);
}  // namespace ds::connectors::sqlite
