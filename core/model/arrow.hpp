// Zero-copy conversion between batches and the Arrow C Data Interface.
#pragma once
#include "model/arrow_c.h"
#include "model/batch.hpp"

namespace ds::model {

// Name of the operation column a batch with changes carries in Arrow form.
inline constexpr const char *kOpColumn = "__op";

// Fills out_schema/out_array (a struct array, one child per column plus "__op"
// when the batch carries changes). Buffers are shared, not copied; release()
// may run on any thread, after the batch and the pipeline are gone.
void export_batch(const BatchPtr &batch, ArrowSchema *out_schema, ArrowArray *out_array);

// Takes ownership of schema and array (released even on failure) and wraps
// their buffers without copying. The batch's table id and primary key come from
// `like` when given, matched by column name.
std::shared_ptr<Batch> import_batch(ArrowSchema *schema, ArrowArray *array, const TableSchema *like);

}  // namespace ds::model
