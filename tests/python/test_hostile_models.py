"""Hostile model files at the reader and at registration, no database needed: each is refused
before a weight is read, and the reader's child runs under memory and CPU limits. The same files
in the registry, as the least-privilege role scores: test_security.py."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hostile_models import ATTACKS, FEATURES

from fraud_scoring.h5_reader import read_dense_layers, read_dense_layers_in_child
from fraud_scoring.model_audit import MAX_MODEL_FILE_BYTES
from fraud_scoring.scorer import ScoringError
from training import artifacts
from warehouse.registry import RegistryError, read_model_dir


def test_the_hand_made_model_is_accepted_when_harmless(hostile):
    """The attacks below differ from this file only in the kernel: what is refused is the kernel."""
    [(kernel, bias, activation)] = read_dense_layers(hostile["benign"][0])
    assert kernel.shape == (28, 1) and activation == "linear"
    assert np.array_equal(read_dense_layers_in_child(hostile["benign"][0])[0][0], kernel)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_reader_refuses_hostile_files_before_reading_a_weight(hostile, attack):
    h5, message = hostile[attack]
    for read in (read_dense_layers, read_dense_layers_in_child):
        with pytest.raises(ScoringError, match=message):
            read(h5)


def test_the_reader_refuses_a_file_over_the_size_limit():
    h5 = b"\x89HDF\r\n\x1a\n" + bytes(MAX_MODEL_FILE_BYTES)
    with pytest.raises(ScoringError, match="over the limit"):
        read_dense_layers(h5)


def test_the_reader_child_runs_under_a_memory_limit(hostile, monkeypatch):
    """RLIMIT_AS: with too little address space for Python and NumPy, the child fails, the caller gets an error."""
    from fraud_scoring import h5_reader

    monkeypatch.setattr(h5_reader, "CHILD_MEMORY_BYTES", 32 << 20)
    with pytest.raises(ScoringError, match="model reader process"):
        read_dense_layers_in_child(hostile["benign"][0])


def test_a_child_past_its_cpu_limit_is_killed_and_reported(monkeypatch):
    """RLIMIT_CPU: a child that spins is killed by SIGXCPU; the caller gets an error, not a hang."""
    import signal

    from fraud_scoring import h5_reader

    spin = "from fraud_scoring import children; children.limit_resources()\nwhile True: pass"
    monkeypatch.setattr(h5_reader, "CHILD_ARGS", ["-c", spin])
    monkeypatch.setattr(h5_reader, "CHILD_CPU_S", 1)
    with pytest.raises(ScoringError, match="killed by signal %d" % signal.SIGXCPU):
        read_dense_layers_in_child(b"\x89HDF\r\n\x1a\n")


def test_the_memory_guard_counts_the_model():
    from fraud_scoring.memory import check_stack_memory

    check_stack_memory(1000, 1 << 30, model_bytes=1 << 20)
    with pytest.raises(ScoringError, match="a model of 268435456 bytes included"):
        check_stack_memory(1000, 1 << 30, model_bytes=256 << 20)


def test_a_child_killed_by_a_cancel_is_never_turned_into_a_null_or_swallowed(monkeypatch):
    """A cancel signals the backend's process group: a child dies of SIGINT. score_stack_or_warn emits a
    message (where PostgreSQL raises the pending cancel) and re-raises, even with fail_on_error false."""
    from fraud_scoring import udf
    from fraud_scoring.errors import ChildInterrupted

    def interrupted(*args, **kwargs):
        raise ChildInterrupted("the model reader process was killed by signal 2")

    monkeypatch.setattr(udf, "score_stack", interrupted)

    class Cancelled(Exception):
        pass

    class Cancelling:
        def warning(self, text):
            raise Cancelled("canceling statement due to user request")

    class Quiet:
        def warning(self, text):
            pass

    with pytest.raises(Cancelled):
        udf.score_stack_or_warn(Cancelling(), {}, "v1", False)
    with pytest.raises(ChildInterrupted):
        udf.score_stack_or_warn(Quiet(), {}, "v1", False)


def _model_dir(root, h5, **metadata):
    root.mkdir(parents=True, exist_ok=True)
    (root / artifacts.MODEL_FILE).write_bytes(h5)
    meta = {
        "model_version": "hostile-1",
        "model_name": "hostile",
        "sha256": hashlib.sha256(h5).hexdigest(),
        "features": FEATURES,
        "threshold": 0.5,
        **metadata,
    }
    (root / artifacts.METADATA_FILE).write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("attack", ATTACKS)
def test_registration_refuses_hostile_files(hostile, tmp_path, attack):
    h5, message = hostile[attack]
    with pytest.raises(RegistryError, match=message):
        read_model_dir(_model_dir(tmp_path / attack, h5))


@pytest.mark.parametrize(
    "threshold", [1.5, -2, 0, 1, 0.0, "NaN", "Infinity", "0.5", None, True, float("nan"), float("inf")]
)
def test_registration_refuses_thresholds_outside_0_1(hostile, tmp_path, threshold):
    """float('nan') and float('inf') are written as JSON's NaN and Infinity, which Python reads back."""
    root = _model_dir(tmp_path / "m", hostile["benign"][0], threshold=threshold)
    with pytest.raises(RegistryError, match="threshold must be a number strictly between 0 and 1"):
        read_model_dir(root)


def test_registration_accepts_the_hand_made_model_and_a_keras_native_file(hostile, tmp_path):
    import keras

    assert read_model_dir(_model_dir(tmp_path / "h5", hostile["benign"][0]))[1]["model_version"] == "hostile-1"
    m = keras.Sequential([keras.Input((28,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    root = tmp_path / "native"
    root.mkdir()
    m.save(root / "model.keras")
    digest = hashlib.sha256((root / "model.keras").read_bytes()).hexdigest()
    meta = {"model_version": "native-1", "model_name": "n", "sha256": digest, "features": FEATURES}
    (root / artifacts.METADATA_FILE).write_text(json.dumps(meta))
    h5, metadata = read_model_dir(root)
    assert metadata["source_sha256"] == digest and metadata["sha256"] == hashlib.sha256(h5).hexdigest()
    x = np.random.default_rng(1).normal(size=(5, 28)).astype(np.float32)
    layers = read_dense_layers(h5)
    from fraud_scoring.network import NumpyMLP

    assert np.allclose(NumpyMLP(layers, 28).predict(x, 1).reshape(-1), m.predict(x, verbose=0).reshape(-1), atol=1e-5)


def test_registration_refuses_a_keras_native_file_with_a_lambda_layer(tmp_path):
    import keras

    m = keras.Sequential([keras.Input((28,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(1)])
    root = tmp_path / "lambda"
    root.mkdir()
    m.save(root / "model.keras")
    digest = hashlib.sha256((root / "model.keras").read_bytes()).hexdigest()
    meta = {"model_version": "lambda-1", "model_name": "l", "sha256": digest, "features": FEATURES}
    (root / artifacts.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(RegistryError, match="has layers Lambda"):
        read_model_dir(root)
