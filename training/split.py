"""The rows a model learns from: the time-ordered split, the standardisation, SMOTE.

Every reported figure is on rows no model, fold selection or threshold saw: the
holdout is the latest share of rows by Time, validation the share before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.config import TrainConfig


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


def smote(X: np.ndarray, y: np.ndarray, seed: int):
    from imblearn.over_sampling import SMOTE

    k = min(5, int(y.sum()) - 1)
    if k < 1:
        raise ValueError(f"SMOTE needs at least 2 frauds in the data it resamples, found {int(y.sum())}")
    return SMOTE(random_state=seed, k_neighbors=k).fit_resample(X, y)


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
