// The chunks of one streamed PostgreSQL transaction (pgoutput protocol 2),
// kept until the transaction commits or aborts. The server streams a large
// transaction while it is still running, interleaved with others; applying
// it before its commit would break "batches never split a source
// transaction", and keeping it in memory would make memory grow with the
// transaction. So its messages go to an unlinked temporary file (as
// PostgreSQL's own apply worker does) and are replayed in order at the
// stream commit. Rolled-back subtransactions are cut off the file's end.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace ds::connectors::postgres {

class TransactionSpool {
 public:
  // The file lives in $TMPDIR (default /tmp) and is unlinked at once: it
  // disappears with the process, whatever happens to it.
  explicit TransactionSpool(uint32_t xid);
  ~TransactionSpool();
  TransactionSpool(const TransactionSpool &) = delete;
  TransactionSpool &operator=(const TransactionSpool &) = delete;

  // Appends one message of (sub)transaction `subxid`.
  void append(uint32_t subxid, std::string_view message);
  // ROLLBACK TO SAVEPOINT: drops what `subxid` and everything after its first
  // message wrote (its own subtransactions and later changes of it nest
  // inside it). A subtransaction that wrote nothing is a no-op.
  void abort_subtransaction(uint32_t subxid);
  // Calls `fn` with every message, in order; a message's bytes live until
  // the next call.
  void replay(const std::function<void(std::string_view)> &fn);

  uint32_t xid() const { return xid_; }
  uint64_t bytes() const { return size_; }
  uint64_t messages() const { return messages_; }

 private:
  void flush();

  uint32_t xid_;
  int fd_ = -1;
  std::string pending_;  // written in large blocks
  uint64_t size_ = 0;    // bytes of the file, pending ones included
  uint64_t messages_ = 0;
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> first_;  // subxid → (offset, messages before it)
};

}  // namespace ds::connectors::postgres
