#include "connectors/mariadb/connection.hpp"

#include <errmsg.h>
#include <mysqld_error.h>

#include <charconv>
#include <cstring>
#include <mutex>

namespace ds::connectors::mariadb {
namespace {

// Server errors not named in every client's mysqld_error.h.
constexpr unsigned kConnectionKilled = 1927;       // ER_CONNECTION_KILLED (MariaDB)
constexpr unsigned kLoadDataLocalDisabled = 3948;  // ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8)
constexpr unsigned kLocalInfileRejected = 2068;    // CR_LOAD_DATA_LOCAL_INFILE_REJECTED (client)
constexpr unsigned kLocalInfileDisabled = 4166;    // ER_LOAD_INFILE_CAPABILITY_DISABLED (MariaDB 10.6+)
constexpr unsigned kConstraintFailed = 4025;       // ER_CONSTRAINT_FAILED (a CHECK such as MariaDB's json_valid)

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

std::string with_table(const std::string &context, const std::string &table) {
  return table.empty() ? context : context + " table=" + table;
}

// State of one LOAD DATA LOCAL INFILE: the producer and its error.
struct InfileState {
  const std::function<int(char *, unsigned)> *produce = nullptr;
  std::string error;
};

int infile_init(void **ptr, const char *, void *userdata) {
  *ptr = userdata;
  return 0;
}

int infile_read(void *ptr, char *buf, unsigned int len) {
  auto *st = static_cast<InfileState *>(ptr);
  try {
    return (*st->produce)(buf, len);
  } catch (const std::exception &e) {
    st->error = e.what();
    return -1;
  }
}

void infile_end(void *) {}

int infile_error(void *ptr, char *buf, unsigned int len) {
  auto *st = static_cast<InfileState *>(ptr);
  std::snprintf(buf, len, "%s", st->error.empty() ? "the data feed failed" : st->error.c_str());
  return CR_UNKNOWN_ERROR;
}

}  // namespace

std::string ConnParams::context() const {
  return "host=" + host + " port=" + std::to_string(port) + " database=" + database;
}

Error map_error(unsigned code, const std::string &raw_message, const ConnParams &params, const std::string &table) {
  const std::string ctx = with_table(params.context(), table);
  const std::string where = " (host " + params.host + ":" + std::to_string(params.port) + ", database " +
                            params.database + (table.empty() ? "" : ", table " + table) + ")";
  const std::string &role = params.role;
  auto scrub = [&](std::string m) { return scrub_secret(std::move(m), params.password); };
  const std::string message = scrub(raw_message);
  switch (code) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return Error(
          Code::auth,
          "access denied for user '" + params.user + "'" + where + " — check " + role + ".user/" + role + ".password",
          ctx);
    case ER_DBACCESS_DENIED_ERROR:
      return Error(Code::auth,
                   "user '" + params.user + "' may not use database '" + params.database + "'" + where +
                       " — grant it access or check " + role + ".database",
                   ctx);
    case ER_BAD_DB_ERROR:
      return Error(Code::not_found,
                   "database '" + params.database + "' does not exist on " + params.host + ":" +
                       std::to_string(params.port) + " — check " + role + ".database",
                   ctx);
    case ER_NO_SUCH_TABLE:
      return Error(Code::not_found,
                   (table.empty() ? message : "table " + table + " does not exist (" + message + ")") + where, ctx);
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
      return Error(Code::auth,
                   "permission denied" + (table.empty() ? std::string() : " on table " + table) + " for user '" +
                       params.user + "': " + message + where,
                   ctx);
    case ER_NOT_ALLOWED_COMMAND:
    case kLoadDataLocalDisabled:
    case kLocalInfileRejected:
    case kLocalInfileDisabled:
      return Error(Code::unsupported,
                   "the server refuses LOAD DATA LOCAL INFILE (" + message + ")" + where +
                       " — enable it with SET GLOBAL local_infile=ON (or local_infile=1 under [mariadbd] in the "
                       "server's configuration)",
                   ctx);
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST: return Error(Code::connection, "connection to MariaDB failed: " + message + where, ctx, true);
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case ER_SERVER_SHUTDOWN:
    case kConnectionKilled:
    case ER_NET_READ_ERROR:
    case ER_NET_WRITE_INTERRUPTED:
    case ER_NET_READ_INTERRUPTED:
      return Error(Code::connection, "lost connection to MariaDB: " + message + where, ctx, true);
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
      return Error(Code::data, message + " [errno " + std::to_string(code) + "]" + where, ctx, true);
    case ER_QUERY_INTERRUPTED: return Error(Code::cancelled, "statement cancelled: " + message + where, ctx);
    case ER_DUP_ENTRY:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case ER_DATA_TOO_LONG:
    case ER_BAD_NULL_ERROR:
    case ER_NO_DEFAULT_FOR_FIELD:
    case WARN_DATA_TRUNCATED:
    case ER_DIVISION_BY_ZERO:
    case kConstraintFailed: return Error(Code::data, message + " [errno " + std::to_string(code) + "]" + where, ctx);
    case ER_BAD_FIELD_ERROR:
    case ER_TABLE_EXISTS_ERROR:
    case ER_DUP_FIELDNAME:
    case ER_WRONG_FIELD_SPEC:
    case ER_TOO_LONG_KEY:
    case ER_BLOB_KEY_WITHOUT_LENGTH:
      return Error(Code::schema, message + " [errno " + std::to_string(code) + "]" + where, ctx);
    default: break;
  }
  if (code >= 2000 && code < 3000)  // other client errors: the link itself
    return Error(Code::connection, "MariaDB client error: " + message + " [errno " + std::to_string(code) + "]" + where,
                 ctx, code == CR_OUT_OF_MEMORY ? false : true);
  return Error(Code::io, message + " [errno " + std::to_string(code) + "]" + where, ctx);
}

