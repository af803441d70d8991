"""make bench: what users run, runtime against the same runtime, on the same rows; table, JSON and figure.

python -m bench [--sizes 250000,500000,1000000,2000000] [--large 8000000] [--repeats 3]
                [--arrival 2000000,8000000] [--model-dir artifacts/demo] [--series ...] [--out DIR]

Scenarios:
  rescore   a new model version: every transaction scored again. `dbt run --select fraud_scores+
            --exclude path:models/monitoring --full-refresh` (whole process) against a native script of
            the same runtime (whole process), from the same raw table to a scores table of the same
            shape; also the scoring statement alone, the 2017 native path and the 2017 recipe, and the
            forward pass alone (the floor).
  arrival   1% and 10% new transactions appended to a scored table, then `dbt run --select +fraud_scores`
            (the same end table as the native script) against the native script scoring only unscored ids
            (an anti-join) and appending them; and the whole `dbt run` (every model, the monitoring
            included), which has no native counterpart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import indb, recipe2017, report
from bench.tables import NATIVE_SCHEMA, csv_for, log, native, prepare, sql, whole_process
from fraud_scoring import RUNTIMES
from warehouse.connection import connection
from warehouse.loading import load_csv

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
ALL_SERIES = tuple(report.SERIES_LABELS)  # what --series chooses from: the names the results carry
LARGE_KINDS = ("dbt", "native", "statement")  # the series also measured at the --large sizes (not native_2017)
ARRIVAL_SHARES = (0.01, 0.10)
# what the native script's arrival run also does: the new rows stacked and scored into fraud_scores
SCORING_PATH = ("--select", "+fraud_scores")
# a new model version: every stack scored again and the decision layer on the scores rebuilt; the
# monitoring models, which the native script has no counterpart of, apart (bench.monitoring)
RESCORE = ("--select", "fraud_scores+", "--exclude", "path:models/monitoring")


def measurements(series: list[str]) -> list[str]:
    """The runs the chosen series need, in order: floor_numpy and floor_keras come from one `floor` process."""
    runs = []
    for name in series:
        run = "floor" if name.startswith("floor_") else name
        if run not in runs:
            runs.append(run)
    return runs


def measure(name: str, rows: int, model_dir: Path, schema: str, compiled: dict) -> dict:
    """One sample of a rescore measurement."""
    kind, _, runtime = name.partition("_")
    if kind == "dbt":
        return {"seconds": indb.dbt(schema, runtime, "run", *RESCORE, "--full-refresh")}
    if kind == "native" and runtime in RUNTIMES:
        return native(runtime, model_dir, schema)
    if kind == "statement":
        return indb.statement(rows, compiled[runtime])
    # native_2017, floor: bench.series, one measurement per process
    argv = ["-m", "bench.series", name, "--rows", str(rows), "--model-dir", str(model_dir)]
    return whole_process(argv + ["--csv", str(csv_for(rows))])[1]


def rescore(rows: int, series: list[str], repeats: int, model_dir: Path) -> list[dict]:
    """Every rescore series at one size: samples per series."""
    schema = prepare(rows)
    sql(f"create schema if not exists {NATIVE_SCHEMA}")
    # the stacks, and the registry and labels views the decision layer reads (upstream of fraud_scores+)
    upstream = ("+int_credit_card__scoring_stacks", "+fraud_deployments", "+stg_fraud__labels")
    indb.dbt(schema, "numpy", "run", "--select", *upstream, "--full-refresh")
    compiled = {e: indb.compiled_scoring_sql(schema, e) for e in RUNTIMES if f"statement_{e}" in series}
    records = []
    for name in measurements(series):
        samples = []
        for i in range(repeats):
            samples.append(measure(name, rows, model_dir, schema, compiled))
            log(f"{rows:>9,} {name:<16} run {i + 1}: {samples[-1]['seconds']:.2f} s")
        if name == "floor":
            for runtime in [e for e in RUNTIMES if f"floor_{e}" in series]:
                floor = [{"seconds": s[f"{runtime}_seconds"], "peak_rss_mb": s["peak_rss_mb"]} for s in samples]
                records.append(report.summarise("rescore", f"floor_{runtime}", rows, floor))
        else:
            records.append(report.summarise("rescore", name, rows, samples))
    return records


def arrival(rows: int, repeats: int, model_dir: Path, runtimes: list[str]) -> list[dict]:
    """1% and 10% new rows on a scored table: `dbt run` against the native anti-join script."""
    schema = prepare(rows)
    table = f"{schema}.credit_card"
    # the scored state both sides start from: all `rows` transactions stacked and scored
    indb.dbt(schema, "numpy", "run", "--full-refresh")
    native("numpy", model_dir, schema)
    records = []
    for runtime in runtimes:
        # nothing new: what a `dbt run` costs when there is nothing to do (the first run broken down)
        noop = [indb.dbt_breakdown(schema, runtime, "run") for _ in range(repeats)]
        samples = [{"seconds": b["wall"]} for b in noop]
        log(f"{rows:>9,} no-op dbt_{runtime}: {', '.join(f'{s:.2f}' for s in [b['wall'] for b in noop])} s")
        records.append({**report.summarise("noop", f"dbt_{runtime}", rows, samples), "breakdown": noop[0]})
    for share in ARRIVAL_SHARES:
        new = int(rows * share)
        extra = csv_for(new, seed=7)
        for runtime in runtimes:
            samples = {"dbt": [], "native": [], "dbt_all": []}
            for i in range(repeats):
                for side in samples:
                    with connection() as conn:
                        load_csv(conn, extra, table, append=True, warn=lambda m: None)
                    if side == "native":
                        samples[side].append(native(runtime, model_dir, schema, new_only=True))
                    else:
                        b = indb.dbt_breakdown(schema, runtime, "run", *(SCORING_PATH if side == "dbt" else ()))
                        samples[side].append({"seconds": b["wall"], "breakdown": b})
                    log(f"{rows:>9,} +{new:,} {side}_{runtime:<10} run {i + 1}: {samples[side][-1]['seconds']:.2f} s")
                    reset_arrival(schema, rows)
                    if side == "dbt_all":  # the monitoring back to the scored state, unmeasured
                        indb.dbt(schema, runtime, "run")
            for side, runs in samples.items():
                record = {**report.summarise("arrival", f"{side}_{runtime}", rows, runs), "new_rows": new}
                if side != "native":  # the breakdown of the median run
                    record["breakdown"] = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]["breakdown"]
                records.append(record)
    return records


def reset_arrival(schema: str, rows: int) -> None:
    """Back to the scored state: the appended transactions, their stacks and their scores removed."""
    for statement in (
        f"delete from {schema}.credit_card where transaction_id > {rows}",
        f"delete from {indb.SCORES_SCHEMA}.int_credit_card__scoring_stacks where first_transaction_id > {rows}",
        f"delete from {indb.SCORES_SCHEMA}.fraud_scores where transaction_id > {rows}",
        f"delete from {NATIVE_SCHEMA}.fraud_scores where transaction_id > {rows}",
    ):
        sql(statement)
    with connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for t in (f"{schema}.credit_card", f"{indb.SCORES_SCHEMA}.fraud_scores", f"{NATIVE_SCHEMA}.fraud_scores"):
                cur.execute(f"vacuum {t}")


def dbt_startup(rows: int, repeats: int) -> dict:
    """dbt's own start-up: `dbt run` of the staging view alone (parse, connect, hooks, one DDL)."""
    schema = prepare(rows)
    command = ("run", "--select", "stg_raw__credit_card")
    samples = [{"seconds": indb.dbt(schema, "numpy", *command)} for _ in range(repeats)]
    return report.summarise("startup", "dbt_startup", rows, samples)


