"""PostgreSQL → PostgreSQL migration through the installed `datasync` command,
against the real server of scripts/db: exact copy of many types, resume after
SIGKILL with nothing lost or doubled, and clear errors."""
import subprocess
import time
from pathlib import Path

import pytest

from dbutil import CLI, KILLABLE, connection, create_pg_databases, drop_pg_databases, env, psql, sigkill_runs


@pytest.fixture()
def databases():
    src, dst = "ds_it_src", "ds_it_dst"
    create_pg_databases(src, dst)
    yield src, dst
    drop_pg_databases(src, dst)


def pipeline_yaml(tmp_path: Path, src: str, dst: str, extra: str = "", password: str = "${DS_PG_PASSWORD}") -> Path:
    path = tmp_path / "pg.yaml"
    path.write_text("source:\n" + connection("postgres", src, password) + "sink:\n" + connection("postgres", dst) +
                    f"pipeline:\n  name: pgcopy\n{extra}")
    return path


def table_digest(database: str, table: str) -> str:
    return psql(f"SELECT count(*), count(DISTINCT id), coalesce(sum(hashtext(t::text)::numeric), 0) FROM {table} t",
                database)


def test_every_type_copies_exactly(databases, tmp_path):
    src, dst = databases
    psql("""
      CREATE SCHEMA shop;
      CREATE TABLE shop.items (
        id bigint PRIMARY KEY, flag boolean, small smallint, n integer, amount numeric(12,2),
        ratio real, score double precision, code char(4), label varchar(20), body text, blob bytea,
        day date, at_time time, at timestamp, at_tz timestamptz, span interval, uid uuid, doc jsonb, raw json);
      INSERT INTO shop.items
      SELECT i, i % 2 = 0, (i % 32000)::smallint, i * 7, (i * 1.25)::numeric(12,2), i / 3.0, i / 7.0,
             lpad((i % 1000)::text, 4, '0'), 'Zoë ' || i, repeat('東京', i % 50), decode(md5(i::text), 'hex') || '\\x00'::bytea,
             date '1969-07-20' + i, time '12:34:56.789' , timestamp '1999-12-31 23:59:59.999999' + i * interval '1 hour',
             timestamptz '2024-02-29 12:00:00+02' - i * interval '1 minute', make_interval(0, i % 13, 0, i % 40, 0, 0, 0.5),
             md5(i::text)::uuid, jsonb_build_object('i', i, 'tag', 'ü'), json_build_object('k', i)
      FROM generate_series(1, 20000) i;
      INSERT INTO shop.items (id) VALUES (0);
    """, src)
    result = subprocess.run([CLI, "run", str(pipeline_yaml(tmp_path, src, dst, "  parallelism: 2\n  split_rows: 3000\n"))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert table_digest(src, "shop.items") == table_digest(dst, "shop.items")
    # Types are kept exactly by a same-engine copy.
    types = "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute " \
            "WHERE attrelid = 'shop.items'::regclass AND attnum > 0"
    assert psql(types, src) == psql(types, dst)


def test_sigkill_and_resume_loses_and_doubles_nothing(databases, tmp_path):
    src, dst = databases
    psql("CREATE TABLE big (id bigint PRIMARY KEY, v text, n numeric(10,2));"
         "INSERT INTO big SELECT i, md5(i::text), i / 100.0 FROM generate_series(1, 1500000) i;", src)
    yaml = pipeline_yaml(tmp_path, src, dst, KILLABLE)

    def copied() -> int:
        return int(psql("SELECT count(*) FROM big", dst) or 0) if psql("SELECT to_regclass('public.big')", dst) else 0

    sigkill_runs(yaml, (5, 5), copied)
    partial = copied()
    assert 0 < partial < 1500000
    final = subprocess.run([CLI, "run", "--quiet", str(yaml)], capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert table_digest(src, "big") == table_digest(dst, "big")


def test_wrong_password_is_a_clear_error(databases, tmp_path):
    src, dst = databases
    psql("CREATE TABLE t (id int PRIMARY KEY)", src)
    result = subprocess.run([CLI, "run", str(pipeline_yaml(tmp_path, src, dst, password="not-the-password"))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "DS_ERR_AUTH" in result.stderr
    assert "not-the-password" not in result.stderr
    assert env("DS_PG_HOST") in result.stderr and src in result.stderr


def test_missing_table_names_it(databases, tmp_path):
    src, dst = databases
    psql("CREATE TABLE present (id int PRIMARY KEY)", src)
    result = subprocess.run([CLI, "run", str(pipeline_yaml(tmp_path, src, dst).with_name("pg.yaml"))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    yaml = tmp_path / "missing.yaml"
    yaml.write_text(pipeline_yaml(tmp_path, src, dst).read_text().replace(
        "  database: " + src + "\n", "  database: " + src + "\n  tables: public\\.absent\n", 1))
    result = subprocess.run([CLI, "run", str(yaml)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "DS_ERR_NOT_FOUND" in result.stderr and "absent" in result.stderr


def test_filter_and_column_pruning_are_pushed_to_the_source(databases, tmp_path):
    src, dst = databases
    psql("CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), secret text);"
         "INSERT INTO orders SELECT i, i * 1.5, 'x' || i FROM generate_series(1, 10000) i;"
         "CREATE TABLE other (id int PRIMARY KEY); INSERT INTO other SELECT generate_series(1, 10);", src)
    extra = ("transform:\n  - source-table: public\\.orders\n    filter: \"id % 4 = 0 AND amount > 100\"\n"
             "    drop-columns: secret\n")
    result = subprocess.run([CLI, "run", str(pipeline_yaml(tmp_path, src, dst, "  parallelism: 2\n" + extra))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert psql("SELECT count(*), min(id), max(id) FROM orders", dst) == psql(
        "SELECT count(*), min(id), max(id) FROM orders WHERE id % 4 = 0 AND amount > 100", src)
    assert psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'secret'",
                dst) == "0"
    assert psql("SELECT count(*) FROM other", dst) == "10"


def test_connection_killed_mid_split_is_retried(databases, tmp_path):
    src, dst = databases
    psql("CREATE TABLE big (id bigint PRIMARY KEY, v text);"
         "INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 1200000) i;", src)
    yaml = pipeline_yaml(tmp_path, src, dst, "  parallelism: 1\n  split_rows: 1200000\n  batch_rows: 2000\n")
    proc = subprocess.Popen([CLI, "run", "--quiet", str(yaml)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = "0"
    deadline = time.time() + 20
    while killed == "0" and proc.poll() is None and time.time() < deadline:
        killed = psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      f"WHERE datname = '{src}' AND query LIKE 'COPY%'")
        time.sleep(0.05)
    out, err = proc.communicate(timeout=300)
    assert killed != "0", "no COPY was caught running; the table is too small to kill a reader mid-split"
    assert proc.returncode == 0, err
    assert table_digest(src, "big") == table_digest(dst, "big")


def test_every_builtin_type_round_trips_exactly(databases, tmp_path):
    src, dst = databases
    # User-defined types are not tables: they exist on both sides, as a schema migration would make them.
    types_sql = ("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); "
                 "CREATE DOMAIN positive_amount AS numeric(12,3) CHECK (VALUE >= 0);")
    psql(types_sql, src)
    psql(types_sql, dst)
    columns = [
        ("flag", "boolean"), ("i2", "smallint"), ("i4", "integer"), ("i8", "bigint"), ("n", "numeric(12,2)"),
        ("nbig", "numeric(38,10)"), ("nu", "numeric"), ("f4", "real"), ("f8", "double precision"), ("m", "money"),
        ("c", "char(5)"), ("vc", "varchar(30)"), ("t", "text"), ("by", "bytea"), ("d", "date"), ("tm", "time"),
        ("tmtz", "timetz"), ("ts", "timestamp"), ("tstz", "timestamptz"), ("iv", "interval"), ("u", "uuid"),
        ("j", "json"), ("jb", "jsonb"), ("ip", "inet"), ("net", "cidr"), ("mac", "macaddr"), ("bits", "bit(8)"),
        ("vbits", "varbit"), ("ints", "integer[]"), ("texts", "text[]"), ("e", "mood"), ("dom", "positive_amount"),
    ]
    psql("SET timezone = 'UTC'; CREATE TABLE every (id integer PRIMARY KEY, "
         + ", ".join(f"{name} {type_}" for name, type_ in columns) + ");"
         """
      INSERT INTO every
      SELECT i, i % 3 = 0, (i % 32767)::smallint, i * 37, i * 1000003::bigint, (i * 1.01)::numeric(12,2),
             (i::numeric * 1234567.0123456789)::numeric(38,10), i::numeric / 7, i / 3.0, i / 7.0, (i * 1.5)::money,
             lpad((i % 100)::text, 3, '0'), 'Zoë ' || i, repeat('東京🎉', i % 20), decode(md5(i::text), 'hex') || '\\x00'::bytea,
             date '1960-01-01' + i, time '00:00:01.5' + i * interval '1 second',
             (time '12:34:56.789' + i * interval '1 minute')::timetz,
             timestamp '1999-12-31 23:59:59.999999' + i * interval '1 hour',
             timestamptz '2024-02-29 12:00:00+02' - i * interval '1 minute',
             make_interval(0, i % 13, 0, i % 40, 0, 0, 0.5), md5(i::text)::uuid,
             json_build_object('k', i, 's', 'ü'), jsonb_build_object('i', i, 'tag', 'ü'),
             ('10.' || (i % 256) || '.0.' || (i % 200) || '/24')::inet, ('10.' || (i % 256) || '.0.0/16')::cidr,
             ('08:00:2b:01:02:' || lpad(to_hex(i % 256), 2, '0'))::macaddr, (i % 256)::bit(8),
             (i % 1024)::bit(10)::varbit, ARRAY[i, i + 1, NULL], ARRAY['a' || i, NULL, 'ü'],
             (ARRAY['sad', 'ok', 'happy'])[i % 3 + 1]::mood, (i * 0.125)::positive_amount
      FROM generate_series(1, 5000) i;
      INSERT INTO every (id) VALUES (0);
      INSERT INTO every (id, i2, i4, i8, n, nbig, nu, f4, f8, m, c, vc, t, by, d, ts, tstz, tmtz, iv, ints, texts, vbits)
      VALUES (-1, -32768, -2147483648, -9223372036854775808, -9999999999.99,
              -9999999999999999999999999999.9999999999, ('9' || repeat('0123456789', 99) || '.5')::numeric,
              'NaN', 'NaN', -92233720368547758.08, '', '', '', ''::bytea, '-infinity', '-infinity', '-infinity',
              '00:00:00+15:59', '-178000000 years', '{}', '{}', ''),
             (-2, 32767, 2147483647, 9223372036854775807, 9999999999.99,
              9999999999999999999999999999.9999999999, 'NaN', 'Infinity', 'Infinity', 92233720368547758.07,
              'zzzzz', repeat('ü', 30), repeat('x', 1048576), decode(repeat('00ff', 524288), 'hex'),
              'infinity', 'infinity', 'infinity', '24:00:00-15:59', '178000000 years', '{NULL}', '{NULL,""}', '1'),
             (-3, 0, 0, 0, 0, 0.0000000001, -('0.' || repeat('0123456789', 100))::numeric, '-Infinity',
              '-Infinity', 0, 'a', 'x', E'tab\\tnewline\\nquote"backslash\\\\', '\\x00000000'::bytea,
              '4713-01-01 BC', '4713-01-01 00:00:00 BC', '294246-12-31 23:59:59.999999+00', '00:00:00.000001+00',
              '-1 mons -2 days -00:00:00.000001', ARRAY[NULL, NULL]::int[], ARRAY[E'\\u00e9\\u6771', 'a,b', '{x}'],
              '0101010101'),
             (-4, 1, 1, 1, 0.01, -0.0000000001, -0.0, 1.17549435e-38, 2.2250738585072014e-308, -0.01, 'b', 'y',
              'é', '\\x00'::bytea, '5874897-12-31', '294246-12-31 23:59:59.999999', '4714-11-24 00:00:00+00 BC',
              '23:59:59.999999-00:01', '0', '{-1,0,1}', '{"\\\\"}', '1'),
             (-5, NULL, NULL, NULL, NULL, NULL, 'Infinity', 3.4028235e38, 1.7976931348623157e308,
              NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    """, src)
    yaml = pipeline_yaml(tmp_path, src, dst, "  parallelism: 2\n  split_rows: 1500\n")
    result = subprocess.run([CLI, "run", str(yaml)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = "SET timezone = 'UTC'; SET extra_float_digits = 3; SELECT to_json(r::text) FROM every r ORDER BY id"  # one line a row
    source_rows, target_rows = psql(rows, src).split("\n"), psql(rows, dst).split("\n")
    assert len(source_rows) == len(target_rows) == 5006
    for source_row, target_row in zip(source_rows, target_rows):
        assert source_row == target_row, (source_row[:300], target_row[:300])
    types = "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) " \
            "FROM pg_attribute WHERE attrelid = 'every'::regclass AND attnum > 0 AND NOT attisdropped"
    assert psql(types, src) == psql(types, dst)
