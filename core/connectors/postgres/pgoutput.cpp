#include "connectors/postgres/pgoutput.hpp"

#include <cstdio>

#include "model/error.hpp"

namespace ds::connectors::postgres::pgoutput {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(s_[i_++]);
  }
  uint16_t u16() {
    need(2);
    uint16_t v = static_cast<uint16_t>((byte(0) << 8) | byte(1));
    i_ += 2;
    return v;
  }
  uint32_t u32() {
    need(4);
    uint32_t v = (static_cast<uint32_t>(byte(0)) << 24) | (static_cast<uint32_t>(byte(1)) << 16) |
                 (static_cast<uint32_t>(byte(2)) << 8) | byte(3);
    i_ += 4;
    return v;
  }
  uint64_t u64() {
    uint64_t hi = u32();
    return (hi << 32) | u32();
  }
  std::string cstring() {
    size_t end = s_.find('\0', i_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_, end - i_));
    i_ = end + 1;
    return out;
  }
  std::string_view bytes(size_t n) {
    need(n);
    std::string_view out = s_.substr(i_, n);
    i_ += n;
    return out;
  }
  bool done() const { return i_ >= s_.size(); }
  [[noreturn]] static void fail(const std::string &why) {
    throw Error(Code::data, "malformed pgoutput message: " + why);
  }

 private:
  uint32_t byte(size_t k) const { return static_cast<uint8_t>(s_[i_ + k]); }
  void need(size_t n) const {
    if (i_ + n > s_.size()) fail("truncated");
  }
  std::string_view s_;
  size_t i_ = 0;
};

Tuple read_tuple(Reader &r) {
  Tuple t;
  const uint16_t n = r.u16();
  t.values.resize(n);
  for (uint16_t i = 0; i < n; ++i) {
    Value &v = t.values[i];
    v.kind = static_cast<char>(r.u8());
    if (v.kind == 't' || v.kind == 'b') {
      const uint32_t len = r.u32();
      v.data = r.bytes(len);
    } else if (v.kind != 'n' && v.kind != 'u') {
      Reader::fail(std::string("unknown tuple value kind '") + v.kind + "'");
    }
  }
  return t;
}

}  // namespace

Message decode(std::string_view payload, bool in_stream) {
  Reader r(payload);
  Message m;
  m.kind = static_cast<Kind>(r.u8());
  switch (m.kind) {
    case Kind::relation:
    case Kind::type:
    case Kind::insert:
    case Kind::update:
    case Kind::remove:
    case Kind::truncate:
    case Kind::message:
      if (in_stream) m.xid = r.u32();
      break;
    default: break;
  }
  switch (m.kind) {
    case Kind::begin:
      m.lsn = r.u64();
      m.commit_time = static_cast<int64_t>(r.u64());
      m.xid = r.u32();
      break;
    case Kind::commit:
      r.u8();           // flags
      r.u64();          // the commit's own LSN
      m.lsn = r.u64();  // end of the commit: where a restart resumes
      m.commit_time = static_cast<int64_t>(r.u64());
      break;
    case Kind::origin:
      m.lsn = r.u64();
      r.cstring();
      break;
    case Kind::relation: {
      m.rel.oid = r.u32();
      m.rel.schema = r.cstring();
      m.rel.name = r.cstring();
      m.rel.replica_identity = static_cast<char>(r.u8());
      const uint16_t n = r.u16();
      for (uint16_t i = 0; i < n; ++i) {
        RelationColumn c;
        c.key = (r.u8() & 1) != 0;
        c.name = r.cstring();
        c.type_oid = r.u32();
        c.typmod = static_cast<int32_t>(r.u32());
        m.rel.columns.push_back(std::move(c));
      }
      break;
    }
    case Kind::type:
      r.u32();
      r.cstring();
      r.cstring();
      break;
    case Kind::insert:
      m.relation = r.u32();
      if (r.u8() != 'N') Reader::fail("insert without a new tuple");
      m.new_tuple = read_tuple(r);
      break;
    case Kind::update: {
      m.relation = r.u32();
      char c = static_cast<char>(r.u8());
      if (c == 'K' || c == 'O') {
        m.has_old = true;
        m.old_kind = c;
        m.old_tuple = read_tuple(r);
        c = static_cast<char>(r.u8());
      }
      if (c != 'N') Reader::fail("update without a new tuple");
      m.new_tuple = read_tuple(r);
      break;
    }
    case Kind::remove: {
      m.relation = r.u32();
      const char c = static_cast<char>(r.u8());
      if (c != 'K' && c != 'O') Reader::fail("delete without an old key or row");
      m.has_old = true;
      m.old_kind = c;
      m.old_tuple = read_tuple(r);
      break;
    }
    case Kind::truncate: {
      const uint32_t n = r.u32();
      const uint8_t options = r.u8();
      m.truncate_cascade = (options & 1) != 0;
      m.truncate_restart = (options & 2) != 0;
      for (uint32_t i = 0; i < n; ++i) m.truncated.push_back(r.u32());
      break;
    }
    case Kind::message:
      r.u8();
      m.lsn = r.u64();
      r.cstring();
      r.bytes(r.u32());
      break;
    case Kind::stream_start:
      m.xid = r.u32();
      m.first_segment = r.u8() != 0;
      break;
    case Kind::stream_stop: break;
    case Kind::stream_commit:
      m.xid = r.u32();
      r.u8();  // flags
      m.lsn = r.u64();
      m.end_lsn = r.u64();
      m.commit_time = static_cast<int64_t>(r.u64());
      break;
    case Kind::stream_abort:
      m.xid = r.u32();
      m.subxid = r.u32();
      break;
    default: Reader::fail(std::string("unknown message type '") + static_cast<char>(m.kind) + "'");
  }
  return m;
}

std::string lsn_to_string(uint64_t lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn));
  return buf;
}

uint64_t lsn_from_string(const std::string &text) {
  unsigned hi = 0, lo = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%X/%X%c", &hi, &lo, &extra) != 2)
    throw Error(Code::invalid_argument, "'" + text + "' is not a PostgreSQL LSN (like 16/B374D848)");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace ds::connectors::postgres::pgoutput
