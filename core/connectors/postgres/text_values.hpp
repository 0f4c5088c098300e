// PostgreSQL's text output of a value → the engine's value, for logical
// replication (pgoutput sends text). The replication session fixes the
// styles (connection.hpp: DateStyle=ISO, TimeZone=UTC, IntervalStyle=
// iso_8601, extra_float_digits=3), so one parser per type suffices. Values
// land exactly as the binary COPY decoder puts them: ±infinity dates and
// timestamps keep their sentinels, decimals must fit their precision and scale.
#pragma once
#include <string>
#include <string_view>

#include "model/batch.hpp"

namespace ds::connectors::postgres {

// Appends `text` (PostgreSQL's text output for a column of engine type
// `type`) to `builder`. Throws ds::Error(data) naming `what` (e.g.
// "column amount") for text the type cannot hold.
void append_text_value(model::ColumnBuilder &builder, const model::DataType &type, std::string_view text,
                       const std::string &what);

}  // namespace ds::connectors::postgres
