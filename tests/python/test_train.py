import json

import numpy as np
import pytest

from fraud_scoring.contract import project_contract
from training import artifacts
from training.config import TrainConfig
from training.data import synthetic_dataset
from training.evaluate import best_fold, choose_threshold, classification_metrics, tradeoff_curve
from training.train import fit_split, make_folds, prepare_split, time_split


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
    assert meta["features"] == list(project_contract().features)
    assert len(meta["scaler"]["mean"]) == len(meta["scaler"]["scale"]) == 28
    assert meta["training_data"]["rows"] == len(tiny_data)
    assert len(meta["metrics"]["folds"]) == 2
    assert set(meta["libraries"]) == {"tensorflow", "keras", "h5py", "numpy"}
    assert meta["model_version"] in (model_dir / artifacts.MODEL_CARD).read_text()
    assert (model_dir / artifacts.LOSS_PLOT).read_bytes()[:4] == b"\x89PNG"


def test_saved_model_round_trips(model_dir, tiny_data):
    import keras

    from fraud_scoring.scorer import load_numpy_model
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


# --- time-ordered evaluation and the threshold ------------------------------

SPLIT = TrainConfig(
    protocol="split", smote="none", class_weight="balanced", epochs=2, batch_size=512, patience=1, threshold_recall=0.8
)


def _row_set(X):
    return {row.tobytes() for row in np.asarray(X, dtype=np.float32)}


def test_time_split_is_disjoint_complete_and_ordered(small):
    split = time_split(small.time, holdout=0.2, validation=0.2)
    parts = (split.train, split.validation, split.holdout)
    assert sum(len(p) for p in parts) == len(small.time)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(small.time)))
    # earlier rows train, the next validate, the latest are held out; a second is never cut in two
    assert small.time[split.train].max() < small.time[split.validation].min() == split.validation_from
    assert small.time[split.validation].max() < small.time[split.holdout].min() == split.holdout_from
    assert len(split.holdout) == pytest.approx(0.2 * len(small.time), rel=0.02)
    # shuffled input: the split follows Time, not row order
    order = np.random.default_rng(0).permutation(len(small.time))
    shuffled = time_split(small.time[order], holdout=0.2, validation=0.2)
    assert np.array_equal(np.sort(order[shuffled.holdout]), split.holdout)
    none = time_split(small.time, holdout=0.0)
    assert len(none.holdout) == len(none.validation) == 0 and len(none.train) == len(small.time)


@pytest.mark.parametrize(
    "resampling", [{"smote": "none", "class_weight": "balanced"}, {"smote": "honest", "class_weight": "none"}]
)
def test_no_validation_or_holdout_row_reaches_training(small, resampling):
    cfg = SPLIT.replace(**resampling)
    data = prepare_split(small.X, small.y, small.time, cfg)
    sp = data.split
    n = len(sp.train)
    # the training rows are exactly the earliest rows, scaled by a scaler fitted on them alone
    assert np.array_equal(data.train_X[:n], data.scaler.transform(small.X[sp.train]))
    assert np.allclose(data.scaler.mean, small.X[sp.train].mean(axis=0), atol=1e-5)
    assert np.array_equal(data.val_X, data.scaler.transform(small.X[sp.validation]))
    later = _row_set(data.scaler.transform(small.X[np.concatenate([sp.validation, sp.holdout])]))
    assert not later & _row_set(data.train_X)
    if cfg.smote == "honest":  # synthetic frauds come from training frauds only
        train_frauds = data.train_X[:n][data.train_y[:n] == 1]
        assert on_minority_segments(data.train_X[n:], train_frauds).all()
    else:
        assert len(data.train_X) == n and data.class_weight[1] > data.class_weight[0]


def test_the_leak_check_catches_a_holdout_row_in_training(small):
    """The check above, run on training rows that include one holdout row, fails."""
    data = prepare_split(small.X, small.y, small.time, SPLIT)
    leaked = np.vstack([data.train_X, data.scaler.transform(small.X[data.split.holdout[:1]])])
    assert _row_set(data.scaler.transform(small.X[data.split.holdout])) & _row_set(leaked)


def test_choose_threshold_rules():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    # recall 2/3 first reached at 0.7 (precision 2/3); recall 1 at 0.4 (precision 1/2)
    assert choose_threshold(y, p, recall=0.6) == 0.7
    assert choose_threshold(y, p, recall=1.0) == 0.4
    assert choose_threshold(y, p, recall=0.3) == 0.9
    # a missed fraud costs 10 false alarms: catching all three is cheapest (3 false alarms)
    assert choose_threshold(y, p, cost_ratio=10) == 0.4
    assert choose_threshold(y, p, cost_ratio=0.5) == 0.9
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold(np.zeros(3), p[:3], recall=0.5)


def test_tradeoff_curve_counts():
    y = np.array([1, 0, 1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.6, 0.1])
    curve = tradeoff_curve(y, p)
    assert [(c["threshold"], c["flagged"], c["tp"], c["fp"]) for c in curve] == [
        (0.9, 1, 1, 0),
        (0.7, 3, 2, 1),
        (0.1, 6, 3, 3),
    ]
    assert curve[-1]["recall"] == 1.0 and curve[1]["precision"] == pytest.approx(2 / 3)


