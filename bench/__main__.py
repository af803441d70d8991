"""make bench: every series on the same rows, repeated; table, JSON and a PNG like the 2017 Figure 2.

python -m bench [--sizes 250000,500000,1000000,2000000] [--repeats 3] [--model-dir artifacts/demo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import recipe2017
from training.data import write_synthetic_csv
from training.db import connect, connection
from training.loading import load_csv

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
DBT = str(ROOT / ".venv" / "bin" / "dbt")
ALL_SERIES = (
    "native_2017",
    "native_well",
    "floor",
    "indb_numpy",
    "indb_numpy_1backend",
    "indb_keras",
    "recipe_2017",
)
SERIES_LABELS = {
    "native_2017": "native, as in 2017 (pandas CSV, predict batch 32, CSV)",
    "native_well": "native, done well (binary COPY, predict batch 8192, COPY back)",
    "indb_numpy": "in-database, this project (numpy engine)",
    "indb_numpy_1backend": "in-database, numpy engine, one backend (no parallel workers)",
    "indb_keras": "in-database, this project (keras engine)",
    "floor_keras": "floor: Keras predict on an in-memory array",
    "floor_numpy": "floor: NumPy forward pass on an in-memory array",
    "recipe_2017": "in-database, the 2017 recipe (GD lists, Keras in the backend)",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare(rows: int) -> tuple[Path, str]:
    """The CSV (for series 1) and the raw table (for the rest), the same rows in both."""
    csv = csv_for(rows)
    schema = f"bench_raw_{rows}"
    with connection() as conn:
        with conn.cursor() as cur:
            cur.execute("select count(*) from pg_tables where schemaname = %s and tablename = 'credit_card'", (schema,))
            present = cur.fetchone()[0]
        if present:
            with conn.cursor() as cur:
                cur.execute(f"select count(*) from {schema}.credit_card")
                present = cur.fetchone()[0] == rows
        if not present:
            log(f"loading {rows:,} rows into {schema}.credit_card")
            load_csv(conn, csv, f"{schema}.credit_card")
    return csv, schema


def csv_for(rows: int) -> Path:
    """The benchmark's CSV of that many rows (the same generator and seed: smaller files are prefixes)."""
    csv = ROOT / "data" / f"bench_{rows}.csv"
    if not csv.exists():
        write_synthetic_csv(csv, rows)
    return csv


def run_series(name: str, rows: int, model_dir: Path, csv: Path, table: str) -> dict:
    cmd = [sys.executable, "-m", "bench.series", name, "--rows", str(rows), "--model-dir", str(model_dir)]
    cmd += ["--csv", str(csv), "--table", table]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _anon_kb(pid: int) -> int:
    """Private resident memory (RssAnon) of a process and its children: shared buffers do not count."""
    total = 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


BENCH_TARGET = ROOT / "target" / "bench"


def _dbt(raw_schema: str, engine: str, *args: str, quiet_stdout: bool = False) -> None:
    """dbt on the bench's raw table, writing to schema bench_scores, quietly."""
    vars_ = json.dumps({"raw_schema": raw_schema, "fraud_engine": engine})
    subprocess.run(
        [DBT, *args, "--vars", vars_, "--target-path", str(BENCH_TARGET), "-q"],
        cwd=ROOT,
        env={**os.environ, "FRAUD_DBT_SCHEMA": "bench_scores"},
        check=True,
        stdout=subprocess.DEVNULL if quiet_stdout else None,
    )


def compiled_scoring_sql(raw_schema: str, engine: str) -> tuple[list[str], str]:
    """Compile fraud_scores as a full refresh: (pre-hooks, select)."""
    _dbt(raw_schema, engine, "run", "--select", "+int_credit_card__scoring_rows")
    _dbt(raw_schema, engine, "compile", "--select", "fraud_scores", "--full-refresh", quiet_stdout=True)
    manifest = json.loads((BENCH_TARGET / "manifest.json").read_text())
    node = next(n for n in manifest["nodes"].values() if n["name"] == "fraud_scores")
    sql = next((BENCH_TARGET / "compiled").rglob("fraud_scores.sql")).read_text()
    # the manifest keeps hooks unrendered; the templated one, the advisory lock on {{ this }},
    # only orders concurrent dbt runs
    return [h["sql"] for h in node["config"]["pre-hook"] if "{{" not in h["sql"]], sql


