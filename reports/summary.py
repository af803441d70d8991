"""The monitoring lines `make demo` prints at its end: score drift per version and day, feature
drift, label coverage and the recommended bands, each "not available" while its relation is
not built."""

from __future__ import annotations

import os
from collections import Counter

from . import pending
from .database import Reader, not_built

LATEST_DAYS = 3  # days shown per version; the alarms are counted over every day


def _latest_days(keys) -> list[tuple]:
    """The (version, day) pairs of each version's latest LATEST_DAYS days, in order."""
    keys = sorted(keys)
    return [k for k in keys if sum(1 for o in keys if o[0] == k[0] and o[1] > k[1]) < LATEST_DAYS]


def _day(row: dict) -> str:
    psi = "" if row["psi"] is None else f" (PSI {row['psi']:.2g})"
    return f"day {row['transaction_day']} {row['drift_status']}{psi}"


def _score_drift(db: Reader) -> list[str]:
    if not db.exists("fraud_score_drift"):
        return [not_built("fraud_score_drift")]
    rows = db.rows(
        "select model_version, transaction_day, psi, drift_status from {schema}.fraud_score_drift order by 1, 2"
    )
    if not rows:
        return ["no scores yet"]
    out = []
    for version in sorted({r["model_version"] for r in rows}):
        days = [r for r in rows if r["model_version"] == version]
        alarms = Counter(r["drift_status"] for r in days if r["drift_status"] in ("warn", "error"))
        earlier = f" ({', '.join(f'{n} {s}' for s, n in sorted(alarms.items()))} of {len(days)} days)" if alarms else ""
        out.append(f"{version}{earlier}: " + ", ".join(_day(r) for r in days[-LATEST_DAYS:]))
    return out


def _feature_drift(db: Reader) -> list[str]:
    if not db.exists(pending.FEATURE_DRIFT):
        return [not_built(pending.FEATURE_DRIFT)]
    rows = db.table(pending.FEATURE_DRIFT)
    if not rows or not {"model_version", "transaction_day", "drift_status"} <= set(rows[0]):
        return [f"{len(rows)} rows in {pending.FEATURE_DRIFT}"]
    counts = Counter((r["model_version"], r["transaction_day"], r["drift_status"]) for r in rows)
    out = []
    for version, day in _latest_days({k[:2] for k in counts}):
        statuses = {s: n for (v, d, s), n in counts.items() if (v, d) == (version, day)}
        out.append(f"{version} day {day}: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    return out


def _label_coverage(db: Reader) -> list[str]:
    relation = pending.LABEL_PERFORMANCE
    if not db.exists(relation):
        return [not_built(relation)]
    rows = db.table(relation, order_by="1, 2")
    if not rows or not {"model_version", "transaction_day", "label_coverage"} <= set(rows[0]):
        return [f"{len(rows)} rows in {relation}"]
    latest = {}
    for r in rows:  # the latest as-of date of each (version, day), when there is one
        k = (r["model_version"], r["transaction_day"])
        if k not in latest or str(r.get("as_of_date", "")) >= str(latest[k].get("as_of_date", "")):
            latest[k] = r
    return [f"{v} day {d}: {float(latest[v, d]['label_coverage']):.1%} labeled" for v, d in _latest_days(latest)]


def _bands(db: Reader) -> list[str]:
    relation = pending.THRESHOLD_BANDS
    if not db.exists(relation):
        return [not_built(relation)]
    rows = db.table(relation, order_by="1, 2")
    if not rows:
        return [f"no data: {relation} is empty"]
    if "is_recommended" not in rows[0]:
        return [f"{len(rows)} rows in {relation}"]
    out = [_band(r) for r in rows if r["is_recommended"]]
    return out or ["no candidate band is within the review capacity"]


def _band(r: dict) -> str:
    def at(name):
        return "none" if r.get(name) is None else f">= {r[name]:.4g}"

    return (
        f"{r.get('model_version')}: review {at('review_threshold')}, block {at('block_threshold')}, "
        f"{r.get('reviews_per_day', 0):.1f} reviews/day (capacity {r.get('review_capacity')}), "
        f"expected cost {r.get('expected_cost', 0):,.0f}"
    )


LINES = [("score drift", _score_drift), ("feature drift", _feature_drift),
         ("label coverage", _label_coverage), ("recommended bands", _bands)]  # fmt: skip


def findings(db: Reader) -> list[tuple[str, str]]:
    """(what, finding): the report's "at a glance" list and the demo's summary."""
    return [(label, line) for label, read in LINES for line in read(db)]


def summary_lines(conn, schema: str) -> list[str]:
    """The summary, one line per finding, each labeled."""
    with conn:
        found = findings(Reader(conn, schema))
    return [
        f"{label if i == 0 or found[i - 1][0] != label else '':<18} {line}" for i, (label, line) in enumerate(found)
    ]


def demo_summary(conn, schema: str, out) -> None:
    """What `make demo` prints last: the monitoring lines, then the report written to `out`."""
    from .report import write

    print("monitoring (the report has the figures; docs/monitoring.md says how to act on each alarm)")
    for line in summary_lines(conn, schema):
        print(f"  {line}")
    write(conn, out, schema)
    print(f"  {'report':<18} {os.path.relpath(out)}")
