#include "connectors/registry.hpp"

#include <map>
#include <mutex>

#include "model/error.hpp"

namespace ds::connectors {
namespace {

struct Factories {
  std::mutex mutex;
  std::map<std::string, SourceFactory> sources;
  std::map<std::string, SinkFactory> sinks;
};

Factories &factories() {
  static Factories f;
  return f;
}

template <typename Map>
typename Map::mapped_type find_factory(Map &map, const std::string &role, const config::ConnectorSpec &spec) {
  std::lock_guard<std::mutex> lock(factories().mutex);
  auto it = map.find(spec.type);
  if (it != map.end()) return it->second;
  std::vector<std::string> known;
  for (const auto &kv : map) known.push_back(kv.first);
  std::string hint = config::nearest(spec.type, known);
  std::string list;
  for (const auto &k : known) list += (list.empty() ? "" : ", ") + k;
  throw Error(Code::config,
              "unknown " + role + " type '" + spec.type + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                  " (known: " + list + ")",
              spec.mark.to_string());
}

}  // namespace

void register_source(const std::string &type, std::string doc, std::vector<config::KeySpec> keys,
                     SourceFactory factory) {
  config::Registry::instance().register_connector("source", type, std::move(doc), std::move(keys));
  std::lock_guard<std::mutex> lock(factories().mutex);
  factories().sources[type] = std::move(factory);
}

void register_sink(const std::string &type, std::string doc, std::vector<config::KeySpec> keys, SinkFactory factory) {
  config::Registry::instance().register_connector("sink", type, std::move(doc), std::move(keys));
  std::lock_guard<std::mutex> lock(factories().mutex);
  factories().sinks[type] = std::move(factory);
}

std::unique_ptr<model::Source> create_source(const config::ConnectorSpec &spec, const ConnectorContext &ctx) {
  return find_factory(factories().sources, "source", spec)(spec.options, ctx);
}

std::unique_ptr<model::Sink> create_sink(const config::ConnectorSpec &spec, const ConnectorContext &ctx) {
  return find_factory(factories().sinks, "sink", spec)(spec.options, ctx);
}

}  // namespace ds::connectors
