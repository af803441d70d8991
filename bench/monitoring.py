"""What the monitoring models cost in the daily job: `dbt run` after an arrival on a scored table,
broken down per model (bench.breakdown), for this checkout and, optionally, another one.

    python -m bench.monitoring [--rows 2000000] [--new 20000] [--repeats 3] [--other DIR]

Each checkout scores the benchmark's raw table (bench_raw_<rows>, loaded once) into a schema of
its own, fully, once. Then, per repeat and checkout in turn (interleaved, so load on the machine
falls on both alike): `--new` transactions appended, one `dbt run` measured, the appended rows,
their stacks and scores deleted again. Printed: per checkout, the median seconds of each
monitoring model, of their sum and of the whole run. `--other` is another checkout of the
project (e.g. `git worktree add ../base main`, or `git archive main | tar -x -C ../base`) with
this one's .venv and profiles.yml linked in: its own models run on the same raw rows and
database.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench import breakdown
from bench.tables import csv_for, log, prepare, sql
from warehouse.connection import connection
from warehouse.loading import load_csv

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ("fraud_score_bins", "fraud_pr_auc_daily", "fraud_score_distribution", "fraud_score_drift")
MONITORING += ("fraud_daily_monitoring", "fraud_feature_bins", "fraud_feature_drift", "fraud_label_performance")


def dbt_args(raw_schema: str, root: Path, *args: str) -> list[str]:
    vars_ = json.dumps({"raw_schema": raw_schema})
    return [*args, "--vars", vars_, "--target-path", str(root / "target" / "bench_monitoring")]


def schema_of(root: Path) -> str:
    return "bench_mon_" + ("this" if root == ROOT else "other")


def measure_run(raw_schema: str, root: Path) -> dict:
    return breakdown.measure(dbt_args(raw_schema, root, "run"), cwd=root, env={"FRAUD_DBT_SCHEMA": schema_of(root)})


def reset(raw_schema: str, rows: int, schemas: list[str]) -> None:
    """Back to the scored state: the appended transactions, their stacks and scores removed (the
    monitoring aggregate follows by itself at the next run: their stacks are gone)."""
    sql(f"delete from {raw_schema}.credit_card where transaction_id > {rows}")
    for s in schemas:
        sql(f"delete from {s}.int_credit_card__scoring_stacks where first_transaction_id > {rows}")
        sql(f"delete from {s}.fraud_scores where transaction_id > {rows}")
    with connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for t in [f"{raw_schema}.credit_card"] + [f"{s}.fraud_scores" for s in schemas]:
                cur.execute(f"vacuum {t}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--new", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--other", type=Path, help="another checkout, measured the same way")
    args = parser.parse_args(argv)
    roots = [ROOT] + ([args.other.resolve()] if args.other else [])
    raw = prepare(args.rows)
    for root in roots:
        log(f"{root}: scoring {args.rows:,} rows into {schema_of(root)}")
        breakdown.measure(
            dbt_args(raw, root, "run", "--full-refresh"), cwd=root, env={"FRAUD_DBT_SCHEMA": schema_of(root)}
        )
        measure_run(raw, root)  # a run with nothing new, so the first measured one is like the others
    extra = csv_for(args.new, seed=7)
    samples: dict = {root: [] for root in roots}
    for i in range(args.repeats):
        for root in roots:
            with connection() as conn:
                load_csv(conn, extra, f"{raw}.credit_card", append=True, warn=lambda m: None)
            b = measure_run(raw, root)
            own = {m["node"]: m["seconds"] for m in b["models"]}
            samples[root].append({"wall": b["wall"], **own})
            log(
                f"{root.name} run {i + 1}: {b['wall']:.2f} s, monitoring {sum(own.get(n, 0) for n in MONITORING):.2f} s"
            )
            reset(raw, args.rows, [schema_of(r) for r in roots])
    result = {}
    for root, runs in samples.items():
        nodes = sorted({k for r in runs for k in r if k in MONITORING})
        med = {n: statistics.median(r.get(n, 0.0) for r in runs) for n in nodes}
        med["monitoring"] = statistics.median(sum(r.get(n, 0.0) for n in MONITORING) for r in runs)
        med["wall"] = statistics.median(r["wall"] for r in runs)
        result[str(root)] = {"median": {k: round(v, 3) for k, v in med.items()}, "runs": runs}
        print(f"{root}: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))
    print(json.dumps({"rows": args.rows, "new": args.new, "repeats": args.repeats, "checkouts": result}))


if __name__ == "__main__":
    main()
