"""Attacks on the scorer in the database, as the least-privilege role and at the registry's door:
each fails cleanly.

The role is what var fraud_scoring_roles grants (README: a superuser installs and names
the roles that score). The hostile model files are hostile_models.py's (the same files at
the reader and at registration, without a database: test_hostile_models.py). Every test
checks afterwards that the server did not restart and that the registry, the deployments
and the scores are as they were.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from dbtdb import create_analyst, drop_project, query, setup_project
from hostile_models import ATTACKS, FEATURES, SECRET

from conftest import make_stack

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"sec{os.getpid()}", rows=300, seed=5)
    a = create_analyst(p)
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
    # run_python_model runs published Python models only, as the role (docs/python-models.md);
    # feature_bin_counts reads the bytes it is given as numbers (fraud_feature_bins calls it)
    assert allowed == {
        "score_stack", "model_file_info", "probe_packages", "scoring_package", "probability_from_bits",
        "run_python_model", "feature_bin_counts",
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
