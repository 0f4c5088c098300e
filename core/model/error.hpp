// The one exception type of the core. capi/ turns it into a ds_error; nothing
// else crosses the C ABI. Codes mirror ds_status numbering one to one.
#pragma once
#include <stdexcept>
#include <string>

namespace ds {

enum class Code : int {
  ok = 0,
  invalid_argument = 1,
  config = 2,
  connection = 3,
  auth = 4,
  not_found = 5,
  unsupported = 6,
  schema = 7,
  data = 8,
  io = 9,
  timeout = 10,
  cancelled = 11,
  callback = 12,
  state = 13,
  nomem = 14,
  internal = 15,
};

// `text` with every occurrence of `secret` (3 bytes or more) replaced by
// "***": a server message never holds a password, but a connection-string
// echo might.
inline std::string scrub_secret(std::string text, const std::string &secret) {
  if (secret.size() < 3) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "***");
  return text;
}

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string &message, std::string context = {}, bool retriable = false)
      : std::runtime_error(message), code_(code), context_(std::move(context)), retriable_(retriable) {}

  Code code() const noexcept { return code_; }
  const std::string &context() const noexcept { return context_; }
  bool retriable() const noexcept { return retriable_; }

  // Marks an error made by host code (a transform callback): the engine
  // returns it as it was made, adding no context.
  Error &mark_from_host() {
    from_host_ = true;
    return *this;
  }
  bool from_host() const noexcept { return from_host_; }

  // Returns a copy with more "where" prepended, so outer layers can add
  // "pipeline=x" without losing the connector's own "table=y row=z".
  Error with_context(const std::string &outer) const {
    std::string joined = context_.empty() ? outer : (outer.empty() ? context_ : outer + " " + context_);
    Error copy(code_, what(), joined, retriable_);
    copy.from_host_ = from_host_;
    return copy;
  }

 private:
  Code code_;
  std::string context_;
  bool retriable_;
  bool from_host_ = false;
};

}  // namespace ds