def in_database(rows: int, raw_schema: str, engine: str, compiled, one_backend: bool = False) -> dict:
    """The scoring statement in a fresh backend (model load included): data in the database to scores in
    a table in it, committed (as series 2 commits its COPY). one_backend: no parallel workers."""
    hooks, sql = compiled
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_backend_pid()")
            pid = cur.fetchone()[0]
            peak = [0]
            done = threading.Event()

            def watch():
                while not done.is_set():
                    peak[0] = max(peak[0], _anon_kb(pid))
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                cur.execute("drop table if exists bench_indb_scores")
                conn.commit()
                if one_backend:
                    cur.execute("set max_parallel_workers_per_gather = 0")
                started = time.perf_counter()
                for hook in hooks:
                    cur.execute(hook)
                cur.execute(f"create table bench_indb_scores as {sql}")
                scored = cur.rowcount
                conn.commit()
                seconds = time.perf_counter() - started
            finally:  # a failed statement must not leave the watcher running (it kept the bench alive)
                done.set()
                watcher.join()
            cur.execute("drop table bench_indb_scores")
            conn.commit()
    finally:
        conn.close()
    if scored != rows:
        raise RuntimeError(f"scored {scored} rows, expected {rows}")
    series = f"indb_{engine}" + ("_1backend" if one_backend else "")
    return {"series": series, "rows": rows, "seconds": seconds, "peak_rss_mb": round(peak[0] / 1024, 1)}


def dbt_wall(raw_schema: str, engine: str) -> float:
    """`dbt run --full-refresh` of fraud_scores, start to end: parse, hooks and scoring."""
    started = time.perf_counter()
    _dbt(raw_schema, engine, "run", "--select", "fraud_scores", "--full-refresh")
    return time.perf_counter() - started


def summarise(samples: list[dict]) -> dict:
    secs = [s["seconds"] for s in samples]
    return {
        "series": samples[0]["series"],
        "rows": samples[0]["rows"],
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "rows_per_s": samples[0]["rows"] / statistics.median(secs),
        "peak_rss_mb": None
        if any(s["peak_rss_mb"] is None for s in samples)
        else max(s["peak_rss_mb"] for s in samples),
        "samples_s": [round(s, 3) for s in secs],
    }


