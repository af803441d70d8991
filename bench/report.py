"""The benchmark's numbers: summaries, the goals, text and markdown tables (docs/benchmarks.md), the figure."""

from __future__ import annotations

import statistics

from bench import breakdown
from fraud_scoring import RUNTIMES

# Every series a rescore records, in the tables' and the figure's order, with its label;
# `python -m bench --series` chooses among these names (the one list).
SERIES_LABELS = {
    "dbt_numpy": "`dbt run`, numpy runtime (whole process)",
    "dbt_keras": "`dbt run`, keras runtime (whole process)",
    "native_numpy": "native script, numpy (whole process)",
    "native_keras": "native script, Keras (whole process)",
    "statement_numpy": "the scoring statement, numpy",
    "statement_keras": "the scoring statement, keras",
    "floor_numpy": "floor: NumPy forward pass in memory",
    "floor_keras": "floor: Keras predict in memory",
    "native_2017": "native as in 2017 (pandas CSV, batch 32)",
    "recipe_2017": "the 2017 in-database recipe",
}


def summarise(scenario: str, series: str, rows: int, samples: list[dict]) -> dict:
    secs = [s["seconds"] for s in samples]
    peaks = [s.get("peak_rss_mb") for s in samples]
    record = {
        "scenario": scenario,
        "series": series,
        "rows": rows,
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "samples_s": [round(s, 3) for s in secs],
        "peak_rss_mb": None if any(p is None for p in peaks) else max(peaks),
    }
    phases = [s["phases"] for s in samples if "phases" in s]
    if phases:
        record["phases_median_s"] = {k: statistics.median(p[k] for p in phases) for k in phases[0] if k != "rows"}
    return record


def _by(result: dict) -> dict:
    return {(r["scenario"], r["series"], r["rows"], r.get("new_rows")): r for r in result["results"]}


def goals(result: dict) -> list[tuple[str, str, bool | None]]:
    """(goal, measured, met) for each goal the run has the numbers for."""
    by, out = _by(result), []

    def med(series, rows, scenario="rescore", new=None):
        r = by.get((scenario, series, rows, new))
        return r and r["median_s"]

    for runtime in RUNTIMES:
        for rows, want in ((2_000_000, 1.0), (8_000_000, 2.0)):
            dbt, nat = med(f"dbt_{runtime}", rows), med(f"native_{runtime}", rows)
            if dbt and nat:
                goal = f"rescore {rows:,}, {runtime}: `dbt run` at least {want}x the native script"
                out.append((goal, f"{nat / dbt:.2f}x ({dbt:.2f} s against {nat:.2f} s)", nat / dbt >= want))
        stmt, nat = med(f"statement_{runtime}", 2_000_000), med(f"native_{runtime}", 2_000_000)
        if stmt and nat:
            goal = f"rescore 2,000,000, {runtime}: the statement at least 2x the native script"
            out.append((goal, f"{nat / stmt:.2f}x ({stmt:.2f} s against {nat:.2f} s)", nat / stmt >= 2))
        for rows in sorted({r["rows"] for r in result["results"] if r["series"] == f"statement_{runtime}"}):
            stmt, floor = med(f"statement_{runtime}", rows), med(f"floor_{runtime}", rows)
            write = (by.get(("rescore", f"native_{runtime}", rows, None)) or {}).get("phases_median_s", {})
            if stmt and floor and "copy_in_s" in write:
                bound = floor + write["copy_in_s"]
                goal = f"rescore {rows:,}, {runtime}: the statement within 2x of forward pass + COPY of the scores"
                measured = f"{stmt / bound:.2f}x ({stmt:.2f} s against {floor:.2f} + {write['copy_in_s']:.2f} s)"
                out.append((goal, measured, stmt <= 2 * bound))
        startup = (result.get("dbt_startup") or {}).get("median_s")
        for rows in sorted({r["rows"] for r in result["results"] if r["scenario"] == "arrival"}):
            small, large = rows // 100, rows // 10
            dbt, nat = med(f"dbt_{runtime}", rows, "arrival", small), med(f"native_{runtime}", rows, "arrival", small)
            if dbt and nat and startup:
                goal = (
                    f"arrival of {small:,} on {rows:,}, {runtime}: `dbt run --select +fraud_scores` less dbt's"
                    " start-up, at most native"
                )
                measured = f"{dbt - startup:.2f} s ({dbt:.2f} - {startup:.2f}) against {nat:.2f} s"
                out.append((goal, measured, dbt - startup <= nat))
            dbt, nat = med(f"dbt_{runtime}", rows, "arrival", large), med(f"native_{runtime}", rows, "arrival", large)
            if dbt and nat:
                goal = f"arrival of {large:,} on {rows:,}, {runtime}: `dbt run --select +fraud_scores` at most native"
                out.append((goal, f"{dbt:.2f} s against {nat:.2f} s", dbt <= nat))
            noop = med(f"dbt_{runtime}", rows, "noop")
            if noop and startup:
                goal = f"no-op `dbt run` on {rows:,}, {runtime}: at most dbt's start-up + 0.5 s"
                out.append((goal, f"{noop:.2f} s against {startup:.2f} + 0.5 s", noop <= startup + 0.5))
    return out


