"""`make demo`: data -> raw table -> labels -> model -> registry -> dbt seed/run/test -> summary.

Each step is timed; steps whose output is already there and current are reused,
so a second `make demo` gives the same scores (the model is not retrained).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import artifacts  # noqa: E402
from training.config import PROFILES  # noqa: E402

DBT = str(ROOT / ".venv" / "bin" / "dbt")
REPORT = ROOT / "target" / "monitoring_report.html"  # the monitoring report the summary writes (make report)
timings: list[tuple[str, float, str]] = []


def step(name: str):
    def wrap(fn):
        def run(*args, **kwargs):
            print(f"==> {name}", flush=True)
            started = time.perf_counter()
            result = fn(*args, **kwargs)
            value, note = result if isinstance(result, tuple) else (None, result or "")
            timings.append((name, time.perf_counter() - started, note))
            return value

        return run

    return wrap


def dbt(*args: str) -> None:
    result = subprocess.run([DBT, *args], cwd=ROOT)
    if result.returncode:
        sys.exit(f"demo: `dbt {' '.join(args)}` failed (exit {result.returncode})")


@step("data")
def make_data(rows: int, data: Path | None) -> tuple[Path, str]:
    if data:
        return data, f"Kaggle-format file {data}"
    from training.data import GENERATOR_VERSION, write_synthetic_csv

    path = ROOT / "data" / f"synthetic_{rows}_v{GENERATOR_VERSION}.csv"
    if path.exists():
        return path, f"reused {path.relative_to(ROOT)}"
    write_synthetic_csv(path, rows)
    return path, f"generated {rows:,} synthetic rows"


@step("load raw.credit_card")
def load(path: Path) -> str:
    from warehouse.connection import connection
    from warehouse.loading import load_csv

    with connection() as conn:
        rows = load_csv(conn, path)
    return f"{rows:,} rows"


@step("load delayed labels")
def load_labels(seed: int = 7) -> str:
    """A labels feed with realistic delays (training.label_feed) for the loaded transactions,
    written to data/ and loaded into raw.credit_card_labels in place of the previous feed."""
    import numpy as np

    from training.label_feed import label_rows
    from warehouse.connection import connection
    from warehouse.labels import TIME_ORIGIN, load_labels_csv, parse_time, write_labels_csv

    with connection() as conn, conn.cursor() as cur:
        cur.execute("select transaction_id, time, coalesce(class = 1, false) from raw.credit_card order by 1")
        ids, seconds, fraud = (np.array(c) for c in zip(*cur.fetchall(), strict=True))
    rows = label_rows(seconds, fraud.astype(bool), parse_time(TIME_ORIGIN), seed=seed, ids=ids)
    path = write_labels_csv(ROOT / "data" / "labels_demo.csv", rows)
    with connection() as conn:
        with conn, conn.cursor() as cur:
            cur.execute("truncate raw.credit_card_labels")  # the demo's feed belongs to the rows just loaded
        added = load_labels_csv(conn, path)
    return f"{added:,} label events ({path.relative_to(ROOT)})"


@step("train")
def train(path: Path, profile: str, model_dir: Path) -> str:
    meta_path = model_dir / artifacts.METADATA_FILE
    if meta_path.exists() and (model_dir / artifacts.MODEL_FILE).exists():
        meta = json.loads(meta_path.read_text())
        if meta["training_data"]["source"] == str(path) and meta["config"] == PROFILES[profile].as_dict():
            return f"reused {meta['model_version']} (same data and profile)"
    from training import data
    from training.train import train as fit

    dataset = data.load_kaggle_csv(path)
    started = time.perf_counter()
    result = fit(dataset.X, dataset.y, dataset.time, PROFILES[profile])
    meta = artifacts.save(result, dataset.describe(), model_dir, time.perf_counter() - started)
    return f"trained {meta['model_version']} ({profile} profile)"


@step("install scoring functions")
def install() -> str:
    dbt("run-operation", "install_fraud_scoring", "--quiet")


@step("register model")
def register(model_dir: Path) -> str:
    from warehouse.connection import connection
    from warehouse.registry import register as do_register

    with connection() as conn:
        version, new = do_register(conn, model_dir)
    return f"{version} ({'new' if new else 'already registered'})"


@step("deploy model")
def deploy(model_dir: Path) -> tuple[bool, str]:
    # Which model scores is named, never implied by registering: the one just trained becomes
    # the champion. Before the first dbt run it is promoted at once. Once scores exist (a
    # second `make demo` after the data or the model changed) promotion refuses a version
    # that has not scored every transaction, so it is added as a challenger, scored by the
    # dbt run, and promoted after it (the former champion stays on as a challenger).
    version = artifacts.load_metadata(model_dir)["model_version"]
    role, scored = deployment(version)
    if role == "champion":
        return False, f"{version} is the champion already"
    if not scored:
        promote(version)
        return False, f"{version} is the champion"
    dbt("run-operation", "add_fraud_challenger", "--quiet", "--args", json.dumps({"version": version}))
    return True, f"{version} is a challenger until the dbt run has scored it"


def deployment(version: str) -> tuple[str | None, bool]:
    """The version's role now (None: not deployed), and whether any scores exist yet."""
    from warehouse.connection import connection

    schema = os.environ.get("FRAUD_DBT_SCHEMA", "analytics")
    with connection() as conn, conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f"{schema}.fraud_scores",))
        scored = cur.fetchone()[0]
        cur.execute("select role from fraud.deployments where model_version = %s", (version,))
        row = cur.fetchone()
    return (row[0] if row else None), scored


