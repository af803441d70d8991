"""What a role that runs dbt can do, on the real database: an ordinary role scores once a
superuser has granted it, and cannot replace the functions; no var carries SQL.

The tests run on one set of schemas of their own (test_*_acc<pid>), built once.
"""

from __future__ import annotations

import os

import pytest
from dbtdb import create_analyst, drop_project, query, scores, setup_project

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"acc{os.getpid()}", rows=300, seed=99)
    p.dbt("build")
    yield p
    drop_project(p, p.schema + "_analyst")
    query(f"drop role if exists {p.analyst}")


@pytest.mark.parametrize(
    "var, value, message",
    [
        ("fraud_model_version", "x'; drop table raw.credit_card; --", "may hold only letters"),
        ("fraud_scoring_runtime", "numpy; drop schema fraud cascade", "must be 'numpy' or 'keras'"),
        ("fraud_batch_rows", "1; select pg_sleep(10)", "must be a positive whole number"),
        ("fraud_batch_rows", 50_000_000, "must be between 1 and 1,000,000"),
        ("fraud_threshold", "0.5 or true", "strictly between 0 and 1"),
        ("fraud_schema", 'fraud"; --', "must be a lowercase SQL identifier"),
        ("fraud_engine", "keras", "var fraud_engine is now called fraud_scoring_runtime"),  # renamed, not ignored
        ("fraud_engine_dispatch", "postgres", "var fraud_engine_dispatch is now called fraud_platform"),
    ],
)
def test_vars_cannot_inject_sql(project, var, value, message):
    before = scores(project)
    result = project.dbt("run", "--select", "fraud_scores", check=False, **{var: value})
    assert result.returncode != 0
    assert message in result.stdout
    assert scores(project) == before


def test_an_ordinary_role_scores_once_granted_and_cannot_replace_the_functions(project):
    """The least-privilege set-up of the README: a superuser installs and names the roles that score."""
    import psycopg2

    a, f = create_analyst(project), project.fraud_schema
    analyst_run = dict(user=a, schema_suffix="_analyst")
    # EXECUTE is revoked from PUBLIC: a role nobody granted cannot score (or read the registry)
    result = project.dbt("run", check=False, **analyst_run)
    assert result.returncode != 0
    assert "permission denied for schema " + f in result.stdout
    with pytest.raises(psycopg2.Error, match="permission denied"):
        query(f"select {f}.probe_packages()", user=a)
    project.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    result = project.dbt("run", check=False, **analyst_run)
    assert result.returncode == 0, result.stdout[-3000:]
    # the role cannot replace the functions, nor add its own to the schema
    with pytest.raises(psycopg2.Error, match="permission denied|must be owner"):
        query(
            f"create or replace function {f}.score_stack(bytea, bigint, text, text, float8, integer, boolean) "
            "returns text[] language sql as 'select null::text[]'",
            user=a,
        )
    with pytest.raises(psycopg2.Error, match="permission denied"):
        query(f"insert into {f}.models select * from {f}.models", user=a)
    # an outdated installation stops the run with the command to fix it
    query(f"update {f}.installation set version = 'old' where component = 'score_stack'")
    result = project.dbt("run", check=False, **analyst_run)
    assert result.returncode != 0
    assert "outdated (installed old" in result.stdout
    assert "dbt run-operation install_fraud_scoring" in result.stdout
    project.dbt("run-operation", "install_fraud_scoring")
