"""MariaDB ⇄ PostgreSQL migrations through the installed `datasync` command,
against the real servers of scripts/db: every MariaDB type there and back
with every value compared, resume after SIGKILL both ways with nothing lost or
doubled, a killed connection retried, the invalid-value policy, and clear
errors for bad credentials, a missing table and a server refusing LOAD DATA
LOCAL INFILE."""
import json
import subprocess
import time
from pathlib import Path

import pytest

import dbutil
from dbutil import CLI, KILLABLE, connection, env, sigkill_runs


def maria(sql: str, database: str = "datasync") -> str:
    """Runs SQL through the mariadb client (UTC, utf8mb4); returns tab-separated rows."""
    return dbutil.maria(sql, database, canonical=True, timeout=300)


def psql(sql: str, database: str = "datasync") -> str:
    return dbutil.psql(sql, database, timeout=300)


MY_SRC, MY_DST, PG_DB = "ds_it_my_src", "ds_it_my_dst", "ds_it_pg"


@pytest.fixture()
def databases():
    def reset():
        for db in (MY_SRC, MY_DST):
            maria(f"DROP DATABASE IF EXISTS {db}")
        dbutil.drop_pg_databases(PG_DB)

    reset()
    for db in (MY_SRC, MY_DST):
        maria(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    psql(f"CREATE DATABASE {PG_DB}")
    yield
    reset()


def write_pipeline(tmp_path: Path, name: str, source: str, sink: str, pipeline: str = "",
                   source_extra: str = "", sink_extra: str = "", source_password: str = "") -> Path:
    kinds = {"mariadb": MY_SRC, "postgres": PG_DB}
    src_db = kinds[source] if source == "mariadb" else PG_DB
    dst_db = PG_DB if sink == "postgres" else MY_DST
    path = tmp_path / f"{name}.yaml"
    if sink == "postgres":  # MariaDB tables would otherwise go into a schema named after their database
        sink_extra = "  schema: public\n" + sink_extra
    path.write_text(f"source:\n{connection(source, src_db, source_password)}{source_extra}"
                    f"sink:\n{connection(sink, dst_db)}{sink_extra}"
                    f"pipeline:\n  name: {name}\n{pipeline}")
    return path


def run(path: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "run", *args, str(path)], capture_output=True, text=True, timeout=timeout)


# Every MariaDB type of the issue, with a normalising expression that reads a
# column to the same text on the source and on the final MariaDB target
# (after MariaDB → PostgreSQL → MariaDB the types may differ but not the values).
EVERY_TYPE = [
    ("ti", "tinyint", "CAST({} AS CHAR)"),
    ("tiu", "tinyint unsigned", "CAST({} AS CHAR)"),
    ("flag", "tinyint(1)", "CAST({} AS CHAR)"),
    ("si", "smallint", "CAST({} AS CHAR)"),
    ("siu", "smallint unsigned", "CAST({} AS CHAR)"),
    ("mi", "mediumint", "CAST({} AS CHAR)"),
    ("miu", "mediumint unsigned", "CAST({} AS CHAR)"),
    ("i", "int", "CAST({} AS CHAR)"),
    ("iu", "int unsigned", "CAST({} AS CHAR)"),
    ("bi", "bigint", "CAST({} AS CHAR)"),
    ("biu", "bigint unsigned", "CAST({} AS CHAR)"),
    ("b1", "bit(1)", "CAST({} + 0 AS CHAR)"),
    ("b12", "bit(12)", "CAST({} + 0 AS CHAR)"),
    ("yr", "year", "CAST({} + 0 AS CHAR)"),
    ("d12", "decimal(12,2)", "CAST({} AS CHAR)"),
    ("d38", "decimal(38,10)", "CAST({} AS CHAR)"),
    ("d65", "decimal(65,30)", "CAST({} AS CHAR)"),
    ("f", "float", "CAST({} AS CHAR)"),
    ("dbl", "double", "CAST({} AS CHAR)"),
    ("ch", "char(10)", "{}"),
    ("vc", "varchar(100)", "{}"),
    ("lat", "varchar(50) CHARACTER SET latin1", "{}"),
    ("tx", "text", "{}"),
    ("ltx", "longtext", "{}"),
    ("bn", "binary(4)", "HEX({})"),
    ("vb", "varbinary(64)", "HEX({})"),
    ("bl", "longblob", "SHA2({}, 256)"),
    ("en", "enum('sad','ok','happy')", "CAST({} AS CHAR)"),
    ("st", "set('a','b','c')", "CAST({} AS CHAR)"),
    ("js", "json", "JSON_NORMALIZE({})"),
    ("dt", "date", "CAST({} AS CHAR)"),
    ("tm", "time(6)", "TIME_FORMAT({}, '%H:%i:%s.%f')"),
    ("tm0", "time", "TIME_FORMAT({}, '%H:%i:%s.%f')"),
    ("dtm", "datetime(6)", "DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f')"),
    ("dtm0", "datetime", "DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f')"),
    ("ts", "timestamp(6) NULL", "DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f')"),
    ("uu", "uuid", "CAST({} AS CHAR)"),
    ("geo", "geometry", None),  # source: ST_AsBinary(c); target (WKB bytes): c
    ("gen", "bigint AS (i * 2) VIRTUAL", "CAST({} AS CHAR)"),
    ("inv", "int INVISIBLE", "CAST({} AS CHAR)"),
]

