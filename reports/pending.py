"""Sections on relations built on other branches: feature drift (fraud_feature_drift),
performance as labels land (fraud_label_performance), threshold bands
(fraud_band_recommendation). Each is one small function naming its relation, the columns its
figure draws and the columns its table lists; a relation without those columns still shows
in a table of every column it has, so a renamed column costs a figure, not the section.
Until the relation is built the section says so.

To adapt one: set its relation name below, and the column names its figure and table read.
"""

from __future__ import annotations

import re
from html import escape

from .database import Reader, not_built, psi_levels
from .figures import embed, new_figure
from .html import Section, missing_section, table

FEATURE_DRIFT = "fraud_feature_drift"  # per model_version, transaction_day, feature: psi, drift_status
LABEL_PERFORMANCE = "fraud_label_performance"  # per version, transaction day, as-of date: coverage, precision, ...
THRESHOLD_BANDS = "fraud_band_recommendation"  # per candidate (review, block) pair: reviews per day, expected cost
# the columns a table shows when the relation has them (else every column it has)
LABEL_COLUMNS = ["model_version", "transaction_day", "as_of_date", "scored_rows", "labeled_rows", "label_coverage",
                 "precision", "recall", "pr_auc", "amount_caught", "amount_missed"]  # fmt: skip
BAND_COLUMNS = ["model_version", "review_threshold", "block_threshold", "reviews_per_day", "review_capacity",
                "frauds_approved", "missed_fraud_amount", "legit_blocked", "expected_cost", "cost_rank",
                "is_recommended"]  # fmt: skip
FOLDED_ROWS = 20  # a longer table is folded (<details>)
BANDS_SHOWN = 10  # the cheapest options within capacity the table lists (the figure draws every option)


def relation_section(db: Reader, key: str, title: str, relation: str, figure=None, row_class=None,
                     columns: list[str] | None = None, shown=None) -> Section:  # fmt: skip
    """The generic section: not available while `relation` is not built, a note when it is
    empty, else figure(rows) (HTML, or a note when its columns are absent) above the table of
    shown(rows) (default: every row), with `columns` where the relation has them all."""
    if not db.exists(relation):
        return missing_section(key, title, not_built(relation))
    rows = db.table(relation, order_by="1, 2")
    if not rows:
        return missing_section(key, title, f"no data: {relation} is empty")
    drawn = figure(rows) if figure else ""
    columns = columns if columns and set(columns) <= set(rows[0]) else None
    listed_rows = shown(rows) if shown else rows
    listed = table(f"{key}-table", listed_rows, columns, row_class=row_class)
    if len(listed_rows) > FOLDED_ROWS:  # a long table folded under its figure (still in the page)
        listed = f"<details><summary>The numbers ({len(listed_rows):,} rows)</summary>{listed}</details>"
    return Section(key, title, drawn + listed)


