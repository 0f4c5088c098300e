#include "model/connector.hpp"

#include "model/error.hpp"

namespace ds::model {

TableDdlPlan Sink::plan_table(const TableSchema &schema) {
  throw Error(Code::unsupported, "this sink has no schema to plan: " + describe(), "table=" + schema.id.to_string());
}

void Sink::apply_plan(const TableDdlPlan &plan, bool) {
  throw Error(Code::unsupported, "this sink has no schema to change: " + describe(),
              "table=" + plan.target.to_string());
}

}  // namespace ds::model
