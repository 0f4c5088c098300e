// The type-mapping table: spot checks per dialect, the table's own rules, and
// that what it calls exact or widened really reads back, through the target's
// own catalog mapping, as a type holding every value of the original.
#include "schema/type_mapping.hpp"

#include <gtest/gtest.h>

#include "connectors/mariadb/types.hpp"
#include "connectors/sqlite/catalog.hpp"

namespace {

using ds::model::DataType;
using ds::model::TypeId;
using ds::schema::Dialect;
using ds::schema::Fidelity;
using ds::schema::map_to;

DataType type(TypeId id, std::string source = "", int16_t p = 0, int16_t s = 0) {
  DataType t;
  t.id = id;
  t.precision = p;
  t.scale = s;
  t.source_name = std::move(source);
  return t;
}

// Whether every value of `original` fits `read_back` unchanged.
bool holds(const DataType &read_back, const DataType &original) {
  auto rank = [](TypeId id) {
    switch (id) {
      case TypeId::int8: return 1;
      case TypeId::int16: return 2;
      case TypeId::int32: return 3;
      case TypeId::int64: return 4;
      default: return 0;
    }
  };
  if (read_back.id == original.id)
    return original.id != TypeId::decimal ||
           (read_back.scale == original.scale && read_back.precision >= original.precision);
  if (rank(read_back.id) && rank(original.id)) return rank(read_back.id) >= rank(original.id);
  if (original.id == TypeId::float32 && read_back.id == TypeId::float64) return true;
  if (original.id == TypeId::time && read_back.id == TypeId::interval) return true;  // MariaDB TIME spans days
  return false;
}

TEST(SchemaTypeMapping, SpotChecks) {
  EXPECT_EQ(map_to(Dialect::postgres, type(TypeId::uint64)).spelling, "numeric(20,0)");
  EXPECT_EQ(map_to(Dialect::postgres, type(TypeId::uint64)).fidelity, Fidelity::widened);
  EXPECT_EQ(map_to(Dialect::postgres, type(TypeId::decimal, "", 12, 2)).spelling, "numeric(12,2)");
  EXPECT_EQ(map_to(Dialect::postgres, type(TypeId::string, "varchar(20)")).spelling, "varchar(20)");
  EXPECT_EQ(map_to(Dialect::postgres, type(TypeId::string, "longtext")).spelling, "text");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::uint64)).spelling, "bigint unsigned");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::string, "character varying(20)")).spelling, "varchar(20)");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::string)).spelling, "longtext");
  ds::schema::TargetContext key;
  key.in_key = true;
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::string), key).spelling, "varchar(768)");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::string), key).fidelity, Fidelity::lossy);
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::string, "varchar(40)"), key).fidelity, Fidelity::exact);
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::interval)).spelling, "time(6)");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::interval)).fidelity, Fidelity::lossy);
  ds::schema::TargetContext old;
  old.server_version = 100611;
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::uuid), old).spelling, "char(36)");
  EXPECT_EQ(map_to(Dialect::mariadb, type(TypeId::uuid)).spelling, "uuid");
  EXPECT_EQ(map_to(Dialect::mysql, type(TypeId::uuid)).spelling, "char(36)");
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::timestamp_tz)).spelling, "TIMESTAMPTZ");
  // SQLite's NUMERIC affinity keeps 15 significant digits (or a whole 64-bit integer).
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::decimal, "", 15, 5)).spelling, "DECIMAL(15,5)");
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::decimal, "", 18, 0)).spelling, "DECIMAL(18,0)");
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::decimal, "", 16, 1)).spelling, "DECIMAL_TEXT(16,1)");
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::decimal, "", 19, 0)).spelling, "DECIMAL_TEXT(19,0)");
  // A bare number as a whole JSON document would become a REAL under NUMERIC affinity.
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::json)).spelling, "JSON_TEXT");
  EXPECT_EQ(map_to(Dialect::sqlite, type(TypeId::date)).fidelity, Fidelity::lossy);  // years 0000..9999
  EXPECT_EQ(ds::schema::string_length_of("character varying(20)"), 20);
  EXPECT_EQ(ds::schema::string_length_of("CHAR(5)"), 5);
  EXPECT_EQ(ds::schema::string_length_of("decimal(5)"), -1);
  EXPECT_EQ(ds::schema::string_length_of("text"), -1);
}

TEST(SchemaTypeMapping, EveryRowIsComplete) {
  auto rows = ds::schema::mapping_table();
  ASSERT_FALSE(rows.empty());
  for (const auto &row : rows) {
    SCOPED_TRACE(row.engine_type + " into " + ds::schema::dialect_name(row.dialect));
    EXPECT_FALSE(row.target.spelling.empty());
    // Only exact mappings go without a word on what changes.
    EXPECT_EQ(row.target.fidelity == Fidelity::exact, row.target.note.empty());
  }
  const std::string md = ds::schema::mapping_markdown();
  for (Dialect d : ds::schema::all_dialects())
    EXPECT_NE(md.find(std::string("## Into ") + ds::schema::dialect_name(d)), std::string::npos);
}

TEST(SchemaTypeMapping, ExactAndWidenedMappingsReadBackAsAHoldingType) {
  std::vector<DataType> probes;
  for (TypeId id : {TypeId::boolean, TypeId::int8, TypeId::int16, TypeId::int32, TypeId::int64, TypeId::uint64,
                    TypeId::float32, TypeId::float64, TypeId::string, TypeId::binary, TypeId::date, TypeId::time,
                    TypeId::timestamp, TypeId::timestamp_tz, TypeId::interval, TypeId::json, TypeId::uuid})
    probes.push_back(type(id));
  probes.push_back(type(TypeId::decimal, "", 12, 2));
  probes.push_back(type(TypeId::decimal, "", 38, 10));
  probes.push_back(type(TypeId::string, "varchar(100)"));
  for (const DataType &t : probes) {
    for (Dialect d : {Dialect::mariadb, Dialect::sqlite}) {
      auto target = map_to(d, t);
      if (target.fidelity == Fidelity::lossy) continue;
      SCOPED_TRACE(ds::model::to_string(t) + " into " + ds::schema::dialect_name(d) + " as " + target.spelling);
      DataType back;
      if (d == Dialect::sqlite) {
        back = ds::connectors::sqlite::map_declared_type(target.spelling);
      } else {
        auto parsed = ds::connectors::mariadb::type_from_spelling(target.spelling, target.spelling == "json");
        ASSERT_TRUE(parsed.has_value());
        back = *parsed;
      }
      EXPECT_TRUE(holds(back, t)) << "reads back as " << ds::model::to_string(back);
    }
  }
}

}  // namespace
