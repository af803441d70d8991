"""The benchmark's tables and processes: its CSVs, the raw tables it loads once and keeps, and the
native script run as a whole process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.labels import ensure_labels_table, labels_table_for
from warehouse.loading import load_csv

ROOT = Path(__file__).resolve().parent.parent
NATIVE_SCHEMA = "bench_native"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def csv_for(rows: int, seed: int = 42) -> Path:
    """The benchmark's CSV of that many rows (same generator and seed: smaller files are prefixes)."""
    csv = ROOT / "data" / (f"bench_{rows}.csv" if seed == 42 else f"bench_{rows}_seed{seed}.csv")
    if not csv.exists():
        write_synthetic_csv(csv, rows, seed=seed)
    return csv


def sql(statement: str, *params) -> list:
    with connection() as conn, conn.cursor() as cur:
        cur.execute(statement, params or None)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    return rows


def prepare(rows: int) -> str:
    """Schema bench_raw_<rows> holding the rows in raw table credit_card, loaded once and kept."""
    schema = f"bench_raw_{rows}"
    present = sql("select count(*) from pg_tables where schemaname = %s and tablename = 'credit_card'", schema)
    if not present[0][0] or sql(f"select count(*) from {schema}.credit_card")[0][0] != rows:
        log(f"loading {rows:,} rows into {schema}.credit_card")
        with connection() as conn:
            load_csv(conn, csv_for(rows), f"{schema}.credit_card")
    # the labels source the models read (empty: the benchmark loads no labels), which a table
    # loaded before labels existed lacks
    with connection() as conn, conn, conn.cursor() as cur:  # the inner `with conn` commits
        ensure_labels_table(cur, labels_table_for(f"{schema}.credit_card"), "postgres")
    return schema


def whole_process(argv: list[str]) -> tuple[float, dict]:
    """Wall seconds of a Python process from start to exit, and the JSON line it printed last."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout.strip().splitlines()[-1])


def native(runtime: str, model_dir: Path, raw_schema: str, new_only: bool = False) -> dict:
    argv = ["-m", "bench.native", "--runtime", runtime, "--model-dir", str(model_dir)]
    argv += ["--source", f"{raw_schema}.credit_card", "--target", f"{NATIVE_SCHEMA}.fraud_scores"]
    seconds, phases = whole_process(argv + (["--new-only"] if new_only else []))
    return {"seconds": seconds, "phases": phases}
