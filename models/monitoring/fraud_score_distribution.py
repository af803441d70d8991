"""How each model version's scores are distributed, per day of the data, from the fine score bins.

A Python model: it runs inside the database (PL/Python, docs/python-models.md); no row
leaves the server. It reads fraud_score_bins (a few hundred rows per version, stack and day),
not the scores: a run costs the same at 2M scores as at 2,000. Count, mean and the 0.1-wide
histogram are exact (the bins carry the sum of probabilities and split at the tenths);
quantiles are read inside the fine bin holding them, so each is within one fine bin of
percentile_cont's value: at most min(q, 1 - q) / 1024 away (docs/monitoring.md).
"""

import numpy as np
import pandas as pd

# the fine bins' bounds, as training and the tests compute them (the server imports the
# installed fraud_scoring package anyway: it scores with it)
from fraud_scoring.score_bins import bin_bounds

BINS = 10  # histogram_01 .. histogram_10: rows with a probability in [(k-1)/10, k/10), 1.0 in the last
QUANTILES = {"p50_probability": 0.5, "p90_probability": 0.9, "p99_probability": 0.99}


def quantile(bins: np.ndarray, counts: np.ndarray, q: float) -> float:
    """percentile_cont(q) of rows given as counts per fine bin (ascending): each order statistic
    is placed inside its bin, the k-th of a bin's c rows at (k + 0.5) / c of its width, and the
    two around q * (n - 1) are interpolated as percentile_cont does."""
    lower, upper = bin_bounds(bins)
    ends = np.cumsum(counts)
    h = q * (ends[-1] - 1)

    def order_statistic(k: int) -> float:
        i = int(np.searchsorted(ends, k, side="right"))
        within = k - (ends[i] - counts[i])
        return lower[i] + (upper[i] - lower[i]) * (within + 0.5) / counts[i]

    k = int(np.floor(h))
    low = order_statistic(k)
    return low if k + 1 >= ends[-1] else low + (h - k) * (order_statistic(k + 1) - low)


def distribution(bins: pd.DataFrame) -> pd.DataFrame:
    """fraud_score_bins rows -> one row per (model_version, transaction_day)."""
    keys = ["model_version", "transaction_day"]
    out = bins.groupby(keys, sort=True).agg(scored_rows=("scored_rows", "sum"), total=("sum_probability", "sum"))
    out["mean_probability"] = out.pop("total") / out["scored_rows"]
    per_bin = bins.groupby(keys + ["probability_bin"], sort=True)["scored_rows"].sum().reset_index()
    for column, q in QUANTILES.items():
        out[column] = [
            quantile(g["probability_bin"].to_numpy(), g["scored_rows"].to_numpy(), q) for _, g in per_bin.groupby(keys)
        ]
    histogram = bins.pivot_table(index=keys, columns="tenth", values="scored_rows", aggfunc="sum", fill_value=0)
    histogram = histogram.reindex(index=out.index, columns=range(BINS), fill_value=0)
    for b in range(BINS):
        out["histogram_%02d" % (b + 1)] = histogram[b].to_numpy().astype("int64")
    out["scored_rows"] = out["scored_rows"].astype("int64")
    return out.reset_index()


def model(dbt, session):
    dbt.config(materialized="table")
    bins = dbt.ref(
        "fraud_score_bins",
        columns=["model_version", "transaction_day", "probability_bin", "tenth", "scored_rows", "sum_probability"],
    )
    return distribution(bins)
