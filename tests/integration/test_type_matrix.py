"""The cross-dialect type matrix (issue 5), against the real servers of
scripts/db through the installed `datasync` command.

For every ordered pair (S, T) of different dialects (PostgreSQL, MariaDB,
SQLite): a table in S with a column for every type of S whose values T holds
(the mapping table's exact and widened types, and lossy ones with values T can
represent), filled with boundary values, NULLs, non-ASCII text and binary with
zero bytes, is copied S → T and then T → S' (a fresh database of S's dialect).
Every value of T and of S' is compared with S through one normalising SELECT
per column, a few values of T are checked literally, T's column types must be
what `datasync schema --json` planned, and the plan must call lossy exactly
the columns the mapping table does. A second test gives each pair values T
cannot hold and checks pipeline.invalid_values: error, null and clamp.

Values are compared in a canonical Python form per kind of value (a Decimal,
microseconds, a datetime, a JSON document with exact numbers...) read through
a SELECT giving each server's exact text of the value; SQLite values are read
as they are stored, storage class included."""
import json
import re
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import dbutil
from dbutil import CLI, connection

DIALECTS = ("postgres", "mariadb", "sqlite")
PAIRS = [(s, t) for s in DIALECTS for t in DIALECTS if s != t]
ROWS = 4  # ids 1..3 carry values (lowest, highest, awkward); id 4 is NULL everywhere


def psql(sql: str, database: str) -> str:
    """SQL in a session whose dates, timestamps and intervals read as the canonical forms expect."""
    return dbutil.psql_script("SET timezone = 'UTC'; SET intervalstyle = 'iso_8601'; SET datestyle = 'ISO, YMD';\n"
                              + sql, database)


def maria(sql: str, database: str = "datasync") -> str:
    """dbutil.maria with values unescaped, in utf8mb4 and UTC."""
    return dbutil.maria(sql, database, raw=True, canonical=True)


# --------------------------------------------------------------------- columns


@dataclass
class Col:
    name: str
    ddl: str  # the column's type in the source dialect
    kind: str  # how values are read and compared (see canonical())
    values: tuple  # SQL literals of rows 1, 2 and 3 in the source dialect
    only: tuple = DIALECTS  # the targets that hold these values
    lossy: tuple = ()  # the targets whose plan calls the mapping lossy (other values, or the type, are not kept)


ALL_BUT_SQLITE = ("postgres", "mariadb")
PG, MY, LITE = ("postgres",), ("mariadb",), ("sqlite",)
MY_LITE = ("mariadb", "sqlite")

POSTGRES_COLUMNS = [
    Col("flag", "boolean", "bool", ("false", "true", "true")),
    Col("i2", "smallint", "int", ("-32768", "32767", "0")),
    Col("i4", "integer", "int", ("-2147483648", "2147483647", "1")),
    Col("i8", "bigint", "int", ("-9223372036854775808", "9223372036854775807", "-1")),
    Col("n12", "numeric(12,2)", "dec", ("-9999999999.99", "9999999999.99", "0.01")),
    Col("n18", "numeric(18,0)", "dec", ("-999999999999999999", "999999999999999999", "0")),
    Col("n38", "numeric(38,10)", "dec",
        ("-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999", "0.0000000001")),
    Col("nu", "numeric", "dec",
        ("-123456789012345678901234567890.123456789", "0.000000000000000000000000000001", "42"), lossy=MY_LITE),
    Col("f4", "real", "f4", ("-3.4028235e38", "3.4028235e38", "1.17549435e-38"), lossy=MY_LITE),
    Col("f8", "double precision", "f8",
        ("-1.7976931348623157e308", "1.7976931348623157e308", "2.2250738585072014e-308"), lossy=MY_LITE),
    Col("c5", "char(5)", "char", ("''", "'zzzzz'", "'é東'")),
    Col("vc", "varchar(30)", "text", ("''", "repeat('ü', 30)", "E'tab\\there\\nnl \"q\" \\\\ back'")),
    Col("tx", "text", "text", ("''", "repeat('東京🎉', 5000)", "'Zoë'")),
    Col("by", "bytea", "bin", ("''::bytea", "decode(repeat('00ff', 50000), 'hex')", "'\\x00'::bytea")),
    Col("d", "date", "date", ("'0001-01-01'", "'9999-12-31'", "'2024-02-29'"), lossy=MY_LITE),
    Col("tm", "time", "time", ("'00:00:00'", "'23:59:59.999999'", "'12:34:56.789'"), lossy=LITE),
    Col("ts", "timestamp", "ts",
        ("'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-02-29 12:34:56.000001'"), lossy=MY_LITE),
    Col("tstz", "timestamptz", "tstz",
        ("'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59.999999+00'", "'2024-02-29 12:00:00+02'"), lossy=MY_LITE),
    # A MariaDB TIME holds ±838:59:59.999999 without months: such intervals go everywhere.
    Col("iv", "interval", "interval",
        ("'-838:59:59.999999'", "'34 days 22:59:59.999999'", "'-00:00:00.000001'"), lossy=MY_LITE),
    Col("ivm", "interval", "interval",
        ("'-178000000 years'", "'1 year 2 mons 3 days 04:05:06.5'", "'-1 mons -2 days -00:00:00.000001'"),
        only=LITE, lossy=LITE),
    Col("u", "uuid", "uuid", ("'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
                             "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'")),
    Col("j", "json", "json", ("'{}'", "'{\"k\": [1, 2.5, \"ü\"], \"n\": null}'", "'[\"tab\\t\", 100, true]'")),
    # A bare number as the whole document: SQLite's NUMERIC affinity would make it a REAL.
    Col("jb", "jsonb", "json", ("'[]'", "'12345678901234567890.5'", "'\"just a string\"'")),
    # Types the engine does not know travel as their text (lossy: the type is not kept).
    Col("m", "money", "text", ("'-92233720368547758.08'", "'92233720368547758.07'", "'1.5'"), lossy=MY_LITE),
    Col("ip", "inet", "text", ("'0.0.0.0'", "'ffff::1/128'", "'10.1.2.3/24'"), lossy=MY_LITE),
    Col("mac", "macaddr", "text", ("'00:00:00:00:00:00'", "'ff:ff:ff:ff:ff:ff'", "'08:00:2b:01:02:03'"),
        lossy=MY_LITE),
    # MariaDB knows bit(12) by that name; SQLite keeps the bits as text.
    Col("bits", "bit(12)", "bits", ("B'000000000000'", "B'111111111111'", "B'000000000101'"), lossy=LITE),
    Col("ints", "integer[]", "text", ("'{}'", "ARRAY[2147483647, NULL, -1]", "'{{1,2},{3,4}}'"), lossy=MY_LITE),
    Col("texts", "text[]", "text", ("'{}'", "ARRAY['a,b', NULL, 'ü', '\"q\"']", "ARRAY['']"), lossy=MY_LITE),
    Col("mood", "mood", "text", ("'sad'", "'happy'", "'ok'")),  # an enum in MariaDB, text with a CHECK in SQLite
    Col("ttz", "timetz", "text", ("'00:00:00+15:59'", "'24:00:00-15:59'", "'12:34:56.789+02'"), lossy=MY_LITE),
]

