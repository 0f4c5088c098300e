// Change data capture from PostgreSQL: our pgoutput decoder and text value
// parser on hand-made input, then slots, publications and the change stream
// against the real server of `scripts/db up` (wal_level=logical).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "connectors/postgres/cdc.hpp"
#include "connectors/postgres/pgoutput.hpp"
#include "connectors/postgres/stream_spool.hpp"
#include "connectors/postgres/text_values.hpp"
#include "model/error.hpp"
#include "pg_test_util.hpp"

namespace ds::connectors::postgres {
namespace {

__extension__ typedef __int128 int128;
using model::TypeId;

model::DataType type(TypeId id, int16_t p = 0, int16_t s = 0) {
  model::DataType t;
  t.id = id;
  t.precision = p;
  t.scale = s;
  return t;
}

model::Column parse(const model::DataType &t, const std::string &text) {
  model::ColumnBuilder b(t, 1);
  append_text_value(b, t, text, "column c");
  return b.finish();
}

TEST(PostgresTextValues, EveryTypeParsesAsTheBinaryDecoderWould) {
  EXPECT_TRUE(parse(type(TypeId::boolean), "t").bool_value(0));
  EXPECT_EQ(parse(type(TypeId::int64), "-9223372036854775808").value<int64_t>(0), INT64_MIN);
  EXPECT_EQ(parse(type(TypeId::int16), "-32768").value<int16_t>(0), -32768);
  EXPECT_EQ(parse(type(TypeId::float64), "0.1").value<double>(0), 0.1);
  EXPECT_TRUE(std::isnan(parse(type(TypeId::float64), "NaN").value<double>(0)));
  EXPECT_EQ(parse(type(TypeId::float32), "-Infinity").value<float>(0), -std::numeric_limits<float>::infinity());
  int128 d = 0;
  std::memcpy(&d, parse(type(TypeId::decimal, 12, 2), "-1234.5").fixed_bytes(0, 16), 16);
  EXPECT_TRUE(d == -123450);
  EXPECT_THROW(parse(type(TypeId::decimal, 4, 2), "123.45"), Error);
  EXPECT_THROW(parse(type(TypeId::decimal, 6, 2), "NaN"), Error);
  EXPECT_EQ(parse(type(TypeId::binary), "\\x00ff41").bytes(0), std::string("\0\xff"
                                                                           "A",
                                                                           3));
  EXPECT_EQ(parse(type(TypeId::date), "1970-01-02").value<int32_t>(0), 1);
  EXPECT_EQ(parse(type(TypeId::date), "0001-01-01 BC").value<int32_t>(0), -719528);  // year 0, a leap year
  EXPECT_EQ(parse(type(TypeId::date), "infinity").value<int32_t>(0), INT32_MAX);
  EXPECT_EQ(parse(type(TypeId::time), "23:59:59.999999").value<int64_t>(0), 86399999999);
  EXPECT_EQ(parse(type(TypeId::timestamp), "2000-01-01 00:00:00.5").value<int64_t>(0), 946684800500000);
  EXPECT_EQ(parse(type(TypeId::timestamp_tz), "2000-01-01 02:00:00+02").value<int64_t>(0), 946684800000000);
  EXPECT_EQ(parse(type(TypeId::timestamp_tz), "-infinity").value<int64_t>(0), INT64_MIN);
  model::Column iv = parse(type(TypeId::interval), "P1Y-2M3DT-4H5M6.5S");
  int32_t months, days;
  int64_t nanos;
  std::memcpy(&months, iv.fixed_bytes(0, 16), 4);
  std::memcpy(&days, iv.fixed_bytes(0, 16) + 4, 4);
  std::memcpy(&nanos, iv.fixed_bytes(0, 16) + 8, 8);
  EXPECT_EQ(months, 10);
  EXPECT_EQ(days, 3);
  EXPECT_EQ(nanos, -4 * 3600000000000LL + 5 * 60000000000LL + 6500000000LL);
  model::Column u = parse(type(TypeId::uuid), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(u.fixed_bytes(0, 16)[0], 0xa0);
  EXPECT_EQ(u.fixed_bytes(0, 16)[15], 0x11);
  EXPECT_EQ(parse(type(TypeId::unknown), "{1,2}").bytes(0), "{1,2}");
  EXPECT_THROW(parse(type(TypeId::int32), "12x"), Error);
  EXPECT_THROW(parse(type(TypeId::date), "2024-13-01"), Error);
}

std::string be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string be32(uint32_t v) { return be16(static_cast<uint16_t>(v >> 16)) + be16(static_cast<uint16_t>(v)); }
std::string be64(uint64_t v) { return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v)); }
std::string cstr(const std::string &s) { return s + std::string(1, '\0'); }
std::string text(const std::string &s) { return "t" + be32(static_cast<uint32_t>(s.size())) + s; }

TEST(PostgresPgoutput, DecodesEveryMessageKind) {
  using pgoutput::Kind;
  auto begin = pgoutput::decode("B" + be64(0x100) + be64(5) + be32(77));
  EXPECT_EQ(begin.kind, Kind::begin);
  EXPECT_EQ(begin.lsn, 0x100u);
  EXPECT_EQ(begin.xid, 77u);
  auto rel = pgoutput::decode("R" + be32(16384) + cstr("public") + cstr("t") + "d" + be16(2) + std::string(1, '\1') +
                              cstr("id") + be32(23) + be32(0xffffffff) + std::string(1, '\0') + cstr("v") + be32(25) +
                              be32(0xffffffff));
  ASSERT_EQ(rel.kind, Kind::relation);
  EXPECT_EQ(rel.rel.name, "t");
  ASSERT_EQ(rel.rel.columns.size(), 2u);
  EXPECT_TRUE(rel.rel.columns[0].key);
  EXPECT_EQ(rel.rel.columns[1].type_oid, 25u);
  const std::string ins_payload = "I" + be32(16384) + "N" + be16(2) + text("1") + "n";  // messages borrow it
  auto ins = pgoutput::decode(ins_payload);
  EXPECT_EQ(ins.new_tuple.values[0].data, "1");
  EXPECT_EQ(ins.new_tuple.values[1].kind, 'n');
  const std::string upd_payload = "U" + be32(16384) + "K" + be16(2) + text("1") + "n" + "N" + be16(2) + text("2") + "u";
  auto upd = pgoutput::decode(upd_payload);
  EXPECT_TRUE(upd.has_old);
  EXPECT_EQ(upd.old_kind, 'K');
  EXPECT_EQ(upd.new_tuple.values[1].kind, 'u');
  const std::string del_payload = "D" + be32(16384) + "O" + be16(2) + text("2") + text("x");
  auto del = pgoutput::decode(del_payload);
  EXPECT_EQ(del.old_tuple.values[1].data, "x");
  auto trunc = pgoutput::decode("T" + be32(2) + std::string(1, '\1') + be32(1) + be32(2));
  EXPECT_TRUE(trunc.truncate_cascade);
  EXPECT_EQ(trunc.truncated.size(), 2u);
  auto commit = pgoutput::decode("C" + std::string(1, '\0') + be64(0x100) + be64(0x180) + be64(9));
  EXPECT_EQ(commit.lsn, 0x180u);
  EXPECT_THROW(pgoutput::decode("I" + be32(1) + "N" + be16(3) + text("1")), Error);  // truncated
  EXPECT_EQ(pgoutput::lsn_to_string(pgoutput::lsn_from_string("16/B374D848")), "16/B374D848");
}

TEST(PostgresPgoutput, DecodesStreamedTransactionMessages) {
  using pgoutput::Kind;
  auto start = pgoutput::decode("S" + be32(900) + std::string(1, '\1'));
  EXPECT_EQ(start.kind, Kind::stream_start);
  EXPECT_EQ(start.xid, 900u);
  EXPECT_TRUE(start.first_segment);
  EXPECT_EQ(pgoutput::decode("E").kind, Kind::stream_stop);
  // Inside a stream, changes carry their (sub)transaction's xid first.
  const std::string ins_payload = "I" + be32(901) + be32(16384) + "N" + be16(1) + text("7");
  auto ins = pgoutput::decode(ins_payload, true);
  EXPECT_EQ(ins.xid, 901u);
  EXPECT_EQ(ins.relation, 16384u);
  EXPECT_EQ(ins.new_tuple.values[0].data, "7");
  EXPECT_THROW(pgoutput::decode(ins_payload, false), Error);  // read without the stream's xid: not an insert
  auto rel = pgoutput::decode("R" + be32(900) + be32(16384) + cstr("public") + cstr("t") + "d" + be16(0), true);
  EXPECT_EQ(rel.rel.oid, 16384u);
  auto commit = pgoutput::decode("c" + be32(900) + std::string(1, '\0') + be64(0x200) + be64(0x280) + be64(9));
  EXPECT_EQ(commit.kind, Kind::stream_commit);
  EXPECT_EQ(commit.xid, 900u);
  EXPECT_EQ(commit.lsn, 0x200u);
  EXPECT_EQ(commit.end_lsn, 0x280u);
  auto abort = pgoutput::decode("A" + be32(900) + be32(905));
  EXPECT_EQ(abort.kind, Kind::stream_abort);
  EXPECT_EQ(abort.subxid, 905u);
}

TEST(PostgresTransactionSpool, ReplaysInOrderAndCutsRolledBackSubtransactions) {
  TransactionSpool spool(10);
  std::vector<std::string> want;
  const std::string big(300000, 'b');  // messages across the spool's 1 MiB write blocks
  for (int i = 0; i < 8; ++i) {
    std::string m = "top" + std::to_string(i) + (i % 3 == 0 ? big : "");
    spool.append(10, m);
    want.push_back(m);
  }
  spool.append(11, "sub11-a");  // ROLLBACK TO SAVEPOINT drops it and what came after it
  spool.append(12, "sub12-nested");
  spool.append(11, "sub11-b");
  spool.abort_subtransaction(11);
  spool.abort_subtransaction(99);  // wrote nothing: no-op
  spool.append(13, "sub13-kept");
  want.emplace_back("sub13-kept");
  spool.append(10, "top-last");
  want.emplace_back("top-last");
  EXPECT_EQ(spool.messages(), want.size());
  std::vector<std::string> got;
  spool.replay([&](std::string_view m) { got.emplace_back(m); });
  EXPECT_EQ(got, want);
  // Replaying does not disturb appending.
  spool.append(10, "after");
  got.clear();
  spool.replay([&](std::string_view m) { got.emplace_back(m); });
  EXPECT_EQ(got.size(), want.size() + 1);
  EXPECT_EQ(got.back(), "after");
}

// One batch (at least) per source transaction, so tests can count commits;
// grouping transactions under load is covered by the pipeline's tests.
ChangeStreamOptions stream_options(const std::string &slot, const std::string &publication) {
  ChangeStreamOptions o;
  o.slot = slot;
  o.publication = publication;
  o.group_transactions = false;
  return o;
}

// Collects what a stream emits until `done` holds (or times out).
struct Collected {
  std::vector<std::shared_ptr<model::Batch>> batches;
  std::vector<model::SchemaChange> changes;
};

Collected stream_until(PostgresChangeStream &s, const std::string &from,
                       const std::function<bool(const Collected &)> &done) {
  Collected c;
  model::CancelToken cancel;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::thread stopper([&] {
    while (!done(c) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cancel.cancel();
  });
  try {
    s.stream(
        from, 1000,
        [&](std::shared_ptr<model::Batch> b) {
          c.batches.push_back(std::move(b));
          return true;
        },
        [&](const model::SchemaChange &ch) { c.changes.push_back(ch); }, cancel);
  } catch (...) {
    deadline = std::chrono::steady_clock::now();
    stopper.join();
    throw;
  }
  stopper.join();
  return c;
}

int commits(const Collected &c) {
  int n = 0;
  for (const auto &b : c.batches) n += !b->position.stream.empty();
  return n;
}

TEST(PostgresCdc, StreamsInsertsUpdatesDeletesWithPositionsAndSchemaChanges) {
  test::pg::ScratchDb db("cdc_stream");
  db.exec("CREATE TABLE t (id int PRIMARY KEY, v text, big text)");
  db.exec("ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL");  // TOASTed without compression
  Connection conn(db.params());
  ensure_publication(conn, "pub_t", {"public.t"});
  ConnParams rp = db.params();
  rp.replication = true;
  auto repl = std::make_unique<Connection>(rp);
  SlotInfo slot = ensure_slot(*repl, conn, "ds_test_slot_" + std::to_string(::getpid()), false);
  ASSERT_TRUE(slot.created);
  ASSERT_FALSE(slot.consistent_point.empty());
  struct DropSlot {
    Connection &c;
    std::string s;
    ~DropSlot() {
      try {
        drop_slot_and_publication(c, s, "pub_t");
      } catch (...) {
      }
    }
  } drop{conn, slot.name};

  db.exec(
      "BEGIN; INSERT INTO t VALUES (1, 'a', 'small'), (2, 'b', NULL); UPDATE t SET v = 'a2' WHERE id = 1;"
      " UPDATE t SET id = 3 WHERE id = 2; DELETE FROM t WHERE id = 1; COMMIT;");
  db.exec("INSERT INTO t VALUES (4, 'd', repeat('y', 5000))");
  db.exec("UPDATE t SET v = 'd2' WHERE id = 4");  // big is TOASTed and unchanged: not sent
  db.exec("ALTER TABLE t ADD COLUMN n numeric(10,2)");
  db.exec("INSERT INTO t VALUES (5, 'e', NULL, 1.50)");
  {
    PostgresChangeStream s(db.params(), stream_options(slot.name, "pub_t"), nullptr);
    Collected c = stream_until(s, slot.consistent_point, [](const Collected &x) { return commits(x) >= 4; });
    ASSERT_EQ(commits(c), 4);
    // First transaction: +I 1, +I 2, +U 1, -D 2 (key changed), +U 3, -D 1 — one batch, commit position on it.
    const auto &first = *c.batches[0];
    ASSERT_EQ(first.num_rows, 6);
    std::vector<model::Op> ops;
    for (int64_t r = 0; r < first.num_rows; ++r) ops.push_back(first.op(r));
    EXPECT_EQ(ops, (std::vector<model::Op>{model::Op::insert, model::Op::insert, model::Op::update_after,
                                           model::Op::remove, model::Op::update_after, model::Op::remove}));
    EXPECT_EQ(first.columns[0].value<int32_t>(3), 2);  // the old key
    EXPECT_EQ(first.columns[0].value<int32_t>(4), 3);
    EXPECT_EQ(first.columns[2].bytes(0), "small");
    EXPECT_FALSE(first.position.value.empty());
    EXPECT_FALSE(first.transaction_open);
    // The update of row 4 without its unchanged TOASTed column.
    bool partial = false;
    for (const auto &b : c.batches)
      if (b->schema && b->schema->columns.size() == 2 && b->num_rows == 1) partial = true;
    EXPECT_TRUE(partial);
    ASSERT_EQ(c.changes.size(), 1u);
    EXPECT_EQ(c.changes[0].kind, model::SchemaChangeKind::add_column);
    EXPECT_EQ(c.changes[0].column, "n");
    EXPECT_EQ(model::to_string(c.changes[0].new_type), "decimal(10,2)");
    // Positions grow.
    std::string last;
    for (const auto &b : c.batches) {
      if (b->position.stream.empty()) continue;
      EXPECT_GT(pgoutput::lsn_from_string(b->position.value), last.empty() ? 0 : pgoutput::lsn_from_string(last));
      last = b->position.value;
    }
    // Resuming after the second transaction streams only the last two.
    std::string second;
    int k = 0;
    for (const auto &b : c.batches)
      if (!b->position.stream.empty() && ++k == 2) second = b->position.value;
    PostgresChangeStream again(db.params(), stream_options(slot.name, "pub_t"), nullptr);
    Collected rest = stream_until(again, second, [](const Collected &x) { return commits(x) >= 2; });
    EXPECT_EQ(commits(rest), 2);
    again.acknowledge(last);
  }
  // The acknowledged position reached the server.
  EXPECT_NE(db.scalar("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot.name + "'"),
            slot.consistent_point);
}

// Protocol 2: a transaction larger than logical_decoding_work_mem arrives in
// chunks while it runs, interleaved with others, and still reaches the sink
// whole, in commit order, without its rolled-back savepoint.
TEST(PostgresCdc, StreamedLargeTransactionsArriveWholeInCommitOrder) {
  test::pg::ScratchDb db("cdc_streamed");
  db.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  Connection conn(db.params());
  ensure_publication(conn, "pub_s", {"public.t"});
  ConnParams rp = db.params();
  rp.replication = true;
  auto repl = std::make_unique<Connection>(rp);
  SlotInfo slot = ensure_slot(*repl, conn, "ds_test_stream_" + std::to_string(::getpid()), false);
  struct DropSlot {
    Connection &c;
    std::string s;
    ~DropSlot() {
      try {
        drop_slot_and_publication(c, s, "pub_s");
      } catch (...) {
      }
    }
  } drop{conn, slot.name};

  Connection big(db.params());
  big.exec("BEGIN");
  big.exec("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 10000) i");
  big.exec("SAVEPOINT s1");
  big.exec("INSERT INTO t SELECT i, 'rolled back' FROM generate_series(10001, 15000) i");
  big.exec("ROLLBACK TO SAVEPOINT s1");
  db.exec("INSERT INTO t VALUES (-1, 'small, committed first')");
  big.exec("INSERT INTO t SELECT i, 'kept' FROM generate_series(15001, 20000) i");
  big.exec("COMMIT");
  big.exec("BEGIN");  // streamed too, then aborted: nothing of it may arrive
  big.exec("INSERT INTO t SELECT i, 'aborted' FROM generate_series(30001, 50000) i");
  big.exec("ROLLBACK");
  db.exec("INSERT INTO t VALUES (-2, 'last')");

  ChangeStreamOptions options = stream_options(slot.name, "pub_s");
  options.decoding_work_mem = "64kB";
  PostgresChangeStream s(db.params(), options, nullptr);
  Collected c = stream_until(s, slot.consistent_point, [](const Collected &x) { return commits(x) >= 3; });
  ASSERT_EQ(commits(c), 3);
  // Transactions as committed: the small one, the big one, the last one.
  std::vector<std::vector<int32_t>> txns(1);
  for (const auto &b : c.batches) {
    for (int64_t r = 0; r < b->num_rows; ++r) {
      EXPECT_EQ(b->op(r), model::Op::insert);
      txns.back().push_back(b->columns[0].value<int32_t>(r));
    }
    if (!b->position.stream.empty())
      txns.emplace_back();
    else
      EXPECT_TRUE(b->transaction_open);
  }
  txns.pop_back();
  ASSERT_EQ(txns.size(), 3u);
  EXPECT_EQ(txns[0], std::vector<int32_t>{-1});
  ASSERT_EQ(txns[1].size(), 15000u);
  EXPECT_EQ(txns[1].front(), 1);
  EXPECT_EQ(txns[1][9999], 10000);
  EXPECT_EQ(txns[1][10000], 15001);  // the savepoint's rows are gone
  EXPECT_EQ(txns[1].back(), 20000);
  EXPECT_EQ(txns[2], std::vector<int32_t>{-2});
  // The server did stream (this test would pass without streaming otherwise).
  EXPECT_NE(db.scalar("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '" + slot.name + "'"), "0");
}

// An idle stream follows the server's WAL end (written by others) so its slot
// does not hold WAL, and reports what the slot retains, warning past the limit.
TEST(PostgresCdc, IdleSlotFollowsTheServerAndReportsRetainedWal) {
  test::pg::ScratchDb db("cdc_idle");
  test::pg::ScratchDb other("cdc_idle_other");
  db.exec("CREATE TABLE t (id int PRIMARY KEY)");
  Connection conn(db.params());
  ensure_publication(conn, "pub_i", {"public.t"});
  ConnParams rp = db.params();
  rp.replication = true;
  auto repl = std::make_unique<Connection>(rp);
  SlotInfo slot = ensure_slot(*repl, conn, "ds_test_idle_" + std::to_string(::getpid()), false);
  struct DropSlot {
    Connection &c;
    std::string s;
    ~DropSlot() {
      try {
        drop_slot_and_publication(c, s, "pub_i");
      } catch (...) {
      }
    }
  } drop{conn, slot.name};
  // WAL of another database, none of it for this slot's publication.
  other.exec("CREATE TABLE filler AS SELECT i, repeat('w', 200) AS pad FROM generate_series(1, 20000) i");
  const std::string written = other.scalar("SELECT pg_current_wal_lsn()");

  ChangeStreamOptions options = stream_options(slot.name, "pub_i");
  options.retained_wal_warning = 1;  // any retained byte: the warning must come
  std::vector<std::string> warnings;
  std::mutex warnings_mutex;
  options.warn = [&](const std::string &, const std::string &message) {
    std::lock_guard<std::mutex> lock(warnings_mutex);
    warnings.push_back(message);
  };
  auto status = options.status;
  PostgresChangeStream s(db.params(), options, nullptr);
  Connection watcher(db.params());
  const std::string confirmed_past = "SELECT confirmed_flush_lsn >= '" + written +
                                     "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + slot.name + "'";
  stream_until(s, slot.consistent_point, [&](const Collected &) {
    std::lock_guard<std::mutex> lock(warnings_mutex);
    return !warnings.empty() && watcher.exec(confirmed_past).value(0, 0) == "t";
  });
  EXPECT_EQ(watcher.exec(confirmed_past).value(0, 0), "t");
  EXPECT_GE(status->retained_bytes.load(), 0);
  std::lock_guard<std::mutex> lock(warnings_mutex);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("holds"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(slot.name), std::string::npos) << warnings[0];
}

TEST(PostgresCdc, MissingPrivilegesAndSettingsAreClearErrors) {
  test::pg::ScratchDb db("cdc_errors");
  db.exec("CREATE TABLE t (id int PRIMARY KEY)");
  test::pg::RawConn admin;
  const std::string role = "ds_norepl_" + std::to_string(::getpid());
  admin.exec("DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role + " LOGIN PASSWORD 'pw' NOREPLICATION");
  struct DropRole {
    std::string r;
    ~DropRole() {
      try {
        test::pg::RawConn().exec("DROP ROLE IF EXISTS " + r);
      } catch (...) {
      }
    }
  } cleanup{role};
  ConnParams p = db.params();
  p.user = role;
  p.password = "pw";
  Connection conn(p);
  try {
    ensure_publication(conn, "pub_x", {"public.t"});
    FAIL() << "a role without REPLICATION cannot stream";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Code::auth);
    EXPECT_NE(std::string(e.what()).find("ALTER ROLE"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ds::connectors::postgres
