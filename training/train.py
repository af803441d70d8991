"""Fitting: stratified k-fold with SMOTE on the training part of each fold only (the 2017
protocol), or one model on the time split (training.split), then the holdout."""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fraud_scoring.feature_bins import feature_reference
from fraud_scoring.kaggle import features
from training.config import TrainConfig
from training.evaluate import classification_metrics
from training.kfold import CVResult, FoldResult, _epoch_logger, _log, cross_validate, make_folds
from training.split import Scaler, Split, SplitData, prepare_split, smote, time_split

# the protocol's pieces, importable from here as before
__all__ = ["CVResult", "FoldResult", "Scaler", "Split", "SplitData", "cross_validate", "make_folds", "prepare_split"]
__all__ += ["smote", "time_split", "TrainResult", "fit_split", "cross_validate_then_holdout", "train"]


@dataclass
class TrainResult:
    """The shipped model, the threshold it ships with, and how both were measured."""

    config: TrainConfig
    model: object = field(repr=False)
    scaler: Scaler = field(repr=False)
    threshold: float
    split: Split | None
    validation: dict  # metrics at the threshold on the rows that chose it
    holdout: dict | None  # metrics at the threshold on the holdout rows (None: no holdout)
    holdout_y: np.ndarray | None = field(default=None, repr=False)
    holdout_prob: np.ndarray | None = field(default=None, repr=False)
    val_y: np.ndarray | None = field(default=None, repr=False)
    val_prob: np.ndarray | None = field(default=None, repr=False)
    cv: CVResult | None = None
    history: dict | None = None
    seconds: float = 0.0
    split_info: dict | None = None  # rows and frauds per part, and the Time cuts
    # the scores score drift is measured against (fraud_scoring.score_bins.reference): the
    # training rows' (split protocol); None: the validation rows' (k-fold: the best fold's)
    reference_prob: np.ndarray | None = field(default=None, repr=False)
    reference_source: str | None = None
    # the input distribution feature drift is measured against (fraud_scoring.feature_bins):
    # the training rows' as they were, not as SMOTE resampled them
    reference_features: dict | None = field(default=None, repr=False)

    @classmethod
    def from_cv(cls, cv: CVResult) -> TrainResult:
        """The 2017 result as it was: the best fold, the fixed threshold, no holdout."""
        best = cv.best_fold
        return cls(
            cv.config, best.model, best.scaler, cv.config.threshold, None, best.metrics, None, cv=cv,
            reference_features=cv.reference_features,
        )  # fmt: skip


def _validation_pr_auc(val_X: np.ndarray, val_y: np.ndarray):
    """A callback adding val_pr_auc (average precision on the validation rows) to each epoch's logs."""
    import keras
    from sklearn.metrics import average_precision_score

    def on_epoch_end(epoch, logs):
        prob = _predict(model_ref.model, val_X)
        logs["val_pr_auc"] = float(average_precision_score(val_y, prob))

    model_ref = keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)
    return model_ref


def _pick_threshold(cfg: TrainConfig, y: np.ndarray, prob: np.ndarray) -> float:
    from training.evaluate import choose_threshold

    if cfg.threshold_recall is None and cfg.cost_ratio is None:
        return cfg.threshold
    return choose_threshold(y, prob, recall=cfg.threshold_recall, cost_ratio=cfg.cost_ratio)


def _predict(model, X: np.ndarray) -> np.ndarray:
    return model.predict(X, batch_size=8192, verbose=0).reshape(-1)


