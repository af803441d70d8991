"""The scorer the PL/Python functions call (fraud_scoring), as plain modules: stack format, both
runtimes, reason codes, refusals (its processes and version: test_scorer_processes.py)."""

import json

import numpy as np
import pytest

from conftest import make_stack
from fraud_scoring import SCORE_TOLERANCE
from fraud_scoring.contract import project_contract
from fraud_scoring.errors import ScoringError
from fraud_scoring.memory import check_stack_memory
from fraud_scoring.network import activate
from fraud_scoring.scorer import load_numpy_model, load_scorer
from fraud_scoring.stack import (
    check_feature_order,
    probability_bits_text,
    probability_from_bits,
    reasons_json_text,
    sql_array_text,
    unpack_stack,
)
from fraud_scoring.udf import score_stack

CONTRACT = project_contract()


FEATURES = list(CONTRACT.features)


QUARANTINED_BITS = CONTRACT.quarantined_bits


def test_unpack_keeps_ids_with_their_rows(tiny_data):
    ids = np.array([7, 3, 99], dtype=np.int64)
    got_ids, got_x, bad = unpack_stack(make_stack(ids, tiny_data.X[:3]), 3, FEATURES)
    assert got_ids.tolist() == [7, 3, 99]
    assert np.array_equal(got_x, tiny_data.X[:3])
    assert bad is None


def test_wrong_feature_vector_length_is_refused(tiny_data):
    stack = make_stack(np.arange(3), tiny_data.X[:3, :27])
    with pytest.raises(ScoringError, match="a feature vector of the wrong length"):
        unpack_stack(stack, 3, FEATURES)


@pytest.mark.parametrize("runtime", ["numpy", "keras"])
def test_rows_with_a_non_finite_feature_are_marked_quarantined_and_the_rest_scored(model, tiny_data, runtime):
    import json

    h5, meta = model
    X = tiny_data.X[:6].copy()
    X[2, 4], X[4, 0], X[5, 27] = np.nan, np.inf, -np.inf  # SQL packs NULL and out-of-range values as NaN
    ids = np.arange(10, 16)
    out = score_stack({}, make_stack(ids, X), 6, h5, json.dumps(meta), meta["sha256"], runtime)
    bits = [int(v) for v in out[0].strip("{}").split(",")]
    assert [b == QUARANTINED_BITS for b in bits] == [False, False, True, False, True, True]
    good = load_scorer(h5, meta, runtime).predict(tiny_data.X[[0, 1, 3]])
    # the same bits, scored in another stack
    assert np.array_equal(np.array([probability_from_bits(bits[i]) for i in (0, 1, 3)], np.float32), good)


def test_a_model_whose_features_are_in_another_order_is_refused_naming_both(model, stack):
    import json

    h5, meta = model
    ids, data = stack
    check_feature_order(FEATURES, ",".join(f.lower() for f in FEATURES))  # SQL's names are lowercase
    swapped = dict(meta, features=[FEATURES[1], FEATURES[0], *FEATURES[2:]])
    with pytest.raises(ScoringError, match=r"expects its features in the order V2, V1, V3, .*; SQL sends v1, v2, v3, "):
        score_stack(
            {},
            data,
            len(ids),
            h5,
            json.dumps(swapped),
            meta["sha256"],
            "numpy",
            0,
            "v1,v2,v3," + ",".join(f"v{i}" for i in range(4, 29)),
        )


def test_reason_codes_are_gradient_x_input_of_flagged_rows_only(model, stack):
    h5, meta = model
    ids, data = stack
    scorer = load_scorer(h5, meta, "numpy")
    _, prob, _, reasons = scorer.score(
        data, len(ids), reason_threshold=float(np.quantile(prob_of(scorer, data, ids), 0.99))
    )
    flagged = set(np.flatnonzero(prob >= np.quantile(prob, 0.99)).tolist())
    assert set(reasons) == flagged and flagged
    x = unpack_stack(data, len(ids), FEATURES)[1]
    row = min(flagged)
    # the gradient of the log-odds by central differences, on the float64 network
    network, eps = scorer.model, 1e-3
    grad = np.array(
        [(logit(network, x[row] + eps * e) - logit(network, x[row] - eps * e)) / (2 * eps) for e in np.eye(28)]
    )
    contribution = grad * (x[row] - scorer.baseline)
    top = np.argsort(-contribution)[:3]
    assert [name for name, _ in reasons[row]] == [FEATURES[j] for j in top if contribution[j] > 0]
    assert np.allclose([c for _, c in reasons[row]], contribution[top][: len(reasons[row])], atol=2e-4)
    assert scorer.score(data, len(ids), reason_threshold=None)[3] == {}


