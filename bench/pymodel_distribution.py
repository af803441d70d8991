"""bench.python_models' Python model: the earlier fraud_score_distribution, which read every score.

The project's monitoring models read the aggregate fraud_score_bins since (docs/monitoring.md);
this one reads the scores and the labels themselves and aggregates them in pandas, which is what
the benchmark compares: a dbt Python model reading 2,000,000 rows in the database, against the
same code outside it (bench.pymodel_native imports distribution() from this file). The benchmark
runs it as model bench_score_distribution in a copy of the project.
"""

import numpy as np
import pandas as pd

BINS = 10  # histogram_01 .. histogram_10: rows with a probability in [(k-1)/10, k/10), 1.0 in the last
QUANTILES = {"p50_probability": 0.5, "p90_probability": 0.9, "p99_probability": 0.99}


def distribution(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """scores (transaction_id, model_version, fraud_probability) and labels (transaction_id,
    seconds_since_start) -> one row per (model_version, transaction_day)."""
    day = (labels["seconds_since_start"] // 86_400).astype("int32")
    days = pd.Series(day.to_numpy(), index=labels["transaction_id"].to_numpy(), name="transaction_day")
    rows = scores.join(days, on="transaction_id", how="inner")
    keys = ["model_version", "transaction_day"]
    grouped = rows.groupby(keys, sort=True)["fraud_probability"]
    out = grouped.agg(scored_rows="size", mean_probability="mean")
    for column, q in QUANTILES.items():
        out[column] = grouped.quantile(q)
    bins = np.minimum((rows["fraud_probability"].to_numpy() * BINS).astype("int64"), BINS - 1)
    histogram = pd.crosstab([rows[k] for k in keys], bins).reindex(columns=range(BINS), fill_value=0)
    for b in range(BINS):
        out["histogram_%02d" % (b + 1)] = histogram[b].to_numpy()
    return out.reset_index()


def model(dbt, session):
    dbt.config(materialized="table")
    scores = dbt.ref("fraud_scores", columns=["transaction_id", "model_version", "fraud_probability"])
    labels = dbt.ref("stg_raw__credit_card", columns=["transaction_id", "seconds_since_start"])
    return distribution(scores, labels)
