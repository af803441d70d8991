"""Stratified k-fold training with SMOTE on the training part of each fold only."""

from __future__ import annotations

import sys
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold

from training.config import TrainConfig
from training.evaluate import average, best_fold, classification_metrics


@dataclass
class Scaler:
    """Standardisation fitted on training rows; saved with the model, applied by the scorer."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Scaler:
        scale = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale).astype(np.float32)

    def as_dict(self) -> dict:
        return {"mean": self.mean.astype(float).tolist(), "scale": self.scale.astype(float).tolist()}

    @classmethod
    def from_dict(cls, saved: dict) -> Scaler:
        """The scaler as metadata.json stores it (see as_dict)."""
        return cls(np.asarray(saved["mean"], np.float32), np.asarray(saved["scale"], np.float32))


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


def smote(X: np.ndarray, y: np.ndarray, seed: int):
    from imblearn.over_sampling import SMOTE

    k = min(5, int(y.sum()) - 1)
    if k < 1:
        raise ValueError(f"SMOTE needs at least 2 frauds in the data it resamples, found {int(y.sum())}")
    return SMOTE(random_state=seed, k_neighbors=k).fit_resample(X, y)


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
    return CVResult(cfg, results, best)


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


# --- time-ordered evaluation ----------------------------------------------


@dataclass
class Split:
    """Row numbers of each part: train < validation < holdout in Time, disjoint, covering every row.

    Cuts fall between seconds, so rows of the same second are on the same side.
    kfold uses train + validation as its development rows (validation is then empty).
    """

    train: np.ndarray
    validation: np.ndarray
    holdout: np.ndarray
    validation_from: float | None  # first Time of the validation rows
    holdout_from: float | None  # first Time of the holdout rows

    def describe(self, y: np.ndarray) -> dict:
        return {
            name: {"rows": int(len(rows)), "frauds": int(y[rows].sum())}
            for name, rows in (("train", self.train), ("validation", self.validation), ("holdout", self.holdout))
        } | {"validation_from_time": self.validation_from, "holdout_from_time": self.holdout_from}


def time_split(time: np.ndarray, holdout: float, validation: float = 0.0) -> Split:
    """The latest `holdout` share of rows, the `validation` share before it, the rest to train."""
    time = np.asarray(time, dtype=np.float64)
    ordered = np.sort(time, kind="stable")
    n = len(time)

    def cut(share_after: float) -> float | None:
        k = n - int(round(n * share_after))
        return float(ordered[k]) if 0 < k < n and share_after > 0 else None

    holdout_from = cut(holdout)
    validation_from = cut(holdout + validation) if validation > 0 else None
    end = np.inf if holdout_from is None else holdout_from
    start = end if validation_from is None else validation_from
    return Split(
        train=np.flatnonzero(time < start),
        validation=np.flatnonzero((time >= start) & (time < end)),
        holdout=np.flatnonzero(time >= end),
        validation_from=validation_from,
        holdout_from=holdout_from,
    )


@dataclass
class SplitData:
    """The split protocol's arrays: training rows (maybe resampled), validation and holdout untouched."""

    split: Split
    scaler: Scaler
    train_X: np.ndarray
    train_y: np.ndarray
    val_X: np.ndarray
    val_y: np.ndarray
    class_weight: dict | None


def prepare_split(X: np.ndarray, y: np.ndarray, time: np.ndarray, cfg: TrainConfig) -> SplitData:
    """Scale on the training rows; SMOTE or class weights from the training rows only."""
    split = time_split(time, cfg.holdout, cfg.validation)
    tr, va = split.train, split.validation
    for name, rows in (("training", tr), ("validation", va)):
        if int(y[rows].sum()) < 2:
            raise ValueError(
                f"the {name} rows ({len(rows):,}, by Time) hold {int(y[rows].sum())} frauds: too few to train and "
                "choose a threshold; change --holdout / --validation, or use --protocol kfold"
            )
    scaler = Scaler.fit(X[tr])
    train_X, train_y = scaler.transform(X[tr]), np.asarray(y[tr])
    if cfg.smote == "honest":
        train_X, train_y = smote(train_X, train_y, cfg.seed)
    weights = None
    if cfg.class_weight == "balanced":
        n, frauds = len(train_y), int(train_y.sum())
        weights = {0: n / (2 * (n - frauds)), 1: n / (2 * frauds)}
    return SplitData(split, scaler, train_X, np.asarray(train_y), scaler.transform(X[va]), y[va], weights)


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

    @classmethod
    def from_cv(cls, cv: CVResult) -> TrainResult:
        """The 2017 result as it was: the best fold, the fixed threshold, no holdout."""
        best = cv.best_fold
        return cls(cv.config, best.model, best.scaler, cv.config.threshold, None, best.metrics, None, cv=cv)


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
    )
    return _measure_holdout(result, X, y, log)


def train(X: np.ndarray, y: np.ndarray, time: np.ndarray, cfg: TrainConfig, log: Callable[[str], None] = _log):
    """What `python -m training train` runs: the configured protocol, then the holdout."""
    if cfg.protocol == "split":
        return fit_split(X, y, time, cfg, log)
    if cfg.holdout == 0:
        return TrainResult.from_cv(cross_validate(X, y, cfg, log))
    return cross_validate_then_holdout(X, y, time, cfg, log)
