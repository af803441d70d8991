"""Attacks on the scorer, as the least-privilege role and at the registry's door: each fails cleanly.

The role is what var fraud_scoring_roles grants (README: a superuser installs and names
the roles that score). Hostile model files are built here with h5py: a kernel whose
bytes are stored in a server file (external storage: scoring one-hot rows returned the
file, 112 bytes a call), a gzip bomb, a virtual dataset, external and soft links, and
datasets that declare more than they hold. Every database test checks afterwards that
the server did not restart and that the registry, the deployments and the scores are
as they were.
"""

from __future__ import annotations

import hashlib
import json
import os

import h5py
import numpy as np
import pytest
from dbtdb import drop_project, query, setup_project

from conftest import make_stack
from fraud_scoring.h5_reader import read_dense_layers, read_dense_layers_in_child
from fraud_scoring.model_audit import MAX_MODEL_FILE_BYTES
from fraud_scoring.scorer import ScoringError
from training import artifacts
from warehouse.registry import RegistryError, read_model_dir

pytestmark = pytest.mark.database
FEATURES = [f"V{i}" for i in range(1, 29)]
SECRET = b"root:x:0:0:a secret of the server:/root:/bin/bash\n" * 3  # 150 bytes: the attack read 112


# ---- hostile model files ------------------------------------------------------------


def _config(units=1):
    """The model_config of a Keras Sequential 28 -> units linear Dense model, as Keras writes it."""
    layers = [
        {"class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, 28]}},
        {"class_name": "Dense", "config": {"name": "dense", "units": units, "activation": "linear"}},
    ]
    return json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})


def crafted_model(path, kernel=None, **kernel_options):
    """A 28 -> 1 linear Dense "model" written by hand. kernel: a function (group, name) that creates
    the kernel (a hostile one), else a plain float32 (28, 1) kernel with kernel_options."""
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = _config()
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["backend"] = "tensorflow"
        g = f.create_group("model_weights/dense/sequential/dense")
        g.create_dataset("bias", data=np.zeros(1, np.float32))
        if kernel is None:
            g.create_dataset("kernel", data=np.arange(28, dtype=np.float32).reshape(28, 1), **kernel_options)
        else:
            kernel(g, "kernel")
    return path.read_bytes()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    """A file only the server's OS user and this test can read, standing for /etc/passwd or pg_authid."""
    path = tmp_path_factory.mktemp("secret") / "secret.bin"
    path.write_bytes(SECRET)
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


def _external(secret):
    return lambda g, name: g.create_dataset(name, (28, 1), np.float32, external=[(str(secret), 0, 112)])


def _bomb(g, name):
    # 28 x 65536 zeros (7 MB declared), gzip-compressed to a few KB; the review's 354 KB one declared 700 MB
    ds = g.create_dataset(name, (28, 65536), np.float32, chunks=(28, 4096), compression="gzip", compression_opts=9)
    for start in range(0, 65536, 4096):
        ds[:, start : start + 4096] = 0


def _virtual(secret_h5):
    def make(g, name):
        layout = h5py.VirtualLayout(shape=(28, 1), dtype=np.float32)
        layout[:] = h5py.VirtualSource(str(secret_h5), "data", shape=(28, 1))
        g.create_virtual_dataset(name, layout)

    return make


def _external_link(secret_h5):
    def make(g, name):
        g[name] = h5py.ExternalLink(str(secret_h5), "/data")

    return make


def _soft_link(g, name):
    g.file.create_dataset("elsewhere", data=np.ones((28, 1), np.float32))
    g[name] = h5py.SoftLink("/elsewhere")


def _unallocated(g, name):
    # chunked, unfiltered and never written: declares 28 x 60000 floats, stores none (the fill value)
    g.create_dataset(name, (28, 60000), np.float32, chunks=(28, 1000))


def _int64(g, name):
    g.create_dataset(name, data=np.ones((28, 1), np.int64))


