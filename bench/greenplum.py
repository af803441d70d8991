"""Segment scaling on real Greenplum / Cloudberry clusters: does each segment add speed?

    .venv/bin/python -m bench.greenplum --clusters 7100,7000 [--repeats 3] [--rows 2000000]

Each port is the coordinator of a cluster (FRAUD_GP_HOST, FRAUD_GP_USER and
FRAUD_GP_DATABASE for all of them) holding the same raw table (load it with
`python -m warehouse load`), the scoring functions installed and the same model
registered. Per cluster, repeated, alternating between clusters so both see the
same machine: `dbt run --full-refresh` (whole process; the stacking and the
scoring model times from its run_results.json), then `dbt run` with nothing new
(what every run pays whatever the rows: dbt, the coordinator, dispatch).
Scoring threads are one per segment on every cluster (var fraud_scoring_threads=1:
a 1-segment cluster gets one core's worth, as a segment of the larger one does).
Prints model and wall times (medians), the rows each segment scored, the
speedup against the first cluster, and a prediction for larger clusters from the
first two (1 and 2 segments, one core each): the stacking and the scoring model
times are each fitted as a + b / segments (a: what does not shrink with segments,
the coordinator's share and each segment's fixed start, such as loading the
model; b: the per-row work of the measured rows on one segment), the rest of the
`dbt run` process (dbt itself, the views) taken as constant:

    dbt run(rows, S) = rest + sum over stacking, scoring of a + (rows / measured rows) x b / S

and again with every model fitted that way (a model slower on more segments taken as not
shrinking, at its larger cluster's time), dbt's own start and end (the whole process less
every model) the one constant part.

Assumed: one core per segment as fast as these; rows spread evenly (they are:
see the spread column); the network between hosts carries the scored rows'
redistribution (about 60 bytes a row) without becoming the bottleneck.
Records the 1-minute load average as each run starts (the machine may be shared: a
segment that shares its core with another job scores slower, which the fit reads as
a part that does not shrink) and every model's time. Writes bench/results/greenplum.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from warehouse.connection import connection

ROOT = Path(__file__).resolve().parent.parent
DBT = str(ROOT / ".venv" / "bin" / "dbt")
RESULTS = ROOT / "bench" / "results" / "greenplum.json"


def environment(port: int) -> dict:
    return {
        **os.environ,
        "FRAUD_DBT_TARGET": "greenplum",
        "FRAUD_GP_PORT": str(port),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_run(port: int, *flags: str) -> dict:
    """One whole `dbt run` process: its wall seconds and the stacking and scoring models' own times."""
    target = ROOT / "target" / f"bench_gp{port}"
    load = os.getloadavg()[0]  # the machine is shared: what else was running when this run started
    started = time.perf_counter()
    subprocess.run(
        [DBT, "run", *flags, "--vars", json.dumps({"fraud_scoring_threads": 1}), "--target-path", str(target), "-q"],
        cwd=ROOT, env=environment(port), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - started
    times = {r["unique_id"].rsplit(".", 1)[1]: r["execution_time"] for r in json.loads(
        (target / "run_results.json").read_text())["results"]}  # fmt: skip
    return {
        "wall_s": wall,
        "stack_s": times["int_credit_card__scoring_stacks"],
        "score_s": times["fraud_scores"],
        "load_1m": load,
        "models_s": {name: round(seconds, 3) for name, seconds in times.items() if "." not in name},
    }


def cluster_facts(port: int) -> dict:
    env = environment(port)
    with connection(env) as conn, conn.cursor() as cur:
        cur.execute("select version()")
        version = cur.fetchone()[0]
        cur.execute("select count(*) from gp_segment_configuration where content >= 0 and role = 'p'")
        segments = cur.fetchone()[0]
        # the cores each segment may use (its CPU affinity: pinned segments report 1)
        cur.execute("select gp_segment_id, fraud.probe_packages() from gp_dist_random('gp_id') order by 1")
        cores = [json.loads(probe).get("cores") for _, probe in cur.fetchall()]
        cur.execute(
            "select gp_segment_id, sum(n_rows) from analytics.int_credit_card__scoring_stacks group by 1 order by 1"
        )
        rows = [int(n) for _, n in cur.fetchall()]
    return {
        "port": port,
        "version": version,
        "segments": segments,
        "cores_per_segment": cores,
        "rows_per_segment": rows,
    }


def median(samples: list[dict], key: str) -> float:
    return statistics.median(s[key] for s in samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", help="coordinator ports, the 1-segment cluster first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predict-rows", type=int, default=8_000_000)
    parser.add_argument("--predict-segments", type=int, default=24)
    parser.add_argument(
        "--markdown", action="store_true", help="only print greenplum.json as markdown (docs/greenplum.md)"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return 0
    if not args.clusters:
        parser.error("--clusters is required (or --markdown)")
    ports = [int(p) for p in args.clusters.split(",")]

    samples = {p: {"full": [], "noop": []} for p in ports}
    for _ in range(args.repeats):
        for port in ports:  # alternating: both clusters see the same machine
            samples[port]["full"].append(dbt_run(port, "--full-refresh"))
            samples[port]["noop"].append(dbt_run(port))
    clusters = []
    for port in ports:
        facts = cluster_facts(port)
        s = samples[port]
        facts.update(
            {
                "rows": sum(facts["rows_per_segment"]),
                "score_model_s": median(s["full"], "score_s"),
                "stack_model_s": median(s["full"], "stack_s"),
                "wall_s": median(s["full"], "wall_s"),
                "noop_wall_s": median(s["noop"], "wall_s"),
                "noop_model_s": median(s["noop"], "score_s"),
                "load_1m": median(s["full"] + s["noop"], "load_1m"),
                "models_s": {
                    name: statistics.median(x["models_s"][name] for x in s["full"]) for name in s["full"][0]["models_s"]
                },
                "samples": s,
            }
        )
        # the models besides stacking and scoring that took over a second (the rest of the run)
        facts["other_models_s"] = {
            name: seconds
            for name, seconds in facts["models_s"].items()
            if name not in ("int_credit_card__scoring_stacks", "fraud_scores") and seconds > 1.0
        }
        rows = facts["rows_per_segment"]
        facts["balance"] = (max(rows) - min(rows)) / max(rows) if rows and max(rows) else 0.0
        clusters.append(facts)

    base = clusters[0]
    for c in clusters:
        c["speedup_model"] = base["score_model_s"] / c["score_model_s"]
        c["speedup_stacking"] = base["stack_model_s"] / c["stack_model_s"]
        c["speedup_wall"] = base["wall_s"] / c["wall_s"]
    prediction = predict(clusters[:2], args.predict_rows, args.predict_segments) if len(clusters) > 1 else None
    result = {"clusters": clusters, "prediction": prediction, "cores": os.cpu_count(), "repeats": args.repeats}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, default=str))
    print(report(result))
    return 0


def fit_segments(one: float, two: float, s1: int, s2: int) -> dict:
    """a + b / segments through two measured times (see the module's doc)."""
    b = (one - two) / (1 / s1 - 1 / s2)
    a = one - b / s1
    if a < 0:  # faster than linear (one segment's hash table of every row spills): no fixed part,
        a, b = 0.0, two * s2  # and the larger cluster's per-row cost
    if b < 0:  # slower on more segments: taken as not shrinking at all, at the larger cluster's time
        a, b = two, 0.0
    return {"a": a, "b": b}


def predict(measured: list[dict], rows: int, segments: int) -> dict:
    """dbt run time for `rows` on `segments` segments, fitted on two measured clusters (see the module's doc)."""
    one, two = measured
    s1, s2 = one["segments"], two["segments"]
    fit = {part: fit_segments(one[part], two[part], s1, s2) for part in ("stack_model_s", "score_model_s")}
    scale = rows / one["rows"]
    parts = {part: f["a"] + scale * f["b"] / segments for part, f in fit.items()}
    # every model fitted the same way (their medians in the full refreshes); the rest of the
    # process, dbt's own start and end, taken as constant
    models = {}
    for name in one.get("models_s", {}):
        if name in two.get("models_s", {}):
            f = fit_segments(one["models_s"][name], two["models_s"][name], s1, s2)
            models[name] = {**f, "predicted_s": f["a"] + scale * f["b"] / segments}
    rest = statistics.mean(c["wall_s"] - c["stack_model_s"] - c["score_model_s"] for c in measured)
    result = {
        "rows": rows,
        "segments": segments,
        "fit": fit,
        "rest_s": rest,
        "rows_per_s_per_segment_scoring": one["rows"] / fit["score_model_s"]["b"],
        "stacking_s": parts["stack_model_s"],
        "scoring_s": parts["score_model_s"],
        "dbt_run_s": rest + sum(parts.values()),
    }
    if models:
        dbt_own = statistics.mean(c["wall_s"] - sum(c["models_s"].values()) for c in measured)
        result.update(
            {
                "models": models,
                "dbt_own_s": dbt_own,
                "dbt_run_by_model_s": dbt_own + sum(m["predicted_s"] for m in models.values()),
            }
        )
    return result


def report(result: dict) -> str:
    lines = [f"{result['cores']} cores, medians of {result['repeats']} runs (dbt run, whole process)"]
    lines.append(
        "segments | cores each | rows per segment | spread | stacking | scoring | dbt run --full-refresh"
        " | no-op dbt run | speedup: scoring, stacking, dbt run"
    )
    for c in result["clusters"]:
        per = " / ".join(f"{n:,}" for n in c["rows_per_segment"])
        cores = "/".join(map(str, c["cores_per_segment"]))
        lines.append(
            f"{c['segments']} | {cores} | {per} | {c['balance']:.1%}"
            f" | {c['stack_model_s']:.2f} s | {c['score_model_s']:.2f} s"
            f" | {c['wall_s']:.2f} s | {c['noop_wall_s']:.2f} s"
            f" | {c['speedup_model']:.2f}x, {c['speedup_stacking']:.2f}x, {c['speedup_wall']:.2f}x"
        )
    for c in result["clusters"]:
        if "load_1m" in c:
            others = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in c.get("other_models_s", {}).items())
            lines.append(f"{c['segments']} segments: load average {c['load_1m']:.2f} at the runs' starts (median);"
                         f" other models over 1 s: {others or 'none'}")  # fmt: skip
    p = result["prediction"]
    if p:
        score, stack = p["fit"]["score_model_s"], p["fit"]["stack_model_s"]
        lines.append(
            f"fit: scoring {score['a']:.2f} s + {score['b']:.2f} s / segments, stacking {stack['a']:.2f} s +"
            f" {stack['b']:.2f} s / segments, rest of dbt run {p['rest_s']:.2f} s;"
            f" one segment scores {p['rows_per_s_per_segment_scoring']:,.0f} rows/s"
        )
        lines.append(
            f"predicted dbt run --full-refresh, {p['rows']:,} rows on {p['segments']} segments: {p['dbt_run_s']:.1f} s"
            f" (stacking {p['stacking_s']:.1f} s, scoring {p['scoring_s']:.1f} s, rest {p['rest_s']:.1f} s)"
        )
        if "models" in p:
            largest = sorted(p["models"].items(), key=lambda item: -item[1]["predicted_s"])[:5]
            lines.append(
                f"predicted the same, every model fitted as a + b / segments: {p['dbt_run_by_model_s']:.1f} s"
                f" (dbt's own start and end {p['dbt_own_s']:.1f} s; largest: "
                + ", ".join(f"{n} {m['a']:.2f} + {m['b']:.2f} / S -> {m['predicted_s']:.1f} s" for n, m in largest)
                + ")"
            )
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The segment-scaling table of docs/greenplum.md, from greenplum.json."""
    out = [
        "| segments | cores each | rows per segment | stacking | scoring | `dbt run --full-refresh` | no-op `dbt run` "
        "| speedup: scoring, stacking, whole run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in result["clusters"]:
        out.append(
            f"| {c['segments']} | {' / '.join(map(str, c['cores_per_segment']))} "
            f"| {' / '.join(f'{n:,}' for n in c['rows_per_segment'])} | {c['stack_model_s']:.2f} s "
            f"| {c['score_model_s']:.2f} s | {c['wall_s']:.2f} s | {c['noop_wall_s']:.2f} s "
            f"| {c['speedup_model']:.2f}x, {c['speedup_stacking']:.2f}x, {c['speedup_wall']:.2f}x |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