def plot(results: list[dict], path: Path, crashes: list[dict] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for series, label in SERIES_LABELS.items():
        points = sorted((r["rows"], r["median_s"]) for r in results if r["series"] == series)
        if points:
            ax.plot([p[0] / 1e6 for p in points], [p[1] for p in points], marker="o", label=label)
    for crash in crashes:
        ax.plot([crash["rows"] / 1e6], [0], marker="X", markersize=12, color="crimson", linestyle="none")
        ax.annotate(
            "2017 recipe: server crashed",
            (crash["rows"] / 1e6, 0),
            textcoords="offset points",
            xytext=(6, 8),
            color="crimson",
            fontsize="small",
        )
    ax.set(xlabel="rows (millions)", ylabel="seconds (median)", title="Scoring time against rows (cf. 2017 Figure 2)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown_table(report: dict) -> str:
    """The README's table: median (min-max) seconds per size and series, and peak MB at the largest size."""
    columns = ["native_2017", "native_well", "indb_numpy", "indb_numpy_1backend", "indb_keras"]
    columns += ["floor_numpy", "floor_keras", "recipe_2017"]
    by = {(r["rows"], r["series"]): r for r in report["results"]}
    crashed = {c["rows"] for c in report["recipe_2017_crashes"]}
    sizes = sorted({r["rows"] for r in report["results"]} | crashed)
    lines = ["| rows | " + " | ".join(columns) + " |", "|---:|" + "---:|" * len(columns)]
    for rows in sizes:
        cells = []
        for c in columns:
            r = by.get((rows, c))
            if r is None:
                cells.append("crashed the server" if c == "recipe_2017" and rows in crashed else "")
            elif c.startswith("floor"):
                cells.append(f"{r['median_s']:.2f}")
            else:
                cells.append(f"{r['median_s']:.2f} ({r['min_s']:.2f}–{r['max_s']:.2f})")
        lines.append(f"| {rows:,} | " + " | ".join(cells) + " |")
    largest = max(r["rows"] for r in report["results"])
    peaks = [by.get((largest, c), {}).get("peak_rss_mb") for c in columns]
    lines.append(f"| peak MB at {largest:,} | " + " | ".join("" if p is None else f"{p:,.0f}" for p in peaks) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="250000,500000,1000000,2000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "artifacts" / "demo")
    parser.add_argument("--series", default=",".join(ALL_SERIES), help=f"a subset of {','.join(ALL_SERIES)}")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for bench.json and figure2.png")
    parser.add_argument("--replot", action="store_true", help="only redraw figure2.png from --out's bench.json")
    parser.add_argument("--markdown", action="store_true", help="only print --out's bench.json as a README table")
    parser.add_argument(
        "--bisect", type=int, default=3, help="probes narrowing the largest size the 2017 recipe survives (0: none)"
    )
    args = parser.parse_args()
    if args.replot:
        report = json.loads((args.out / "bench.json").read_text())
        plot(report["results"], args.out / "figure2.png", report["recipe_2017_crashes"])
        return
    if args.markdown:
        print(markdown_table(json.loads((args.out / "bench.json").read_text())))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = args.series.split(",")
    if unknown := set(chosen) - set(ALL_SERIES):
        parser.error(f"unknown series {sorted(unknown)}; choose from {','.join(ALL_SERIES)}")
    results, dbt_seconds = [], {}
    for rows in sizes:
        csv, schema = prepare(rows)
        table = f"{schema}.credit_card"
        compiled = {engine: compiled_scoring_sql(schema, engine) for engine in ("numpy", "keras")}
        for series in [c for c in ALL_SERIES if c in chosen and c != "recipe_2017"]:
            samples = []
            for i in range(args.repeats):
                if series.startswith("indb_"):
                    engine = series.split("_")[1]
                    one_backend = series.endswith("_1backend")
                    samples.append(in_database(rows, schema, engine, compiled[engine], one_backend))
                else:
                    samples.append(run_series(series, rows, args.model_dir, csv, table))
                log(f"{rows:>9,} {series:<12} run {i + 1}: {samples[-1]['seconds']:.2f} s")
            if series == "floor":
                for engine in ("keras", "numpy"):
                    results.append(
                        summarise(
                            [{**s, "series": f"floor_{engine}", "seconds": s[f"{engine}_seconds"]} for s in samples]
                        )
                    )
            else:
                results.append(summarise(samples))
        for engine in ("numpy", "keras"):
            if f"indb_{engine}" in chosen:
                dbt_seconds[f"{rows}_{engine}"] = round(dbt_wall(schema, engine), 2)
    recipe = []
    if "recipe_2017" in chosen:
        recipe = recipe2017.run(sizes, args.repeats, csv_for, args.model_dir, log)
    for r in recipe:
        if r["samples_s"]:
            results.append(
                summarise(
                    [
                        {"series": "recipe_2017", "rows": r["rows"], "seconds": s, "peak_rss_mb": None}
                        for s in r["samples_s"]
                    ]
                )
            )
    crashes = [r for r in recipe if r["crash"]]
    probes = []
    survived_sizes = [r["rows"] for r in recipe if r["samples_s"] and not r["crash"]]
    if crashes and survived_sizes and args.bisect:
        probes = recipe2017.bisect(max(survived_sizes), crashes[0]["rows"], args.bisect, csv_for, args.model_dir, log)
        crashes += [p for p in probes if p["crash"]]
        largest = max([*survived_sizes, *(p["rows"] for p in probes if not p["crash"])])
        if largest not in survived_sizes:  # measure both sides of the 20x goal at that size
            for p in probes:
                if p["rows"] == largest:
                    results.append(
                        summarise(
                            [
                                {"series": "recipe_2017", "rows": largest, "seconds": s, "peak_rss_mb": None}
                                for s in p["samples_s"]
                            ]
                        )
                    )
            csv, schema = prepare(largest)
            numpy_sql = compiled_scoring_sql(schema, "numpy")
            samples = [in_database(largest, schema, "numpy", numpy_sql) for _ in range(args.repeats)]
            results.append(summarise(samples))
            log(f"{largest:>9,} indb_numpy   median {results[-1]['median_s']:.2f} s")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "repeats": args.repeats,
        "results": results,
        "dbt_run_wall_s": dbt_seconds,
        "recipe_2017_crashes": crashes,
        "recipe_2017_bisect": [
            {"rows": p["rows"], "survived": not p["crash"], "seconds": p["samples_s"][:1]} for p in probes
        ],
    }
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(results, out / "figure2.png", crashes)
    print(f"{'rows':>10} {'series':<20} {'median s':>9} {'min-max s':>13} {'rows/s':>10} {'peak MB':>8}")
    for r in results:
        print(
            f"{r['rows']:>10,} {r['series']:<20} {r['median_s']:>9.2f} {r['min_s']:>6.2f}-{r['max_s']:<6.2f} "
            f"{r['rows_per_s']:>10,.0f} {'n/a' if r['peak_rss_mb'] is None else round(r['peak_rss_mb']):>8}"
        )
    by = {(r["rows"], r["series"]): r["median_s"] for r in results}
    print("\nratios (median seconds)")
    needed = ("native_well", "indb_numpy", "indb_keras", "native_2017", "floor_numpy", "floor_keras")
    for rows in [n for n in sizes if all((n, k) in by for k in needed)]:
        well, numpy_s, keras_s = by[(rows, "native_well")], by[(rows, "indb_numpy")], by[(rows, "indb_keras")]
        print(
            f"{rows:>10,}: native-well / in-db numpy = {well / numpy_s:.2f}x; native-2017 / in-db numpy = "
            f"{by[(rows, 'native_2017')] / numpy_s:.2f}x; in-db numpy / numpy floor = "
            f"{numpy_s / by[(rows, 'floor_numpy')]:.2f}x; in-db keras / keras floor = "
            f"{keras_s / by[(rows, 'floor_keras')]:.2f}x"
        )
    for p in probes:
        print(f"2017 recipe bisection: {p['rows']:,} rows {'crashed' if p['crash'] else 'survived'}")
    for rows in [n for n in sizes if (n, "indb_numpy") in by and (n, "indb_numpy_1backend") in by]:
        one, par = by[(rows, "indb_numpy_1backend")], by[(rows, "indb_numpy")]
        print(f"{rows:>10,}: parallel workers allowed vs one backend (numpy) = {one / par:.2f}x")
    survived = [r["rows"] for r in results if r["series"] == "recipe_2017"]
    if survived:
        rows = max(survived)
        print(
            f"2017 recipe, largest size it survived ({rows:,}): recipe / in-db numpy = "
            f"{by[(rows, 'recipe_2017')] / by[(rows, 'indb_numpy')]:.1f}x"
        )
    for c in crashes:
        crash = c["crash"]
        print(f"2017 recipe at {c['rows']:,} rows crashed the server: {crash['error']}; log: {crash['server_log']}")
    print(f"\ndbt run --full-refresh wall seconds (parse + hooks + scoring): {dbt_seconds}")
    print(f"wrote {out / 'bench.json'} and {out / 'figure2.png'}")


if __name__ == "__main__":
    main()