def _three_dimensions(g, name):
    g.create_dataset(name, data=np.ones((28, 1, 1), np.float32))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, secret_file):
    """{name: (the .h5 bytes, what the refusal says)}; 'benign' is the same hand-made model, harmless."""
    root = tmp_path_factory.mktemp("hostile")
    os.chmod(root, 0o755)
    secret_h5 = root / "secret.h5"
    with h5py.File(secret_h5, "w") as f:
        f.create_dataset("data", data=np.frombuffer(SECRET[:112], np.float32).reshape(28, 1))
    os.chmod(secret_h5, 0o644)
    makers = {
        "benign": (None, None),
        "external-storage": (_external(secret_file), "has external storage"),
        "gzip-bomb": (_bomb, r"stored through filters \(deflate"),
        "virtual": (_virtual(secret_h5), "is a virtual dataset"),
        "external-link": (_external_link(secret_h5), "holds an external link"),
        "soft-link": (_soft_link, "holds a soft link"),
        "unallocated": (_unallocated, "declares 6720000 bytes but stores 0"),
        "int64": (_int64, "has dtype int64: only float32 is accepted"),
        "three-dimensions": (_three_dimensions, "at most 2 dimensions"),
    }
    return {name: (crafted_model(root / f"{name}.h5", maker), message) for name, (maker, message) in makers.items()}


ATTACKS = [
    "external-storage",
    "gzip-bomb",
    "virtual",
    "external-link",
    "soft-link",
    "unallocated",
    "int64",
    "three-dimensions",
]


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


# ---- in the database, as the least-privilege role ----------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"sec{os.getpid()}", rows=300, seed=5)
    a = p.analyst
    query(f"drop role if exists {a}")
    query(f"create role {a} login")
    query(f"grant usage on schema {p.raw_schema} to {a}")
    query(f"grant select on {p.raw_schema}.credit_card to {a}")
    query(f"create schema {p.schema}_analyst authorization {a}")
    p.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    p.analyst_run = dict(user=a, schema_suffix="_analyst")
    p.dbt("run", **p.analyst_run)
    yield p
    drop_project(p, p.schema + "_analyst")
    query(f"drop role if exists {a}")


def _state(p):
    f = p.fraud_schema
    return (
        query(f"select model_version, sha256, metadata::text from {f}.models order by 1"),
        query(f"select model_version, role, threshold from {f}.deployments order by 1"),
        query(
            f"select count(*), md5(string_agg(transaction_id || model_version || fraud_probability, ',' order by "
            f"transaction_id, model_version)) from {p.schema}_analyst.fraud_scores"
        ),
    )


@pytest.fixture
def unchanged(project, server_watch):
    """After the test: the server never restarted; registry, deployments and scores as they were."""
    before = _state(project)
    yield
    assert query("select pg_postmaster_start_time()")[0][0] == server_watch["started"]
    assert _state(project) == before


@pytest.fixture
def registered_hostile(project, hostile):
    """Every hostile file in the registry, as a superuser could put it there (bypassing registration):
    {attack: version}. Removed afterwards."""
    f = project.fraud_schema
    versions = {}
    for name, (h5, _) in hostile.items():
        version = f"h-{name}"
        query(
            f"insert into {f}.models (model_version, model_name, sha256, model_h5, metadata) "
            "values (%s, %s, %s, %s, %s)",
            (version, name, hashlib.sha256(h5).hexdigest(), h5, json.dumps({"features": FEATURES, "threshold": 0.5})),
        )
        versions[name] = version
    yield versions
    query(f"delete from {f}.models where model_version like 'h-%%'")


ONE_HOT = make_stack(np.arange(1, 29), np.eye(28, dtype=np.float32))


def _score(p, ref, runtime="numpy", fail_on_error=True, stack=ONE_HOT, n_rows=28, user=None):
    import psycopg2

    return query(
        f"select {p.fraud_schema}.score_stack(%s, %s, %s, %s, null, 1, %s)",
        (psycopg2.Binary(stack) if stack is not None else None, n_rows, ref, runtime, fail_on_error),
        user=user or p.analyst,
    )[0][0]


def test_the_role_scores_a_harmless_model_through_the_entry_point(project, registered_hostile, unchanged):
    out = _score(project, registered_hostile["benign"])
    bits = np.array(json.loads("[" + out[0].strip("{}") + "]"), np.int32)
    assert np.array_equal(bits.view(np.float32), np.arange(28, dtype=np.float32))  # the kernel, row by row


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("runtime", ["numpy", "keras"])
def test_the_entry_point_refuses_hostile_models_in_the_registry(
    project, hostile, registered_hostile, unchanged, attack, runtime
):
    import psycopg2

    if runtime == "keras" and attack not in ("external-storage", "gzip-bomb", "virtual"):
        pytest.skip("the keras worker runs the same audit: three attacks show it")
    message = hostile[attack][1]
    with pytest.raises(psycopg2.Error, match=message) as raised:
        _score(project, registered_hostile[attack], runtime)
    assert SECRET[:16].decode() not in str(raised.value)


