// The one registry of typed configuration keys. The pipeline section's keys
// are built in; each connector type registers its own keys for its role
// ("source" or "sink"). YAML, JSON and ds_config_set() are all validated here.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "config/spec.hpp"

namespace ds::config {

enum class KeyType { string, integer, boolean, list, choice, path };

struct KeySpec {
  std::string name;
  KeyType type = KeyType::string;
  std::string default_value;  // "" = no default
  std::string doc;
  bool required = false;
  bool secret = false;                                // never printed: errors and logs show "***"
  std::vector<std::string> choices;                   // KeyType::choice
  int64_t min = std::numeric_limits<int64_t>::min();  // KeyType::integer
  int64_t max = std::numeric_limits<int64_t>::max();
};

// Convenience for connectors declaring their keys.
inline KeySpec key_spec(std::string name, KeyType type, std::string doc, std::string default_value = "",
                        bool required = false, std::vector<std::string> choices = {}) {
  KeySpec k;
  k.name = std::move(name);
  k.type = type;
  k.doc = std::move(doc);
  k.default_value = std::move(default_value);
  k.required = required;
  k.choices = std::move(choices);
  return k;
}

// host, port, user, password (secret), database, connect_timeout: the keys of
// every client-server connector; `database_doc` says what the database is for.
std::vector<KeySpec> server_connection_keys(const std::string &default_port, const std::string &database_doc);

struct ConnectorKeys {
  std::string type;
  std::string doc;
  std::vector<KeySpec> keys;
};

class Registry {
 public:
  static Registry &instance();

  // role is "source" or "sink". Registering the same (role, type) again replaces it.
  void register_connector(const std::string &role, const std::string &type, std::string doc, std::vector<KeySpec> keys);
  // nullptr when the role has no such type.
  const ConnectorKeys *connector(const std::string &role, const std::string &type) const;
  std::vector<std::string> connector_types(const std::string &role) const;
  const std::vector<KeySpec> &pipeline_keys() const;

  // docs/CONFIGURATION.md, generated from the registry.
  std::string markdown() const;

 private:
  Registry();
  mutable std::mutex mutex_;
  std::map<std::string, ConnectorKeys> sources_;
  std::map<std::string, ConnectorKeys> sinks_;
  std::vector<KeySpec> pipeline_keys_;
};

// The registered key closest to `wrong` (edit distance), or "" when none is close.
std::string nearest(const std::string &wrong, const std::vector<std::string> &candidates);

// Parses a pipeline definition. Throws ds::Error(Code::config) whose message says
// what is wrong and whose context is "file:line:column". `${VAR}` in any scalar is
// replaced by the environment variable (missing variable: an error naming it).
// Relative `path` keys are resolved against `base_dir` when it is not empty.
PipelineSpec parse_yaml(const std::string &text, const std::string &file_name = "<string>",
                        const std::string &base_dir = "");
PipelineSpec parse_yaml_file(const std::string &path);

// Sets one key by its dotted name ("source.path", "pipeline.parallelism",
// "source.type") with the same validation as YAML.
void set_key(PipelineSpec &spec, const std::string &dotted_key, const std::string &value);
// Checks what can only be checked on the whole spec (required keys, source and sink types set).
void validate(PipelineSpec &spec);

// Replaces every secret value of `spec` that occurs in `text` by "***".
std::string redact(const std::string &text, const PipelineSpec &spec);

}  // namespace ds::config
