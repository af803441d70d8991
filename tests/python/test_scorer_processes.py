"""The scorer's processes and the code they run, as plain modules: the child that reads a model and
the keras worker (crashes, cancels, their own session), the fraud_scoring copy they import, and
the package's version and source hash (what the install records)."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from fraud_scoring import h5_reader, version
from fraud_scoring.errors import ScoringError
from fraud_scoring.keras_worker import KerasModel
from fraud_scoring.scorer import load_numpy_model, load_scorer


def test_the_model_read_in_a_child_process_is_the_same_model(model, tiny_data):
    """In the database the .h5 is parsed by a child process: HDF5 is C, and the bytes are an argument."""
    h5, _ = model
    here, child = load_numpy_model(h5, 28), load_numpy_model(h5, 28, isolate=True)
    assert np.array_equal(here.predict(tiny_data.X[:500]), child.predict(tiny_data.X[:500]))


def test_a_crashing_model_reader_is_an_error_not_a_crash(model, monkeypatch):
    h5, _ = model
    monkeypatch.setattr(h5_reader, "CHILD_ARGS", ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    with pytest.raises(ScoringError, match=r"model reader process was killed by signal 11 \(the database server is"):
        load_numpy_model(h5, 28, isolate=True)


def test_a_dying_keras_worker_is_an_error_not_a_crash(model, stack):
    h5, meta = model
    ids, data = stack
    scorer = load_scorer(h5, meta, "keras")
    keras_model = scorer.model
    assert isinstance(keras_model, KerasModel)
    keras_model._proc.kill()
    with pytest.raises(ScoringError, match="keras worker process .*killed by signal 9"):
        scorer.score(data, len(ids))


class Canceled(Exception):
    """What plpy.execute raises in a backend with a cancel pending (plpy.spiexceptions.QueryCanceled)."""


class FakeBackend:
    """children._Backend as inside PostgreSQL with a cancel pending: plpy.execute raises it."""

    resolved = True

    class pending:
        value = 1

    class cancel_pending:
        value = 1

    class die_pending:
        value = 0

    class plpy:
        executed = []

        @classmethod
        def execute(cls, sql):
            cls.executed.append(sql)
            raise Canceled("canceling statement due to user request")

        @staticmethod
        def error(message, sqlstate=None):
            raise Canceled(f"{sqlstate}: {message}")

    @staticmethod
    def in_parallel_mode():
        return False

    @classmethod
    def get(cls):
        return cls


@pytest.fixture()
def started(monkeypatch):
    """The children started (children.popen), to see them ended."""
    from fraud_scoring import children

    procs, popen = [], children.popen

    def recording(*args, **kwargs):
        procs.append(popen(*args, **kwargs))
        return procs[-1]

    monkeypatch.setattr(children, "popen", recording)
    return procs


@pytest.mark.parametrize("parallel", [False, True], ids=["backend", "parallel-mode"])
def test_a_cancel_while_the_model_reader_works_ends_it_with_postgresqls_error(model, monkeypatch, started, parallel):
    """No timing: the reader never finishes (it sleeps), the cancel is pending from the start."""
    from fraud_scoring import children

    h5, _ = model
    monkeypatch.setattr(FakeBackend, "in_parallel_mode", staticmethod(lambda: parallel))
    monkeypatch.setattr(children, "_Backend", FakeBackend)
    monkeypatch.setattr(h5_reader, "CHILD_ARGS", ["-c", "import time; time.sleep(600)"])
    message = "57014: canceling statement: an interrupt arrived" if parallel else "due to user request"
    with pytest.raises(Canceled, match=message):
        load_numpy_model(h5, 28, isolate=True)
    assert len(started) == 1 and started[0].returncode == -9  # killed, and reaped


def test_a_cancel_while_the_keras_worker_starts_ends_it_and_the_next_call_starts_another(model, monkeypatch, started):
    from fraud_scoring import children

    h5, _ = model
    keras_model = KerasModel(h5, 28)
    monkeypatch.setattr(children, "_Backend", FakeBackend)
    with pytest.raises(Canceled, match="due to user request"):  # canceled while TensorFlow imports
        KerasModel(h5, 28)
    with pytest.raises(Canceled, match="due to user request"):  # canceled while it scores
        keras_model.predict(np.zeros((5000, 28), np.float32))
    assert [p.returncode for p in started] == [-9, -9]  # both workers killed, and reaped
    assert started[0] is keras_model._proc
    monkeypatch.undo()
    assert keras_model.predict(np.zeros((3, 28), np.float32)).shape == (3,)  # a new worker


def test_children_run_in_a_session_of_their_own(started):
    """PostgreSQL signals a backend's process group: a cancel must reach the backend, not its children."""
    import os

    from fraud_scoring import children

    done = children.run(children.command(["-c", "import os; print(os.getsid(0))"]), b"", 60, children.child_env())
    assert int(done.stdout) == started[0].pid != os.getsid(0)


def test_the_children_are_modules_of_the_same_fraud_scoring_copy(tmp_path):
    """The reader child and the keras worker are `python -m fraud_scoring....`, importing the parent's copy."""
    from fraud_scoring import children

    assert h5_reader.CHILD_ARGS == ["-m", "fraud_scoring.h5_reader"]
    env = children.child_env()
    assert env["PYTHONPATH"].split(":")[0] == str(ROOT)  # the checkout's copy here, site-packages in the database
    # run from elsewhere (the server's cwd is its data directory): still this copy
    where = subprocess.run(
        children.command(["-c", "import fraud_scoring; print(fraud_scoring.__file__)"]),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where == str(ROOT / "fraud_scoring" / "__init__.py")


def test_the_reader_child_reports_a_refusal_as_json(model):
    h5, _ = model
    with pytest.raises(ScoringError, match="not an HDF5 file"):
        h5_reader.read_dense_layers_in_child(b"not a model at all")


def test_the_package_version_and_source_hash_need_no_numpy():
    """What the install records and the segment probe compares: computed without importing numpy."""
    code = "import sys, fraud_scoring.version as v; print(v.source_hash()); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    digest, numpy_imported = out.stdout.split()
    assert digest == version.source_hash() and len(digest) == 64
    assert numpy_imported == "False"
    info = version.package_info()
    assert version.describe(info) == f"{info['version']} sha256:{digest}"


def test_the_source_hash_changes_with_any_module(tmp_path):
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    before = version.source_hash(str(tmp_path))
    (tmp_path / "b.py").write_text("# b.py, edited\n")
    assert version.source_hash(str(tmp_path)) != before