def test_config_refuses_contradictions():
    with pytest.raises(ValueError, match="smote='leaky'"):
        TrainConfig(protocol="split", smote="leaky")
    with pytest.raises(ValueError, match="class_weight='balanced'"):
        TrainConfig(protocol="split", smote="honest", class_weight="balanced")
    with pytest.raises(ValueError, match="cost_ratio"):
        TrainConfig(threshold_recall=0.8, cost_ratio=10)
    with pytest.raises(ValueError, match="holdout"):
        TrainConfig(holdout=0.6)


@pytest.fixture(scope="module")
def split_run(tiny_data, tmp_path_factory):
    """One short real training run of the split protocol (2 epochs on 12,000 rows)."""
    result = fit_split(tiny_data.X, tiny_data.y, tiny_data.time, SPLIT, log=lambda msg: None)
    out = tmp_path_factory.mktemp("split_model")
    return result, artifacts.save(result, tiny_data.describe(), out), out


def _predict(model, X):
    return model.predict(X, batch_size=8192, verbose=0).reshape(-1)


def test_the_threshold_is_chosen_on_validation_rows_only(split_run, tiny_data):
    result, meta, _ = split_run
    sp, X, y = result.split, tiny_data.X, tiny_data.y
    scaled = {name: result.scaler.transform(X[rows]) for name, rows in (("train", sp.train), ("val", sp.validation))}
    on_validation = choose_threshold(y[sp.validation], _predict(result.model, scaled["val"]), recall=0.8)
    on_training = choose_threshold(y[sp.train], _predict(result.model, scaled["train"]), recall=0.8)
    assert result.threshold == meta["threshold"] == on_validation
    assert meta["threshold"] != on_training  # a threshold chosen on training rows fails here
    assert np.array_equal(result.val_y, y[sp.validation])
    assert meta["validation_metrics"]["rows"] == len(sp.validation)
    assert meta["validation_metrics"]["recall"] >= 0.8


def test_reported_figures_come_from_the_holdout_at_the_shipped_threshold(split_run, tiny_data):
    result, meta, out = split_run
    rows = result.split.holdout
    prob = _predict(result.model, result.scaler.transform(tiny_data.X[rows]))
    expected = classification_metrics(tiny_data.y[rows], prob, meta["threshold"])
    assert meta["holdout_metrics"] == pytest.approx(expected, nan_ok=True)
    assert meta["split"]["holdout"] == {"rows": len(rows), "frauds": int(tiny_data.y[rows].sum())}
    assert tiny_data.time[rows].min() == meta["split"]["holdout_from_time"] > tiny_data.time[result.split.train].max()
    curve = (out / artifacts.TRADEOFF_CSV).read_text().splitlines()
    assert curve[0] == "threshold,flagged,tp,fp,precision,recall" and len(curve) > 2
    assert (out / artifacts.TRADEOFF_PLOT).read_bytes()[:4] == b"\x89PNG"
    assert "holdout (later rows)" in (out / artifacts.MODEL_CARD).read_text()
    # the scorer's keys are all there
    assert {"features", "scaler", "threshold", "sha256", "model_version", "metrics"} <= set(meta)


def test_cli_threshold_options_replace_the_profile_rule():
    from training.cli import build_parser, train_config

    def cfg(*args):
        return train_config(build_parser().parse_args(["train", "--synthetic", "10", "--out", "x", *args]))

    assert cfg("--profile", "quick").threshold_recall == 0.7
    assert cfg("--profile", "quick", "--cost-ratio", "50").cost_ratio == 50
    assert cfg("--profile", "quick", "--cost-ratio", "50").threshold_recall is None
    fixed = cfg("--profile", "quick", "--threshold", "0.5")
    assert (fixed.threshold, fixed.threshold_recall, fixed.cost_ratio) == (0.5, None, None)
    assert cfg("--profile", "2017").protocol == "kfold" and cfg("--profile", "2017").holdout == 0.2
    assert cfg("--profile", "2017", "--class-weight", "balanced").smote == "none"
    with pytest.raises(SystemExit):
        cfg("--threshold", "0.5", "--threshold-recall", "0.8")


def test_the_feature_reference_comes_from_the_training_rows_alone(split_run, model_dir, tiny_data):
    """Split protocol: the rows before the validation cut, as they were (no SMOTE); k-fold: every row
    cross-validated. Recomputed from those rows, equal; from all rows (validation and holdout in), not."""
    from fraud_scoring.feature_bins import feature_reference
    from fraud_scoring.kaggle import features

    result, meta, _ = split_run
    rows = result.split.train
    expected = feature_reference(tiny_data.X[rows], list(features()), meta["reference_features"]["source"])
    assert meta["reference_features"] == json.loads(json.dumps(expected))
    assert meta["reference_features"]["rows"] == len(rows) < len(tiny_data)
    everything = json.loads(json.dumps(feature_reference(tiny_data.X, list(features()), "")))
    assert meta["reference_features"]["features"] != everything["features"]
    kfold = artifacts.load_metadata(model_dir)["reference_features"]  # conftest: k-fold over every row
    assert kfold["rows"] == len(tiny_data) and kfold["features"] == everything["features"]