def test_fail_on_error_false_gives_null_and_a_warning_naming_the_model(project, registered_hostile, unchanged):
    from warehouse.connection import connect

    conn = connect(user=project.analyst)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f"select {project.fraud_schema}.score_stack(%s, 28, %s, 'numpy', null, 1, false)",
                (ONE_HOT, registered_hostile["external-storage"]),
            )
            assert cur.fetchone()[0] is None
            notices = "".join(conn.notices)
    finally:
        conn.close()
    assert "WARNING:  fraud scoring: model h-external-storage not scored" in notices
    assert "has external storage" in notices


def test_a_superuser_passing_bytes_to_the_inner_scorer_is_refused_by_the_reader(project, hostile, unchanged):
    import psycopg2

    h5, message = hostile["external-storage"]
    with pytest.raises(psycopg2.Error, match=message):
        query(
            f"select {project.fraud_schema}.score_stack_numpy(%s, 28, %s, %s, %s, null, 1, 'direct', true)",
            (ONE_HOT, h5, json.dumps({"features": FEATURES}), hashlib.sha256(h5).hexdigest()),
        )


def test_the_role_can_execute_only_the_entry_point_and_harmless_functions(project, unchanged):
    f = project.fraud_schema
    rows = query(
        "select p.proname, has_function_privilege(%s, p.oid, 'execute') from pg_proc as p "
        "join pg_namespace as n on n.oid = p.pronamespace where n.nspname = %s order by 1",
        (project.analyst, f),
    )
    allowed = {name for name, can in rows if can}
    # run_python_model runs published Python models only, as the role (docs/python-models.md)
    assert allowed == {
        "score_stack", "model_file_info", "probe_packages", "scoring_package", "probability_from_bits",
        "run_python_model",
    }  # fmt: skip
    assert {"score_stack_numpy", "score_stack_keras", "model_file_contents", "publish_python_model"} <= {
        name for name, _ in rows
    } - allowed
    [(definer, config, parallel)] = query(
        "select prosecdef, proconfig, proparallel from pg_proc where oid = %s::regprocedure",
        (f"{f}.score_stack(bytea, bigint, text, text, float8, integer, boolean)",),
    )
    assert definer and config == ["search_path=pg_catalog, pg_temp"] and parallel == "s"


@pytest.mark.parametrize(
    "call",
    [
        "score_stack_numpy(%(stack)s, 28, %(h5)s, %(meta)s, %(sha)s, null, 1, 'x', true)",
        "score_stack_keras(%(stack)s, 28, %(h5)s, %(meta)s, %(sha)s, null, 1, 'x', true)",
        "model_file_contents('/', 'etc/passwd')",
    ],
)
def test_the_role_cannot_call_the_functions_that_take_bytes_or_a_directory(project, hostile, unchanged, call):
    import psycopg2

    h5 = hostile["external-storage"][0]
    params = {"stack": ONE_HOT, "h5": h5, "meta": json.dumps({"features": FEATURES})}
    params["sha"] = hashlib.sha256(h5).hexdigest()
    with pytest.raises(psycopg2.Error, match="permission denied for function"):
        query(f"select {project.fraud_schema}.{call}", params, user=project.analyst)


@pytest.mark.parametrize(
    "ref, runtime, stack, n_rows, message",
    [
        ("file:/etc/passwd", "numpy", ONE_HOT, 28, "loading models from files is off"),
        ("file:../../../etc/passwd", "numpy", ONE_HOT, 28, "loading models from files is off"),
        ("x'; drop table models; --", "numpy", ONE_HOT, 28, "no model: the selected model is not in the registry"),
        (None, "numpy", ONE_HOT, 28, "no model"),
        ("VERSION", "python", ONE_HOT, 28, "unknown runtime python"),
        ("VERSION", "numpy", ONE_HOT, 10**12, "needs about"),
        ("VERSION", "numpy", ONE_HOT, 27, "a feature vector of the wrong length"),
        ("VERSION", "numpy", ONE_HOT[:-3], 28, "wrong length"),
        ("VERSION", "numpy", ONE_HOT, -1, "negative row count"),
        ("VERSION", "numpy", None, 28, "a NULL stack"),
    ],
)
def test_crafted_calls_of_the_entry_point_fail_cleanly(project, unchanged, ref, runtime, stack, n_rows, message):
    import psycopg2

    ref = project.version_a if ref == "VERSION" else ref
    with pytest.raises(psycopg2.Error, match=message):
        _score(project, ref, runtime, stack=stack, n_rows=n_rows)


