"""Shared fixtures: small data, one short real training run, and the real database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training import artifacts  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import synthetic_dataset  # noqa: E402

SHARED_SAMPLE = ROOT.parent / "shared" / "data" / "creditcard_kaggle_first7000.csv"
# The smallest configuration that still trains for real: 2 folds, 1 epoch.
TINY = TrainConfig(folds=2, epochs=1, batch_size=512, patience=0)


@pytest.fixture(scope="session")
def tiny_data():
    return synthetic_dataset(20_000, seed=7, fraud_rate=0.01)


def _train(tmp_dir: Path, data, cfg: TrainConfig) -> Path:
    from training.train import cross_validate

    result = cross_validate(data.X, data.y, cfg, log=lambda msg: None)
    artifacts.save(result, data.describe(), tmp_dir)
    return tmp_dir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tiny_data) -> Path:
    return _train(tmp_path_factory.mktemp("model_a"), tiny_data, TINY)


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory, tiny_data) -> Path:
    """A second real model (another seed): another version, other scores."""
    return _train(tmp_path_factory.mktemp("model_b"), tiny_data, TINY.replace(seed=11))


@pytest.fixture(scope="session")
def kaggle_sample() -> Path:
    if not SHARED_SAMPLE.exists():
        pytest.skip(f"{SHARED_SAMPLE} is absent (it exists only beside the project's own checkout)")
    return SHARED_SAMPLE


@pytest.fixture(scope="module")
def model(model_dir):
    """The model of model_dir: (its .h5 bytes, its metadata)."""
    return (model_dir / artifacts.MODEL_FILE).read_bytes(), artifacts.load_metadata(model_dir)


@pytest.fixture(scope="module")
def stack(tiny_data):
    """(ids, the stack SQL would build) of 5,000 rows of tiny_data."""
    ids = np.arange(1000, 1000 + 5000, dtype=np.int64)[::-1]  # ids need not be in row order
    return ids, make_stack(ids, tiny_data.X[:5000])


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    """A file only the server's OS user and the tests can read (hostile_models.py)."""
    from hostile_models import write_secret_file

    return write_secret_file(tmp_path_factory)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, secret_file):
    """{name: (the .h5 bytes, what the refusal says)}; 'benign' is the same hand-made model, harmless."""
    from hostile_models import make_hostile_models

    return make_hostile_models(tmp_path_factory, secret_file)


def make_stack(ids, X) -> bytes:
    """The bytes SQL builds: int8send(id) || float4send(v1) || ... per row."""
    rec = np.empty(len(ids), dtype=[("id", ">i8"), ("x", ">f4", (X.shape[1],))])
    rec["id"], rec["x"] = ids, X
    return rec.tobytes()


@pytest.fixture(scope="session")
def server_watch():
    """The postmaster's start time and the server log's length when database tests began."""
    from dbtdb import query

    log = ROOT / ".pgdata" / "server.log"
    started = query("select pg_postmaster_start_time()")[0][0]
    return {"started": started, "log": log, "offset": log.stat().st_size if log.exists() else 0}


def pytest_collection_modifyitems(session, config, items):
    """The server-survival checks run after everything else, whatever the files are called."""
    last = [item for item in items if item.module.__name__ == "test_server_survived"]
    items[:] = [item for item in items if item not in last] + last
