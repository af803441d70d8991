"""A model's reference input distribution: per feature, the bins feature drift is measured on.

Training writes it into metadata.json as `reference_features` (from the rows the model was
trained on), `python -m warehouse register` stores it with the model and refuses a malformed
one (`problem`), and the monitoring model fraud_feature_bins counts each day's values in the
same bins (`bin_of`, in the database function feature_bin_counts: `stack_counts`), so
fraud_feature_drift's PSI compares like with like.

Per feature: the reference's deciles as edges (values of the reference, float32 like the
packed features the scorer reads, so a comparison in float32 is exact), equal edges merged
(a feature with a value holding more than a tenth of the rows gets fewer bins), and the
reference's count in each bin. A value's bin is the number of edges below it: bin i holds
(edges[i - 1], edges[i]]. Non-finite values are not counted (fraud_quarantine lists their
rows). Small on purpose: 28 features take about 6 kB of the registry row's metadata.
"""

from __future__ import annotations

import math

import numpy as np

FEATURE_BINS = 10


def bin_of(values, edges) -> np.ndarray:
    """Each value's bin (int64): how many edges lie strictly below it, compared in float32."""
    return np.searchsorted(np.asarray(edges, dtype=np.float32), np.asarray(values, dtype=np.float32), side="left")


def stack_counts(stack: bytes, ids: bytes, days: bytes, reference: dict) -> list[tuple[int, str, int, int]]:
    """(day, feature, bin, values) of one packed stack against a reference, for the bins holding any.

    stack: per row an int8 id, then the features as big-endian float4 in the model's input order
    (the stack contract); ids, days: int8 ids ascending and the int4 day of each (the rows of the
    stack's id range). A row whose id is not among them has no day and is not counted."""
    entries = reference["features"]
    layout = np.dtype([("id", ">i8"), ("x", ">f4", (len(entries),))])
    if len(stack) % layout.itemsize:
        raise ValueError(f"a stack of {len(stack)} bytes does not hold rows of {len(entries)} features")
    rows = np.frombuffer(stack, dtype=layout)
    known_ids = np.frombuffer(ids, dtype=">i8")
    known_days = np.frombuffer(days, dtype=">i4")
    if len(known_ids) != len(known_days):
        raise ValueError(f"{len(known_ids)} ids and {len(known_days)} days")
    at = np.searchsorted(known_ids, rows["id"]).clip(0, max(len(known_ids) - 1, 0))
    known = known_ids[at] == rows["id"] if len(known_ids) else np.zeros(len(rows), dtype=bool)
    X = rows["x"][known].astype(np.float32)
    day_values, day_index = np.unique(known_days[at[known]], return_inverse=True)
    out = []
    for j, entry in enumerate(entries):
        column = X[:, j]
        finite = np.isfinite(column)
        n_bins = len(entry["edges"]) + 1
        keys = day_index[finite] * n_bins + bin_of(column[finite], entry["edges"])
        counts = np.bincount(keys, minlength=len(day_values) * n_bins)
        for key in np.flatnonzero(counts).tolist():
            out.append((int(day_values[key // n_bins]), entry["name"], key % n_bins, int(counts[key])))
    return out


def feature_reference(X, features, source: str, bins: int = FEATURE_BINS) -> dict:
    """The reference of each column of X (rows x features, in the model's input order)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise ValueError(f"X must have one column per feature ({len(features)}), got shape {X.shape}")
    out = []
    for name, column in zip(features, X.T, strict=True):
        values = np.sort(column[np.isfinite(column)])
        if len(values) == 0:
            raise ValueError(f"a feature reference needs a finite value of {name}")
        # decile k: the value at rank ceil(k n / bins) (a value of the reference), the last one excluded
        ranks = [math.ceil(k * len(values) / bins) - 1 for k in range(1, bins)]
        edges = [float(e) for e in np.unique(values[ranks]) if e < values[-1]]
        counts = np.bincount(bin_of(values, edges), minlength=len(edges) + 1)
        # float32 values written by their shortest repr: read back as float32, each is the same value
        out.append({"name": name, "edges": [float(str(np.float32(e))) for e in edges], "counts": counts.tolist()})
    return {"source": source, "rows": int(X.shape[0]), "features": out}


def psi_of_counts(reference_counts, actual_counts, epsilon: float = 1e-4) -> float:
    """PSI of a day's counts against the reference's, the score drift's convention
    (fraud_scoring.score_bins.psi: shares floored at epsilon)."""
    from fraud_scoring.score_bins import psi

    reference = np.asarray(reference_counts, dtype=np.float64)
    return psi(reference / reference.sum(), actual_counts, epsilon)


def problem(ref, features) -> str | None:
    """What is wrong with a feature reference (feature_reference's output) for a model with these
    features, or None. fraud_feature_bins and fraud_feature_drift read it: one entry per feature,
    in the model's order; finite rising edges; one count per bin, summing to at most rows."""
    entries = ref.get("features") if isinstance(ref, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return "must hold features, a list of {name, edges, counts}"
    names = [e.get("name") for e in entries]
    if names != list(features):
        return f"features must name the model's features in its order ({len(features)}), got {names[:3]}..."
    rows = ref.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        return "rows must be a positive integer"
    for entry in entries:
        edges, counts, name = entry.get("edges"), entry.get("counts"), entry["name"]
        numbers = isinstance(edges, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in edges)
        if not numbers:
            return f"{name}: edges must be a list of numbers"
        if not all(math.isfinite(x) for x in edges) or edges != sorted(set(edges)) or len(edges) > 99:
            return f"{name}: edges must be at most 99 finite rising numbers"
        if not isinstance(counts, list) or len(counts) != len(edges) + 1:
            return f"{name}: counts must hold one count per bin ({len(edges) + 1})"
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            return f"{name}: counts must be non-negative integers"
        if not 0 < sum(counts) <= rows:
            return f"{name}: counts must sum to between 1 and rows ({rows})"
    return None
