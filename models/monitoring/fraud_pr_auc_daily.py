"""PR-AUC (average precision) of each model version, per day of the data, incrementally.

A Python model (docs/python-models.md): sorting each (version, day) by score and taking
cumulative sums of the labels is what pandas does well. Incremental: a run recomputes
only the (version, day) groups holding a score newer than the last run's, and dbt's
delete+insert replaces those rows (unique key: model_version, transaction_day).
fraud_model_metrics computes the same figure in SQL with windows; a test checks they agree.
"""

import pandas as pd


def average_precision(rows: pd.DataFrame, keys: list) -> pd.DataFrame:
    """Per group: the mean, over its frauds, of the precision among the rows scored at least
    as high (ties count together, as SQL's window over `order by fraud_probability desc` does)."""
    rows = rows.sort_values(keys + ["fraud_probability"], ascending=[True] * len(keys) + [False], kind="stable")
    group = rows.groupby(keys, sort=False)
    frauds_so_far = group["is_labeled_fraud"].cumsum()
    rows_so_far = group.cumcount() + 1
    at_tie_end = pd.DataFrame({"tp": frauds_so_far, "n": rows_so_far})
    at_tie_end = at_tie_end.groupby([rows[k] for k in keys + ["fraud_probability"]], sort=False).transform("max")
    rows["precision"] = at_tie_end["tp"] / at_tie_end["n"]
    frauds = rows[rows["is_labeled_fraud"]]
    out = rows.groupby(keys, sort=True).agg(
        labeled_rows=("is_labeled_fraud", "size"), labeled_frauds=("is_labeled_fraud", "sum")
    )
    out["pr_auc"] = frauds.groupby(keys)["precision"].mean()
    return out.reset_index()


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["model_version", "transaction_day"])
    scores = dbt.ref("fraud_scores", columns=["transaction_id", "model_version", "fraud_probability", "scored_at"])
    labels = dbt.ref("stg_raw__credit_card", columns=["transaction_id", "seconds_since_start", "is_labeled_fraud"])
    labels = labels[labels["is_labeled_fraud"].notna()]
    labels = labels.assign(
        transaction_day=(labels["seconds_since_start"] // 86_400).astype("int32"),
        is_labeled_fraud=labels["is_labeled_fraud"].astype(bool),
    )
    rows = scores.merge(labels[["transaction_id", "transaction_day", "is_labeled_fraud"]], on="transaction_id")
    keys = ["model_version", "transaction_day"]
    if dbt.is_incremental:
        last = session.sql(f"select max(scores_as_of) as last from {dbt.this}")["last"].iloc[0]
        if not pd.isna(last):
            changed = rows.loc[rows["scored_at"] > last, keys].drop_duplicates()
            rows = rows.merge(changed, on=keys)
    out = average_precision(rows[keys + ["fraud_probability", "is_labeled_fraud"]], keys)
    # the newest score this run read: the next run recomputes the groups with newer ones
    out["scores_as_of"] = pd.Series(rows["scored_at"].max(), index=out.index, dtype="datetime64[us, UTC]")
    return out
