// The one type-mapping table: for every engine type and every target dialect,
// the column type a new target column gets and how faithful that is — exact,
// widened (every value fits, the type is larger), or lossy (and what is lost;
// values the target cannot hold then follow pipeline.invalid_values).
// docs/type-mapping.md is generated from mapping_table() (scripts/gen-docs).
//
// Sinks ask map_to() for a column whose source spelling they cannot keep; a
// same-dialect copy keeps the source's own spelling (the sink checks that the
// spelling is a target type holding the engine type exactly).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "model/types.hpp"

namespace ds::schema {

enum class Dialect : uint8_t { postgres, mariadb, mysql, sqlite };
const char *dialect_name(Dialect dialect);  // "postgres", "mariadb", "mysql", "sqlite"
std::optional<Dialect> parse_dialect(const std::string &name);
const std::vector<Dialect> &all_dialects();

enum class Fidelity : uint8_t { exact, widened, lossy };
const char *fidelity_name(Fidelity fidelity);  // "exact", "widened", "lossy"

struct TargetType {
  std::string spelling;  // "numeric(12,2)", "datetime(6)", "varchar(768)"
  Fidelity fidelity = Fidelity::exact;
  std::string note;  // what is widened or lost; "" when exact
};

struct TargetContext {
  // The column is part of a key or an index: MariaDB/MySQL cannot index
  // unbounded text or blobs, so such a column gets a bounded type.
  bool in_key = false;
  // The target server's version as MMmmpp (MariaDB 10.11.5 → 101105,
  // MySQL 8.0.36 → 80036); 0 = assume the newest.
  int server_version = 0;
};

// The type a new `target` column gets for engine type `type`. A length in
// the source spelling ("varchar(20)", "character varying(20)", "char(5)") is
// kept for strings where the target has a bounded type.
TargetType map_to(Dialect target, const model::DataType &type, const TargetContext &context = {});

// The whole table, one row per engine type and dialect (decimal shown for
// (p,s), strings without and with a source length), for documentation.
struct MappingRow {
  std::string engine_type;  // "decimal(p,s)", "string", "string (source length n)"
  Dialect dialect;
  TargetType target;
};
std::vector<MappingRow> mapping_table();

// docs/type-mapping.md: the table above as Markdown, per dialect.
std::string mapping_markdown();

// Whether every value of engine type `source` fits a column read as `target`
// unchanged (same type with room: lengths from the spellings, decimal
// precision and scale; a wider integer; float32 into float64; a time of day
// into an interval; any value into unbounded text).
bool type_holds(const model::DataType &target, const model::DataType &source);

// Whether SQLite's NUMERIC affinity keeps every value of decimal(precision,
// scale) exactly (as a REAL of 15 significant digits or a 64-bit INTEGER);
// wider decimals need a column of TEXT affinity.
bool sqlite_numeric_affinity_holds(int precision, int scale);

// A length in a string type's spelling, or -1: "varchar(20)" → 20,
// "character varying(20)" → 20, "char(5)" → 5, "text" → -1.
int string_length_of(const std::string &spelling);

}  // namespace ds::schema
