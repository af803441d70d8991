"""The sections on relations main builds: the deployed versions, each version's daily score
distribution against its reference, and PSI over time with the alarm levels."""

from __future__ import annotations

import json

import numpy as np

from fraud_scoring.score_bins import LAST_BIN, bin_bounds

from .database import Reader, not_built, psi_levels
from .figures import embed, new_figure
from .html import Section, missing_section, table

DAYS_DRAWN = 8  # the latest days drawn per version; the table holds every day


def _absent(db: Reader, *relations: str) -> list[str]:
    return [not_built(r) for r in relations if not db.exists(r)]


def deployments(db: Reader) -> Section:
    key, title = "deployments", "Deployed versions"
    if gaps := _absent(db, "fraud_deployments", "stg_fraud__models"):
        return missing_section(key, title, *gaps)
    rows = db.rows(
        # d.*: every column the deployments have (a block threshold, once bands are deployed)
        """select d.*, m.registered_at,
                  (m.reference_scores ->> 'rows')::bigint as reference_rows,
                  m.reference_scores ->> 'source' as reference_source
           from {schema}.fraud_deployments as d
           left join {schema}.stg_fraud__models as m on d.model_version = m.model_version
           order by d.role desc, d.model_version"""
    )
    if not rows:
        return missing_section(key, title, "no deployed version: promote one (dbt run-operation promote_fraud_model)")
    missing = [f"no reference: {r['model_version']} has no reference_scores" for r in rows if not r["reference_rows"]]
    return Section(key, title, table("deployments-table", rows), missing)


def psi_bin_edges(reference: dict) -> tuple[np.ndarray, np.ndarray]:
    """(upper fine bin, reference share) of each PSI bin of a stored reference."""
    bins = reference["psi_bins"]
    return np.array([b["upper_bin"] for b in bins], dtype=np.int64), np.array([b["share"] for b in bins])


def _edge_probability(upper_bins: np.ndarray) -> np.ndarray:
    """The highest probability in each PSI bin (1 for the last, which holds every fine bin above)."""
    upper = bin_bounds(np.minimum(upper_bins, 2**30))[1]
    return np.where(upper_bins == LAST_BIN, 1.0, np.clip(upper, 0, 1))


def distribution_rows(db: Reader) -> tuple[list[dict], list[str]]:
    """Per version with a reference, day and PSI bin: the reference's share and the day's, with
    the bin's probability range; and the versions whose scores have no reference."""
    references = {
        r["model_version"]: r["reference_scores"]
        for r in db.rows("select model_version, reference_scores from {schema}.stg_fraud__models")
    }
    counts = db.rows(
        """select model_version, transaction_day, probability_bin, sum(scored_rows)::bigint as scored_rows
           from {schema}.fraud_score_bins group by 1, 2, 3 order by 1, 2, 3"""
    )
    out, unreferenced = [], []
    for version in sorted({c["model_version"] for c in counts}):
        reference = references.get(version)
        if isinstance(reference, str):
            reference = json.loads(reference)
        if not reference:
            unreferenced.append(version)
            continue
        uppers, shares = psi_bin_edges(reference)
        tops = _edge_probability(uppers)
        mine = [c for c in counts if c["model_version"] == version]
        for day in sorted({c["transaction_day"] for c in mine}):
            day_bins = np.array([c["probability_bin"] for c in mine if c["transaction_day"] == day], dtype=np.int64)
            day_rows = np.array([c["scored_rows"] for c in mine if c["transaction_day"] == day], dtype=np.int64)
            per_bin = np.bincount(np.searchsorted(uppers, day_bins, side="left"), day_rows, len(uppers))
            for i, (top, share, n) in enumerate(zip(tops, shares, per_bin, strict=True)):
                out.append({
                    "model_version": version, "transaction_day": day, "psi_bin": i + 1,
                    "from_probability": float(tops[i - 1]) if i else 0.0, "to_probability": float(top),
                    "reference_share": float(share), "day_rows": int(n), "day_share": float(n / day_rows.sum()),
                })  # fmt: skip
    return out, unreferenced