def prob_of(scorer, data, ids):
    return scorer.score(data, len(ids))[1]


def logit(network, x):
    h = np.asarray(x, dtype=np.float64)[None, :]
    for i, (kernel, bias, activation) in enumerate(network.layers):
        h = h @ kernel.astype(np.float64) + bias
        if i < len(network.layers) - 1:
            activate(h, activation)
    return float(h[0, 0])


def test_reason_codes_travel_as_one_json_object_keyed_by_transaction_id():
    ids = np.array([7, 42, 9])
    doc = json.loads(reasons_json_text(ids, {1: [('V"14', 0.5), ("V4", 0.25)]}))
    assert doc == {"42": [{"feature": 'V"14', "contribution": 0.5}, {"feature": "V4", "contribution": 0.25}]}
    assert reasons_json_text(ids, {}) is None  # SQL NULL: nothing to parse


def test_engines_agree(model, stack, tiny_data):
    h5, meta = model
    ids, data = stack
    numpy_ids, numpy_prob = load_scorer(h5, meta, "numpy", meta["sha256"]).score(data, len(ids))[:2]
    keras_ids, keras_prob = load_scorer(h5, meta, "keras", meta["sha256"]).score(data, len(ids))[:2]
    assert numpy_ids.tolist() == keras_ids.tolist() == ids.tolist()
    assert np.abs(numpy_prob - keras_prob).max() < SCORE_TOLERANCE
    assert ((numpy_prob >= 0) & (numpy_prob <= 1)).all()


def test_unknown_engine_and_wrong_hash_are_refused(model):
    h5, meta = model
    with pytest.raises(ScoringError, match="unknown runtime 'torch'"):
        load_scorer(h5, meta, "torch")
    with pytest.raises(ScoringError, match="do not match their registered sha256"):
        load_scorer(h5, meta, "numpy", "0" * 64)


@pytest.mark.parametrize("runtime", ["numpy", "keras"])
def test_bytes_that_are_not_hdf5_are_refused(model, runtime):
    _, meta = model
    with pytest.raises(ScoringError, match="not an HDF5 file"):
        load_scorer(b"root:x:0:0:root:/root:/bin/bash\n" * 10, meta, runtime)


