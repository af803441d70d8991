"""Sections on relations other work is adding: feature drift, performance as labels land,
threshold bands. Each is one small function naming its relation and the columns its figure
draws; the table shows whatever columns the relation has, so a renamed or added column
shows up without a change here. Until the relation is built the section says so.

To adapt one: set its relation name below, and the column names its figure reads.
"""

from __future__ import annotations

from html import escape

from .database import Reader, not_built, psi_levels
from .figures import embed, new_figure
from .html import Section, missing_section, table

FEATURE_DRIFT = "fraud_feature_drift"  # per model_version, transaction_day, feature: psi, drift_status
LABEL_PERFORMANCE = "fraud_label_performance"  # per version, transaction day, as-of date: coverage, precision, ...
THRESHOLD_BANDS = "fraud_threshold_bands"  # recommended approve / review / block bands, reviews per day, cost


def relation_section(db: Reader, key: str, title: str, relation: str, figure=None, row_class=None) -> Section:
    """The generic section: not available while `relation` is not built, a note when it is
    empty, else figure(rows) (HTML, or "" when its columns are absent) above the table."""
    if not db.exists(relation):
        return missing_section(key, title, not_built(relation))
    rows = db.table(relation, order_by="1, 2")
    if not rows:
        return missing_section(key, title, f"no data: {relation} is empty")
    drawn = figure(rows) if figure else ""
    return Section(key, title, drawn + table(f"{key}-table", rows, row_class=row_class))


def lines(rows: list[dict], x: str, y: str, by: str, title: str, levels: bool = False) -> str:
    """y against x, one line per value of `by`; "" when a column is missing (the table still shows)."""
    if not rows or not {x, y, by} <= set(rows[0]):
        return f'<p class="missing">no figure: it draws {escape(y)} by {escape(x)} per {escape(by)}</p>'
    fig, ax = new_figure()
    for group in sorted({str(r[by]) for r in rows}):
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


def _status_class(row: dict) -> str:
    return str(row.get("drift_status", "")).replace(" ", "-")


def feature_drift(db: Reader) -> Section:
    return relation_section(
        db, "feature-drift", "Feature drift", FEATURE_DRIFT,
        lambda rows: lines(rows, "transaction_day", "psi", "feature", "PSI per feature and day", levels=True),
        row_class=_status_class,
    )  # fmt: skip


def label_performance(db: Reader) -> Section:
    def figure(rows):
        # the latest as-of date of each (version, day): what is known now
        if "as_of_date" in rows[0]:
            latest = {}
            for r in rows:
                k = (r.get("model_version"), r.get("transaction_day"))
                if k not in latest or r["as_of_date"] > latest[k]["as_of_date"]:
                    latest[k] = r
            rows = list(latest.values())
        return lines(rows, "transaction_day", "label_coverage", "model_version", "label coverage per day") + lines(
            rows, "transaction_day", "pr_auc", "model_version", "PR-AUC per day on the labels landed"
        )

    return relation_section(db, "label-performance", "Performance as labels land", LABEL_PERFORMANCE, figure)


def threshold_bands(db: Reader) -> Section:
    return relation_section(
        db, "threshold-bands", "Threshold bands and review load", THRESHOLD_BANDS,
        lambda rows: lines(rows, "transaction_day", "reviews_per_day", "model_version", "reviews per day"),
    )  # fmt: skip
