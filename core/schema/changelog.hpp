// Change-log targets (sink write_mode: changelog, Flink's changelog or an
// audit table): every change is appended as a row instead of applied, with
// what happened and where in the source it came from:
//   _ds_op        "+I", "-U", "+U" or "-D" (model::op_symbol)
//   _ds_position  the source position the change became durable with: its
//                 transaction's end, or that of a later transaction the
//                 source batched with it (a change stream hands several
//                 whole transactions on in one batch); a snapshot split's
//                 position for copied rows; "" when committed without one
//   _ds_seq       the change's order within the sink transaction that
//                 committed it, from 0, across tables
// With the checkpoint committed in the same transaction, every change
// appears once: (_ds_position, _ds_seq) is unique, and a change seen twice
// is a visible duplicate rather than an overwrite. Known gap: the pipeline
// commits the part of a source transaction staged before a schema change
// (core/pipeline apply_schema_change), or before the first batch of a table
// that a host transform reshapes or that appeared after the stream started
// (the stream's tables are otherwise prepared before it starts), without the
// transaction's position: that part gets the position of the transaction
// before it, or "", and a crash right then would log it twice (an upsert
// target absorbs the replay; a log cannot).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/batch.hpp"

namespace ds::schema {

constexpr const char *kChangelogOp = "_ds_op";
constexpr const char *kChangelogPosition = "_ds_position";
constexpr const char *kChangelogSeq = "_ds_seq";

// The `write_mode: changelog` entry of the sinks' key reference.
constexpr const char *kChangelogWriteModeDoc =
    "changelog: every change is appended as a row (an audit table, Flink's changelog) with _ds_op (+I, -U, +U, -D), "
    "_ds_position (the source position it became durable with: its transaction's end, or that of a later "
    "transaction batched with it; a snapshot split's position for copied rows) and _ds_seq (its order within the "
    "sink transaction that committed it), in a table without primary key or unique indexes whose source columns are "
    "all nullable. With pipeline.checkpoint_store: sink every change appears exactly once and (_ds_position, "
    "_ds_seq) is unique. Truncates and table drops are not applied.";

// The change-log table for a routed source schema: the same columns, all
// nullable (a delete of a key-only change sends nulls), without primary key
// or unique indexes (a key changes many times), then the three above.
model::TableSchemaPtr changelog_schema(const model::TableSchema &source);

// The position the rows written without one (the batches before a source
// transaction's last) take at a commit: the change stream's among the
// committed positions, "" when there is none.
std::string changelog_commit_position(const std::vector<model::Position> *positions);

// Turns a writer's batches into change-log rows. The rows of a batch without
// a position get a null _ds_position: the writer fills it in when the
// transaction's position arrives (set_position_pending() is then true).
class ChangelogRows {
 public:
  // The batch's rows as plain inserts into changelog_schema(*batch.schema).
  std::shared_ptr<model::Batch> rows_of(const model::Batch &batch);
  // Rows written since the last settle() lack their position.
  bool position_pending() const { return pending_; }
  // The writer filled in the pending positions.
  void settle() { pending_ = false; }
  // The writer committed or rolled back.
  void end_transaction() {
    pending_ = false;
    next_seq_ = 0;
  }

 private:
  // By source schema; the source pointer is kept so its address is never reused.
  std::map<const model::TableSchema *, std::pair<model::TableSchemaPtr, model::TableSchemaPtr>> schemas_;
  int64_t next_seq_ = 0;
  bool pending_ = false;
};

}  // namespace ds::schema