def fit_split(
    X: np.ndarray, y: np.ndarray, time: np.ndarray, cfg: TrainConfig, log: Callable[[str], None] = _log
) -> TrainResult:
    """One model on the earliest rows, early stopping and threshold on the next, figures on the latest."""
    import keras

    from training.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    data = prepare_split(X, y, time, cfg)
    sp = data.split
    log(
        f"split by Time: training on {len(sp.train):,} rows ({int(y[sp.train].sum())} frauds; "
        f"{len(data.train_y):,} after smote={cfg.smote}, class_weight={cfg.class_weight}), "
        f"validation {len(sp.validation):,} ({int(y[sp.validation].sum())}), "
        f"holdout {len(sp.holdout):,} ({int(y[sp.holdout].sum())})"
    )
    model = build_model(cfg)
    mode = "max" if cfg.monitor == "val_pr_auc" else "min"
    callbacks = [_validation_pr_auc(data.val_X, data.val_y)] if cfg.monitor == "val_pr_auc" else []
    callbacks += [
        keras.callbacks.EarlyStopping(monitor=cfg.monitor, mode=mode, patience=cfg.patience, restore_best_weights=True),
        _epoch_logger(log, 0, cfg.epochs, cfg.monitor),
    ]
    started = time_module.perf_counter()
    history = model.fit(
        data.train_X,
        data.train_y,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(data.val_X, data.val_y),
        class_weight=data.class_weight,
        callbacks=callbacks,
        shuffle=True,
        verbose=0,
    )
    seconds = time_module.perf_counter() - started
    val_prob = _predict(model, data.val_X)
    threshold = _pick_threshold(cfg, data.val_y, val_prob)
    result = TrainResult(
        cfg,
        model,
        data.scaler,
        threshold,
        sp,
        classification_metrics(data.val_y, val_prob, threshold),
        None,
        val_y=data.val_y,
        val_prob=val_prob,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        seconds=seconds,
        # the rows as they were, not as SMOTE resampled them: the population scored later
        reference_prob=_predict(model, data.scaler.transform(X[sp.train])),
        reference_source=f"training rows (Time < {sp.validation_from:,.0f})",
        reference_features=feature_reference(
            X[sp.train], list(features()), f"training rows (Time < {sp.validation_from:,.0f})"
        ),
    )
    return _measure_holdout(result, X, y, log)


def _measure_holdout(result: TrainResult, X: np.ndarray, y: np.ndarray, log) -> TrainResult:
    rows = result.split.holdout
    result.split_info = result.split.describe(y)
    if len(rows) == 0:
        return result
    prob = _predict(result.model, result.scaler.transform(X[rows]))
    result.holdout_y, result.holdout_prob = y[rows], prob
    result.holdout = classification_metrics(y[rows], prob, result.threshold)
    m = result.holdout
    log(
        f"holdout ({len(rows):,} later rows, {int(y[rows].sum())} frauds) at threshold {result.threshold:.4g}: "
        f"precision {m['precision']:.3f} recall {m['recall']:.3f} f1 {m['f1']:.3f} "
        f"roc_auc {m['roc_auc']:.4f} pr_auc {m['pr_auc']:.3f}, {m['tp'] + m['fp']:,} flagged"
    )
    return result


def cross_validate_then_holdout(
    X: np.ndarray, y: np.ndarray, time: np.ndarray, cfg: TrainConfig, log: Callable[[str], None] = _log
) -> TrainResult:
    """The 2017 protocol on the rows before the holdout; its best fold measured on the holdout."""
    sp = time_split(time, cfg.holdout)
    dev = sp.train  # train + validation: k-fold splits these
    cv = cross_validate(X[dev], y[dev], cfg, log)
    best = cv.best_fold
    # A threshold rule sees the best fold's validation rows (earlier rows, never the holdout).
    threshold = _pick_threshold(cfg, best.val_y, best.val_prob)
    result = TrainResult(
        cfg,
        best.model,
        best.scaler,
        threshold,
        sp,
        classification_metrics(best.val_y, best.val_prob, threshold),
        None,
        val_y=best.val_y,
        val_prob=best.val_prob,
        cv=cv,
        seconds=sum(f.seconds for f in cv.folds),
        reference_features=cv.reference_features,
    )
    return _measure_holdout(result, X, y, log)


def train(X: np.ndarray, y: np.ndarray, time: np.ndarray, cfg: TrainConfig, log: Callable[[str], None] = _log):
    """What `python -m training train` runs: the configured protocol, then the holdout."""
    if cfg.protocol == "split":
        return fit_split(X, y, time, cfg, log)
    if cfg.holdout == 0:
        return TrainResult.from_cv(cross_validate(X, y, cfg, log))
    return cross_validate_then_holdout(X, y, time, cfg, log)
