// Our decoder of PostgreSQL's pgoutput logical replication messages
// (https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html),
// protocol versions 1 and 2 (streamed in-progress transactions) with text values. Hand-written: no registry library
// decodes pgoutput, and libpqxx 6.4 cannot stream COPY BOTH (decision 0006).
// Messages are decoded into small structs that borrow the payload's bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ds::connectors::postgres::pgoutput {

struct RelationColumn {
  bool key = false;  // part of the replica identity
  std::string name;
  uint32_t type_oid = 0;
  int32_t typmod = -1;
};

struct Relation {
  uint32_t oid = 0;
  std::string schema;  // "" means pg_catalog in the protocol; never seen for user tables
  std::string name;
  char replica_identity = 'd';  // d default (key), n nothing, f full, i index
  std::vector<RelationColumn> columns;
};

// One column value of a tuple.
struct Value {
  char kind = 'n';  // 'n' NULL, 'u' unchanged TOASTed value (not sent), 't' text, 'b' binary
  std::string_view data;
};

struct Tuple {
  std::vector<Value> values;
};

enum class Kind : char {
  begin = 'B',
  commit = 'C',
  origin = 'O',
  relation = 'R',
  type = 'Y',
  insert = 'I',
  update = 'U',
  remove = 'D',
  truncate = 'T',
  message = 'M',
  // Protocol 2 with streaming: chunks of a transaction still in progress,
  // bracketed by stream start/stop, ended by a stream commit or abort.
  stream_start = 'S',
  stream_stop = 'E',
  stream_commit = 'c',
  stream_abort = 'A',
};

struct Message {
  Kind kind = Kind::begin;
  uint64_t lsn = 0;            // begin/stream commit: the commit's LSN; commit: the commit's end LSN
  uint64_t end_lsn = 0;        // stream commit: the commit's end LSN
  int64_t commit_time = 0;     // begin/commit: microseconds since 2000-01-01
  uint32_t xid = 0;            // begin; stream messages; changes inside a stream: their (sub)transaction
  uint32_t subxid = 0;         // stream abort: the subtransaction rolled back (== xid: the whole transaction)
  bool first_segment = false;  // stream start: the transaction's first chunk
  uint32_t relation = 0;       // insert, update, delete
  Relation rel;                // relation
  bool has_old = false;        // update/delete: `old` holds the key ('K') or the whole old row ('O')
  char old_kind = 0;           // 'K' or 'O'
  Tuple old_tuple;
  Tuple new_tuple;                  // insert, update
  std::vector<uint32_t> truncated;  // truncate: relation oids
  bool truncate_cascade = false, truncate_restart = false;
};

// Decodes one pgoutput message (the payload of an XLogData 'w' message).
// `in_stream`: the message lies between a stream start and stop, where
// changes, relations, types and logical messages carry their transaction's
// xid first. Throws ds::Error(Code::data) on malformed input.
Message decode(std::string_view payload, bool in_stream = false);

// "16/B374D848" ↔ 64-bit LSN.
std::string lsn_to_string(uint64_t lsn);
uint64_t lsn_from_string(const std::string &text);  // throws Code::invalid_argument

}  // namespace ds::connectors::postgres::pgoutput