def text(result: dict) -> str:
    lines = [f"{'scenario':<9} {'rows':>10} {'new':>9} {'series':<17} {'median s':>9} {'min-max s':>14} {'peak MB':>8}"]
    for r in result["results"]:
        peak = "" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:,.0f}"
        new = f"{r['new_rows']:,}" if r.get("new_rows") else ""
        lines.append(
            f"{r['scenario']:<9} {r['rows']:>10,} {new:>9} {r['series']:<17} {r['median_s']:>9.2f} "
            f"{r['min_s']:>6.2f}-{r['max_s']:<7.2f} {peak:>8}"
        )
    if result.get("dbt_startup"):
        lines.append(f"dbt start-up (dbt run of one view): {result['dbt_startup']['median_s']:.2f} s")
    for r in result["results"]:
        if r.get("breakdown"):
            new = f" +{r['new_rows']:,}" if r.get("new_rows") else ""
            what = f"{r['scenario']}{new} on {r['rows']:,}, {r['series']}"
            lines.append(f"\nwhere a `dbt run` goes ({what}; bench.breakdown)")
            lines.append(breakdown.table(r["breakdown"]))
    lines.append("\ngoals")
    for goal, measured, met in goals(result):
        lines.append(f"  [{'met' if met else 'MISSED'}] {goal}: {measured}")
    for key, nodes in result.get("profiles", {}).items():
        lines.append(f"\nwhere the statement's seconds go ({key}: EXPLAIN ANALYZE, each node's own ms)")
        lines += [f"  {n['node']:<52} {n['own_ms']:>10,.1f}" for n in nodes]
    for c in result.get("recipe_2017_crashes", []):
        lines.append(f"2017 recipe at {c['rows']:,} rows crashed the server: {c['crash']['error']}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """docs/benchmarks.md's tables: rescore seconds per size and series, arrivals, goals, and the profile."""
    by = _by(result)
    rescored = {r["series"] for r in result["results"] if r["scenario"] == "rescore"}
    columns = [s for s in SERIES_LABELS if s in rescored]
    crashed = {c["rows"] for c in result.get("recipe_2017_crashes", [])}
    sizes = sorted({r["rows"] for r in result["results"] if r["scenario"] == "rescore"} | crashed)
    out = ["| rows | " + " | ".join(f"`{c}`" for c in columns) + " |", "|---:|" + "---:|" * len(columns)]
    for rows in sizes:
        cells = []
        for c in columns:
            r = by.get(("rescore", c, rows, None))
            if r is None:
                cells.append("crashed the server" if c == "recipe_2017" and rows in crashed else "")
            elif len(r["samples_s"]) == 1:
                cells.append(f"{r['median_s']:.2f}")
            else:
                cells.append(f"{r['median_s']:.2f} ({r['min_s']:.2f}–{r['max_s']:.2f})")
        out.append(f"| {rows:,} | " + " | ".join(cells) + " |")
    if result.get("kept"):
        k = result["kept"]
        names = ", ".join(f"`{n}`" for n in k["series"])
        out += ["", f"{names}: kept from an earlier run of the benchmark (`{k['from']}`)."]
    arrivals = [r for r in result["results"] if r["scenario"] == "arrival"]
    if arrivals:
        out += ["", "| scored rows | new rows | series | median s (min–max) |", "|---:|---:|---|---:|"]
        for r in arrivals:
            out.append(
                f"| {r['rows']:,} | {r['new_rows']:,} | `{r['series']}` | "
                f"{r['median_s']:.2f} ({r['min_s']:.2f}–{r['max_s']:.2f}) |"
            )
    out += ["", "| goal | measured | |", "|---|---|---|"]
    out += [f"| {g} | {m} | {'met' if ok else '**missed**'} |" for g, m, ok in goals(result)]
    for key, nodes in result.get("profiles", {}).items():
        out += ["", f"`EXPLAIN ANALYZE` of the statement ({key}), each node's own ms:", ""]
        out += ["| node | ms |", "|---|---:|"]
        out += [f"| {n['node'].strip()} | {n['own_ms']:,.1f} |" for n in nodes]
    return "\n".join(out)


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for series, label in SERIES_LABELS.items():
        rescore = [r for r in result["results"] if r["scenario"] == "rescore"]
        points = sorted((r["rows"], r["median_s"]) for r in rescore if r["series"] == series)
        if points:
            ax.plot([p[0] / 1e6 for p in points], [p[1] for p in points], marker="o", label=label)
    for crash in result.get("recipe_2017_crashes", []):
        ax.plot([crash["rows"] / 1e6], [0], marker="X", markersize=12, color="crimson", linestyle="none")
        ax.annotate("2017 recipe: server crashed", (crash["rows"] / 1e6, 0), textcoords="offset points",
                    xytext=(6, 8), color="crimson", fontsize="small")  # fmt: skip
    ax.set(xlabel="rows (millions)", ylabel="seconds (median)", title="Rescoring every transaction (cf. 2017 Figure 2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
