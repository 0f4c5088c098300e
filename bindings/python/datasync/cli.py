"""The ``datasync`` command (also ``python -m datasync``).

    datasync --version
    datasync run PIPELINE.yaml [--fresh] [--quiet] [--summary-json PATH]
    datasync schema PIPELINE.yaml [--dry-run | --export DIR | --diff | --apply [--allow-destructive]]
                                  [--report] [--json]
    datasync cleanup PIPELINE.yaml    (drop the replication slot, publication and checkpoint)

Exit status: 0 success; 1 the run failed; 2 usage or configuration error
(DS_ERR_CONFIG, DS_ERR_INVALID_ARGUMENT); 130 interrupted by Ctrl-C (SIGINT);
143 terminated by SIGTERM. Interrupted runs stop cleanly: the checkpoint holds
exactly what is durable, and running again resumes from there.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

from . import _datasync
from ._errors import Error

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_USAGE_STATUSES = {"DS_ERR_CONFIG", "DS_ERR_INVALID_ARGUMENT"}


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so run() stops the pipeline cleanly."""


# ----------------------------------------------------------------- formatting
def human_bytes(n: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    value = float(n)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def human_count(n: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}{suffix}"
    return f"{n:.0f}"


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _elapsed_seconds(metrics: Dict[str, Any], wall: float) -> float:
    us = metrics.get("elapsed_us") or 0
    return us / 1e6 if us > 0 else wall


def progress_line(metrics: Dict[str, Any], wall: float) -> str:
    written = metrics.get("rows_written", 0)
    estimated = metrics.get("rows_estimated", 0)
    elapsed = _elapsed_seconds(metrics, wall)
    rate = written / elapsed if elapsed > 0 else 0.0
    if estimated > 0:
        pct = min(100.0, 100.0 * written / estimated)
        rows = f"{written:,} / ~{estimated:,} rows  {pct:5.1f}%"
    else:
        rows = f"{written:,} rows"
    tables = f"tables {metrics.get('tables_done', 0)}/{metrics.get('tables_total', 0)}"
    return f"{rows}  {human_count(rate)} rows/s  {tables}  {human_duration(elapsed)}"


def summary_text(name: str, metrics: Dict[str, Any], wall: float) -> str:
    tables: Dict[str, Dict[str, int]] = metrics.get("tables") or {}
    elapsed = _elapsed_seconds(metrics, wall)
    rows = metrics.get("rows_written", 0)
    nbytes = metrics.get("bytes_written", 0)
    lines: List[str] = [f"pipeline {name}: finished in {human_duration(elapsed)}"]
    if tables:
        width = max(len("table"), *(len(t) for t in tables))
        lines.append(f"  {'table':<{width}}  {'rows':>14}  {'bytes':>11}")
        for table, t in tables.items():
            lines.append(
                f"  {table:<{width}}  {t.get('rows_written', 0):>14,}  {human_bytes(t.get('bytes_written', 0)):>11}"
            )
    count = metrics.get("tables_total") or len(tables)
    rate = rows / elapsed if elapsed > 0 else 0.0
    lines.append(
        f"total: {count} table{'s' if count != 1 else ''}, {rows:,} rows, {human_bytes(nbytes)}, "
        f"{rate:,.0f} rows/s, {human_duration(elapsed)}"
    )
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def error_line(exc: BaseException) -> str:
    if isinstance(exc, Error):
        return _one_line(f"datasync: error: {exc.status_name}: {exc}")
    return _one_line(f"datasync: error: {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------- progress
class _Progress:
    def __init__(self, stream: TextIO, started: float) -> None:
        self.stream = stream
        self.started = started
        self.shown = False

    def __call__(self, metrics: Dict[str, Any]) -> None:
        line = progress_line(metrics, time.monotonic() - self.started)
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class _Notices:
    """Prints warnings (values adjusted under pipeline.invalid_values, ...) and
    retries as they happen, also with --quiet: they say something changed."""

    def __init__(self, stream: TextIO, over_progress: bool) -> None:
        self.stream = stream
        self.prefix = "\r\x1b[K" if over_progress else ""

    def __call__(self, event: Any) -> None:
        if event.kind not in ("warning", "retry"):
            return
        where = f"{event.table}: " if event.table else ""
        self.stream.write(f"{self.prefix}datasync: {event.kind}: {where}{_one_line(event.message)}\n")
        self.stream.flush()


# ------------------------------------------------------------------- commands
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datasync",
        description="Move data between systems as described by a pipeline YAML file.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"datasync {_datasync.version_string()}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run a pipeline file", description="Run the pipeline a YAML file describes.")
    run.add_argument("file", metavar="FILE", help="the pipeline definition (YAML)")
    run.add_argument("--fresh", action="store_true", help="ignore the stored checkpoint and start from the beginning")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress line and no summary")
    run.add_argument("--summary-json", metavar="PATH", help="write the final metrics as JSON to PATH")
    schema = sub.add_parser(
        "schema",
        help="plan, export, compare or apply the target schema",
        description="Schema migration without copying data: the target DDL for every table the pipeline's "
        "source selects. Default: print it (--dry-run).",
    )
    schema.add_argument("file", metavar="FILE", help="the pipeline definition (YAML)")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the DDL (the default)")
    mode.add_argument("--export", metavar="DIR", help="write one DDL file per table into DIR")
    mode.add_argument("--diff", action="store_true", help="list how existing target tables differ from the source")
    mode.add_argument("--apply", action="store_true",
                      help="make the target match: create tables, add columns, widen types")
    schema.add_argument("--allow-destructive", action="store_true",
                        help="with --apply, also drop target-only columns and narrow or change types")
    schema.add_argument("--report", action="store_true",
                        help="also list every column whose type mapping is lossy (or forced by an override)")
    schema.add_argument("--json", action="store_true", help="print the plan as JSON")
    cleanup = sub.add_parser(
        "cleanup",
        help="drop the pipeline's replication slot, publication and checkpoint",
        description="Drop what change capture keeps in the source for this pipeline (a PostgreSQL replication slot "
        "holds WAL until dropped) and its checkpoint; the next run starts afresh.",
    )
    cleanup.add_argument("file", metavar="FILE", help="the pipeline definition (YAML)")
    return parser


def _write_summary_json(path: str, metrics: Optional[Dict[str, Any]]) -> None:
    if metrics is None:
        return
    with open(path, "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, ensure_ascii=False)
        f.write("\n")


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise _Terminated()


def cmd_run(args: argparse.Namespace) -> int:
    from ._pipeline import Pipeline  # noqa: PLC0415

    started = time.monotonic()
    show_progress = not args.quiet and sys.stderr.isatty()
    progress = _Progress(sys.stderr, started) if show_progress else None
    pipeline: Optional[Pipeline] = None
    metrics: Optional[Dict[str, Any]] = None
    try:
        pipeline = Pipeline.from_file(args.file)
        pipeline.on_event(_Notices(sys.stderr, show_progress))
        metrics = pipeline.run(fresh=args.fresh, progress=progress)
    except (KeyboardInterrupt, _Terminated) as exc:
        if progress:
            progress.clear()
        metrics = pipeline._final_metrics if pipeline is not None else None
        written = f" after {metrics['rows_written']:,} rows" if metrics else ""
        how = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        print(
            f"datasync: {how}: stopped cleanly{written}; the checkpoint holds what was written, run again to resume",
            file=sys.stderr,
        )
        if args.summary_json:
            _write_summary_json(args.summary_json, metrics)
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
    except Error as exc:
        if progress:
            progress.clear()
        print(error_line(exc), file=sys.stderr)
        if args.summary_json and pipeline is not None:
            _write_summary_json(args.summary_json, pipeline._final_metrics)
        return EXIT_USAGE if exc.status_name in _USAGE_STATUSES else EXIT_FAILED
    finally:
        if pipeline is not None:
            pipeline.close()
    if progress:
        progress.clear()
    assert pipeline is not None and metrics is not None
    if not args.quiet:
        print(summary_text(pipeline.name, metrics, time.monotonic() - started))
    if args.summary_json:
        _write_summary_json(args.summary_json, metrics)
    return EXIT_OK


def _statements_text(table: Dict[str, Any]) -> str:
    lines = [f"-- {table['source']} -> {table['target']} ({'exists' if table['exists'] else 'new'})"]
    lines += [f"-- difference: {d}" for d in table["differences"]]
    lines += [f"-- note: {n}" for n in table["notes"]]
    lines += [s + ";" for s in table["statements"]]
    if table["destructive"]:
        lines.append("-- destructive (run only with --apply --allow-destructive):")
        lines += [f"-- {s};" for s in table["destructive"]]
    return "\n".join(lines) + "\n"


def _report_text(plan: Dict[str, Any]) -> str:
    lines = []
    for table in plan["tables"]:
        for c in table["columns"]:
            if c["fidelity"] in ("lossy", "override"):
                lines.append(f"{table['source']}.{c['column']}: {c['source_type']} -> {c['target_type']} "
                             f"({c['fidelity']}: {c['note']})")
    if not lines:
        return "no lossy column: every value arrives exactly\n"
    return "lossy columns:\n" + "".join(f"  {line}\n" for line in lines)


def _safe_file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) + ".sql"


def cmd_schema(args: argparse.Namespace) -> int:
    from ._pipeline import Pipeline  # noqa: PLC0415

    if args.allow_destructive and not args.apply:
        print("datasync: error: --allow-destructive only goes with --apply", file=sys.stderr)
        return EXIT_USAGE
    pipeline: Optional[Pipeline] = None
    try:
        pipeline = Pipeline.from_file(args.file)
        plan = pipeline.schema(apply=args.apply, allow_destructive=args.allow_destructive)
    except Error as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_USAGE if exc.status_name in _USAGE_STATUSES else EXIT_FAILED
    finally:
        if pipeline is not None:
            pipeline.close()
    if args.json:
        print(json.dumps(plan, indent=2, ensure_ascii=False))
    elif args.export:
        import os  # noqa: PLC0415

        os.makedirs(args.export, exist_ok=True)
        for table in plan["tables"]:
            path = os.path.join(args.export, _safe_file_name(table["target"]))
            with open(path, "w", encoding="utf-8") as f:
                f.write(_statements_text(table))
            print(path)
    elif args.diff:
        for table in plan["tables"]:
            if not table["exists"]:
                print(f"{table['target']}: missing in the target (source {table['source']})")
            elif not table["differences"]:
                print(f"{table['target']}: no differences")
            else:
                print(f"{table['target']}:")
                for d in table["differences"]:
                    print(f"  {d}")
    elif args.apply:
        for table in plan["tables"]:
            ran = table["statements"] + (table["destructive"] if args.allow_destructive else [])
            verb = "created" if not table["exists"] else ("altered" if ran else "unchanged")
            print(f"{table['target']}: {verb}" + (f" ({len(ran)} statement{'s' if len(ran) != 1 else ''})" if ran else ""))
            if table["destructive"] and not args.allow_destructive:
                print(f"  {len(table['destructive'])} destructive change(s) left out (--allow-destructive):")
                for s in table["destructive"]:
                    print(f"    {s}")
    else:
        print("\n".join(_statements_text(table) for table in plan["tables"]), end="")
    if args.report and not args.json:  # the JSON has every column's fidelity already
        print(_report_text(plan), end="")
    return EXIT_OK


def cmd_cleanup(args: argparse.Namespace) -> int:
    from ._pipeline import Pipeline  # noqa: PLC0415

    pipeline: Optional[Pipeline] = None
    try:
        pipeline = Pipeline.from_file(args.file)
        dropped = pipeline.cleanup()
    except Error as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_USAGE if exc.status_name in _USAGE_STATUSES else EXIT_FAILED
    finally:
        if pipeline is not None:
            pipeline.close()
    for line in dropped:
        print(f"dropped {line}")
    if not dropped:
        print("nothing to drop")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("datasync: error: a command is required (try 'datasync run FILE')", file=sys.stderr)
        return EXIT_USAGE
    previous = None
    if threading_is_main():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        commands = {"schema": cmd_schema, "cleanup": cmd_cleanup}
        return commands.get(args.command, cmd_run)(args)
    except KeyboardInterrupt:  # Ctrl-C outside the run (while loading)
        print("datasync: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # --summary-json path not writable, ...
        print(_one_line(f"datasync: error: {exc}"), file=sys.stderr)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def threading_is_main() -> bool:
    import threading  # noqa: PLC0415

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
