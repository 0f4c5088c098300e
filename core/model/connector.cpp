#include "model/connector.hpp"

#include <cctype>

#include "model/error.hpp"
#include "model/types.hpp"

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

KnownColumns known_columns_of(const TableSchema &schema) {
  KnownColumns out;
  out.reserve(schema.columns.size());
  for (const auto &c : schema.columns) out.emplace_back(c.name, to_string(c.type));
  return out;
}

namespace {
// Names may hold any character: tab, newline and % are %-escaped.
std::string escape_name(const std::string &name) {
  std::string out;
  for (char c : name) {
    if (c == '%' || c == '\t' || c == '\n') {
      static const char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[(static_cast<unsigned char>(c) >> 4) & 15];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_name(const std::string &text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}
}  // namespace

std::string encode_known_columns(const KnownColumns &columns) {
  std::string out;
  for (const auto &[name, type] : columns) out += escape_name(name) + '\t' + type + '\n';
  return out;
}

KnownColumns decode_known_columns(const std::string &text) {
  KnownColumns out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    const size_t tab = line.find('\t');
    if (tab == std::string::npos)
      throw Error(Code::data, "a checkpoint's column list is malformed: '" + line + "'", "checkpoint");
    out.emplace_back(unescape_name(line.substr(0, tab)), line.substr(tab + 1));
    at = end + 1;
  }
  return out;
}

}  // namespace ds::model