def test_the_entry_point_ignores_the_callers_search_path(project, unchanged):
    """A role's own `models` table or function names earlier on its search_path change nothing."""
    a, s = project.analyst, f"{project.schema}_analyst"
    from warehouse.connection import connect

    conn = connect(user=a)
    try:
        with conn.cursor() as cur:
            cur.execute(f"create table {s}.models (like {project.fraud_schema}.models)")
            cur.execute(f"set search_path = {s}, pg_temp")
            cur.execute(
                f"select {project.fraud_schema}.score_stack(%s, 28, %s, 'numpy', null, 1, true)",
                (ONE_HOT, project.version_a),
            )
            assert cur.fetchone()[0] is not None
    finally:
        conn.rollback()
        conn.close()


def test_model_file_info_is_confined_to_the_allowed_directory(project, unchanged):
    import psycopg2

    with pytest.raises(psycopg2.Error, match="loading models from files is off"):
        query(f"select * from {project.fraud_schema}.model_file_info('/etc/passwd')", user=project.analyst)


@pytest.mark.parametrize(
    "vars, message",
    [
        (
            {
                "fraud_names": {"identifier": ".*", "model_version": ".*"},
                "fraud_schema": "fraud; create table public.pwned_names (x int); --",
            },
            "var fraud_names is not a setting",
        ),
        ({"fraud_threshold": ".0"}, "var fraud_threshold must be a number strictly between 0 and 1"),
        ({"fraud_threshold": 0}, "var fraud_threshold must be a number strictly between 0 and 1"),
        ({"fraud_threshold": "0.0"}, "var fraud_threshold must be a number strictly between 0 and 1"),
        ({"fraud_threshold": 1}, "var fraud_threshold must be a number strictly between 0 and 1"),
        ({"fraud_threshold": "NaN"}, "var fraud_threshold must be a number strictly between 0 and 1"),
        ({"fraud_threshold": "1e-3"}, "var fraud_threshold must be a number strictly between 0 and 1"),
    ],
)
def test_vars_cannot_inject_or_disable_validation(project, unchanged, vars, message):
    result = project.dbt("run", check=False, **project.analyst_run, **vars)
    assert result.returncode != 0
    assert message in result.stdout
    assert query("select to_regclass('public.pwned_names')") == [(None,)]


@pytest.mark.parametrize("threshold", ["NaN", "1.5", "0", ".0", "-2", "Infinity"])
def test_set_fraud_threshold_refuses_values_outside_0_1(project, unchanged, threshold):
    result = project.dbt(
        "run-operation", "set_fraud_threshold", "--args", json.dumps({"threshold": threshold}), check=False
    )
    assert result.returncode != 0
    assert "threshold must be a number strictly between 0 and 1" in result.stdout


def test_a_champion_with_a_nan_threshold_is_a_clear_compile_error(project, server_watch):
    """Registered before registration checked thresholds (or by hand): every run said `column "nan" does
    not exist`; now it names the model and the threshold, and scores nothing."""
    f = project.fraud_schema
    before = _state(project)
    query(
        f"update {f}.models set metadata = jsonb_set(metadata, '{{threshold}}', '\"NaN\"') where model_version = %s",
        (project.version_a,),
    )
    try:
        result = project.dbt("run", check=False, **project.analyst_run)
    finally:
        query(f"update {f}.models set metadata = %s where model_version = %s", (before[0][0][2], project.version_a))
    assert result.returncode != 0
    assert f"the threshold in the metadata of {project.version_a} must be a number strictly between 0 and 1" in (
        result.stdout
    )
    assert 'column "nan" does not exist' not in result.stdout
    assert _state(project) == before
    assert query("select pg_postmaster_start_time()")[0][0] == server_watch["started"]