@pytest.mark.parametrize("isolate", [False, True])
def test_truncated_h5_is_refused(model, isolate):
    h5, meta = model
    with pytest.raises(ScoringError, match="corrupt or truncated"):
        load_scorer(h5[: len(h5) // 2], meta, "numpy", isolate=isolate)


def test_score_stack_returns_array_text_that_round_trips(model, stack):
    h5, meta = model
    ids, data = stack
    import json

    SD = {}
    out = score_stack(SD, data, len(ids), h5, json.dumps(meta), meta["sha256"], "numpy")
    got_prob = np.array([probability_from_bits(int(v)) for v in out[0].strip("{}").split(",")])
    _, expected_prob = load_scorer(h5, meta, "numpy").score(data, len(ids))[:2]
    assert expected_prob.dtype == np.float32
    assert np.array_equal(got_prob, expected_prob)  # float32 bit patterns: not a bit lost, in stack order
    assert sql_array_text(np.array([7, -3])) == "{7, -3}"
    assert probability_bits_text(np.array([0.5, 1.0], dtype=np.float32)) == "{1056964608, 1065353216}"
    # the cache is keyed by the bytes' hash: other bytes with a lying sha256 are refused, not served stale
    with pytest.raises(ScoringError, match="do not match their registered sha256"):
        score_stack(SD, data, len(ids), h5 + b"\0", json.dumps(meta), meta["sha256"], "numpy")
    with pytest.raises(ScoringError, match="not in the registry"):
        score_stack(SD, data, len(ids), None, None, None, "numpy")
    with pytest.raises(ScoringError, match="metadata is not valid JSON"):
        score_stack({}, data, len(ids), h5, "{not json", meta["sha256"], "numpy")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_change_nothing_but_the_speed(model, stack, threads):
    """Chunks are scored by a pool of threads (one BLAS thread each): same probabilities, same order."""
    h5, meta = model
    ids, data = stack
    one = load_scorer(h5, meta, "numpy", threads=1).score(data, len(ids))[1]
    many = load_scorer(h5, meta, "numpy", threads=threads)
    assert many.threads == threads
    assert np.array_equal(many.score(data * 4, len(ids) * 4)[1], np.tile(one, 4))


def test_standardisation_folded_into_the_first_layer_is_the_same_network(model, tiny_data):
    h5, meta = model
    scaler = meta["scaler"]
    network = load_numpy_model(h5, 28)
    x = tiny_data.X[:2000]
    unfolded = network.predict((x - np.float32(scaler["mean"])) / np.float32(scaler["scale"]))
    folded = network.standardized(scaler["mean"], scaler["scale"]).predict(x)
    assert np.abs(folded - unfolded).max() < 1e-6


def test_a_stack_too_large_for_memory_is_refused_before_scoring():
    check_stack_memory(100_000, 8 << 30)  # 100k rows with 8 GB free: fine
    with pytest.raises(ScoringError, match=r"a stack of 1000000 rows needs about 619 MB .* lower var fraud_batch_rows"):
        check_stack_memory(1_000_000, 1 << 30)
    check_stack_memory(10**9, None)  # where memory cannot be read, nothing is refused


def _save(model, tmp_path):
    path = tmp_path / "m.h5"
    model.save(path)
    return path.read_bytes()


def test_model_with_another_input_width_is_refused(tmp_path, model):
    import keras

    _, meta = model
    m = keras.Sequential([keras.Input((27,)), keras.layers.Dense(4, activation="sigmoid"), keras.layers.Dense(1)])
    h5 = _save(m, tmp_path)
    for runtime in ("numpy", "keras"):
        with pytest.raises(ScoringError, match="expects 27 input features, scoring supplies 28"):
            load_scorer(h5, meta, runtime)


def test_unsupported_layer_is_refused_by_the_numpy_runtime(tmp_path):
    import keras

    m = keras.Sequential([keras.Input((28,)), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
    with pytest.raises(ScoringError, match="does not support layer .*BatchNormalization.*use runtime 'keras'"):
        load_numpy_model(_save(m, tmp_path), 28)
    m = keras.Sequential([keras.Input((28,)), keras.layers.Dense(1, activation="softplus")])
    with pytest.raises(ScoringError, match="does not support activation 'softplus'"):
        load_numpy_model(_save(m, tmp_path), 28)


def test_the_contract_the_install_renders_decides_the_quarantined_mark(model, tiny_data):
    """The install passes vars.fraud_stack to score_stack as a dict: its quarantined_bits mark the rows."""
    h5, meta = model
    X = tiny_data.X[:3].copy()
    X[1, 0] = np.nan
    mapping = {"features": FEATURES, "id_bytes": 8, "feature_bytes": 4, "quarantined_bits": 0x7FBAD001}
    out = score_stack({}, make_stack(np.arange(3), X), 3, h5, json.dumps(meta), meta["sha256"], "numpy", 0,
                      None, None, mapping)  # fmt: skip
    assert int(out[0].strip("{}").split(",")[1]) == 0x7FBAD001


def test_the_contracts_in_code_defaults_are_the_projects():
    """StackContract's defaults (for in-process use) restate dbt_project.yml's vars.fraud_stack: they must agree."""
    from fraud_scoring.contract import StackContract, project_contract

    project = project_contract()
    assert StackContract(features=project.features) == project
    assert project.row_bytes == project.id_bytes + project.feature_bytes * len(project.features)