def _distribution_figure(version: str, rows: list[dict]) -> str:
    fig, ax = new_figure()
    bins = sorted({r["psi_bin"] for r in rows})
    reference = [next(r["reference_share"] for r in rows if r["psi_bin"] == b) for b in bins]
    ax.bar(bins, reference, color="#c9d3e3", label="reference (training rows)")
    days = sorted({r["transaction_day"] for r in rows})[-DAYS_DRAWN:]
    for day in days:
        ax.plot(bins, [r["day_share"] for r in rows if r["transaction_day"] == day], marker="o", label=f"day {day}")
    tops = [next(r["to_probability"] for r in rows if r["psi_bin"] == b) for b in bins]
    ax.set_xticks(bins, [f"≤{t:.4g}" for t in tops], fontsize=8)
    ax.set_xlabel("PSI bin (highest probability in it)")
    ax.set_ylabel("share of the day's scores")
    ax.set_title(f"{version}: score distribution per day against its reference")
    ax.legend(fontsize=8, ncol=2)
    return embed(fig, f"score distribution of {version} per day against its reference")


def score_distribution(db: Reader) -> Section:
    key, title = "score-distribution", "Score distribution per day against the reference"
    if gaps := _absent(db, "fraud_score_bins", "stg_fraud__models"):
        return missing_section(key, title, *gaps)
    rows, unreferenced = distribution_rows(db)
    missing = [f"no reference: {v} has scores but no reference_scores to compare with" for v in unreferenced]
    if not rows and not unreferenced:
        return missing_section(key, title, "no scores: fraud_score_bins is empty (run dbt run)")
    body = []
    for version in sorted({r["model_version"] for r in rows}):
        body.append(_distribution_figure(version, [r for r in rows if r["model_version"] == version]))
    body.append("<details><summary>The figures' numbers (every day)</summary>")
    body.append(table("score-distribution-table", rows) + "</details>")
    if db.exists("fraud_score_distribution"):
        summary = db.rows(
            """select model_version, transaction_day, scored_rows, mean_probability, p50_probability,
                      p90_probability, p99_probability, histogram_10
               from {schema}.fraud_score_distribution order by 1, 2"""
        )
        body.append("<h3>Quantiles per day (fraud_score_distribution)</h3>" + table("quantiles-table", summary))
    else:
        missing.append(not_built("fraud_score_distribution"))
    return Section(key, title, "".join(body), missing)


def psi_over_time(db: Reader) -> Section:
    key, title = "psi", "Score drift: PSI over time"
    if gaps := _absent(db, "fraud_score_drift"):
        return missing_section(key, title, *gaps)
    rows = db.rows(
        """select model_version, transaction_day, scored_rows, psi_bins, psi, drift_status
           from {schema}.fraud_score_drift order by 1, 2"""
    )
    if not rows:
        return missing_section(key, title, "no scores: fraud_score_drift is empty (run dbt run)")
    from matplotlib.ticker import MaxNLocator

    warn, error = psi_levels()
    fig, ax = new_figure()
    for version in sorted({r["model_version"] for r in rows if r["psi"] is not None}):
        mine = [r for r in rows if r["model_version"] == version and r["psi"] is not None]
        ax.plot([r["transaction_day"] for r in mine], [r["psi"] for r in mine], marker="o", label=version)
    ax.axhline(warn, color="#e0a030", linestyle="--", label=f"warn {warn:g}")
    ax.axhline(error, color="#d03030", linestyle="--", label=f"error {error:g}")
    ax.set_yscale("symlog", linthresh=0.001)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("transaction day")
    ax.set_ylabel("PSI against the reference")
    ax.legend(fontsize=8)
    levels = f'<p data-psi-warn="{warn!r}" data-psi-error="{error!r}">Warn at PSI {warn:g}, error at {error:g}.</p>'
    missing = sorted({f"no reference: {r['model_version']}" for r in rows if r["drift_status"] == "no reference"})
    figure = embed(fig, "PSI per version and day") if any(r["psi"] is not None for r in rows) else ""
    body = figure + levels + table("psi-table", rows, row_class=lambda r: r["drift_status"].replace(" ", "-"))
    return Section(key, title, body, missing)