BOUNDARY_ROWS = """
INSERT INTO every (id, ti, tiu, flag, si, siu, mi, miu, i, iu, bi, biu, b1, b12, yr, d12, d38, d65, f, dbl, ch, vc, lat,
                   tx, ltx, bn, vb, bl, en, st, js, dt, tm, tm0, dtm, dtm0, ts, uu, geo, inv) VALUES
 (1, -128, 0, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, b'0', b'000000000000', 1901,
  -9999999999.99, -9999999999999999999999999999.9999999999, -99999999999999999999999999999999999.999999999999999999999999999999,
  -3.40282e38, -1.7976931348623157e308, '', '', '', '', '', x'00000000', x'', x'', 'sad', '', '{}', '1000-01-01',
  '-838:59:59.000000', '-838:59:59', '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1970-01-01 00:00:01.000000',
  '00000000-0000-0000-0000-000000000000', ST_GeomFromText('POINT(0 0)'), -1),
 (2, 127, 255, 1, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
  18446744073709551615, b'1', b'111111111111', 2155, 9999999999.99, 9999999999999999999999999999.9999999999,
  99999999999999999999999999999999999.999999999999999999999999999999, 3.40282e38, 1.7976931348623157e308,
  'zzzzzzzzzz', REPEAT('ü', 100), 'café', REPEAT('東京🎉', 1000), REPEAT('x', 1048576), x'FFFFFFFF',
  REPEAT(x'00FF', 32), REPEAT(x'000102', 349526), 'happy', 'a,b,c', '{"k": [1, 2.5, "ü"], "n": null}',
  '9999-12-31', '838:59:59.000000', '838:59:59', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59',
  '2038-01-19 03:14:07.999999', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), 2147483647),
 (3, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, b'1', b'000000000101', 2000, 0.01, 0.0000000001,
  0.000000000000000000000000000001, 1.17549e-38, 2.2250738585072014e-308, 'a', 'tab\\there\\nnewline "q" \\\\ back',
  'é', 'Zoë', '', x'00', x'5C0A09', x'00', 'ok', 'b', '[]', '2024-02-29', '-00:00:00.000001', '00:00:00',
  '2024-02-29 12:34:56.000001', '1999-12-31 23:59:59', '2024-02-29 12:00:00.5', '6ccd780c-baba-1026-9564-5b8c656024db',
  ST_GeomFromText('LINESTRING(1.5 2.5, 3 4)'), 0),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

GENERATED_ROWS = """
INSERT INTO every (id, ti, tiu, flag, si, siu, mi, miu, i, iu, bi, biu, b1, b12, yr, d12, d38, d65, f, dbl, ch, vc, lat,
                   tx, ltx, bn, vb, bl, en, st, js, dt, tm, tm0, dtm, dtm0, ts, uu, geo, inv)
