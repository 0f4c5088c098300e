// Internal helpers shared by the YAML parser and set_key(): turning one raw
// text value into the canonical text stored in model::Options, with the same
// checks and the same error messages whichever way the value arrived.
// Not part of the config contract; include only from core/config/*.cpp.
#pragma once
#include <string>
#include <vector>

#include "config/registry.hpp"
#include "config/spec.hpp"
#include "model/options.hpp"

namespace ds::config::detail {

// Separator of list items inside an Options value (see Options::get_list).
constexpr char kListSeparator = '\x1f';

// Keys may be written "batch-rows" or "batch_rows"; the canonical form uses '_'.
std::string normalize_key(std::string key);

std::string trim(const std::string &text);

// Replaces ${VAR} by the environment variable VAR; "$${" stands for a literal
// "${". Throws Code::config (with `context`) for a missing variable. When
// `secret` is set, no part of `text` is ever put into an error message.
std::string substitute_env(const std::string &text, bool secret, const std::string &context);

// Splits "a, b{1,3}, c" on top-level commas: commas inside (), [] or {} (and
// backslash-escaped characters) do not split, so regexes survive. Items are
// trimmed; empty items are dropped.
std::vector<std::string> split_list(const std::string &text);
std::string join_list(const std::vector<std::string> &items);

// How a value is shown in an error: quoted, or '***' for secret keys.
std::string shown(const KeySpec &key, const std::string &value);

// Validates one scalar value of `key` (already env-substituted) and returns the
// text to store: booleans as "true"/"false", integers in plain decimal, choices
// in their registered spelling, lists joined by kListSeparator, relative paths
// made absolute against `base_dir` when it is not empty.
std::string convert_scalar(const KeySpec &key, const std::string &raw, const std::string &base_dir,
                           const std::string &context);
// The same for a list key given as separate items (a YAML sequence).
std::string convert_items(const KeySpec &key, const std::vector<std::string> &items);

const KeySpec *find_key(const std::vector<KeySpec> &keys, const std::string &name);
std::vector<std::string> key_names(const std::vector<KeySpec> &keys);

// "unknown key 'pasword' in sink (type sqlite); did you mean 'password'?"
[[noreturn]] void throw_unknown_key(const std::string &written, const std::string &where,
                                    const std::vector<std::string> &candidates, const std::string &context);

// "source (type sqlite)", used in messages about a connector section.
std::string section_label(const std::string &role, const std::string &type);

// The keys of connector `type` for `role` ("source"/"sink"), copied so a
// concurrent re-registration cannot change them under the caller. Throws
// Code::config naming the nearest registered type when there is none.
ConnectorKeys connector_keys(const std::string &role, const std::string &type, const std::string &context);

// Sets every key that has a default and no value yet.
void apply_defaults(const std::vector<KeySpec> &keys, model::Options &options);
// Throws Code::config for the first required key that is missing or empty.
void check_required(const std::vector<KeySpec> &keys, const model::Options &options, const std::string &where,
                    const std::string &context);

// The keys of one `route` and one `transform` list item; like connector keys
// they drive both parsing and the generated documentation.
const std::vector<KeySpec> &route_keys();
const std::vector<KeySpec> &transform_keys();
const std::vector<KeySpec> &schema_keys();
// "" when `item` of schema key `key` is well formed, else what is wrong with it
// ("pattern => replacement" with a valid regex; prune patterns are bare regexes).
std::string check_schema_rule(const std::string &key, const std::string &item);

// Stores one already-converted pipeline key into its PipelineSpec field.
void set_pipeline_field(PipelineSpec &spec, const std::string &key, const std::string &text);

}  // namespace ds::config::detail