def recipe(sizes: list[int], repeats: int, bisect: int, model_dir: Path) -> tuple[list[dict], list[dict], list]:
    """The 2017 recipe on its throwaway cluster: records, crashes, bisection probes."""
    runs = recipe2017.run(sizes, repeats, csv_for, model_dir, log)
    crashes = [r for r in runs if r["crash"]]
    survived = [r["rows"] for r in runs if r["samples_s"] and not r["crash"]]
    probes = []
    if crashes and survived and bisect:
        probes = recipe2017.bisect(max(survived), crashes[0]["rows"], bisect, csv_for, model_dir, log)
        crashes += [p for p in probes if p["crash"]]
    records = [
        report.summarise("rescore", "recipe_2017", r["rows"], [{"seconds": s} for s in r["samples_s"]])
        for r in [*runs, *probes]
        if r["samples_s"] and not r["crash"]
    ]
    return records, crashes, probes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250000,500000,1000000,2000000", help="rescore sizes, every series")
    parser.add_argument("--large", default="8000000", help="rescore sizes for the dbt, native and statement series")
    parser.add_argument("--arrival", default="2000000,8000000", help="sizes of the scored table for arrivals")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large-repeats", type=int, default=1)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "artifacts" / "demo")
    parser.add_argument("--series", default=",".join(ALL_SERIES), help=f"of {','.join(ALL_SERIES)}")
    parser.add_argument("--bisect", type=int, default=3, help="probes narrowing the 2017 recipe's largest size")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for bench.json and figure2.png")
    parser.add_argument(
        "--markdown", action="store_true", help="only print --out's bench.json as markdown (docs/benchmarks.md)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="an earlier bench.json: its rescore records of the series --series leaves out are kept, named as kept"
        " (for series no change since has touched, such as the 2017 paths)",
    )
    return parser


