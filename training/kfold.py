"""The 2017 protocol: stratified k-fold, SMOTE on the training part of each fold only
(or, for comparison, on every row first: the leak), best fold by recall."""

from __future__ import annotations

import sys
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold

from fraud_scoring.feature_bins import feature_reference
from fraud_scoring.kaggle import features
from training.config import TrainConfig
from training.evaluate import average, best_fold, classification_metrics
from training.split import Scaler, smote


@dataclass
class Fold:
    """One fold's data: the training part (maybe resampled) and the untouched validation part."""

    index: int
    train_X: np.ndarray
    train_y: np.ndarray
    val_X: np.ndarray
    val_y: np.ndarray
    val_rows: np.ndarray  # row numbers of the validation part in the original data
    scaler: Scaler
    original_train_rows: int


def make_folds(X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> list[Fold]:
    """Split, scale on the training part, and resample per cfg.smote.

    honest: SMOTE sees only the training part; the validation part is the original
    rows, scaled with the training scaler. leaky (the 2017 protocol): SMOTE runs on
    all rows first, so validation folds hold synthetic neighbours of training frauds.
    """
    if int(y.sum()) < cfg.folds:
        raise ValueError(f"{cfg.folds} stratified folds need at least {cfg.folds} frauds, found {int(y.sum())}")
    rows = np.arange(len(y))
    if cfg.smote == "leaky":
        scaler = Scaler.fit(X)
        X, y = smote(scaler.transform(X), y, cfg.seed)
        rows = np.arange(len(y))  # synthetic rows have no original row number
    splitter = StratifiedKFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
    folds = []
    for i, (tr, va) in enumerate(splitter.split(X, y)):
        if cfg.smote == "leaky":
            train_X, train_y, val_X = X[tr], y[tr], X[va]
        else:
            scaler = Scaler.fit(X[tr])
            train_X, train_y, val_X = scaler.transform(X[tr]), y[tr], scaler.transform(X[va])
            if cfg.smote == "honest":
                train_X, train_y = smote(train_X, train_y, cfg.seed + i)
        folds.append(Fold(i, train_X, np.asarray(train_y), val_X, y[va], rows[va], scaler, len(tr)))
    return folds


@dataclass
class FoldResult:
    index: int
    metrics: dict
    history: dict
    epochs_run: int
    seconds: float
    model: object = field(repr=False)
    scaler: Scaler = field(repr=False)
    val_prob: np.ndarray = field(repr=False)
    val_y: np.ndarray = field(repr=False)


@dataclass
class CVResult:
    config: TrainConfig
    folds: list[FoldResult]
    best: int
    # the input distribution feature drift is measured against: every row cross-validated
    # (the folds' training rows together; fraud_scoring.feature_bins)
    reference_features: dict | None = field(default=None, repr=False)

    @property
    def best_fold(self) -> FoldResult:
        return self.folds[self.best]

    def summary(self) -> dict:
        return {
            "best_fold": self.best,
            "average": average([f.metrics for f in self.folds]),
            "folds": [
                {"fold": f.index, "epochs_run": f.epochs_run, "seconds": round(f.seconds, 2), **f.metrics}
                for f in self.folds
            ],
        }


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cross_validate(X: np.ndarray, y: np.ndarray, cfg: TrainConfig, log: Callable[[str], None] = _log) -> CVResult:
    import keras

    from training.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    folds = make_folds(X, y, cfg)
    results = []
    for fold in folds:
        log(
            f"fold {fold.index + 1}/{cfg.folds}: training on {len(fold.train_y):,} rows "
            f"({int(fold.train_y.sum()):,} frauds, smote={cfg.smote}), validating on {len(fold.val_y):,} "
            f"({int(fold.val_y.sum())} frauds)"
        )
        keras.utils.set_random_seed(cfg.seed + fold.index)
        model = build_model(cfg)
        started = time_module.perf_counter()
        history = model.fit(
            fold.train_X,
            fold.train_y,
            batch_size=cfg.batch_size,
            epochs=cfg.epochs,
            validation_data=(fold.val_X, fold.val_y),
            callbacks=[
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
                _epoch_logger(log, fold.index, cfg.epochs),
            ],
            shuffle=True,
            verbose=0,
        )
        seconds = time_module.perf_counter() - started
        prob = model.predict(fold.val_X, batch_size=8192, verbose=0).reshape(-1)
        metrics = classification_metrics(fold.val_y, prob, cfg.threshold)
        log(
            f"fold {fold.index + 1}/{cfg.folds}: precision {metrics['precision']:.3f} recall {metrics['recall']:.3f} "
            f"f1 {metrics['f1']:.3f} roc_auc {metrics['roc_auc']:.4f} pr_auc {metrics['pr_auc']:.3f} ({seconds:.0f} s)"
        )
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        results.append(
            FoldResult(fold.index, metrics, hist, len(hist["loss"]), seconds, model, fold.scaler, prob, fold.val_y)
        )
    best = best_fold([r.metrics for r in results])
    log(f"best fold by recall: {best + 1}")
    reference = feature_reference(X, list(features()), f"rows cross-validated ({len(X):,})")
    return CVResult(cfg, results, best, reference)


def _epoch_logger(log, fold: int, epochs: int, monitor: str = "val_loss"):
    """One line per epoch: Keras' own progress bar is noisy in logs."""
    import keras

    extra = "" if monitor == "val_loss" else f" {monitor} {{:.4f}}"
    return keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: log(
            f"  fold {fold + 1} epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f} val_loss {logs['val_loss']:.4f}"
            + extra.format(logs.get(monitor, float("nan")))
        )
    )
