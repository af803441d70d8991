"""Write everything the scorer needs beside the model: .h5, metadata, plots, model card."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import numpy as np

from fraud_scoring.kaggle import features
from fraud_scoring.model_format import METADATA_FILE, MODEL_FILE, load_metadata, sha256_file
from fraud_scoring.score_bins import reference
from training.evaluate import METRIC_NAMES, tradeoff_curve
from training.plots import plot_loss, plot_pr, plot_tradeoff
from training.train import CVResult, TrainResult

# the model directory's format is fraud_scoring.model_format (the warehouse reads it there)
__all__ = ["METADATA_FILE", "MODEL_FILE", "load_metadata", "sha256_file", "save", "model_card"]
LOSS_PLOT = "loss.png"
PR_PLOT = "precision_recall.png"
MODEL_CARD = "MODEL_CARD.md"
TRADEOFF_CSV = "tradeoff.csv"
TRADEOFF_PLOT = "tradeoff.png"
MODEL_NAME = "fraud-mlp"


def library_versions() -> dict:
    import h5py
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "h5py": h5py.__version__, "numpy": np.__version__}


def save(
    result: TrainResult | CVResult, data_description: dict, out_dir: Path | str, elapsed_s: float | None = None
) -> dict:
    if isinstance(result, CVResult):
        result = TrainResult.from_cv(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / MODEL_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 warns that .h5 is its legacy format: we want it.
        # No optimizer state: scoring never needs it, and its variable names are
        # numbered per process (rm_sprop_1...), which made the same weights a new version.
        result.model.save(model_path, include_optimizer=False)
    sha = sha256_file(model_path)
    cfg = result.config
    metadata = {
        "model_name": MODEL_NAME,
        # Content-addressed: the same weights always get the same version.
        "model_version": f"{MODEL_NAME}-{sha[:12]}",
        "sha256": sha,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": list(features()),
        "n_features": len(features()),
        "threshold": result.threshold,
        "threshold_rule": cfg.threshold_rule,
        "scaler": result.scaler.as_dict(),
        "training_data": data_description,
        "config": cfg.as_dict(),
        "split": result.split_info,
        # Metrics at the shipped threshold on the rows that chose it (validation rows or the best fold).
        "validation_metrics": result.validation,
        # Every headline figure: the later rows no model, selection or threshold saw.
        "holdout_metrics": result.holdout,
        "training_seconds": round(elapsed_s, 1) if elapsed_s is not None else None,
        "fit_seconds": round(result.seconds, 1),
        "libraries": library_versions(),
    }
    # what score drift is measured against once deployed (registered with the model; docs/monitoring.md)
    # (k-fold: the best fold's validation rows, drawn from the training period and unseen by its model)
    if result.reference_prob is not None:
        metadata["reference_scores"] = reference(result.reference_prob, result.reference_source)
    elif result.cv is not None:
        metadata["reference_scores"] = reference(result.cv.best_fold.val_prob, "validation rows of the best fold")
    # what feature drift is measured against (fraud_scoring.feature_bins; docs/monitoring.md)
    if result.reference_features is not None:
        metadata["reference_features"] = result.reference_features
    if result.cv is not None:
        metadata["metrics"] = result.cv.summary()
        metadata["best_fold_metrics"] = result.cv.best_fold.metrics
    else:
        metadata["metrics"] = {"validation": result.validation, "holdout": result.holdout}
        metadata["history"] = result.history
    curve = []
    if result.holdout is not None:
        curve = tradeoff_curve(result.holdout_y, result.holdout_prob)
        _write_curve(curve, out / TRADEOFF_CSV)
        metadata["tradeoff"] = _curve_summary(curve, result.holdout)
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    plot_loss(result, out / LOSS_PLOT)
    plot_pr(result, out / PR_PLOT)
    if result.holdout is not None:
        plot_tradeoff(result, curve, out / TRADEOFF_PLOT)
    (out / MODEL_CARD).write_text(model_card(metadata))
    return metadata


RECALL_POINTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def _write_curve(curve: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("threshold,flagged,tp,fp,precision,recall\n")
        for p in curve:
            f.write(f"{p['threshold']:.6g},{p['flagged']},{p['tp']},{p['fp']},{p['precision']:.4f},{p['recall']:.4f}\n")


def _curve_summary(curve: list[dict], holdout: dict) -> list[dict]:
    """For a few recall levels on the holdout: the highest threshold reaching it, and what it flags."""
    rows = holdout["rows"]
    points = []
    for target in RECALL_POINTS:
        hit = next((p for p in curve if p["recall"] >= target - 1e-12), None)
        if hit is not None:
            points.append({"recall_at_least": target, **hit, "flagged_per_10k": round(1e4 * hit["flagged"] / rows, 1)})
    return points


def _metrics_row(label: str, m: dict) -> str:
    return (
        f"| {label} | {m['rows']:,} | {m['tp'] + m['fn']:,} | {m['tp'] + m['fp']:,} | {m['precision']:.3f} "
        f"| {m['recall']:.3f} | {m['f1']:.3f} | {m['roc_auc']:.4f} | {m['pr_auc']:.3f} |"
    )


def model_card(m: dict) -> str:
    cfg, data = m["config"], m["training_data"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    resampling = (
        "class weights (frauds weighed n / (2 x frauds))"
        if cfg["class_weight"] == "balanced"
        else f"SMOTE mode `{cfg['smote']}`"
    )
    if cfg["protocol"] == "kfold":
        protocol = (
            f"the 2017 protocol: stratified {cfg['folds']}-fold cross-validation, {resampling}; "
            f"the best fold by recall (fold {m['metrics']['best_fold'] + 1}) is the model"
        )
    else:
        protocol = (
            f"one model trained on the earliest rows, {resampling}; early stopping on `{cfg['monitor']}` "
            "of the validation rows (the next ones in Time)"
        )
    split = m.get("split") or {}
    if m.get("holdout_metrics"):
        h = split["holdout"]
        evaluation = (
            f"the latest {100 * cfg['holdout']:.0f}% of rows by Time (Time >= {split['holdout_from_time']:,.0f}: "
            f"{h['rows']:,} rows, {h['frauds']} frauds), never used to train, select or threshold the model"
        )
    else:
        evaluation = "none: no holdout (`holdout` 0); the figures below are on validation folds only"
    table = [
        "| rows | count | frauds | flagged | precision | recall | F1 | ROC-AUC | PR-AUC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if m.get("holdout_metrics"):
        table.append(_metrics_row("**holdout (later rows)**", m["holdout_metrics"]))
    table.append(_metrics_row("validation (chose the threshold)", m["validation_metrics"]))
    card = f"""# Model card: {m["model_version"]}