def kept(path: Path | None, chosen: list[str]) -> tuple[list[dict], dict]:
    """The --keep file's rescore records of series not measured now, the 2017 recipe's crashes and
    probes with them, and what says where they come from."""
    if path is None:
        return [], {}
    old = json.loads(path.read_text())
    records = [r for r in old["results"] if r["scenario"] == "rescore" and r["series"] not in chosen]
    series = sorted({r["series"] for r in records})
    extra = {"kept": {"series": series, "from": old["command"], "minutes": old.get("minutes")}}
    if "recipe_2017" in series:
        extra["recipe_2017_crashes"] = old.get("recipe_2017_crashes", [])
        extra["recipe_2017_bisect"] = old.get("recipe_2017_bisect", [])
    return records, extra


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def chosen_series(parser: argparse.ArgumentParser, text: str) -> list[str]:
    chosen = [s for s in text.split(",") if s]
    if unknown := set(chosen) - set(ALL_SERIES):
        parser.error(f"unknown series {sorted(unknown)}; choose from {','.join(ALL_SERIES)}")
    return chosen


def rescores(args, chosen: list[str]) -> tuple[list[dict], dict]:
    """The rescore scenario at every size (the 2017 recipe apart), and the statement's profile at the largest."""
    results, profiles = [], {}
    for rows in sizes(args.sizes):
        results += rescore(rows, [s for s in chosen if s != "recipe_2017"], args.repeats, args.model_dir)
    per_large = [s for s in chosen if s.split("_")[0] in LARGE_KINDS and s != "native_2017"]
    for rows in sizes(args.large):
        results += rescore(rows, per_large, args.large_repeats, args.model_dir)
    for rows in [*sizes(args.sizes), *sizes(args.large)][-1:]:
        for runtime in [e for e in RUNTIMES if f"statement_{e}" in chosen]:
            profiles[f"{rows}_{runtime}"] = indb.profile(indb.compiled_scoring_sql(prepare(rows), runtime))
    return results, profiles


def arrivals(args, runtimes: list[str]) -> list[dict]:
    """The arrival scenario at every --arrival size: --repeats up to the largest rescore size, else --large-repeats."""
    results = []
    for rows in sizes(args.arrival):
        repeats = args.repeats if rows <= max(sizes(args.sizes), default=0) else args.large_repeats
        results += arrival(rows, repeats, args.model_dir, runtimes)
    return results


def write_results(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    report.plot(result, out / "figure2.png")
    print(report.text(result))
    print(f"wrote {out / 'bench.json'} and {out / 'figure2.png'}")


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.markdown:
        print(report.markdown(json.loads((args.out / "bench.json").read_text())))
        return
    chosen = chosen_series(parser, args.series)
    runtimes = [e for e in RUNTIMES if f"dbt_{e}" in chosen]
    started = time.perf_counter()
    results, profiles = rescores(args, chosen)
    results += arrivals(args, runtimes)
    startup = dbt_startup(min([*sizes(args.sizes), *sizes(args.large)]), args.repeats) if runtimes else None
    crashes, probes = [], []
    if "recipe_2017" in chosen:
        records, crashes, probes = recipe(sizes(args.sizes), args.repeats, args.bisect, args.model_dir)
        results += records
    records, extra = kept(args.keep, chosen)
    results += records
    write_results(
        args.out,
        {
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "minutes": round((time.perf_counter() - started) / 60, 1),
            "repeats": args.repeats,
            "large_repeats": args.large_repeats,
            "results": results,
            "dbt_startup": startup,
            "profiles": profiles,
            "recipe_2017_crashes": crashes,
            "recipe_2017_bisect": [{"rows": p["rows"], "survived": not p["crash"]} for p in probes],
            **extra,
        },
    )


if __name__ == "__main__":
    main()
