#include "connectors/discard/discard.hpp"

#include "connectors/discard/discard_sink.hpp"
#include "connectors/registry.hpp"

namespace ds::connectors::discard {

void register_connector() {
  config::KeySpec fail_after;
  fail_after.name = "fail_after_rows";
  fail_after.type = config::KeyType::integer;
  fail_after.default_value = "0";
  fail_after.doc =
      "For fault tests: write() throws an io error once more than this many rows were written (0 = never).";
  fail_after.min = 0;
  register_sink("discard",
                "Drops every row, counting them; accepts any table. For benchmarks of the engine and sources, "
                "and (with fail_after_rows) for injecting a write failure. Holds no checkpoints.",
                {fail_after},
                [](const model::Options &options, const ConnectorContext &) -> std::unique_ptr<model::Sink> {
                  return DiscardSink::from_options(options);
                });
}

}  // namespace ds::connectors::discard
