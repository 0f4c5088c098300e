#include "schema/evolution.hpp"

#include "model/error.hpp"

namespace ds::schema {
namespace {

const model::ColumnSchema *find_column(const model::TableSchema *schema, const std::string &name) {
  if (!schema) return nullptr;
  int i = schema->find_column(name);
  return i < 0 ? nullptr : &schema->columns[static_cast<size_t>(i)];
}

// The column as the change describes it: from schema_after when present, else
// a nullable column of the change's new_type.
model::ColumnSchema column_of(const model::SchemaChange &change, const std::string &name) {
  if (const model::ColumnSchema *c = find_column(change.schema_after.get(), name)) return *c;
  model::ColumnSchema c;
  c.name = name;
  c.type = change.new_type;
  return c;
}

// The target type of one column, chosen as plan_table chooses it: within the
// schema after the change when there is one (the sink's own choices are per
// column of that schema), else for the column alone by the mapping table.
std::string column_type(const model::SchemaChange &change, const model::ColumnSchema &column,
                        const TargetInfo &target) {
  TargetInfo fresh = target;
  fresh.existing = nullptr;
  if (change.schema_after) {
    int i = change.schema_after->find_column(column.name);
    if (i >= 0 && change.schema_after->columns[static_cast<size_t>(i)].type == column.type)
      return plan_table(*change.schema_after, fresh).columns.at(static_cast<size_t>(i)).target_type;
  }
  model::TableSchema one;
  one.id = change.table;
  one.columns.push_back(column);
  fresh.keep_spelling = nullptr;
  return plan_table(one, fresh).columns.at(0).target_type;
}

std::string describe(const model::SchemaChange &c) {
  std::string what = std::string(model::schema_change_name(c.kind)) + " on " + c.table.to_string();
  if (!c.column.empty()) what += " column " + c.column;
  if (!c.new_name.empty()) what += " to " + c.new_name;
  return what;
}

}  // namespace

ChangePlan plan_change(const model::SchemaChange &change, EvolutionPolicy policy, const TargetInfo &target) {
  using model::SchemaChangeKind;
  ChangePlan plan;
  const Dialect d = target.dialect;
  const std::string table = qualified_name(d, target.target);
  const std::string where = "table=" + target.target.to_string();
  if (policy == EvolutionPolicy::ignore) {
    plan.skipped = describe(change) + " ignored (schema.evolution: ignore)";
    return plan;
  }
  if (policy == EvolutionPolicy::exception)
    throw Error(Code::schema,
                "source schema change " + describe(change) +
                    " under schema.evolution: exception (set evolve, try_evolve or lenient to apply it)",
                where);
  plan.tolerate_failure = policy == EvolutionPolicy::try_evolve;
  const bool lenient = policy == EvolutionPolicy::lenient;
  const model::TableSchema *existing = target.existing.get();
  auto q = [d](const std::string &name) { return quote_identifier(d, name); };

  switch (change.kind) {
    case SchemaChangeKind::create_table: {
      if (!change.schema_after) throw Error(Code::invalid_argument, "create_table change without a schema", where);
      model::TableDdlPlan created = plan_table(*change.schema_after, target);
      if (created.exists) {
        plan.statements = created.statements;  // lenient in effect: what an existing table lacks is added
        plan.skipped = created.destructive.empty() ? "" : "table exists; its destructive differences are left";
      } else {
        plan.statements = created.statements;
      }
      return plan;
    }
    case SchemaChangeKind::add_column: {
      if (find_column(existing, change.column)) {
        plan.skipped = "column " + change.column + " already exists";
        return plan;
      }
      model::ColumnSchema column = column_of(change, change.column);
      plan.statements.push_back("ALTER TABLE " + table + " ADD COLUMN " + q(column.name) + " " +
                                column_type(change, column, target));
      return plan;
    }
    case SchemaChangeKind::drop_column: {
      const model::ColumnSchema *c = find_column(existing, change.column);
      if (existing && !c) {
        plan.skipped = "column " + change.column + " does not exist";
        return plan;
      }
      if (lenient) {
        plan.skipped = "column " + change.column + " kept (schema.evolution: lenient never drops)";
        if (c && !c->nullable) {
          if (d == Dialect::postgres)
            plan.statements.push_back("ALTER TABLE " + table + " ALTER COLUMN " + q(c->name) + " DROP NOT NULL");
          else if (d == Dialect::mariadb || d == Dialect::mysql)
            plan.statements.push_back("ALTER TABLE " + table + " MODIFY COLUMN " + q(c->name) + " " +
                                      c->type.source_name + " NULL");
        }
        return plan;
      }
      plan.statements.push_back("ALTER TABLE " + table + " DROP COLUMN " + q(change.column));
      return plan;
    }
    case SchemaChangeKind::rename_column: {
      if (lenient) {
        // The old column keeps its past values; new rows fill the new one.
        model::ColumnSchema column = column_of(change, change.new_name);
        if (column.type.id == model::TypeId::unknown && column.type.source_name.empty())
          if (const model::ColumnSchema *old = find_column(existing, change.column)) column.type = old->type;
        column.nullable = true;
        plan.skipped = "rename of " + change.column + " applied as a new column " + change.new_name +
                       " (schema.evolution: lenient)";
        if (!find_column(existing, change.new_name))
          plan.statements.push_back("ALTER TABLE " + table + " ADD COLUMN " + q(change.new_name) + " " +
                                    column_type(change, column, target));
        return plan;
      }
      plan.statements.push_back("ALTER TABLE " + table + " RENAME COLUMN " + q(change.column) + " TO " +
                                q(change.new_name));
      return plan;
    }
    case SchemaChangeKind::alter_column_type: {
      model::ColumnSchema column = column_of(change, change.column);
      column.type = change.new_type.id == model::TypeId::unknown && change.new_type.source_name.empty()
                        ? column.type
                        : change.new_type;
      const model::ColumnSchema *old = find_column(existing, change.column);
      if (lenient && old && !type_holds(column.type, old->type)) {
        plan.skipped = "type change of " + change.column + " to " + model::to_string(column.type) +
                       " not applied: it would narrow the column (schema.evolution: lenient)";
        return plan;
      }
      const std::string type = column_type(change, column, target);
      if (d == Dialect::sqlite) {
        if (lenient) {
          plan.skipped = "SQLite cannot change the type of column " + change.column + "; left as it is";
          return plan;
        }
        throw Error(Code::unsupported,
                    "SQLite cannot change the type of column " + change.column + " to " + type +
                        " (recreate the table, or use schema.evolution: lenient)",
                    where);
      }
      if (d == Dialect::postgres)
        plan.statements.push_back("ALTER TABLE " + table + " ALTER COLUMN " + q(change.column) + " TYPE " + type +
                                  " USING " + q(change.column) + "::" + type);
      else
        plan.statements.push_back("ALTER TABLE " + table + " MODIFY COLUMN " + q(change.column) + " " + type +
                                  (old && !old->nullable ? " NOT NULL" : ""));
      return plan;
    }
    case SchemaChangeKind::truncate_table:
      if (lenient) {
        plan.skipped = "truncate not applied (schema.evolution: lenient keeps data)";
        return plan;
      }
      plan.statements.push_back(d == Dialect::sqlite ? "DELETE FROM " + table : "TRUNCATE TABLE " + table);
      return plan;
    case SchemaChangeKind::drop_table:
      if (lenient) {
        plan.skipped = "drop not applied (schema.evolution: lenient keeps data)";
        return plan;
      }
      plan.statements.push_back("DROP TABLE IF EXISTS " + table);
      return plan;
  }
  return plan;
}

std::string apply_change(const model::SchemaChange &change, EvolutionPolicy policy, const TargetInfo &target,
                         const std::function<void(const std::vector<std::string> &)> &run) {
  ChangePlan plan = plan_change(change, policy, target);
  if (!plan.statements.empty()) {
    try {
      run(plan.statements);
    } catch (const Error &e) {
      if (!plan.tolerate_failure || e.code() == Code::connection) throw;
      return describe(change) + " failed and was skipped (schema.evolution: try_evolve): " + e.what();
    }
  }
  return plan.skipped;
}

}  // namespace ds::schema