SELECT seq, seq % 128, seq % 256, seq % 2, seq % 32768, seq % 65536, seq * 3, seq * 5, seq * 7, seq * 11,
       seq * 1000003, seq * 4294967311, seq % 2, seq % 4096, 1901 + seq % 255, seq * 1.25, seq * 1234567.0123456789,
       seq / 7, seq / 3, seq / 7, LPAD(seq, 10, '0'), CONCAT('Zoë ', seq), CONCAT('é', seq),
       REPEAT('東京', seq % 30), REPEAT(MD5(seq), seq % 5), UNHEX(LPAD(HEX(seq), 8, '0')), UNHEX(MD5(seq)),
       UNHEX(SHA2(seq, 256)), ELT(1 + seq % 3, 'sad', 'ok', 'happy'), ELT(1 + seq % 4, '', 'a', 'a,b', 'b,c'),
       JSON_OBJECT('i', seq, 's', 'ü'), DATE('1960-01-01') + INTERVAL seq DAY,
       SEC_TO_TIME(CAST(seq AS SIGNED) * 37 - 200000 + 0.25), SEC_TO_TIME(seq * 7), TIMESTAMP('1999-12-31 23:59:59.999999') + INTERVAL seq HOUR,
       TIMESTAMP('2000-01-01') + INTERVAL seq MINUTE, TIMESTAMP('2024-02-29 12:00:00.123456') - INTERVAL seq MINUTE,
       UUID(), ST_GeomFromText(CONCAT('POINT(', seq, ' ', seq / 3, ')')), seq
