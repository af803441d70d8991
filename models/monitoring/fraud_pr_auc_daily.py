"""PR-AUC (average precision) of each model version, per day of the data, from the fine score bins.

A Python model (docs/python-models.md) reading fraud_score_bins, not the scores. Rows of one
fine bin count as tied: the average precision is the mean, over the frauds, of the precision
at the end of their bin (exactly what fraud_model_metrics computes when scores tie). Rows are
not all tied inside a bin, so the true figure may differ: pr_auc_error_bound is a bound on that
difference computed from the bins (docs/monitoring.md), and a test checks that the exact SQL
figure lies within it.

Incremental (unique key: model_version, transaction_day): every group is recomputed from the
bins (cheap), and only the groups whose figures changed are written; a group whose scores are
gone is written once more with no labeled rows.
"""

import numpy as np
import pandas as pd

KEYS = ["model_version", "transaction_day"]


def average_precision(bins: pd.DataFrame) -> pd.DataFrame:
    """Per (model_version, transaction_day) with labeled rows: labeled_rows, labeled_frauds, pr_auc
    (NaN without frauds), pr_auc_error_bound and scores_as_of."""
    units = ["probability_bin", "tenth"]  # ordered like the probabilities: a fine bin splits at a tenth
    tied = bins.groupby(KEYS + units, sort=True).agg(
        n=("labeled_rows", "sum"), k=("labeled_frauds", "sum"), scored_at=("scored_at", "max")
    )
    tied = tied[tied["n"] > 0].reset_index().sort_values(KEYS + units, ascending=[True, True, False, False])
    rows = []
    for (version, day), g in tied.groupby(KEYS, sort=True):
        n, k = g["n"].to_numpy(np.float64), g["k"].to_numpy(np.float64)
        rows_to, frauds_to = np.cumsum(n), np.cumsum(k)
        rows_before, frauds_before = rows_to - n, frauds_to - k
        frauds = frauds_to[-1]
        precision = frauds_to / rows_to  # at each bin's end: every fraud of the bin gets it
        # the j-th fraud of a bin, at position i inside it (j <= i <= n - k + j), has precision
        # (before + j) / (rows before + i): between these two, whatever the order inside the bin
        with np.errstate(invalid="ignore", divide="ignore"):
            highest = np.where(k > 0, frauds_to / (rows_before + k), 0.0)
            lowest = np.where(k > 0, (frauds_before + 1) / (rows_before + n - k + 1), 0.0)
        spread = np.maximum(highest - precision, precision - lowest)
        rows.append(
            {
                "model_version": version,
                "transaction_day": day,
                "labeled_rows": int(rows_to[-1]),
                "labeled_frauds": int(frauds),
                "pr_auc": float(np.sum(k * precision) / frauds) if frauds else np.nan,
                "pr_auc_error_bound": float(np.sum(k * spread) / frauds) if frauds else np.nan,
                "scores_as_of": g["scored_at"].max(),
            }
        )
    out = pd.DataFrame(rows, columns=KEYS + ["labeled_rows", "labeled_frauds", "pr_auc", "pr_auc_error_bound"])
    out["scores_as_of"] = pd.Series([r["scores_as_of"] for r in rows], dtype="datetime64[us, UTC]")
    return out.astype({"transaction_day": "int32", "labeled_rows": "int64", "labeled_frauds": "int64"})


def changed(now: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """The rows of `now` that differ from `held` (the table as it stands), and a row with no
    labeled rows for each held group that has none now."""
    both = now.merge(held, on=KEYS, how="outer", suffixes=("", "_held"), indicator=True)
    same = (
        (both["_merge"] == "both")
        & (both["labeled_rows"] == both["labeled_rows_held"])
        & (both["labeled_frauds"] == both["labeled_frauds_held"])
        & (both["scores_as_of"] == both["scores_as_of_held"])
    )
    gone = both["_merge"] == "right_only"
    gone_now = held[held["labeled_rows"] > 0].merge(both.loc[gone, KEYS], on=KEYS)
    gone_now = gone_now.assign(labeled_rows=0, labeled_frauds=0, pr_auc=np.nan, pr_auc_error_bound=np.nan)
    fresh = now.merge(both.loc[~same & ~gone, KEYS], on=KEYS)
    return pd.concat([fresh, gone_now[now.columns]], ignore_index=True).astype(now.dtypes.to_dict())


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["model_version", "transaction_day"])
    bins = dbt.ref(
        "fraud_score_bins",
        columns=[
            "model_version", "transaction_day", "probability_bin", "tenth", "labeled_rows", "labeled_frauds",
            "scored_at",
        ],
    )  # fmt: skip
    out = average_precision(bins)
    if dbt.is_incremental:
        held = session.sql(
            f"select model_version, transaction_day, labeled_rows, labeled_frauds, scores_as_of from {dbt.this}"
        )
        out = changed(out, held)
    return out