def promote(version: str) -> None:
    dbt("run-operation", "promote_fraud_model", "--quiet", "--args", json.dumps({"version": version}))


@step("promote model")
def promote_scored(model_dir: Path) -> str:
    version = artifacts.load_metadata(model_dir)["model_version"]
    promote(version)
    return f"{version} is the champion"


SAMPLE = ("--vars", "{fraud_load_sample: true}")  # the Kaggle-format seed and its tests: the demo shows them


@step("dbt seed")
def seed() -> str:
    dbt("seed", "--quiet", *SAMPLE)


@step("dbt run")
def run() -> str:
    dbt("run")


@step("dbt test")
def test() -> str:
    dbt("test", "--quiet", *SAMPLE)


def summary(meta: dict) -> None:
    from reports.summary import demo_summary
    from warehouse.connection import connection

    model_version = meta["model_version"]
    schema = os.environ.get("FRAUD_DBT_SCHEMA", "analytics")
    holdout_from = (meta.get("split") or {}).get("holdout_from_time")
    with connection() as conn, conn.cursor() as cur:
        cur.execute(
            f"select count(*), count(*) filter (where is_fraud) from {schema}.fraud_decisions where model_version = %s",
            (model_version,),
        )
        scored, flagged = cur.fetchone()
        cur.execute(
            f"select labeled_rows, precision, recall from {schema}.fraud_model_metrics "
            "where model_version = %s and transaction_day is null",
            (model_version,),
        )
        labeled, precision, recall = cur.fetchone() or (0, None, None)
        # label coverage and recall as labels landed: each day's latest as-of row on or before a date
        cur.execute(
            f"""select horizon, sum(labeled_rows), sum(scored_rows), sum(true_positives), sum(labeled_frauds)
                from (select distinct on (p.transaction_day, h.horizon) h.horizon, p.*
                      from {schema}.fraud_label_performance as p
                      cross join (values (7), (30), (120)) as h (horizon)
                      where p.model_version = %s and p.as_of_date <= p.transaction_date + h.horizon
                      order by p.transaction_day, h.horizon, p.as_of_date desc) as latest
                group by horizon order by horizon""",
            (model_version,),
        )
        landing = cur.fetchall()
        held_out = None
        if holdout_from is not None:
            # The holdout as the database scored it: the same later rows, the same threshold.
            cur.execute(
                f"""select count(*), count(*) filter (where s.is_fraud),
                           count(*) filter (where s.is_fraud and t.is_labeled_fraud),
                           count(*) filter (where t.is_labeled_fraud)
                    from {schema}.fraud_decisions as s
                    inner join {schema}.stg_raw__credit_card as t on s.transaction_id = t.transaction_id
                    where s.model_version = %s and t.seconds_since_start >= %s""",
                (model_version, holdout_from),
            )
            held_out = cur.fetchone()
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print("\n=== fraud scoring demo: summary ===")
    print(f"model version      {model_version}")
    print(f"threshold          {meta['threshold']:.4g}: {meta.get('threshold_rule', 'fixed')}")
    print(f"rows scored        {scored:,}")
    print(f"rows flagged       {flagged:,}")
    print(
        f"labeled rows       {labeled:,}: precision {fmt(precision)}, recall {fmt(recall)} "
        "(all rows, training rows included)"
    )
    for horizon, known, scored_rows, tp, frauds in landing:
        print(
            f"  labels known {horizon:>3} days after each day: {known / scored_rows:6.1%} of scored rows, "
            f"{frauds:,} frauds, recall {fmt(tp / frauds if frauds else None)} (fraud_label_performance)"
        )
    if held_out is not None:
        rows, hflagged, tp, frauds = held_out
        m = meta["holdout_metrics"]
        print(
            f"held-out rows      {rows:,} (Time >= {holdout_from:,.0f} s, never used to train, select or threshold), "
            f"{frauds} frauds"
        )
        print(
            f"  at the threshold flagged {hflagged:,}: precision {fmt(tp / hflagged if hflagged else None)}, "
            f"recall {fmt(tp / frauds if frauds else None)}, F1 {m['f1']:.3f}, PR-AUC {m['pr_auc']:.3f}, "
            f"ROC-AUC {m['roc_auc']:.3f}"
        )
        print("  another threshold (held-out rows; artifacts/demo/tradeoff.csv, tradeoff.png):")
        for p in meta.get("tradeoff", []):
            print(
                f"    recall {p['recall']:.2f} at threshold {p['threshold']:<8.4g} precision {p['precision']:.3f}, "
                f"flagged {p['flagged']:,}"
            )
    with connection() as conn:
        demo_summary(conn, schema, REPORT)
    print("seconds per step")
    for name, seconds, note in timings:
        print(f"  {name:<26} {seconds:7.1f}  {note}")
    print(f"  {'total':<26} {sum(s for _, s, _ in timings):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=284_807, help="synthetic rows when --data is absent")
    parser.add_argument("--data", type=Path, help="a Kaggle-format CSV to score instead of synthetic data")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    args = parser.parse_args()
    data = args.data.resolve() if args.data else None
    path = make_data(args.rows, data)
    load(path)
    load_labels()
    model_dir = ROOT / "artifacts" / "demo"
    train(path, args.profile, model_dir)
    install()
    register(model_dir)
    promote_after_run = deploy(model_dir)
    seed()
    run()
    if promote_after_run:
        promote_scored(model_dir)
    test()
    summary(artifacts.load_metadata(model_dir))


if __name__ == "__main__":
    main()