std::string quote_identifier(const std::string &name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    switch (c) {
      case '\'': out += "''"; break;
      case '\\': out += "\\\\"; break;
      case '\0': out += "\\0"; break;
      default: out += c;
    }
  }
  return out + "'";
}

Result::Result(MYSQL_RES *r) {
  if (!r) return;
  cols_ = mysql_num_fields(r);
  MYSQL_FIELD *fields = mysql_fetch_fields(r);
  for (unsigned i = 0; i < cols_; ++i) names_.emplace_back(fields[i].name, fields[i].name_length);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    unsigned long *len = mysql_fetch_lengths(r);
    std::vector<std::optional<std::string>> values(cols_);
    for (unsigned i = 0; i < cols_; ++i)
      if (row[i]) values[i] = std::string(row[i], len[i]);
    rows_.push_back(std::move(values));
  }
  mysql_free_result(r);
}

Result::Result(Result &&o) noexcept = default;
Result &Result::operator=(Result &&o) noexcept = default;
Result::~Result() = default;

const std::string &Result::value(size_t row, unsigned col) const {
  static const std::string empty;
  const auto &v = rows_[row][col];
  return v ? *v : empty;
}

int64_t Result::int_value(size_t row, unsigned col) const {
  const auto &v = rows_[row][col];
  if (!v) return 0;
  int64_t out = 0;
  std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

Connection::Connection(ConnParams params) : params_(std::move(params)), context_(params_.context()) {
  init_library_once();
  conn_ = mysql_init(nullptr);
  if (!conn_) throw Error(Code::nomem, "out of memory creating a MariaDB connection", context_);
  unsigned timeout = static_cast<unsigned>(params_.connect_timeout);
  mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  unsigned local_infile = 1;
  mysql_options(conn_, MYSQL_OPT_LOCAL_INFILE, &local_infile);
  // Never read option files: only the pipeline's keys decide where we connect.
  if (!mysql_real_connect(conn_, params_.host.c_str(), params_.user.c_str(), params_.password.c_str(),
                          params_.database.empty() ? nullptr : params_.database.c_str(),
                          static_cast<unsigned>(params_.port), nullptr, CLIENT_LOCAL_FILES)) {
    Error e = last_error();
    mysql_close(conn_);
    conn_ = nullptr;
    throw e;
  }
  // Readers may wait on a full queue for a while; the server must not give up
  // on a slow consumer of a streamed result.
  exec(
      "SET SESSION time_zone = '+00:00', "
      "sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO', "
      "net_write_timeout = 3600, net_read_timeout = 3600");
}

Connection::~Connection() {
  if (conn_) mysql_close(conn_);
}

Error Connection::last_error(const std::string &table) const {
  if (!conn_) return Error(Code::connection, "not connected to MariaDB", with_table(context_, table), true);
  return map_error(mysql_errno(conn_), mysql_error(conn_), params_, table);
}

int64_t Connection::exec(const std::string &sql, const std::string &table) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) throw last_error(table);
  int64_t affected = 0;
  for (;;) {
    if (MYSQL_RES *r = mysql_store_result(conn_)) {
      mysql_free_result(r);
    } else if (mysql_field_count(conn_) != 0) {
      throw last_error(table);
    } else {
      affected += static_cast<int64_t>(mysql_affected_rows(conn_));
    }
    int more = mysql_next_result(conn_);
    if (more > 0) throw last_error(table);
    if (more < 0) break;
  }
  return affected;
}

