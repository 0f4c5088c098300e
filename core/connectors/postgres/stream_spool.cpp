#include "connectors/postgres/stream_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "model/error.hpp"

namespace ds::connectors::postgres {
namespace {

constexpr size_t kBlockBytes = size_t{1} << 20;

std::string spool_context(uint32_t xid) { return "streamed transaction xid=" + std::to_string(xid); }

[[noreturn]] void fail(const std::string &what, uint32_t xid) {
  throw Error(Code::io, what + ": " + std::strerror(errno), spool_context(xid));
}

}  // namespace

TransactionSpool::TransactionSpool(uint32_t xid) : xid_(xid) {
  const char *dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/datasync-txn-XXXXXX";
  fd_ = ::mkstemp(path.data());
  if (fd_ < 0) fail("cannot create a spool file for a streamed transaction in " + path.substr(0, path.rfind('/')), xid);
  ::unlink(path.c_str());
  pending_.reserve(kBlockBytes);
}

TransactionSpool::~TransactionSpool() {
  if (fd_ >= 0) ::close(fd_);
}

void TransactionSpool::append(uint32_t subxid, std::string_view message) {
  if (subxid != xid_) first_.emplace(subxid, std::make_pair(size_, messages_));
  const auto n = static_cast<uint32_t>(message.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  pending_.append(len, 4);
  pending_.append(message);
  size_ += 4 + message.size();
  ++messages_;
  if (pending_.size() >= kBlockBytes) flush();
}

void TransactionSpool::flush() {
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t w = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("cannot write the spool file of a streamed transaction (is the temporary directory full?)", xid_);
    done += static_cast<size_t>(w);
  }
  pending_.clear();
}

void TransactionSpool::abort_subtransaction(uint32_t subxid) {
  auto found = first_.find(subxid);
  if (found == first_.end()) return;
  const uint64_t offset = found->second.first;
  const uint64_t before = found->second.second;
  flush();
  if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) fail("cannot cut the spool file", xid_);
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) fail("cannot seek in the spool file", xid_);
  size_ = offset;
  messages_ = before;
  for (auto it = first_.begin(); it != first_.end();) it = it->second.first >= offset ? first_.erase(it) : ++it;
}

void TransactionSpool::replay(const std::function<void(std::string_view)> &fn) {
  flush();
  std::string block;
  uint64_t offset = 0;
  size_t at = 0;
  // Reads blocks with pread so the file's write position stays at its end.
  auto fill = [&](size_t need) {
    if (block.size() - at >= need) return true;
    block.erase(0, at);
    at = 0;
    while (block.size() < need) {
      if (offset >= size_) return false;
      const size_t want = std::max(kBlockBytes, need - block.size());
      const size_t old = block.size();
      block.resize(old + want);
      const ssize_t r = ::pread(fd_, block.data() + old, want, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) {
        block.resize(old);
        continue;
      }
      if (r <= 0) fail("cannot read the spool file of a streamed transaction", xid_);
      block.resize(old + static_cast<size_t>(r));
      offset += static_cast<uint64_t>(r);
    }
    return true;
  };
  for (uint64_t i = 0; i < messages_; ++i) {
    if (!fill(4)) break;
    const auto *p = reinterpret_cast<const unsigned char *>(block.data() + at);
    const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    at += 4;
    if (!fill(n)) throw Error(Code::io, "the spool file of a streamed transaction ends early", spool_context(xid_));
    fn(std::string_view(block.data() + at, n));
    at += n;
  }
}

}  // namespace ds::connectors::postgres
