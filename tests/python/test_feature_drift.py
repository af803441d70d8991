"""Feature drift in the database: fraud_feature_bins and fraud_feature_drift against a numpy
recomputation from the raw rows, the alarm on the generator's drifted day and none without drift,
the dbt tests naming version, day and feature, and a version without a reference."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from dbtdb import connect, dbt_test_problems, drop_project, query, setup_project

from fraud_scoring.contract import project_contract
from fraud_scoring.feature_bins import bin_of, psi_of_counts
from training.data import KAGGLE_ROWS, TWO_DAYS_S, generate_chunk

pytestmark = pytest.mark.database
BATCH = 500
FEATURES = project_contract().columns
DRIFTED_FROM = 100_000  # transaction ids of the generator's day-2 rows


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    """3,000 rows of day 0 from another seed than the model's training rows: no drift."""
    p = setup_project(tmp_path_factory, model_dir, f"fdr{os.getpid()}", rows=3000, seed=41)
    p.extra_vars["fraud_batch_rows"] = BATCH
    p.dbt("run")
    yield p
    drop_project(p, p.schema + "_dbt_test__audit")


def _drift(p, version: str | None = None) -> dict:
    rows = query(
        f"select transaction_day, feature, psi, drift_status from {p.schema}.fraud_feature_drift "
        "where model_version = %s",
        [version or p.version_a],
    )
    return {(day, feature): (psi, status) for day, feature, psi, status in rows}


def _recomputed(p, version: str | None = None) -> dict:
    """Per (day, feature): the PSI of the raw rows' values against the registered reference, in numpy."""
    reference = query(f"select metadata -> 'reference_features' from {p.fraud_schema}.models where model_version = %s",
                      [version or p.version_a])[0][0]  # fmt: skip
    rows = np.array(query(f"select time, {', '.join(FEATURES)} from {p.raw_schema}.credit_card"), dtype=np.float64)
    day = np.floor(rows[:, 0] / 86_400).astype(int)
    out = {}
    for d in np.unique(day):
        for j, entry in enumerate(reference["features"]):
            values = rows[day == d, 1 + j].astype(np.float32)
            counts = np.bincount(bin_of(values, entry["edges"]), minlength=len(entry["counts"]))
            out[(int(d), entry["name"])] = psi_of_counts(entry["counts"], counts)
    return out


def _add_generated_day_2(p, rows: int = 3000) -> None:
    """The generator's own day-2 rows (legitimate V1 moved by its deliberate drift), ids from DRIFTED_FROM."""
    time, X, amount, y = generate_chunk(rows, 150_000, 43, 0.01, KAGGLE_ROWS / TWO_DAYS_S)
    assert time.min() >= 86_400 and time.max() < 2 * 86_400
    values = [
        (DRIFTED_FROM + i, float(t), *map(float, x), float(a), int(c))
        for i, (t, x, a, c) in enumerate(zip(time, X, amount, y, strict=True))
    ]
    from psycopg2.extras import execute_values

    columns = ", ".join(["transaction_id", "time", *FEATURES, "amount", "class"])
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            execute_values(cur, f"insert into {p.raw_schema}.credit_card ({columns}) values %s", values)
    finally:
        conn.close()


def test_undrifted_data_raises_no_alarm_and_equals_the_recomputation(project):
    drift, expected = _drift(project), _recomputed(project)
    assert set(drift) == {(0, f"V{k}") for k in range(1, 29)} == set(expected)
    for key, (psi, status) in drift.items():
        assert psi == pytest.approx(expected[key], abs=1e-9), key
        assert status == "stable" and psi < 0.1 / 5, (key, psi)
    result = project.dbt("test", "--select", "fraud_feature_drift_warn", "fraud_feature_drift_error")
    assert "WARN=0" in result.stdout and "ERROR=0" in result.stdout, result.stdout[-2000:]