- **Network**: Dense 256-128-64-32 (sigmoid), Dropout {cfg["dropout_rate"]}, Dense 1 (sigmoid); {cfg["optimizer"]},
  binary cross-entropy (the 2017 "Scoring at Scale with Keras and TensorFlow on Greenplum" model).
- **Inputs**: {m["n_features"]} features in this order: {", ".join(m["features"])}; standardised with the
  training rows' mean and scale (in `metadata.json`).
- **Output**: fraud probability; flagged when >= **{m["threshold"]:.6g}** ({m["threshold_rule"]}).
- **Training data**: {data["rows"]:,} rows, {data["frauds"]:,} frauds ({100 * data["fraud_rate"]:.3f}%),
  from `{data["source"]}`.
- **Protocol**: {protocol}; batch {cfg["batch_size"]}, up to {cfg["epochs"]} epochs, patience {cfg["patience"]},
  seed {cfg["seed"]}.
- **Evaluation**: {evaluation}.
- **sha256**: `{m["sha256"]}`; created {m["created_at"]}; {libs}.

## Metrics at the shipped threshold

{chr(10).join(table)}
"""
    if m.get("tradeoff"):
        rows = "\n".join(
            f"| {p['recall_at_least']:.1f} | {p['threshold']:.4g} | {p['precision']:.3f} | {p['recall']:.3f} "
            f"| {p['flagged']:,} | {p['flagged_per_10k']} |"
            for p in m["tradeoff"]
        )
        card += f"""
## Picking another threshold (holdout rows; full curve in `{TRADEOFF_CSV}`)

| recall at least | threshold | precision | recall | flagged | per 10,000 rows |
|---:|---:|---:|---:|---:|---:|
{rows}

These are measured on the holdout: a threshold picked from this table has no untouched figures of
its own any more. `dbt run --vars '{{fraud_threshold: 0.9}}'` scores with another threshold.

![trade-off]({TRADEOFF_PLOT})
"""
    if cfg["protocol"] == "kfold":
        folds = "\n".join(
            f"| {f['fold'] + 1} | {f['epochs_run']} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} "
            f"| {f['roc_auc']:.4f} | {f['pr_auc']:.3f} |"
            for f in m["metrics"]["folds"]
        )
        avg = m["metrics"]["average"]
        mean = " | ".join(f"{avg[k]:.4f}" if k == "roc_auc" else f"{avg[k]:.3f}" for k in METRIC_NAMES)
        card += f"""
## Validation folds (threshold {cfg["threshold"]}; the best fold was chosen on these, so they flatter it)

| fold | epochs | precision | recall | F1 | ROC-AUC | PR-AUC |
|---:|---:|---:|---:|---:|---:|---:|
{folds}
| **mean** | | {mean} |
"""
    card += "\n![loss](loss.png) ![precision-recall](precision_recall.png)\n"
    return card
