"""The fine score bins monitoring aggregates by, and a model's reference score distribution.

A probability is a float32 (both runtimes compute in float32; fraud_scores stores its exact
value as a float8). Its fine bin is log-scale towards both ends: below 0.5, the top 19 bits
of the float32 bit pattern of p (sign, exponent and 10 leading mantissa bits); from 0.5 on,
the same of 1 - p (exact in float32 there), counted down from 2 x HALF_BIN. A non-negative
float's bit pattern orders like its value, so bins are ordered like the probabilities, and
each is at most 1/1024 (0.1%) as wide as the distance from its values to the nearer of 0
and 1. Near 1 is where fraud is ranked: bins of p alone are 1/2048 wide there, which cost
PR-AUC 0.018 on the demo model (0.15 with 7 mantissa bits); these cost under 0.0001
(docs/monitoring.md). A quantile read from the bins is within min(q, 1 - q) / 1024 of the
true one.

Written twice on purpose: here (numpy, for training's reference and the tests) and in SQL
(macros/monitoring/fraud_probability_bin.sql, which the database computes the monitoring
aggregate with). A test compares the two on every stored score; the Python monitoring model
fraud_score_distribution imports bin_bounds from here.

The reference (written into metadata.json by training, stored with the model when it is
registered): the fine-bin counts of the scores of the rows the model was trained on, and
PSI_BINS bins of about equal reference share whose edges are fine-bin edges, so that a day's
share in each PSI bin is a sum of whole fine bins: exact, with no interpolation.
"""

from __future__ import annotations

import numpy as np

BIN_SHIFT = 13  # bits dropped from the float32 pattern: 23 mantissa bits - 13 = 10 kept
HALF_BIN = 0x3F000000 >> BIN_SHIFT  # the bin of 0.5 (129024)
PSI_BINS = 10
LAST_BIN = 2**31 - 1  # the upper edge of the last PSI bin: every fine bin above the ninth edge


def fine_bins(probability) -> np.ndarray:
    """Each probability's fine bin (int32), for probabilities in [0, 1]."""
    p = np.asarray(probability, dtype=np.float32)
    low = p < 0.5
    q = np.where(low, p, np.float32(1) - p).astype(np.float32)  # 1 - p: exact for p in [0.5, 1]
    bits = q.view(np.int32) >> BIN_SHIFT
    return np.where(low, bits, 2 * HALF_BIN - bits).astype(np.int32)


def bin_bounds(bins) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) probability of each fine bin, as float64: a bin's probabilities lie in [lower,
    upper) below 0.5, in (lower, upper] from 0.5 on."""
    bins = np.asarray(bins, dtype=np.int64)

    def value(b):
        return (b << BIN_SHIFT).astype(np.int32).view(np.float32).astype(np.float64)

    high = bins >= HALF_BIN
    mirrored = np.where(high, 2 * HALF_BIN - bins, bins)
    lower = np.where(high, np.maximum(1 - value(mirrored + 1), 0.5), value(mirrored))
    upper = np.where(high, 1 - value(mirrored), value(mirrored + 1))
    return lower, upper


def reference(probability, source: str) -> dict:
    """A model's reference score distribution from the probabilities of its reference rows.

    psi_bins: up to PSI_BINS bins, each {upper_bin, share}: a bin holds the fine bins above
    the previous one's upper_bin, up to its own (the last: every fine bin above). The edges
    are the reference's deciles, each moved up to the end of the fine bin holding it; equal
    edges (a fine bin holding more than a tenth of the rows) merge into one PSI bin.
    """
    bins = fine_bins(probability)
    if len(bins) == 0:
        raise ValueError("a reference needs at least one score")
    values, counts = np.unique(bins, return_counts=True)
    cumulative = np.cumsum(counts)
    edges = []
    for k in range(1, PSI_BINS):
        edge = int(values[np.searchsorted(cumulative, k * len(bins) / PSI_BINS)])
        if edge not in edges and edge != values[-1]:
            edges.append(edge)
    uppers = [*edges, LAST_BIN]
    below = np.searchsorted(values, uppers, side="right")  # fine bins up to each upper edge
    totals = np.diff(np.concatenate([[0], cumulative[below - 1]]))
    return {
        "source": source,
        "rows": len(bins),
        "bin_shift": BIN_SHIFT,
        "psi_bins": [
            {"upper_bin": u, "share": float(t) / len(bins)} for u, t in zip(uppers, totals.tolist(), strict=True)
        ],
        "fine_bins": [[int(v), int(c)] for v, c in zip(values, counts, strict=True)],
    }


def psi(reference_shares, actual_counts, epsilon: float = 1e-4) -> float:
    """Population stability index: sum (a - e) ln(a / e) over the bins, shares floored at epsilon
    (an empty bin counts as a share of 0.01%). The SQL of fraud_score_drift computes the same."""
    e = np.maximum(np.asarray(reference_shares, dtype=np.float64), epsilon)
    counts = np.asarray(actual_counts, dtype=np.float64)
    a = np.maximum(counts / counts.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))
