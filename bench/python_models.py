"""A dbt Python model in the database against the same pandas code outside it, whole processes.

    .venv/bin/python -m bench.python_models [--rows 2000000] [--repeats 3] [--markdown]

The same tables for both: schema bench_pymodels gets `fraud_scores` (ROWS scores: two
versions of ROWS / 2 transactions) and `stg_raw__credit_card` (their labels and times),
synthetic, made by SQL. Then, each REPEATS times, whole processes:

* in the database: `dbt run --select bench_score_distribution` (dbt's start-up included) in a
  copy of the project holding bench/pymodel_distribution.py as that model (the earlier
  fraud_score_distribution, which read every score), with FRAUD_DBT_SCHEMA=bench_pymodels, so
  its refs are those tables;
* outside: `python -m bench.pymodel_native`, what an analytics engineer would write: psycopg2
  reads both tables, the model file's own `distribution()` aggregates, COPY writes back;
* its SQL equivalent: the same aggregates (count, mean, percentile_cont, a width_bucket
  histogram) as one CREATE TABLE AS, from a Python process (no dbt start-up).

Peak private memory (RssAnon) is sampled every 50 ms: the backend that runs the model, and
the native process. Results: bench/results/python_models.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.indb import anon_kb
from warehouse.connection import connect

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "bench_pymodels"
RESULTS = ROOT / "bench" / "results" / "python_models.json"
SQL_EQUIVALENT = """
create table {s}.distribution_sql as
with rows as (
    select s.model_version, floor(l.seconds_since_start / 86400)::integer as transaction_day, s.fraud_probability
    from {s}.fraud_scores s join {s}.stg_raw__credit_card l using (transaction_id)
)
select model_version, transaction_day, count(*) as scored_rows, avg(fraud_probability) as mean_probability,
    percentile_cont(0.5) within group (order by fraud_probability) as p50_probability,
    percentile_cont(0.9) within group (order by fraud_probability) as p90_probability,
    percentile_cont(0.99) within group (order by fraud_probability) as p99_probability,
    {histogram}
from rows group by model_version, transaction_day
"""


def make_tables(rows: int) -> None:
    half = rows // 2
    conn = connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"drop schema if exists {SCHEMA} cascade; create schema {SCHEMA}")
        cur.execute(
            f"create table {SCHEMA}.stg_raw__credit_card as select g::bigint as transaction_id, "
            "(g * 172792.0 / %s)::float8 as seconds_since_start, (g %% 577 = 0) as is_labeled_fraud "
            "from generate_series(1, %s) g",
            (half, half),
        )
        cur.execute(
            f"create table {SCHEMA}.fraud_scores as select g::bigint as transaction_id, v as model_version, "
            "random() as fraud_probability, now() as scored_at "
            "from generate_series(1, %s) g, unnest(array['fraud-mlp-a', 'fraud-mlp-b']) v",
            (half,),
        )
        cur.execute(f"alter table {SCHEMA}.fraud_scores add primary key (transaction_id, model_version)")
        cur.execute(f"analyze {SCHEMA}.fraud_scores; analyze {SCHEMA}.stg_raw__credit_card")
    conn.close()


class BackendPeak(threading.Thread):
    """Samples the RssAnon of the backend running a Python model (found in pg_stat_activity)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb, self.stop = 0, threading.Event()

    def run(self):
        conn = connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute(
                    "select pid from pg_stat_activity "
                    "where query like '%%run_python_model(%%' and pid <> pg_backend_pid()"
                )
                for (pid,) in cur.fetchall():
                    self.peak_kb = max(self.peak_kb, anon_kb(pid))
                time.sleep(0.05)
        conn.close()


def timed(cmd: list[str], env: dict, sample_self: bool = False) -> tuple[float, int]:
    """(wall seconds, peak RssAnon KB of the process, or of the model's backend) of one whole process."""
    backend = BackendPeak()
    backend.start()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        if sample_self:
            peak = max(peak, anon_kb(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    backend.stop.set()
    backend.join()
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read()[-3000:]}")
    return elapsed, peak if sample_self else backend.peak_kb


def sql_equivalent() -> str:
    bins = ",\n    ".join(
        f"count(*) filter (where least(floor(fraud_probability * 10), 9) = {b}) as histogram_{b + 1:02d}"
        for b in range(10)
    )
    return SQL_EQUIVALENT.format(s=SCHEMA, histogram=bins)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print the table of the committed results only")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return
    make_tables(args.rows)
    project = project_copy()
    env = {**os.environ, "FRAUD_DBT_SCHEMA": SCHEMA, "DO_NOT_TRACK": "1"}
    python = str(ROOT / ".venv" / "bin" / "python")
    dbt = str(ROOT / ".venv" / "bin" / "dbt")
    drop = f"drop table if exists {SCHEMA}.distribution_sql"
    series = {
        "in the database: dbt run of the Python model": ([dbt, "run", "--select", "bench_score_distribution", "-q",
                                                         "--project-dir", str(project), "--profiles-dir", str(ROOT),
                                                         "--target-path", "target/bench_pymodels"], False),
        "outside: psycopg2 read, the same pandas code, COPY back": ([python, "-m", "bench.pymodel_native",
                                                                     "--schema", SCHEMA], True),
        "the SQL equivalent, one statement": ([python, "-c", "from warehouse.connection import connect\n"
                                              f"c = connect()\nwith c, c.cursor() as cur:\n    cur.execute({drop!r})\n"
                                              f"    cur.execute({sql_equivalent()!r})"], False),
    }  # fmt: skip
    results = {}
    for _ in range(args.repeats):
        for name, (cmd, sample_self) in series.items():
            results.setdefault(name, []).append(timed(cmd, env, sample_self))
    out = {
        "rows": args.rows,
        "repeats": args.repeats,
        "series": {
            name: {"seconds": [round(s, 2) for s, _ in runs],
                   "median_s": round(statistics.median(s for s, _ in runs), 2),
                   "peak_rss_anon_mb": round(max(k for _, k in runs) / 1024)}
            for name, runs in results.items()
        },
    }  # fmt: skip
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(out))


def project_copy() -> Path:
    """A copy of the project (under target/, git-ignored) with the benchmark's model added."""
    import shutil

    copy = ROOT / "target" / "bench_pymodels_project"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    for name in ("dbt_project.yml", "macros", "models", "seeds"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, copy / name)
    shutil.copytree(ROOT / "tests" / "dbt", copy / "tests" / "dbt")
    (copy / "models" / "bench").mkdir()
    shutil.copy(ROOT / "bench" / "pymodel_distribution.py", copy / "models" / "bench" / "bench_score_distribution.py")
    return copy


def markdown(out: dict) -> str:
    lines = [
        f"| {out['rows']:,} scores, median of {out['repeats']} | seconds | peak private memory |",
        "|---|---:|---:|",
    ]
    for name, s in out["series"].items():
        memory = f"{s['peak_rss_anon_mb']} MB" if s["peak_rss_anon_mb"] else "—"
        lines.append(f"| {name} | {s['median_s']:.2f} | {memory} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