MARIADB_COLUMNS = [
    Col("ti", "tinyint", "int", ("-128", "127", "0")),
    Col("tiu", "tinyint unsigned", "int", ("0", "255", "1")),
    Col("flag", "tinyint(1)", "bool", ("0", "1", "1")),
    Col("si", "smallint", "int", ("-32768", "32767", "0")),
    Col("siu", "smallint unsigned", "int", ("0", "65535", "1")),
    Col("mi", "mediumint", "int", ("-8388608", "8388607", "0")),
    Col("miu", "mediumint unsigned", "int", ("0", "16777215", "1")),
    Col("i", "int", "int", ("-2147483648", "2147483647", "0")),
    Col("iu", "int unsigned", "int", ("0", "4294967295", "1")),
    Col("bi", "bigint", "int", ("-9223372036854775808", "9223372036854775807", "0")),
    # SQLite integers are signed 64-bit: beyond, see test_values_the_target_cannot_hold_follow_invalid_values.
    Col("biu", "bigint unsigned", "int", ("0", "18446744073709551615", "1"), only=ALL_BUT_SQLITE),
    Col("biu63", "bigint unsigned", "int", ("0", "9223372036854775807", "1"), lossy=LITE),
    Col("b1", "bit(1)", "bool", ("b'0'", "b'1'", "b'1'")),
    Col("b12", "bit(12)", "bits", ("b'000000000000'", "b'111111111111'", "b'000000000101'"), lossy=LITE),
    Col("yr", "year", "int", ("1901", "2155", "2000")),
    Col("d12", "decimal(12,2)", "dec", ("-9999999999.99", "9999999999.99", "0.01")),
    Col("d38", "decimal(38,10)", "dec",
        ("-9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999", "0.0000000001")),
    Col("d65", "decimal(65,30)", "dec", ("-99999999999999999999999999999999999.999999999999999999999999999999",
                                         "99999999999999999999999999999999999.999999999999999999999999999999",
                                         "0.000000000000000000000000000001"), lossy=LITE),
    Col("f", "float", "f4", ("-3.40282e38", "3.40282e38", "1.17549e-38"), lossy=LITE),
    Col("dbl", "double", "f8",
        ("-1.7976931348623157e308", "1.7976931348623157e308", "2.2250738585072014e-308"), lossy=LITE),
    Col("ch", "char(10)", "char", ("''", "'zzzzzzzzzz'", "'é東'")),
    Col("vc", "varchar(100)", "text", ("''", "REPEAT('ü', 100)", "'tab\\there\\nnewline \"q\" \\\\ back'")),
    Col("lat", "varchar(50) CHARACTER SET latin1", "text", ("''", "'café'", "'é'")),
    Col("tx", "text", "text", ("''", "REPEAT('東京🎉', 5000)", "'Zoë'")),
    Col("ltx", "longtext", "text", ("''", "REPEAT('x', 300000)", "'ü'")),
    # PostgreSQL text holds no NUL: see test_values_the_target_cannot_hold_follow_invalid_values.
    Col("nul", "varchar(10)", "text", ("'\\0'", "'a\\0b'", "'\\0\\0'"), only=LITE),
    Col("bn", "binary(4)", "bin", ("x'00000000'", "x'FFFFFFFF'", "x'5C0A0900'")),
    Col("vb", "varbinary(64)", "bin", ("x''", "REPEAT(x'00FF', 32)", "x'00'")),
    Col("bl", "longblob", "bin", ("x''", "REPEAT(x'000102', 50000)", "x'00'")),
    Col("en", "enum('sad','ok','happy')", "text", ("'sad'", "'happy'", "'ok'")),
    Col("st", "set('a','b','c')", "text", ("''", "'a,b,c'", "'b'")),
    Col("js", "json", "json", ("'12345678901234567890'", "'{\"k\": [1, 2.5, \"ü\"], \"n\": null}'",
                               "'[\"tab\\\\t\", 100, true]'"),
        lossy=PG),  # jsonb normalises the text
    Col("dt", "date", "date", ("'0001-01-01'", "'9999-12-31'", "'2024-02-29'"), lossy=LITE),
    Col("tm", "time(6)", "interval", ("'-838:59:59.999999'", "'838:59:59.999999'", "'-00:00:00.000001'"),
        lossy=LITE),
    Col("tm0", "time", "interval", ("'-838:59:59'", "'838:59:59'", "'00:00:00'"), lossy=LITE),
    Col("dtm", "datetime(6)", "ts",
        ("'0001-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "'2024-02-29 12:34:56.000001'"), lossy=LITE),
    Col("dtm0", "datetime", "ts", ("'0001-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'1999-12-31 23:59:59'"),
        lossy=LITE),
    Col("tsp", "timestamp(6) NULL", "tstz",
        ("'1970-01-01 00:00:01.000000'", "'2038-01-19 03:14:07.999999'", "'2024-02-29 12:00:00.5'"), lossy=LITE),
    Col("uu", "uuid", "uuid", ("'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
                              "'6ccd780c-baba-1026-9564-5b8c656024db'")),
    Col("geo", "geometry", "wkb", ("ST_GeomFromText('POINT(0 0)')",
                                   "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')",
                                   "ST_GeomFromText('LINESTRING(1.5 2.5, 3 4)')")),
    Col("ip4", "inet4", "text", ("'0.0.0.0'", "'255.255.255.255'", "'10.1.2.3'")),
    Col("ip6", "inet6", "text", ("'::'", "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'", "'2001:db8::1'")),
    Col("gen", "bigint AS (i * 2) VIRTUAL", "int", ()),  # computed from i: not inserted
    Col("inv", "int INVISIBLE", "int", ("-1", "2147483647", "0")),
]

SQLITE_COLUMNS = [
    Col("i", "INTEGER", "int", ("-9223372036854775808", "9223372036854775807", "0")),
    Col("si", "SMALLINT", "int", ("-32768", "32767", "7")),
    Col("r", "REAL", "f8", ("-1.7976931348623157e308", "1.7976931348623157e308", "2.2250738585072014e-308"),
        lossy=MY),
    Col("fl", "FLOAT", "f8", ("-1.5", "1e300", "0.1"), lossy=MY),
    Col("t", "TEXT", "text", ("''", "'" + "東京🎉" * 5000 + "'", "'tab' || char(9) || 'nl' || char(10) || ' \"q\" \\'")),
    Col("vc", "VARCHAR(20)", "text", ("''", "'" + "ü" * 20 + "'", "'Zoë'")),
    Col("cl", "CLOB", "text", ("''", "'x'", "'0042'")),
    Col("b", "BLOB", "bin", ("x''", "zeroblob(100000)", "x'00ff00'")),
    Col("bo", "BOOLEAN", "bool", ("0", "1", "1")),
    Col("d", "DATE", "date", ("'0001-01-01'", "'9999-12-31'", "'2024-02-29'"), lossy=MY),
    Col("dt", "DATETIME", "ts", ("'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2024-02-29T12:34:56.5'"),
        lossy=MY),
    Col("tsx", "TIMESTAMP", "ts", ("'1970-01-01 00:00:00'", "'2038-01-19 03:14:07.999999'", "'2000-02-29 00:00'"),
        lossy=MY),
    Col("tz", "TIMESTAMPTZ", "tstz",
        ("'0001-01-01 00:00:00Z'", "'9999-12-31 23:59:59.999999+00:00'", "'2024-02-29 12:00:00+02:00'"), lossy=MY),
    Col("tm", "TIME", "time", ("'00:00'", "'23:59:59.999999'", "'12:34:56.5'")),
    Col("j", "JSON", "json", ("'{}'", "'{\"k\":[1,2.5,\"ü\"],\"n\":null}'", "'[\"tab\\t\",100,true]'")),
    Col("u", "UUID", "uuid", ("'00000000-0000-0000-0000-000000000000'", "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'",
                             "x'a0eebc999c0b4ef8bb6d6bb9bd380a11'")),
    Col("dec", "DECIMAL(10,2)", "dec", ("-99999999.99", "99999999.99", "'12.50'")),
    Col("num", "NUMERIC", "dec", ("-123456789012", "1.5", "42"), lossy=MY),  # PostgreSQL knows numeric
]

COLUMNS = {"postgres": POSTGRES_COLUMNS, "mariadb": MARIADB_COLUMNS, "sqlite": SQLITE_COLUMNS}


def columns_for(source: str, target: str) -> list:
    return [c for c in COLUMNS[source] if target in c.only]


# ------------------------------------------------------------- the databases

SRC, TGT, BACK = "ds_mx_src", "ds_mx_tgt", "ds_mx_back"


class Side:
    """One database of one dialect: created empty, filled, read back."""

    def __init__(self, dialect: str, name: str, tmp_path: Path):
        self.dialect, self.name = dialect, name
        self.path = tmp_path / f"{name}.db"

    def reset(self) -> None:
        if self.dialect == "postgres":
            dbutil.drop_pg_databases(self.name)
        elif self.dialect == "mariadb":
            maria(f"DROP DATABASE IF EXISTS {self.name}")
        elif self.path.exists():
            self.path.unlink()

    def create(self) -> None:
        self.reset()
        if self.dialect == "postgres":
            psql(f"CREATE DATABASE {self.name}", "datasync")
        elif self.dialect == "mariadb":
            maria(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")

    def yaml(self, role: str) -> str:
        if self.dialect == "sqlite":
            block = f"  type: sqlite\n  path: {self.path}\n"
            return block + ("  tables: \"main\\\\.every\"\n" if role == "source" else "")
        block = connection(self.dialect, self.name)
        if role == "source":
            return block + ("  tables: \"public\\\\.every\"\n" if self.dialect == "postgres"
                            else f"  tables: \"{self.name}\\\\.every\"\n")
        return block + ("  schema: public\n" if self.dialect == "postgres" else "")

    def column_types(self) -> dict:
        """Each column of `every` and its type as the server reports it."""
        if self.dialect == "postgres":
            text = psql("SELECT attname || '|' || format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = 'public.every'::regclass AND attnum > 0 AND NOT attisdropped", self.name)
            return dict(line.split("|", 1) for line in text.split("\n"))
        if self.dialect == "mariadb":
            text = maria("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                         f"WHERE TABLE_SCHEMA = '{self.name}' AND TABLE_NAME = 'every'")
            return dict(line.split("\t", 1) for line in text.split("\n"))
        with sqlite3.connect(self.path) as db:
            return {name: declared.upper() for _, name, declared, *_ in db.execute("PRAGMA table_info(every)")}

    def data_types(self) -> dict:
        """Each column's base type name, which decides how it is read."""
        if self.dialect == "mariadb":
            text = maria("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                         f"WHERE TABLE_SCHEMA = '{self.name}' AND TABLE_NAME = 'every'")
            return dict(line.split("\t", 1) for line in text.split("\n"))
        if self.dialect == "postgres":
            text = psql("SELECT attname || '|' || atttypid::regtype FROM pg_attribute "
                        "WHERE attrelid = 'public.every'::regclass AND attnum > 0 AND NOT attisdropped", self.name)
            return dict(line.split("|", 1) for line in text.split("\n"))
        return {name: "" for name in self.column_types()}

    def rows(self, columns: list) -> list:
        """Rows 1..ROWS as lists of canonical values, one per column."""
        types = self.data_types()
        if self.dialect == "sqlite":
            with sqlite3.connect(self.path) as db:
                names = ", ".join(f'"{c.name}"' for c in columns)
                raw = db.execute(f"SELECT {names} FROM every ORDER BY id").fetchall()
            return [[canonical(c.kind, "sqlite", v) for c, v in zip(columns, row)] for row in raw]
        exprs = [read_expression(self.dialect, c.kind, c.name, types[c.name]) for c in columns]
        if self.dialect == "postgres":
            text = psql(f"SELECT json_build_array({', '.join(exprs)}) FROM every ORDER BY id", self.name)
        else:
            text = maria(f"SELECT JSON_ARRAY({', '.join(exprs)}) FROM every ORDER BY id", self.name)
        rows = [json.loads(line) for line in text.split("\n")]
        return [[canonical(c.kind, self.dialect, v) for c, v in zip(columns, row)] for row in rows]


def read_expression(dialect: str, kind: str, column: str, data_type: str) -> str:
    """A SELECT expression giving the exact text of a value (NULL stays NULL)."""
    c = f'"{column}"' if dialect == "postgres" else f"`{column}`"
    if dialect == "postgres":
        if kind in ("ts", "tstz") and data_type.startswith("timestamp"):
            return f"to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')"
        if kind == "f4" and data_type == "real":
            return f"{c}::float8::text"  # every float4 is a float8; its shortest text is exact
        if kind == "bin" or (kind == "wkb" and data_type == "bytea"):
            return f"encode({c}, 'hex')"
        return f"{c}::text"  # intervals in ISO 8601 (the session's intervalstyle)
    if kind == "wkb" and data_type == "geometry":
        return f"HEX(ST_AsBinary({c}))"
    if kind in ("bin", "wkb", "json"):
        return f"HEX({c})"  # bytes stay bytes; JSON documents stay text, not nested into the array
    if kind == "bits" and data_type == "bit":
        return f"LPAD(BIN({c}), 12, '0')"
    if kind == "bool":
        return f"CAST({c} + 0 AS CHAR)"
    if kind == "f4" and data_type == "float":
        return f"CAST(CAST({c} AS DOUBLE) AS CHAR)"
    if kind in ("ts", "tstz") and data_type in ("datetime", "timestamp"):
        return f"DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')"
    return f"CAST({c} AS CHAR)"


# ------------------------------------------------------------- canonical values

ISO_INTERVAL = re.compile(r"^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)W)?(?:(-?\d+)D)?"
                          r"(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?[\d.]+)S)?)?$")
CLOCK = re.compile(r"^(-?)(\d+):(\d\d)(?::(\d\d)(?:\.(\d+))?)?$")
MICROS_PER_DAY = 86400 * 10**6


def clock_micros(text: str) -> int:
    m = CLOCK.match(text)
    assert m, f"not a clock time: {text!r}"
    sign, h, mi, s, frac = m.groups()
    micros = ((int(h) * 60 + int(mi)) * 60 + int(s or 0)) * 10**6 + int((frac or "0").ljust(6, "0")[:6])
    assert len((frac or "").rstrip("0")) <= 6, f"finer than a microsecond: {text!r}"
    return -micros if sign else micros


def interval_value(text: str) -> tuple:
    """(months, microseconds) with a day as 24 hours, as a MariaDB TIME counts them."""
    m = ISO_INTERVAL.match(text)
    if not m:
        return 0, clock_micros(text)
    y, mo, w, d, h, mi, s = m.groups()
    micros = (int(w or 0) * 7 + int(d or 0)) * MICROS_PER_DAY + (int(h or 0) * 60 + int(mi or 0)) * 60 * 10**6
    micros += int(Decimal(s or 0) * 10**6)
    return int(y or 0) * 12 + int(mo or 0), micros


def timestamp_value(text: str, zoned: bool) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        assert zoned, f"a zone in a timestamp without one: {text!r}"
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def canonical(kind: str, dialect: str, v):
    """One value in a form equal across dialects exactly when the values are."""
    if v is None:
        return None
    if dialect == "sqlite":  # values as stored: check the storage class too
        expected = {"bool": int, "int": int, "f4": float, "f8": float, "text": str, "char": str, "bits": str,
                    "bin": bytes, "wkb": bytes, "date": str, "time": str, "ts": str, "tstz": str,
                    "interval": str, "json": (str, int, float), "uuid": (str, bytes), "dec": (int, float, str)}[kind]
        assert isinstance(v, expected), f"{kind} stored as {type(v).__name__}: {v!r}"
        if kind in ("bin", "wkb"):
            return v.hex()
        if kind == "uuid":
            return uuid.UUID(bytes=v) if isinstance(v, bytes) else uuid.UUID(v)
        if kind == "json":
            return json.loads(v, parse_float=Decimal) if isinstance(v, str) else v
        if kind == "bool":
            assert v in (0, 1), v
            return bool(v)
        if kind == "dec":
            return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
        v = str(v) if not isinstance(v, str) else v
    elif kind in ("bin", "wkb"):
        return v.lower()
    elif kind == "json" and dialect == "mariadb":
        return json.loads(bytes.fromhex(v).decode(), parse_float=Decimal)
    if kind == "bool":
        return {"t": True, "true": True, "1": True, "f": False, "false": False, "0": False}[v]
    if kind == "int":
        return int(v)
    if kind == "dec":
        return Decimal(v)
    if kind in ("f4", "f8"):
        return float(v)
    if kind == "char":
        return v.rstrip(" ")
    if kind in ("text", "bits"):
        return v
    if kind == "date":
        return v
    if kind == "time":  # a MariaDB TIME (read back as an interval) may carry it
        months, micros = interval_value(v)
        assert months == 0, v
        return micros
    if kind in ("ts", "tstz"):
        return timestamp_value(v, kind == "tstz")
    if kind == "interval":
        return interval_value(v)
    if kind == "uuid":
        return uuid.UUID(v)
    if kind == "json":
        return json.loads(v, parse_float=Decimal)  # every digit of a number counts
    raise AssertionError(f"unknown kind {kind}")


# ------------------------------------------------------------ source tables


def create_source(side: Side, columns: list) -> None:
    inserted = [c for c in columns if c.values]  # generated columns are computed, not inserted
    names = ", ".join(["id"] + [c.name for c in inserted])
    rows = [[str(r + 1)] + [c.values[r] for c in inserted] for r in range(3)] + [[str(ROWS)] + ["NULL"] * len(inserted)]
    insert = f"INSERT INTO every ({names}) VALUES " + ", ".join("(" + ", ".join(row) + ")" for row in rows)
    if side.dialect == "postgres":
        defs = ", ".join(f'"{c.name}" {c.ddl}' for c in columns)
        psql(f"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE every (id integer PRIMARY KEY, {defs});"
             + insert, side.name)
    elif side.dialect == "mariadb":
        defs = ", ".join(f"`{c.name}` {c.ddl}" for c in columns)
        maria(f"CREATE TABLE every (id int PRIMARY KEY, {defs}) ENGINE=InnoDB;" + insert, side.name)
    else:
        defs = ", ".join(f'"{c.name}" {c.ddl}' for c in columns)
        db = sqlite3.connect(side.path)
        with db:
            db.execute(f"CREATE TABLE every (id INTEGER PRIMARY KEY, {defs})")
            db.execute(insert)
        db.close()


def write_pipeline(tmp_path: Path, name: str, source: Side, sink: Side, options: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"source:\n{source.yaml('source')}sink:\n{sink.yaml('sink')}pipeline:\n  name: {name}\n{options}")
    return path


# Two splits read in parallel, a batch a row: values cross split and batch boundaries.
SMALL_BATCHES = "  parallelism: 2\n  split_rows: 2\n  batch_rows: 1\n"


def run(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "run", "--quiet", *args, str(path)], capture_output=True, text=True, timeout=120)


def run_ok(path: Path) -> None:
    result = run(path)
    assert result.returncode == 0, f"{path.stem}: {result.stderr}"


def planned_types(path: Path) -> dict:
    result = subprocess.run([CLI, "schema", "--json", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)["tables"][0]
    return {c["column"]: c for c in table["columns"]}


def normalised_types(dialect: str, spellings: dict) -> dict:
    """The server's own spelling of each planned type, by creating a column of it."""
    if dialect == "sqlite":  # the declared type is kept as written, but for the case of INTEGER, REAL, TEXT...
        return {n: t.upper() for n, t in spellings.items()}
    names = list(spellings)
    if dialect == "postgres":
        defs = ", ".join(f'"{n}" {spellings[n]}' for n in names)
        text = psql(f"CREATE TEMP TABLE probe ({defs}); SELECT attname || '|' || format_type(atttypid, atttypmod) "
                    "FROM pg_attribute WHERE attrelid = 'probe'::regclass AND attnum > 0", "datasync")
        return dict(line.split("|", 1) for line in text.split("\n"))
    defs = ", ".join(f"`{n}` {spellings[n]}" for n in names)
    text = maria("DROP DATABASE IF EXISTS ds_mx_probe; CREATE DATABASE ds_mx_probe CHARACTER SET utf8mb4;"
                 f"CREATE TABLE ds_mx_probe.probe ({defs});"
                 "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'ds_mx_probe';"
                 "DROP DATABASE ds_mx_probe;")
    return dict(line.split("\t", 1) for line in text.split("\n"))


def same(kind: str, a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == b and type(a) is type(b)


def compare(columns: list, expected: list, got: list, what: str) -> list:
    problems = []
    assert len(got) == len(expected) == ROWS, f"{what}: {len(got)} rows, expected {ROWS}"
    for r, (erow, grow) in enumerate(zip(expected, got)):
        for c, e, g in zip(columns, erow, grow):
            if not same(c.kind, e, g):
                problems.append(f"{what} row {r + 1} column {c.name} ({c.ddl}): expected {str(e)[:120]!r}, "
                                f"got {str(g)[:120]!r}")
    return problems


# ------------------------------------------------------------------ the matrix

# Values checked literally in the target (text as each target's reading gives it),
# beyond the value-by-value comparison: conversions a shared bug in reading could hide.
SPOT = {
    ("postgres", "mariadb"): [("tstz", 3, "2024-02-29 10:00:00.000000", "DATE_FORMAT(tstz, '%Y-%m-%d %H:%i:%s.%f')"),
                              ("iv", 2, "838:59:59.999999", "CAST(iv AS CHAR)"),
                              ("u", 2, "ffffffff-ffff-ffff-ffff-ffffffffffff", "CAST(u AS CHAR)"),
                              ("by", 3, "00", "HEX(`by`)"), ("bits", 3, "101", "BIN(bits)")],
    ("postgres", "sqlite"): [("tstz", 3, "2024-02-29 10:00:00"), ("iv", 2, "P34DT82799.999999S"),
                             ("ivm", 2, "P14M3DT14706.5S"), ("d", 1, "0001-01-01"), ("by", 3, b"\x00"),
                             ("flag", 2, 1), ("n12", 2, 9999999999.99), ("bits", 3, "000000000101"),
                             ("n38", 3, "0.0000000001"), ("nu", 1, "-123456789012345678901234567890.123456789")],
    ("mariadb", "postgres"): [("tsp", 3, "2024-02-29 12:00:00.5+00"), ("tm", 1, "PT-838H-59M-59.999999S"),
                              ("biu", 2, "18446744073709551615"), ("b12", 3, "000000000101"),
                              ("flag", 2, "true")],
    ("mariadb", "sqlite"): [("tsp", 3, "2024-02-29 12:00:00.500000"), ("tm", 1, "PT-3020399.999999S"),
                            ("biu63", 2, 9223372036854775807), ("bn", 3, b"\\\n\t\x00"), ("flag", 2, 1),
                            ("b12", 3, "000000000101"), ("nul", 2, "a\0b"),
                            ("d65", 3, "0.000000000000000000000000000001")],
    ("sqlite", "postgres"): [("tz", 3, "2024-02-29 10:00:00+00"), ("dt", 3, "2024-02-29 12:34:56.5"),
                             ("u", 3, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), ("bo", 2, "true")],
    ("sqlite", "mariadb"): [("tz", 3, "2024-02-29 10:00:00.000000", "CAST(tz AS CHAR)"),
                            ("dt", 3, "2024-02-29 12:34:56.500000", "CAST(dt AS CHAR)"),
                            ("u", 3, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "CAST(u AS CHAR)"),
                            ("bo", 2, "1", "CAST(bo AS CHAR)")],
}


def spot_value(side: Side, column: str, row: int, expression: str = ""):
    if side.dialect == "sqlite":
        with sqlite3.connect(side.path) as db:
            return db.execute(f'SELECT "{column}" FROM every WHERE id = ?', (row,)).fetchone()[0]
    if side.dialect == "postgres":
        return psql(f'SELECT "{column}"::text FROM every WHERE id = {row}', side.name)
    return maria(f"SELECT {expression or column} FROM every WHERE id = {row}", side.name)


def make_sides(pair: tuple, tmp_path: Path) -> list:
    source, target = pair
    return [Side(source, f"{SRC}_{source[:2]}", tmp_path), Side(target, f"{TGT}_{target[:2]}", tmp_path),
            Side(source, f"{BACK}_{source[:2]}", tmp_path)]


@pytest.fixture()
def sides(tmp_path, request):
    made = make_sides(request.param, tmp_path)
    for side in made:
        side.create()
    yield made
    for side in made:
        side.reset()


PAIR_IDS = [f"{s}-to-{t}" for s, t in PAIRS]


@pytest.mark.parametrize("sides", PAIRS, indirect=True, ids=PAIR_IDS)
def test_every_type_there_and_back(sides, tmp_path):
    src, tgt, back = sides
    columns = columns_for(src.dialect, tgt.dialect)
    create_source(src, columns)

    there = write_pipeline(tmp_path, "there", src, tgt, SMALL_BATCHES)
    plan = planned_types(there)
    # The plan's report says what the mapping table says of each column.
    wrong = [f"{c.name} ({c.ddl} → {plan[c.name]['target_type']}): {plan[c.name]['fidelity']}"
             for c in columns if (plan[c.name]["fidelity"] == "lossy") != (tgt.dialect in c.lossy)]
    assert not wrong, "fidelity reported against the mapping table: " + "; ".join(wrong)
    run_ok(there)

    # The DDL that ran is the DDL that was planned.
    planned = normalised_types(tgt.dialect, {name: c["target_type"] for name, c in plan.items()})
    made = tgt.column_types()
    assert made == planned, f"{tgt.dialect} types created differ from the plan: " + ", ".join(
        f"{n}: planned {planned.get(n)}, made {made.get(n)}" for n in sorted(set(made) | set(planned))
        if made.get(n) != planned.get(n))

    source_rows = src.rows(columns)
    problems = compare(columns, source_rows, tgt.rows(columns), f"{src.dialect} → {tgt.dialect}")
    for spot in SPOT[(src.dialect, tgt.dialect)]:
        column, row, expected = spot[:3]
        got = spot_value(tgt, column, row, *spot[3:])
        if got != expected:
            problems.append(f"{tgt.dialect} value of {column} row {row}: expected {expected!r}, got {got!r}")

    run_ok(write_pipeline(tmp_path, "back", tgt, back, SMALL_BATCHES))
    problems += compare(columns, source_rows, back.rows(columns),
                        f"{src.dialect} → {tgt.dialect} → {src.dialect}")
    assert not problems, f"{len(problems)} values differ:\n" + "\n".join(problems)


# ------------------------------------------------------- values a target cannot hold

# Per pair: columns of the source (name, type, a value the target cannot hold,
# what pipeline.invalid_values: clamp writes, as the target reads it back).
# Row 1 carries the values, row 2 ordinary ones that must pass untouched.
LOSSY_VALUES = {
    ("postgres", "sqlite"): [
        ("d", "date", "'10000-01-01'", "9999-12-31"),
        ("d_bc", "date", "'0045-03-15 BC'", "0000-01-01"),  # year -44; 1 BC is SQLite's year 0000
        ("tm", "time", "'24:00:00'", "23:59:59.999999"),
        ("ts", "timestamp", "'10000-01-01 00:00:00'", "9999-12-31 23:59:59.999999"),
        ("tstz", "timestamptz", "'4713-01-01 00:00:00+00 BC'", "0000-01-01 00:00:00"),
        ("f8", "double precision", "'NaN'", None),  # no nearest value: NULL
        ("f4", "real", "'NaN'", None),
    ],
    ("mariadb", "sqlite"): [
        ("biu", "bigint unsigned", "18446744073709551615", 9223372036854775807),
        ("zero", "date", "'0000-00-00'", "0001-01-01"),  # the MariaDB source's own policy
    ],
    ("postgres", "mariadb"): [
        ("iv", "interval", "'1 mon'", "720:00:00.000000"),  # a month as 30 days
        ("iv_long", "interval", "'35 days'", "838:59:59.999999"),
        ("d", "date", "'10000-01-01'", "9999-12-31"),
        ("ts", "timestamp", "'0045-01-01 00:00:00 BC'", "0001-01-01 00:00:00.000000"),
        ("f8", "double precision", "'Infinity'", "1.7976931348623157e308"),
        ("f4", "real", "'NaN'", None),
    ],
    ("sqlite", "mariadb"): [
        ("r", "REAL", "-9e999", "-1.7976931348623157e308"),
        ("d", "DATE", "'0000-06-15'", "0001-01-01"),
    ],
    # PostgreSQL text holds no NUL character; MariaDB and SQLite strings may.
    ("mariadb", "postgres"): [("s", "varchar(10)", "'a\\0b'", "ab")],
    ("sqlite", "postgres"): [("s", "TEXT", "'a' || char(0) || 'b'", "ab")],
}
ORDINARY = {"date": "'2024-02-29'", "time": "'12:00:00'", "timestamp": "'2024-02-29 12:00:00'",
            "timestamptz": "'2024-02-29 12:00:00+00'", "double precision": "1.5", "real": "1.5",
            "bigint unsigned": "7", "interval": "'01:00:00'", "REAL": "1.5", "DATE": "'2024-02-29'",
            "varchar(10)": "'ab'", "TEXT": "'ab'"}


def target_row(side: Side, names: list, row: int) -> list:
    """One row of the target as it reads back: SQLite's stored values, the servers' text."""
    if side.dialect == "sqlite":
        with sqlite3.connect(side.path) as db:
            return list(db.execute(f"SELECT {', '.join(names)} FROM every WHERE id = {row}").fetchone())
    if side.dialect == "mariadb":
        values = ", ".join(f"CAST({n} AS CHAR)" for n in names)
        return json.loads(maria(f"SELECT JSON_ARRAY({values}) FROM every WHERE id = {row}", side.name))
    values = ", ".join(f"{n}::text" for n in names)
    return json.loads(psql(f"SELECT json_build_array({values}) FROM every WHERE id = {row}", side.name))


# Why a pair would fail, for the assertion messages (none known).
KNOWN: dict = {}


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_values_the_target_cannot_hold_follow_invalid_values(pair, tmp_path):
    src, tgt, _ = make_sides(pair, tmp_path)
    cases = LOSSY_VALUES[pair]
    names = [name for name, *_ in cases]
    what = f"{src.dialect} → {tgt.dialect}"
    known = KNOWN.get(tgt.dialect, "")
    try:
        src.create()
        if src.dialect == "mariadb":  # zero dates need a lenient session
            defs = ", ".join(f"{n} {t}" for n, t, *_ in cases)
            maria(f"SET SESSION sql_mode = ''; CREATE TABLE every (id int PRIMARY KEY, {defs}) ENGINE=InnoDB;"
                  f"INSERT INTO every VALUES (1, {', '.join(v for _, _, v, _ in cases)}), "
                  f"(2, {', '.join(ORDINARY[t] for _, t, *_ in cases)})", src.name)
        else:
            create_source(src, [Col(n, t, "text", (v, ORDINARY[t], "NULL")) for n, t, v, _ in cases])
        for policy in ("error", "null", "clamp"):
            tgt.create()
            summary = tmp_path / f"{policy}.json"
            options = "" if policy == "error" else f"  invalid_values: {policy}\n"
            result = run(write_pipeline(tmp_path, f"lossy_{policy}", src, tgt, options),
                         "--summary-json", str(summary))
            if policy == "error":
                assert result.returncode == 1, f"{what}: the values went in under invalid_values: error"
                assert "DS_ERR_DATA" in result.stderr and "invalid_values" in result.stderr and any(
                    f"column={n}" in result.stderr for n in names), (
                    f"{what}: the error names neither the column nor pipeline.invalid_values{known}: {result.stderr}")
                continue
            assert result.returncode == 0, f"{what} under invalid_values: {policy}{known}: {result.stderr}"
            expected = [None if policy == "null" else clamped for *_, clamped in cases]
            assert target_row(tgt, names, 1) == expected, f"{what} under invalid_values: {policy}"
            assert None not in target_row(tgt, names, 2), f"{what}: ordinary values were adjusted too"
            assert json.loads(summary.read_text())["values_adjusted"] == len(cases), (
                f"{what}: the adjusted values are not all counted: {summary.read_text()}")
            assert "warning" in result.stderr, f"{what}: the adjusted values are not reported"
    finally:
        src.reset()
        tgt.reset()
