#include "connectors/postgres/checkpoint.hpp"

namespace ds::connectors::postgres {
namespace {

// Key of the advisory lock serializing DDL of the sink (schemas, tables).
constexpr const char *kDdlLock = "SELECT pg_advisory_xact_lock(7308462419870435)";

void rollback_quietly(Connection &conn) {
  if (!conn.ok() || !conn.in_transaction()) return;
  try {
    conn.exec("ROLLBACK");
  } catch (...) {
  }
}

}  // namespace

std::string checkpoint_table_name(const std::string &schema) {
  return quote_identifier(schema) + "." + quote_identifier(kCheckpointTable);
}

void ensure_checkpoint_table(Connection &conn, const std::string &schema) {
  const std::string table = schema + "." + kCheckpointTable;
  conn.exec("BEGIN");
  try {
    conn.exec(kDdlLock);
    conn.exec("CREATE SCHEMA IF NOT EXISTS " + quote_identifier(schema), table);
    conn.exec("CREATE TABLE IF NOT EXISTS " + checkpoint_table_name(schema) +
                  " (pipeline text NOT NULL, stream text NOT NULL, position text NOT NULL,"
                  " done boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now(),"
                  " PRIMARY KEY (pipeline, stream))",
              table);
    conn.exec("COMMIT");
  } catch (...) {
    rollback_quietly(conn);
    throw;
  }
}

void upsert_checkpoints(Connection &conn, const std::string &schema, const std::string &pipeline,
                        const std::vector<model::Position> &positions) {
  if (positions.empty()) return;
  const std::string sql = "INSERT INTO " + checkpoint_table_name(schema) +
                          " AS c (pipeline, stream, position, done, updated_at)"
                          " SELECT $1, s, p, d, now() FROM unnest($2::text[], $3::text[], $4::boolean[]) AS u(s, p, d)"
                          " ON CONFLICT (pipeline, stream) DO UPDATE SET position = EXCLUDED.position,"
                          " done = EXCLUDED.done, updated_at = EXCLUDED.updated_at";
  // Array literals: every element double-quoted with " and \ escaped.
  auto array = [](const std::vector<model::Position> &ps, auto get) {
    std::string a = "{";
    for (size_t i = 0; i < ps.size(); ++i) {
      if (i) a += ',';
      a += '"';
      for (char c : get(ps[i])) {
        if (c == '"' || c == '\\') a += '\\';
        a += c;
      }
      a += '"';
    }
    return a + "}";
  };
  // Later positions of the same stream win: keep the last of each.
  std::vector<model::Position> last;
  for (const model::Position &p : positions) {
    bool replaced = false;
    for (model::Position &q : last)
      if (q.stream == p.stream) {
        q = p;
        replaced = true;
      }
    if (!replaced) last.push_back(p);
  }
  const std::vector<std::optional<std::string>> params = {
      pipeline, array(last, [](const model::Position &p) { return p.stream; }),
      array(last, [](const model::Position &p) { return p.value; }),
      array(last, [](const model::Position &p) { return std::string(p.stream_done ? "t" : "f"); })};
  const std::string table = schema + "." + kCheckpointTable;
  if (conn.in_pipeline())
    conn.pipeline_exec(sql, params, table);
  else
    conn.exec_params(sql, params, table);
}

PostgresCheckpointStore::PostgresCheckpointStore(ConnParams params, std::string schema, std::string pipeline)
    : conn_(std::move(params)), schema_(std::move(schema)), pipeline_(std::move(pipeline)) {
  conn_.exec("SET client_min_messages = warning");
  ensure_checkpoint_table(conn_, schema_);
}

model::CheckpointState PostgresCheckpointStore::load() {
  Result r =
      conn_.exec_params("SELECT stream, position, done FROM " + checkpoint_table_name(schema_) + " WHERE pipeline = $1",
                        {pipeline_}, schema_ + "." + kCheckpointTable);
  model::CheckpointState out;
  for (int i = 0; i < r.rows(); ++i) {
    model::Position p{r.value(i, 0), r.value(i, 1), r.value(i, 2) == "t"};
    std::string key = p.stream;
    out.emplace(std::move(key), std::move(p));
  }
  return out;
}

void PostgresCheckpointStore::save(const std::vector<model::Position> &positions) {
  if (positions.empty()) return;
  // One statement: atomic on its own.
  upsert_checkpoints(conn_, schema_, pipeline_, positions);
}

void PostgresCheckpointStore::clear() {
  conn_.exec_params("DELETE FROM " + checkpoint_table_name(schema_) + " WHERE pipeline = $1", {pipeline_},
                    schema_ + "." + kCheckpointTable);
}

}  // namespace ds::connectors::postgres