def lines(rows: list[dict], x: str, y: str, by: str, title: str, levels: bool = False) -> str:
    """y against x, one line per value of `by`; a note when a column is missing (the table still shows)."""
    if not rows or not {x, y, by} <= set(rows[0]):
        return f'<p class="missing">no figure: it draws {escape(y)} by {escape(x)} per {escape(by)}</p>'
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure()
    if all(isinstance(r[x], int) for r in rows):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for group in sorted({str(r[by]) for r in rows}, key=natural):
        mine = sorted((r[x], r[y]) for r in rows if str(r[by]) == group and r[y] is not None)
        ax.plot([p[0] for p in mine], [float(p[1]) for p in mine], marker="o", label=group)
    if levels:
        warn, error = psi_levels()
        ax.axhline(warn, color="#e0a030", linestyle="--", label=f"warn {warn:g}")
        ax.axhline(error, color="#d03030", linestyle="--", label=f"error {error:g}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    if len({str(r[by]) for r in rows}) <= 12:
        ax.legend(fontsize=7, ncol=3)
    return embed(fig, title)


def natural(name) -> tuple:
    """V2 before V10: digits compared as numbers."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name)))


def latest(rows: list[dict], key: tuple[str, ...], order: str) -> list[dict]:
    """The row with the greatest `order` of each `key` (every row when `order` is not a column)."""
    if order not in rows[0]:
        return rows
    best: dict = {}
    for r in rows:
        k = tuple(r.get(c) for c in key)
        if k not in best or r[order] > best[k][order]:
            best[k] = r
    return list(best.values())


def _status_class(row: dict) -> str:
    return str(row.get("drift_status", "")).replace(" ", "-")


def _feature_figure(rows: list[dict]) -> str:
    """Per version, each feature's PSI on the latest day, the alarm levels across."""
    if not {"model_version", "transaction_day", "feature", "psi"} <= set(rows[0]):
        return lines(rows, "transaction_day", "psi", "feature", "PSI per feature and day", levels=True)
    warn, error = psi_levels()
    out = []
    for version in sorted({r["model_version"] for r in rows}):
        day = max(r["transaction_day"] for r in rows if r["model_version"] == version)
        mine = sorted(((r["feature"], float(r["psi"] or 0)) for r in rows
                       if r["model_version"] == version and r["transaction_day"] == day),
                      key=lambda p: natural(p[0]))  # fmt: skip
        fig, ax = new_figure()
        colors = ["#d03030" if p >= error else "#e0a030" if p >= warn else "#5b8fd0" for _, p in mine]
        ax.bar([f for f, _ in mine], [p for _, p in mine], color=colors)
        ax.axhline(warn, color="#e0a030", linestyle="--", label=f"warn {warn:g}")
        ax.axhline(error, color="#d03030", linestyle="--", label=f"error {error:g}")
        ax.tick_params(axis="x", labelrotation=90, labelsize=8)
        ax.set_ylabel("PSI against the training rows")
        ax.set_title(f"{version}: feature PSI on day {day}")
        ax.legend(fontsize=8)
        out.append(embed(fig, f"feature PSI of {version} on day {day}"))
    return "".join(out)


def feature_drift(db: Reader) -> Section:
    return relation_section(
        db, "feature-drift", "Feature drift", FEATURE_DRIFT, _feature_figure, row_class=_status_class
    )


def landing(rows: list[dict], y: str, title: str) -> str:
    """y as labels land: one line per version and transaction day, against the days from that
    day to the as-of date (labels known by then), so days of different ages compare."""
    if not rows or not {"model_version", "transaction_day", "transaction_date", "as_of_date", y} <= set(rows[0]):
        return lines(rows, "transaction_day", y, "model_version", f"{y} per day on the labels known now")
    curves = [dict(r, days_after=(r["as_of_date"] - r["transaction_date"]).days,
                   series=f"{r['model_version']} day {r['transaction_day']}") for r in rows]  # fmt: skip
    return lines(curves, "days_after", y, "series", title)


def label_performance(db: Reader) -> Section:
    def figure(rows):
        return (
            landing(rows, "label_coverage", "label coverage as labels land (days after the transactions)")
            + landing(rows, "recall", "recall on the labels known, as they land")
            + landing(rows, "amount_caught", "fraud amount caught on the labels known, as they land")
        )

    return relation_section(
        db, "label-performance", "Performance as labels land", LABEL_PERFORMANCE, figure, columns=LABEL_COLUMNS
    )


def _bands_figure(rows: list[dict]) -> str:
    """Every option's expected cost against its reviews per day, the recommended one marked."""
    if not {"reviews_per_day", "expected_cost"} <= set(rows[0]):
        return '<p class="missing">no figure: it draws expected_cost against reviews_per_day</p>'
    fig, ax = new_figure()
    ax.scatter([float(r["reviews_per_day"]) for r in rows], [float(r["expected_cost"]) for r in rows],
               s=12, color="#8a9bb8", label="candidate bands")  # fmt: skip
    for r in rows:
        if r.get("is_recommended"):
            ax.scatter([float(r["reviews_per_day"])], [float(r["expected_cost"])], s=80, color="#d03030",
                       label=f"recommended: review ≥ {r.get('review_threshold', 0):.4g}")  # fmt: skip
    capacities = {r["review_capacity"] for r in rows if r.get("review_capacity") is not None}
    for capacity in capacities:
        ax.axvline(float(capacity), color="#e0a030", linestyle="--", label=f"review capacity {float(capacity):g}")
    # options run from a few reviews a day to every transaction: on a linear axis the
    # capacity's neighbourhood, where the choice is made, is a sliver
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_yscale("log")
    ax.set_xlabel("reviews per day (log)")
    ax.set_ylabel("expected cost (log)")
    ax.legend(fontsize=8)
    return embed(fig, "expected cost against reviews per day of each candidate band")


def _bands_shown(rows: list[dict]) -> list[dict]:
    if "cost_rank" not in rows[0]:
        return rows
    return [r for r in rows if r.get("is_recommended") or (r["cost_rank"] or BANDS_SHOWN + 1) <= BANDS_SHOWN]


def threshold_bands(db: Reader) -> Section:
    return relation_section(
        db, "threshold-bands", "Threshold bands and review load", THRESHOLD_BANDS, _bands_figure,
        columns=BAND_COLUMNS, shown=_bands_shown,
    )  # fmt: skip
