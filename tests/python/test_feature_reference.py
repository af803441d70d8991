"""The feature reference training writes (fraud_scoring.feature_bins), its check at registration,
and what PSI on its bins makes of the demo data's deliberate day-2 drift (no database)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fraud_scoring.feature_bins import bin_of, feature_reference, problem, psi_of_counts, stack_counts
from fraud_scoring.kaggle import features
from training.config import PROFILES
from training.data import ONE_DAY_S, synthetic_dataset
from training.split import time_split

WARN = 0.1  # dbt_project's default var fraud_psi_warn (macros/settings/fraud_psi_levels.sql)


def brute_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin i holds (edges[i - 1], edges[i]]: counted with one comparison pair per bin."""
    x = values[np.isfinite(values)].astype(np.float32)
    bounds = [-np.inf, *np.float32(edges), np.inf]
    return np.array([np.sum((x > lo) & (x <= hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])


def test_the_reference_counts_equal_a_brute_force_count_and_its_edges_are_deciles():
    rng = np.random.default_rng(1)
    X = rng.standard_t(5, size=(5_001, 3)).astype(np.float32)
    X[:, 2] = np.round(X[:, 2])  # few distinct values: bins merge
    X[7, 0], X[8, 1] = np.nan, np.inf
    ref = feature_reference(X, ["A", "B", "C"], "test rows")
    assert ref["rows"] == 5_001 and [e["name"] for e in ref["features"]] == ["A", "B", "C"]
    for j, entry in enumerate(ref["features"]):
        assert entry["counts"] == brute_counts(X[:, j], entry["edges"]).tolist()
        assert sum(entry["counts"]) == np.isfinite(X[:, j]).sum()
        # edges read back as float32 are values of the column (exact comparisons in the database)
        assert set(np.float32(entry["edges"])) <= set(X[:, j])
    for entry in ref["features"][:2]:
        assert len(entry["counts"]) == 10
        shares = np.array(entry["counts"]) / sum(entry["counts"])
        assert np.all(np.abs(shares - 0.1) < 0.002), shares
    assert 2 <= len(ref["features"][2]["counts"]) < 10  # merged: a rounded t(5) has few values
    assert problem(json.loads(json.dumps(ref)), ["A", "B", "C"]) is None
    assert len(json.dumps(feature_reference(np.zeros((10, 28)) + np.arange(10)[:, None], list(features()), "x"))) < 6000


def test_a_stacks_counts_per_day_equal_a_brute_force_count():
    """What feature_bin_counts returns in the database: a packed stack's values counted per day and
    reference bin; rows whose id has no day (not in the id range read) are not counted."""
    from conftest import make_stack

    rng = np.random.default_rng(2)
    X = rng.normal(size=(3_000, 28)).astype(np.float32)
    X[5, 3] = np.nan
    ids = np.arange(1_000, 4_000)[rng.permutation(3_000)]  # stack order is not id order
    ref = feature_reference(rng.normal(size=(4_000, 28)), list(features()), "test rows")
    day_of = {int(i): int(i) % 3 for i in ids[:-10]}  # the last ten rows' ids have no day
    known = np.array(sorted(day_of), dtype=">i8")
    days = np.array([day_of[int(i)] for i in known], dtype=">i4")
    counts = stack_counts(make_stack(ids, X), known.tobytes(), days.tobytes(), ref)
    got = {(d, f, b): n for d, f, b, n in counts}
    expected = {}
    for d in range(3):
        rows = np.array([int(i) in day_of and day_of[int(i)] == d for i in ids])
        for j, entry in enumerate(ref["features"]):
            for b, n in enumerate(brute_counts(X[rows, j], entry["edges"])):
                if n:
                    expected[(d, entry["name"], b)] = int(n)
    assert got == expected and sum(n for (_, f, _), n in got.items() if f == "V4") == 3_000 - 10 - 1


def test_psi_of_counts_is_the_score_drifts_formula():
    expected, actual = [50, 30, 0, 20], [10, 0, 60, 30]
    e = np.maximum(np.array(expected) / 100, 1e-4)
    a = np.maximum(np.array(actual) / 100, 1e-4)
    assert psi_of_counts(expected, actual) == pytest.approx(float(np.sum((a - e) * np.log(a / e))), rel=1e-12)
    assert psi_of_counts(expected, expected) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("features"), "must hold features"),
        (lambda r: r["features"].reverse(), "features must name the model's features in its order"),
        (lambda r: r.update(rows=0), "rows must be a positive integer"),
        (lambda r: r["features"][0]["edges"].reverse(), "V1: edges must be at most 99 finite rising"),
        (lambda r: r["features"][1]["edges"].__setitem__(0, float("nan")), "V2: edges must be at most 99"),
        (lambda r: r["features"][2]["counts"].pop(), "V3: counts must hold one count per bin"),
        (lambda r: r["features"][3]["counts"].__setitem__(0, -1), "V4: counts must be non-negative integers"),
        (lambda r: r["features"][4]["counts"].__setitem__(0, 10**9), "V5: counts must sum to between 1 and rows"),
    ],
)
def test_a_malformed_feature_reference_is_refused_at_registration(model_dir, tmp_path, change, message):
    from warehouse.registry import RegistryError, read_model_dir

    copy = shutil.copytree(model_dir, tmp_path / "model")
    meta = json.loads((copy / "metadata.json").read_text())
    assert problem(meta["reference_features"], meta["features"]) is None
    change(meta["reference_features"])
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RegistryError, match=f"reference_features {message}"):
        read_model_dir(copy)


def _day_psi(data, reference: dict) -> dict[int, np.ndarray]:
    day = np.floor(data.time / ONE_DAY_S)
    return {
        d: np.array(
            [
                psi_of_counts(entry["counts"], np.bincount(bin_of(data.X[day == d, j], entry["edges"]), minlength=10))
                for j, entry in enumerate(reference["features"])
            ]
        )
        for d in (0, 1)
    }


def test_the_demo_datas_day_2_drift_is_detected_on_v1_alone():
    """The demo: `make demo`'s data (284,807 rows, seed 42) and its profile's split, the reference
    from the training rows as training writes it. Day 1 (the generator's day 2, legitimate V1 moved
    by 0.5 sd) warns on V1 and on nothing else; day 0 raises nothing."""
    cfg = PROFILES["quick"]
    assert cfg.protocol == "split"
    data = synthetic_dataset(284_807, seed=42)
    training_rows = time_split(data.time, cfg.holdout, cfg.validation).train
    psi = _day_psi(data, feature_reference(data.X[training_rows], list(features()), "training rows"))
    assert psi[1][0] >= WARN, psi[1][0]
    assert psi[1][1:].max() < WARN / 10 and psi[0].max() < WARN / 5, (psi[0], psi[1])


def test_data_without_drift_raises_nothing_through_sampling_noise():
    """A reference from one seed's day 0, days of another seed: every feature far below the warn level
    on day 0; on day 1 only V1 (the generator's deliberate drift) moves."""
    reference = feature_reference(synthetic_dataset(142_000, seed=5).X, list(features()), "seed 5, day 0")
    psi = _day_psi(synthetic_dataset(284_807, seed=6), reference)
    assert psi[0].max() < WARN / 10, psi[0]
    assert psi[1][1:].max() < WARN / 10 and psi[1][0] >= WARN, psi[1]
