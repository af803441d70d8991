"""Metrics at a threshold, on untouched (naturally imbalanced) data."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def classification_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float) -> dict:
    y_true = np.asarray(y_true).astype(int)
    pred = (np.asarray(prob) >= threshold).astype(int)
    tp = int(((pred == 1) & (y_true == 1)).sum())
    fp = int(((pred == 1) & (y_true == 0)).sum())
    fn = int(((pred == 0) & (y_true == 1)).sum())
    tn = int(((pred == 0) & (y_true == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both_classes = 0 < y_true.sum() < len(y_true)
    return {
        "threshold": threshold,
        "rows": int(len(y_true)),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": float(skm.roc_auc_score(y_true, prob)) if both_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y_true, prob)) if both_classes else float("nan"),
    }


def best_fold(fold_metrics: list[dict]) -> int:
    """Index of the fold with the highest recall; ties go to higher precision, then the earlier fold."""
    return max(range(len(fold_metrics)), key=lambda i: (fold_metrics[i]["recall"], fold_metrics[i]["precision"], -i))


METRIC_NAMES = ("precision", "recall", "f1", "roc_auc", "pr_auc")


def average(fold_metrics: list[dict]) -> dict:
    return {name: float(np.nanmean([m[name] for m in fold_metrics])) for name in METRIC_NAMES}


def choose_threshold(
    y_true: np.ndarray, prob: np.ndarray, *, recall: float | None = None, cost_ratio: float | None = None
) -> float:
    """The threshold a rule picks on the rows given (validation rows: never the training or holdout ones).

    recall: the highest precision among thresholds whose recall is at least `recall`
    (ties: the higher threshold). cost_ratio: the least cost_ratio * FN + FP.
    A row is flagged when its probability is >= the threshold.
    """
    y_true = np.asarray(y_true).astype(int)
    prob = np.asarray(prob, dtype=np.float64)
    if not 0 < y_true.sum() < len(y_true):
        raise ValueError("choosing a threshold needs validation rows of both classes")
    # Candidate thresholds: every distinct score; counts of flagged rows at each, highest first.
    order = np.argsort(-prob, kind="stable")
    scores, labels = prob[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # last row of each distinct score
    tp = np.cumsum(labels)[last]
    fp = (last + 1) - tp
    thresholds = scores[last]
    if recall is not None:
        rec = tp / y_true.sum()
        prec = tp / (tp + fp)
        ok = np.flatnonzero(rec >= recall - 1e-12)
        best = ok[np.argmax(prec[ok])]  # argmax keeps the first: the highest threshold among ties
    elif cost_ratio is not None:
        cost = cost_ratio * (y_true.sum() - tp) + fp
        best = int(np.argmin(cost))
    else:
        raise ValueError("choose_threshold needs recall= or cost_ratio=")
    return float(thresholds[best])


def tradeoff_curve(y_true: np.ndarray, prob: np.ndarray) -> list[dict]:
    """Precision, recall and rows flagged at each threshold where one more fraud is caught."""
    y_true = np.asarray(y_true).astype(int)
    prob = np.asarray(prob, dtype=np.float64)
    order = np.argsort(-prob, kind="stable")
    scores, labels = prob[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]
    tp = np.cumsum(labels)[last]
    flagged = last + 1
    keep = np.r_[True, np.diff(tp) > 0] & (tp > 0)
    frauds = max(int(y_true.sum()), 1)
    return [
        {
            "threshold": float(scores[i]),
            "flagged": int(f),
            "tp": int(t),
            "fp": int(f - t),
            "precision": float(t / f),
            "recall": float(t / frauds),
        }
        for i, f, t in zip(last[keep], flagged[keep], tp[keep], strict=True)
    ]
