import json

import numpy as np
import pytest

from training import artifacts
from training.config import TrainConfig
from training.data import synthetic_dataset
from training.evaluate import best_fold, classification_metrics
from training.train import make_folds


def on_minority_segments(points, minority, tol=1e-3):
    """For each point: does it lie on a segment between two rows of `minority` (how SMOTE makes rows)?"""
    a = minority[:, None, :]
    ab = minority[None, :, :] - a  # (m, m, k)
    ab_sq = (ab**2).sum(-1)
    ok = np.zeros(len(points), dtype=bool)
    for i, s in enumerate(points):
        sa = s - a  # (m, 1, k)
        lam = np.where(ab_sq > 0, (sa * ab).sum(-1) / np.where(ab_sq > 0, ab_sq, 1), 0.0)
        lam = np.clip(lam, 0, 1)
        dist = np.linalg.norm(sa - lam[..., None] * ab, axis=-1)
        ok[i] = dist.min() < tol * (1 + np.linalg.norm(s))
    return ok


@pytest.fixture(scope="module")
def small():
    return synthetic_dataset(3000, seed=21, fraud_rate=0.02)


def test_smote_never_touches_the_validation_fold(small):
    cfg = TrainConfig(folds=2, smote="honest")
    for fold in make_folds(small.X, small.y, cfg):
        # the validation part is the original rows, untouched and naturally imbalanced
        assert np.array_equal(fold.val_X, fold.scaler.transform(small.X[fold.val_rows]))
        assert np.array_equal(fold.val_y, small.y[fold.val_rows])
        assert fold.val_y.mean() == pytest.approx(small.y.mean(), abs=0.005)
        # the training part was resampled: balanced, originals first, then synthetic frauds
        n = fold.original_train_rows
        assert fold.train_y.mean() == pytest.approx(0.5)
        assert np.all(fold.train_y[n:] == 1)
        train_frauds = fold.train_X[:n][fold.train_y[:n] == 1]
        # every synthetic row comes from two training frauds, none from a validation row
        assert on_minority_segments(fold.train_X[n:], train_frauds).all()


def test_the_leak_check_catches_the_2017_protocol(small):
    """Leaky SMOTE (before the split) makes training rows out of validation frauds."""
    n_original = len(small.y)
    explained = []
    for fold in make_folds(small.X, small.y, TrainConfig(folds=2, smote="leaky")):
        train_rows = np.setdiff1d(np.arange(len(fold.train_y) + len(fold.val_y)), fold.val_rows)
        original = train_rows[train_rows < n_original]
        synthetic = train_rows[train_rows >= n_original]
        # in leaky mode the whole resampled set is split: rebuild it from the fold's parts
        all_X = np.empty((len(fold.train_y) + len(fold.val_y), small.X.shape[1]), dtype=np.float32)
        all_y = np.empty(len(all_X), dtype=small.y.dtype)
        all_X[train_rows], all_y[train_rows] = fold.train_X, fold.train_y
        all_X[fold.val_rows], all_y[fold.val_rows] = fold.val_X, fold.val_y
        frauds = all_X[original][all_y[original] == 1]
        explained.append(on_minority_segments(all_X[synthetic][:300], frauds))
        # and validation folds hold synthetic rows
        assert (fold.val_rows >= n_original).any()
    assert not np.concatenate(explained).all()


def test_best_fold_is_chosen_by_recall_then_precision():
    folds = [{"recall": 0.8, "precision": 0.9}, {"recall": 0.9, "precision": 0.1}, {"recall": 0.9, "precision": 0.2}]
    assert best_fold(folds) == 2
    assert best_fold([{"recall": 0.5, "precision": 0.5}] * 3) == 0


def test_metrics_at_threshold():
    m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 1)
    assert m["precision"] == m["recall"] == m["f1"] == 0.5
    assert m["roc_auc"] == 0.75


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="folds=1"):
        TrainConfig(folds=1)
    with pytest.raises(ValueError, match="smote='sometimes'"):
        TrainConfig(smote="sometimes")


def test_training_writes_every_artifact(model_dir, tiny_data):
    for name in (
        artifacts.MODEL_FILE,
        artifacts.METADATA_FILE,
        artifacts.LOSS_PLOT,
        artifacts.PR_PLOT,
        artifacts.MODEL_CARD,
    ):
        assert (model_dir / name).stat().st_size > 0, name
    meta = json.loads((model_dir / artifacts.METADATA_FILE).read_text())
    assert meta["sha256"] == artifacts.sha256_file(model_dir / artifacts.MODEL_FILE)
    assert meta["model_version"] == f"fraud-mlp-{meta['sha256'][:12]}"
    assert meta["features"] == [f"V{i}" for i in range(1, 29)]
    assert len(meta["scaler"]["mean"]) == len(meta["scaler"]["scale"]) == 28
    assert meta["training_data"]["rows"] == len(tiny_data)
    assert len(meta["metrics"]["folds"]) == 2
    assert set(meta["libraries"]) == {"tensorflow", "keras", "h5py", "numpy"}
    assert meta["model_version"] in (model_dir / artifacts.MODEL_CARD).read_text()
    assert (model_dir / artifacts.LOSS_PLOT).read_bytes()[:4] == b"\x89PNG"


def test_saved_model_round_trips(model_dir, tiny_data):
    import keras

    from scoring.fraud_scorer import load_numpy_model
    from training.train import Scaler

    meta = artifacts.load_metadata(model_dir)
    model = keras.models.load_model(model_dir / artifacts.MODEL_FILE, compile=False)
    x = Scaler.from_dict(meta["scaler"]).transform(tiny_data.X[:2000])
    keras_prob = model.predict(x, verbose=0).reshape(-1)
    numpy_prob = load_numpy_model((model_dir / artifacts.MODEL_FILE).read_bytes(), 28).predict(x)
    assert np.abs(keras_prob - numpy_prob).max() < 1e-5
    # the model learned something: frauds score higher than legitimate rows on average
    y = tiny_data.y[:2000]
    assert keras_prob[y == 1].mean() > keras_prob[y == 0].mean()


def test_training_twice_with_the_same_seed_gives_the_same_model(model_dir, tiny_data, tmp_path):
    """Idempotent end to end: the same data and seed train a byte-identical .h5, hence the same
    version and the same scores (test_database: another seed gives another version)."""
    from conftest import TINY, _train

    again = _train(tmp_path / "again", tiny_data, TINY)
    first, second = artifacts.load_metadata(model_dir), artifacts.load_metadata(again)
    assert second["model_version"] == first["model_version"]
    assert (again / artifacts.MODEL_FILE).read_bytes() == (model_dir / artifacts.MODEL_FILE).read_bytes()
