#include "model/connector.hpp"

#include "model/error.hpp"

namespace ds::model {

void Source::prepare_change_capture(bool) {
  throw Error(Code::unsupported,
              "this source has no change log to stream: " + describe() + " (pipeline.mode must be snapshot)");
}

std::unique_ptr<ChangeSource> Source::open_change_stream() {
  throw Error(Code::unsupported,
              "this source has no change log to stream: " + describe() + " (pipeline.mode must be snapshot)");
}

TableDdlPlan Sink::plan_table(const TableSchema &schema) {
  throw Error(Code::unsupported, "this sink has no schema to plan: " + describe(), "table=" + schema.id.to_string());
}

void Sink::apply_plan(const TableDdlPlan &plan, bool) {
  throw Error(Code::unsupported, "this sink has no schema to change: " + describe(),
              "table=" + plan.target.to_string());
}

}  // namespace ds::model
