"""Write everything the scorer needs beside the model: .h5, metadata, plots, model card."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from training import FEATURES
from training.train import CVResult

MODEL_FILE = "model.h5"
METADATA_FILE = "metadata.json"
LOSS_PLOT = "loss.png"
PR_PLOT = "precision_recall.png"
MODEL_CARD = "MODEL_CARD.md"
MODEL_NAME = "fraud-mlp"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict:
    import h5py
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "h5py": h5py.__version__, "numpy": np.__version__}


def save(result: CVResult, data_description: dict, out_dir: Path | str, elapsed_s: float | None = None) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best = result.best_fold
    model_path = out / MODEL_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 warns that .h5 is its legacy format: we want it.
        # No optimizer state: scoring never needs it, and its variable names are
        # numbered per process (rm_sprop_1...), which made the same weights a new version.
        best.model.save(model_path, include_optimizer=False)
    sha = sha256_file(model_path)
    metadata = {
        "model_name": MODEL_NAME,
        # Content-addressed: the same weights always get the same version.
        "model_version": f"{MODEL_NAME}-{sha[:12]}",
        "sha256": sha,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": list(FEATURES),
        "n_features": len(FEATURES),
        "threshold": result.config.threshold,
        "scaler": best.scaler.as_dict(),
        "training_data": data_description,
        "config": result.config.as_dict(),
        "metrics": result.summary(),
        "best_fold_metrics": best.metrics,
        "training_seconds": round(elapsed_s, 1) if elapsed_s is not None else None,
        "libraries": library_versions(),
    }
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    _plot_loss(result, out / LOSS_PLOT)
    _plot_pr(result, out / PR_PLOT)
    (out / MODEL_CARD).write_text(model_card(metadata))
    return metadata


def load_metadata(model_dir: Path | str) -> dict:
    return json.loads((Path(model_dir) / METADATA_FILE).read_text())


def _mean_curve(histories: list[list[float]]) -> np.ndarray:
    # Folds stop at different epochs (early stopping): average what each epoch has.
    longest = max(len(h) for h in histories)
    return np.array([np.mean([h[e] for h in histories if len(h) > e]) for e in range(longest)])


def _plot_loss(result: CVResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        curve = _mean_curve([f.history[key] for f in result.folds])
        ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", label=label)
    ax.set(xlabel="epoch", ylabel="binary cross-entropy", title=f"Loss, mean over {len(result.folds)} folds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_pr(result: CVResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(6, 4))
    for f in result.folds:
        precision, recall, _ = precision_recall_curve(f.val_y, f.val_prob)
        style = {"lw": 2.5} if f.index == result.best else {"lw": 1, "alpha": 0.5}
        ax.plot(recall, precision, label=f"fold {f.index + 1}" + (" (best)" if f.index == result.best else ""), **style)
    ax.set(
        xlabel="recall", ylabel="precision", title="Precision-recall on validation folds", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def model_card(m: dict) -> str:
    cfg, data, avg = m["config"], m["training_data"], m["metrics"]["average"]
    best = m["best_fold_metrics"]
    rows = "\n".join(
        f"| {f['fold'] + 1} | {f['epochs_run']} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} "
        f"| {f['roc_auc']:.4f} | {f['pr_auc']:.3f} |"
        for f in m["metrics"]["folds"]
    )
    mean_row = (
        f"| **mean** | | {avg['precision']:.3f} | {avg['recall']:.3f} | {avg['f1']:.3f} "
        f"| {avg['roc_auc']:.4f} | {avg['pr_auc']:.3f} |"
    )
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    return f"""# Model card: {m["model_version"]}

- **Network**: Dense 256-128-64-32 (sigmoid), Dropout {cfg["dropout_rate"]}, Dense 1 (sigmoid); RMSprop,
  binary cross-entropy (the 2017 "Scoring at Scale with Keras and TensorFlow on Greenplum" model).
- **Inputs**: {m["n_features"]} features in this order: {", ".join(m["features"])}; standardised with the
  training fold's mean and scale (in `metadata.json`).
- **Output**: fraud probability; flagged when >= {m["threshold"]}.
- **Training data**: {data["rows"]:,} rows, {data["frauds"]:,} frauds ({100 * data["fraud_rate"]:.3f}%),
  from `{data["source"]}`.
- **Protocol**: stratified {cfg["folds"]}-fold cross-validation, SMOTE mode `{cfg["smote"]}`, batch {cfg["batch_size"]},
  up to {cfg["epochs"]} epochs, early stopping patience {cfg["patience"]}, seed {cfg["seed"]};
  the best fold by recall (fold {m["metrics"]["best_fold"] + 1}) is the model.
- **sha256**: `{m["sha256"]}`; created {m["created_at"]}; {libs}.

## Validation metrics (untouched folds, threshold {m["threshold"]})

| fold | epochs | precision | recall | F1 | ROC-AUC | PR-AUC |
|---:|---:|---:|---:|---:|---:|---:|
{rows}
{mean_row}

Best fold: precision {best["precision"]:.3f}, recall {best["recall"]:.3f}.

![loss](loss.png) ![precision-recall](precision_recall.png)
"""
