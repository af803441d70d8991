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
