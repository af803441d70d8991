"""The models the registry holds, on the real database: registering twice, models refused
(features in another order, corrupt or tampered bytes, another input width, stacks of the
wrong length), a model replaced under its version, and model files read from the server.

The tests run in order on one set of schemas of their own (test_*_reg<pid>), built once,
and share its state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
from dbtdb import drop_project, query, scores, setup_project

from conftest import ROOT
from training import artifacts
from warehouse.connection import connection
from warehouse.registry import RegistryError, register

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"reg{os.getpid()}", rows=1000, seed=99)
    p.dbt("build")
    yield p
    drop_project(p)


def test_registering_twice_is_a_no_op_and_a_clash_is_refused(project, model_dir, tmp_path):
    with connection() as conn:
        assert register(conn, model_dir, project.fraud_schema) == (project.version_a, False)
    clash = tmp_path / "clash"
    shutil.copytree(model_dir, clash)
    other = (clash / artifacts.MODEL_FILE).read_bytes() + b"\0"
    (clash / artifacts.MODEL_FILE).write_bytes(other)
    meta = json.loads((clash / artifacts.METADATA_FILE).read_text())
    meta["sha256"] = hashlib.sha256(other).hexdigest()
    (clash / artifacts.METADATA_FILE).write_text(json.dumps(meta))
    with connection() as conn, pytest.raises(RegistryError, match="already registered with different bytes"):
        register(conn, clash, project.fraud_schema)


def test_a_model_whose_features_are_in_another_order_is_refused_naming_both(project):
    import psycopg2

    f = project.fraud_schema
    query(
        f"insert into {f}.models (model_version, model_name, sha256, model_h5, metadata) "
        f"select 'swapped-1', model_name, sha256, model_h5, "
        f"jsonb_set(metadata, '{{features}}', (metadata -> 'features') - 0 - 0 || '[\"V2\", \"V1\"]') "
        f"from {f}.models where model_version = %s",
        (project.version_a,),
    )
    before = scores(project)
    try:
        result = project.dbt("run", "--select", "fraud_scores", check=False, fraud_model_version="swapped-1")
        assert result.returncode != 0
        assert (
            "expects its features in the order V3, V4," in result.stdout
            and "V28, V2, V1; SQL sends v1, v2" in result.stdout
        )
        assert scores(project) == before
        with pytest.raises(psycopg2.Error, match="expects its features in the order V3, V4, .*; SQL sends v1, v2"):
            query(_stack_sql(project), {"v": "swapped-1"})
    finally:
        query(f"delete from {f}.models where model_version = 'swapped-1'")


def _stack_sql(project, n_rows_expr="count(*)", runtime="numpy"):
    """Score transactions 1..10 in one stack by hand, through the roles' entry point score_stack:
    (the number of probabilities, the first). The model version is the parameter %(v)s."""
    f = project.fraud_schema
    return (
        f"select cardinality(p), {f}.probability_from_bits(p[1]) from (select ({f}.score_stack("
        f"string_agg(int8send(transaction_id) || features, ''::bytea), {n_rows_expr}, %(v)s, '{runtime}', "
        f"null, 0, true))[1]::integer[] as p "
        f"from {project.schema}.stg_raw__credit_card where transaction_id <= 10) x"
    )


def test_wrong_length_feature_vectors_are_refused_in_sql(project):
    import psycopg2

    [(count, first)] = query(_stack_sql(project), {"v": project.version_a})
    assert count == 10 and 0 <= first <= 1
    with pytest.raises(psycopg2.Error, match="a feature vector of the wrong length"):
        query(_stack_sql(project, "count(*) + 1"), {"v": project.version_a})


def test_corrupt_model_bytes_are_refused(project):
    import psycopg2

    junk = b"this is not a Keras model" * 40
    query(
        f"insert into {project.fraud_schema}.models (model_version, model_name, sha256, model_h5, metadata) "
        "values ('corrupt-1', 'junk', %s, %s, %s)",
        (hashlib.sha256(junk).hexdigest(), junk, json.dumps({"features": [f"V{i}" for i in range(1, 29)]})),
    )
    with pytest.raises(psycopg2.Error, match="not an HDF5 file"):
        query(_stack_sql(project), {"v": "corrupt-1"})
    # bytes changed behind the registry's back
    query(
        f"insert into {project.fraud_schema}.models (model_version, model_name, sha256, model_h5, metadata) "
        f"select 'tampered-1', model_name, sha256, model_h5 || '\\x00'::bytea, metadata "
        f"from {project.fraud_schema}.models where model_version = %s",
        (project.version_a,),
    )
    with pytest.raises(psycopg2.Error, match="do not match their registered sha256"):
        query(_stack_sql(project), {"v": "tampered-1"})
    query(f"delete from {project.fraud_schema}.models where model_version in ('corrupt-1', 'tampered-1')")


def test_a_model_replaced_under_its_version_is_never_scored_stale(project, other_model_dir):
    """The per-backend cache is keyed by version and sha256: same connection, new bytes, new scores."""
    from warehouse.connection import connect

    f = project.fraud_schema
    with connection() as conn:
        register(conn, other_model_dir, f)  # the model the replacement's scores are compared with
    h5_b, meta_b = (other_model_dir / artifacts.MODEL_FILE).read_bytes(), artifacts.load_metadata(other_model_dir)
    query(
        f"insert into {f}.models (model_version, model_name, sha256, model_h5, metadata) "
        f"select 'swap-1', model_name, sha256, model_h5, metadata from {f}.models where model_version = %s",
        (project.version_a,),
    )
    sql = _stack_sql(project)
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, {"v": "swap-1"})
            first = cur.fetchone()[1]
            cur.execute(
                f"update {f}.models set model_h5 = %s, sha256 = %s, metadata = %s where model_version = 'swap-1'",
                (h5_b, meta_b["sha256"], json.dumps(meta_b)),
            )
            cur.execute(sql, {"v": "swap-1"})
            second = cur.fetchone()[1]
            cur.execute(sql, {"v": meta_b["model_version"]})
            expected = cur.fetchone()[1]
        conn.rollback()
    finally:
        conn.close()
    query(f"delete from {f}.models where model_version = 'swap-1'")
    assert second != first
    assert second == expected


def test_a_model_with_another_input_width_fails_the_run_and_keeps_scores(project, tmp_path):
    import keras

    m = keras.Sequential([keras.Input((27,)), keras.layers.Dense(4, activation="sigmoid"), keras.layers.Dense(1)])
    m.save(tmp_path / "m27.h5")
    h5 = (tmp_path / "m27.h5").read_bytes()
    meta = {"features": [f"V{i}" for i in range(1, 29)], "threshold": 0.5}
    query(
        f"insert into {project.fraud_schema}.models (model_version, model_name, sha256, model_h5, metadata) "
        "values ('width-27', 'm27', %s, %s, %s)",
        (hashlib.sha256(h5).hexdigest(), h5, json.dumps(meta)),
    )
    before = scores(project)
    try:
        for runtime in ("numpy", "keras"):
            result = project.dbt(
                "run",
                "--select",
                "fraud_scores",
                check=False,
                fraud_model_version="width-27",
                fraud_scoring_runtime=runtime,
            )
            assert result.returncode != 0
            assert "the model expects 27 input features, scoring supplies 28" in result.stdout
            assert scores(project) == before
    finally:
        query(f"delete from {project.fraud_schema}.models where model_version = 'width-27'")


def _model_files(project, model_dir):
    """A model directory the server's OS user can read (pytest's tmp dirs are mode 700)."""
    root = ROOT / "target" / f"test_models_{project.suffix}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(model_dir, root / "a")
    (root / "escape.h5").symlink_to("/etc/passwd")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_model_files_are_off_until_a_superuser_allows_a_directory(project):
    result = project.dbt("run", "--select", "fraud_scores", check=False, fraud_model_path="a/model.h5")
    assert result.returncode != 0
    assert "loading models from files is off" in result.stdout


def test_a_model_file_scores_like_the_same_model_registered(project, model_dir):
    before = scores(project)
    root = _model_files(project, model_dir)
    project.dbt("run-operation", "install_fraud_scoring", fraud_model_dir=str(root))
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh", fraud_model_path="a/model.h5")
    after = scores(project)
    assert {i: v[:2] for i, v in after.items()} == {i: v[:2] for i, v in before.items()}


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc/passwd", "is outside the model directory"),
        ("../../../../etc/passwd", "is outside the model directory"),
        ("a/../../model.h5", "is outside the model directory"),
        ("escape.h5", "is outside the model directory"),  # a symlink out of the directory
        ("a/metadata.json", "is not a .h5 file"),
        ("a/none.h5", "cannot read model file"),
        ("a/model.h5'; drop table x; --", "may hold only letters"),
    ],
)
def test_model_paths_cannot_reach_other_server_files(project, path, message):
    before = scores(project)
    result = project.dbt("run", "--select", "fraud_scores", check=False, fraud_model_path=path)
    assert result.returncode != 0
    assert message in result.stdout
    assert scores(project) == before