def test_the_generators_day_2_drift_warns_on_v1_naming_version_day_and_feature(project):
    _add_generated_day_2(project)
    project.dbt("run")
    drift, expected = _drift(project), _recomputed(project)
    assert set(drift) == set(expected) and {day for day, _ in drift} == {0, 1}
    for key, (psi, _) in drift.items():
        assert psi == pytest.approx(expected[key], abs=1e-9), key
    alarms = {key: value for key, value in drift.items() if value[1] != "stable"}
    assert list(alarms) == [(1, "V1")] and alarms[(1, "V1")][1] in ("warn", "error"), alarms
    problems = dbt_test_problems(project, "fraud_feature_drift_warn")
    assert len(problems) == 1 and problems[0].startswith(f"feature drift: V1 of {project.version_a} on day 1"), problems
    query(f"delete from {project.raw_schema}.credit_card where transaction_id >= {DRIFTED_FROM}")
    project.dbt("run")
    assert {day for day, _ in _drift(project)} == {0}
    held = query(f"select distinct transaction_day from {project.schema}.fraud_feature_bins")
    assert held == [(0,)]


def test_a_challenger_gets_its_own_counts_and_loses_them_with_its_scores(project, other_model_dir):
    """Another version, scored as a challenger: its PSI against its own reference equals the
    recomputation; its scores deleted, its counts go at the next run and the champion's stay."""
    import json

    from warehouse.connection import connection
    from warehouse.registry import register

    with connection() as conn:
        other = register(conn, other_model_dir, project.fraud_schema)[0]
    project.dbt("run-operation", "add_fraud_challenger", "--args", json.dumps({"version": other}))
    project.dbt("run")
    drift, expected = _drift(project, other), _recomputed(project, other)
    assert set(drift) == set(expected) and len(drift) == 28
    for key, (psi, _) in drift.items():
        assert psi == pytest.approx(expected[key], abs=1e-9), key
    query(f"delete from {project.fraud_schema}.deployments where model_version = %s", [other])
    query(f"delete from {project.schema}.fraud_scores where model_version = %s", [other])
    project.dbt("run", "--select", "fraud_score_bins", "fraud_feature_bins")
    held = query(f"select model_version, count(*) from {project.schema}.fraud_feature_bins group by 1")
    assert [version for version, _ in held] == [project.version_a], held


def test_a_version_without_a_reference_says_so(project):
    registry = f"{project.fraud_schema}.models"
    saved = query(f"select metadata::text from {registry} where model_version = %s", [project.version_a])[0][0]
    query(f"update {registry} set metadata = metadata - 'reference_features' where model_version = %s",
          [project.version_a])  # fmt: skip
    try:
        drift = _drift(project)
        assert len(drift) == 28 and {status for _, status in drift.values()} == {"no reference"}
        project.dbt("test", "--select", "fraud_feature_drift_warn", "fraud_feature_drift_error")
    finally:
        query(f"update {registry} set metadata = %s::jsonb where model_version = %s", [saved, project.version_a])


def test_greenplum_reads_the_stacks_rows_without_lateral(project):
    """Greenplum refuses a correlated LATERAL over distributed tables: there the stack's ids are
    unnested and hash-joined; PostgreSQL reads each stack's key range through the source's key."""

    def clauses(sql: str) -> str:  # without -- comments, lowercased: what the server parses
        return re.sub(r"--[^\n]*", "", sql).lower()

    greenplum = clauses(project.compile_model("fraud_feature_bins", fraud_platform="greenplum")[1])
    postgres = clauses(project.compile_model("fraud_feature_bins")[1])
    assert "lateral" not in greenplum and "unnest(transaction_ids)" in greenplum, greenplum
    assert "cross join lateral" in postgres and "unnest(" not in postgres, postgres
    for sql in (greenplum, postgres):
        assert re.search(r"feature_bin_counts\(\s*new_stacks.stack, stack_days.ids, stack_days.row_days", sql)
    drift = clauses(project.compile_model("fraud_feature_drift", fraud_platform="greenplum")[1])
    assert "lateral" not in drift