Result Connection::query(const std::string &sql, const std::string &table) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) throw last_error(table);
  MYSQL_RES *r = mysql_store_result(conn_);
  if (!r && mysql_field_count(conn_) != 0) throw last_error(table);
  return Result(r);
}

bool Connection::stream(const std::string &sql, const std::function<bool(const RowView &)> &on_row,
                        const std::string &table, std::vector<enum_field_types> *field_types) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) throw last_error(table);
  MYSQL_RES *r = mysql_use_result(conn_);
  if (!r) {
    if (mysql_field_count(conn_) != 0) throw last_error(table);
    return true;
  }
  std::unique_ptr<MYSQL_RES, decltype(&mysql_free_result)> owner(r, mysql_free_result);
  if (field_types) {
    field_types->clear();
    MYSQL_FIELD *fields = mysql_fetch_fields(r);
    for (unsigned i = 0; i < mysql_num_fields(r); ++i) field_types->push_back(fields[i].type);
  }
  RowView view;
  while ((view.values = mysql_fetch_row(r)) != nullptr) {
    view.lengths = mysql_fetch_lengths(r);
    if (!on_row(view)) {
      // Freeing a half-read streamed result reads (and drops) the rest; a
      // server-side KILL QUERY would be quicker but needs a second connection.
      return false;
    }
  }
  if (mysql_errno(conn_) != 0) throw last_error(table);
  return true;
}

int64_t Connection::load_data_local(const std::string &sql,
                                    const std::function<int(char *buffer, unsigned capacity)> &produce,
                                    const std::string &table) {
  InfileState state;
  state.produce = &produce;
  mysql_set_local_infile_handler(conn_, infile_init, infile_read, infile_end, infile_error, &state);
  int rc = mysql_real_query(conn_, sql.data(), sql.size());
  mysql_set_local_infile_default(conn_);
  if (rc != 0) {
    if (!state.error.empty()) throw Error(Code::data, state.error, with_table(context_, table));
    throw last_error(table);
  }
  return static_cast<int64_t>(mysql_affected_rows(conn_));
}

std::string Connection::escape(std::string_view text) const {
  std::string out(text.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(conn_, out.data(), text.data(), static_cast<unsigned long>(text.size()));
  out.resize(n);
  return out;
}

bool Connection::is_mariadb() const { return conn_ && std::strstr(mysql_get_server_info(conn_), "MariaDB") != nullptr; }

}  // namespace ds::connectors::mariadb