FROM seq_10_to_3009;
"""


def create_every_type_table() -> None:
    columns = ", ".join(f"{name} {type_}" for name, type_, _ in EVERY_TYPE)
    maria(f"CREATE TABLE every (id int PRIMARY KEY, {columns}) ENGINE=InnoDB;"
          + BOUNDARY_ROWS + GENERATED_ROWS, MY_SRC)


def normalised_rows(database: str, source: bool) -> list:
    exprs = []
    for name, _, expr in EVERY_TYPE:
        if expr is None:
            exprs.append(f"HEX(ST_AsBinary({name}))" if source else f"HEX({name})")
        else:
            exprs.append(expr.format(name))
    text = maria(f"SELECT id, {', '.join(exprs)} FROM every ORDER BY id", database)
    return text.split("\n")


def test_every_type_goes_to_postgres_and_back_exactly(databases, tmp_path):
    create_every_type_table()
    there = run(write_pipeline(tmp_path, "my2pg", "mariadb", "postgres", "  parallelism: 2\n  split_rows: 700\n"))
    assert there.returncode == 0, there.stderr
    assert psql("SELECT count(*) FROM every", PG_DB) == "3004"
    # PostgreSQL column types chosen for MariaDB columns (a few telling ones).
    pg_types = dict(line.split("|") for line in psql(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'every'::regclass "
        "AND attnum > 0", PG_DB).split("\n"))
    assert pg_types["biu"] == "numeric(20,0)" and pg_types["flag"] == "boolean" and pg_types["ts"].startswith(
        "timestamp") and pg_types["tm"] == "interval" and pg_types["uu"] == "uuid"
    back = run(write_pipeline(tmp_path, "pg2my", "postgres", "mariadb", "  parallelism: 2\n"))
    assert back.returncode == 0, back.stderr
    source_rows, target_rows = normalised_rows(MY_SRC, True), normalised_rows(MY_DST, False)
    assert len(source_rows) == len(target_rows) == 3004
    for source_row, target_row in zip(source_rows, target_rows):
        assert source_row == target_row, (source_row[:400], target_row[:400])


# Counts and sums of `big`, one text for both servers (MariaDB's function names ignore case).
BIG_DIGEST = "SELECT count(*), count(DISTINCT id), sum(id), sum(length(v)), sum(n) FROM big"


def kill_twice_then_finish(yaml: Path) -> None:
    sigkill_runs(yaml, (0.8, 1.6))
    final = run(yaml, "--quiet")
    assert final.returncode == 0, final.stderr


def test_sigkill_and_resume_mariadb_to_postgres(databases, tmp_path):
    maria("CREATE TABLE big (id bigint PRIMARY KEY, v varchar(64), n decimal(10,2));"
          "INSERT INTO big SELECT seq, MD5(seq), seq / 100 FROM seq_1_to_1500000;", MY_SRC)
    kill_twice_then_finish(write_pipeline(tmp_path, "my2pg_kill", "mariadb", "postgres", KILLABLE))
    assert psql(BIG_DIGEST, PG_DB).split("|") == maria(BIG_DIGEST, MY_SRC).split("\t")


def test_sigkill_and_resume_postgres_to_mariadb(databases, tmp_path):
    psql("CREATE TABLE big (id bigint PRIMARY KEY, v text, n numeric(10,2));"
         "INSERT INTO big SELECT i, md5(i::text), i / 100.0 FROM generate_series(1, 1500000) i;", PG_DB)
    kill_twice_then_finish(write_pipeline(tmp_path, "pg2my_kill", "postgres", "mariadb", KILLABLE))
    assert maria(BIG_DIGEST, MY_DST).split("\t") == psql(BIG_DIGEST, PG_DB).split("|")


def test_killed_connection_is_retried(databases, tmp_path):
    maria("CREATE TABLE big (id bigint PRIMARY KEY, v varchar(200));"
          "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 4) FROM seq_1_to_1200000;", MY_SRC)
    yaml = write_pipeline(tmp_path, "my_retry", "mariadb", "postgres",
                          "  parallelism: 1\n  split_rows: 1200000\n  batch_rows: 2000\n")
    proc = subprocess.Popen([CLI, "run", "--quiet", str(yaml)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    killed = ""
    deadline = time.time() + 30
    while not killed and proc.poll() is None and time.time() < deadline:
        ids = maria("SELECT id FROM information_schema.PROCESSLIST WHERE db = 'ds_it_my_src' "
                    "AND info LIKE 'SELECT%big%' AND command = 'Query'")
        for thread in ids.split():
            try:
                maria(f"KILL CONNECTION {thread}")
                killed = thread
            except AssertionError:  # it finished in between
                pass
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert killed, "no reader was caught running; the table is too small to kill mid-split"
    assert proc.returncode == 0, err
    assert "retry" in err
    assert psql("SELECT count(*), count(DISTINCT id), sum(id) FROM big", PG_DB).split("|") == \
        maria("SELECT COUNT(*), COUNT(DISTINCT id), SUM(id) FROM big", MY_SRC).split("\t")


def test_zero_dates_follow_the_policy_and_are_reported(databases, tmp_path):
    maria("SET SESSION sql_mode = ''; CREATE TABLE z (id int PRIMARY KEY, d date, t datetime);"
          "INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2020-00-15', '2021-03-00 10:00:00'),"
          " (3, '2024-01-02', '2024-01-02 03:04:05');", MY_SRC)
    failed = run(write_pipeline(tmp_path, "z_error", "mariadb", "postgres"))
    assert failed.returncode == 1
    assert "DS_ERR_DATA" in failed.stderr and "0000-00-00" in failed.stderr and "invalid_values" in failed.stderr

    summary = tmp_path / "summary.json"
    nulled = run(write_pipeline(tmp_path, "z_null", "mariadb", "postgres", "  invalid_values: null\n"), "--fresh",
                 "--summary-json", str(summary))
    assert nulled.returncode == 0, nulled.stderr
    assert psql("SELECT id, d, t FROM z ORDER BY id", PG_DB).split("\n") == \
        ["1||", "2||", "3|2024-01-02|2024-01-02 03:04:05"]
    assert json.loads(summary.read_text())["values_adjusted"] == 4
    assert "warning" in nulled.stderr and "column d" in nulled.stderr

    psql("DROP TABLE z", PG_DB)
    clamped = run(write_pipeline(tmp_path, "z_clamp", "mariadb", "postgres", "  invalid_values: clamp\n"))
    assert clamped.returncode == 0, clamped.stderr
    assert psql("SELECT id, d, t FROM z ORDER BY id", PG_DB).split("\n") == \
        ["1|0001-01-01|0001-01-01 00:00:00", "2|2020-01-15|2021-03-01 10:00:00", "3|2024-01-02|2024-01-02 03:04:05"]


def test_nan_into_mariadb_follows_the_policy(databases, tmp_path):
    psql("CREATE TABLE f (id int PRIMARY KEY, x double precision);"
         "INSERT INTO f VALUES (1, 'NaN'), (2, 'Infinity'), (3, '-Infinity'), (4, 1.5);", PG_DB)
    failed = run(write_pipeline(tmp_path, "nan_error", "postgres", "mariadb"))
    assert failed.returncode == 1
    assert "DS_ERR_DATA" in failed.stderr and "invalid_values" in failed.stderr
    clamped = run(write_pipeline(tmp_path, "nan_clamp", "postgres", "mariadb", "  invalid_values: clamp\n"))
    assert clamped.returncode == 0, clamped.stderr
    assert maria("SELECT id, x FROM f ORDER BY id", MY_DST).split("\n") == \
        ["1\tNULL", "2\t1.7976931348623157e308", "3\t-1.7976931348623157e308", "4\t1.5"]


def test_filters_and_table_patterns(databases, tmp_path):
    maria("CREATE TABLE order_1 (id int PRIMARY KEY, amount decimal(10,2), secret text);"
          "CREATE TABLE order_2 LIKE order_1; CREATE TABLE other (id int PRIMARY KEY);"
          "INSERT INTO order_1 SELECT seq, seq * 1.5, CONCAT('x', seq) FROM seq_1_to_10000;"
          "INSERT INTO order_2 SELECT seq, seq * 2, 'y' FROM seq_1_to_500;"
          "INSERT INTO other SELECT seq FROM seq_1_to_10;", MY_SRC)
    transform = ("transform:\n  - source-table: .*\\.order_1\n    filter: \"id % 4 = 0 AND amount > 100\"\n"
                 "    drop-columns: secret\n")
    yaml = write_pipeline(tmp_path, "pattern", "mariadb", "postgres", "  parallelism: 2\n" + transform,
                          source_extra="  tables: [\"order_[0-9]+\"]\n")
    result = run(yaml)
    assert result.returncode == 0, result.stderr
    assert psql("SELECT count(*), min(id), max(id) FROM order_1", PG_DB).split("|") == \
        maria("SELECT COUNT(*), MIN(id), MAX(id) FROM order_1 WHERE id % 4 = 0 AND amount > 100", MY_SRC).split("\t")
    assert psql("SELECT count(*) FROM order_2", PG_DB) == "500"
    assert psql("SELECT to_regclass('public.other') IS NULL", PG_DB) == "t"
    assert psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'order_1' "
                "AND column_name = 'secret'", PG_DB) == "0"


def test_wrong_password_and_missing_table_are_clear(databases, tmp_path):
    maria("CREATE TABLE present (id int PRIMARY KEY)", MY_SRC)
    wrong = run(write_pipeline(tmp_path, "pw", "mariadb", "postgres", source_password="not-the-password"))
    assert wrong.returncode == 1
    assert "DS_ERR_AUTH" in wrong.stderr and "not-the-password" not in wrong.stderr
    assert env("DS_MARIADB_HOST") in wrong.stderr and "source.password" in wrong.stderr
    missing = run(write_pipeline(tmp_path, "missing", "mariadb", "postgres", source_extra="  tables: absent\n"))
    assert missing.returncode == 1
    assert "DS_ERR_NOT_FOUND" in missing.stderr and "absent" in missing.stderr


def test_local_infile_disabled_says_what_to_change(databases, tmp_path):
    psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);", PG_DB)
    maria("SET GLOBAL local_infile = 0")
    try:
        result = run(write_pipeline(tmp_path, "noinfile", "postgres", "mariadb"))
    finally:
        maria("SET GLOBAL local_infile = 1")
    assert result.returncode == 1
    assert "DS_ERR_UNSUPPORTED" in result.stderr and "local_infile" in result.stderr
    assert "SET GLOBAL local_infile" in result.stderr
