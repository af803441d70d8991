"""The real pipeline on the real database: dbt build, incremental runs, both runtimes, bad input.

The tests run in order on one set of schemas of their own (test_*_<pid>) and
share its state; each says what it leaves behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pytest
from dbtdb import DbtProject, drop_project, query, setup_project

from conftest import ROOT, make_stack
from fraud_scoring import SCORE_TOLERANCE
from fraud_scoring.contract import project_contract
from fraud_scoring.scorer import load_scorer
from training import artifacts
from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import load_csv
from warehouse.registry import RegistryError, register

pytestmark = pytest.mark.database
FEATURES = ", ".join(project_contract().columns)
SQL_FEATURES = ",".join(project_contract().columns)


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, str(os.getpid()), rows=3000, seed=99)
    yield p
    drop_project(p, p.schema + "_analyst")
    query(f"drop role if exists {p.analyst}")


def scores(p: DbtProject, version: str | None = None) -> dict:
    """transaction_id -> (probability, version, scored_at), of one version (every row by default: tests
    that use it keep one version in the table)."""
    rows = query(
        f"select transaction_id, fraud_probability, model_version, scored_at from {p.schema}.fraud_scores"
        + (" where model_version = %s" if version else ""),
        (version,) if version else None,
    )
    return {r[0]: r[1:] for r in rows}


def decisions(p: DbtProject) -> dict:
    rows = query(f"select transaction_id, model_version, threshold, is_fraud from {p.schema}.fraud_decisions")
    return {r[0]: r[1:] for r in rows}


def test_dbt_build_scores_every_transaction(project):
    result = project.dbt("build")
    assert "ERROR=0" in result.stdout
    s = scores(project)
    assert sorted(s) == list(range(1, 3001))
    assert {v[1] for v in s.values()} == {project.version_a}


def test_scores_are_those_of_the_model_for_the_same_ids(project, model_dir):
    rows = query(f"select transaction_id, {FEATURES} from {project.raw_schema}.credit_card order by random()")
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    X = np.array([r[1:] for r in rows], dtype=np.float32)
    meta = artifacts.load_metadata(model_dir)
    scorer = load_scorer((model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy")
    got_ids, prob, _, reasons = scorer.score(make_stack(ids, X), len(ids), reason_threshold=meta["threshold"])
    expected = dict(zip(got_ids.tolist(), prob.tolist(), strict=True))
    s = scores(project)
    assert all(np.float32(s[i][0]) == np.float32(expected[i]) for i in expected)  # the same bits: same runtime, CPU
    # reason codes: those of the rows at the threshold, computed in the same scoring call
    stored = dict(query(f"select transaction_id, reason_codes from {project.schema}.fraud_scores "
                        "where reason_codes is not null"))  # fmt: skip
    codes = {int(got_ids[r]): [{"feature": n, "contribution": c} for n, c in c3] for r, c3 in reasons.items()}
    assert stored == codes and 0 < len(stored) < len(ids)
    queue = query(f"select transaction_id, reason_1_feature from {project.schema}.fraud_case_queue")
    assert {i: f for i, f in queue} == {
        i: c[0]["feature"] for i, c in codes.items() if c and expected[i] >= meta["threshold"]
    }


def test_second_run_scores_nothing_and_changes_nothing(project):
    before = scores(project)
    result = project.dbt("run", "--select", "fraud_scores")
    assert "INSERT 0 0" in result.stdout
    assert scores(project) == before


def test_appended_rows_are_the_only_ones_scored(project, tmp_path):
    before = scores(project)
    extra = write_synthetic_csv(tmp_path / "more.csv", 500, seed=100, fraud_rate=0.01)
    with connection() as conn:
        assert load_csv(conn, extra, f"{project.raw_schema}.credit_card", append=True) == 500
    result = project.dbt("run", "--select", "int_credit_card__scoring_stacks", "fraud_scores")
    assert "INSERT 0 500" in result.stdout
    after = scores(project)
    assert sorted(after) == list(range(1, 3501))
    assert {i: after[i] for i in before} == before  # earlier scores untouched


def test_keras_engine_gives_the_same_scores_in_the_database(project):
    numpy_scores = scores(project)
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh", fraud_scoring_runtime="keras")
    keras_scores = scores(project)
    assert keras_scores.keys() == numpy_scores.keys()
    assert max(abs(keras_scores[i][0] - numpy_scores[i][0]) for i in numpy_scores) < SCORE_TOLERANCE
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh")


def test_registering_a_model_deploys_nothing(project, other_model_dir):
    """Which model scores is explicit (the registry's deployments), never registration order."""
    before = scores(project)
    with connection() as conn:
        version_b, new = register(conn, other_model_dir, project.fraud_schema)
    assert new and version_b != project.version_a
    project.version_b = version_b
    result = project.dbt("run", "--select", "fraud_scores")
    assert "INSERT 0 0" in result.stdout
    assert scores(project) == before


def _operation(project, name, **args):
    return project.dbt("run-operation", name, "--args", json.dumps(args), check=False)


def test_a_challenger_is_scored_beside_the_champion_promoted_and_rolled_back_without_rescoring(project):
    a, b = project.version_a, project.version_b
    before = scores(project)
    assert _operation(project, "add_fraud_challenger", version=b).returncode == 0
    result = project.dbt("run", "--select", "fraud_scores+")
    assert "INSERT 0 3500" in result.stdout  # b's scores, beside a's
    assert scores(project, a) == before
    b_scores = scores(project, b)
    assert b_scores.keys() == before.keys()
    assert any(abs(b_scores[i][0] - before[i][0]) > 1e-4 for i in before)
    assert {v[0] for v in decisions(project).values()} == {a}
    metrics = query(
        f"select model_version, role, labeled_rows from {project.schema}.fraud_model_metrics "
        "where transaction_day is null"
    )
    assert sorted(metrics) == sorted([(a, "champion", 3500), (b, "challenger", 3500)])
    per_day = query(
        f"select model_version, sum(labeled_rows) from {project.schema}.fraud_model_metrics "
        "where transaction_day is not null group by model_version"
    )
    assert sorted(per_day) == sorted([(a, 3500), (b, 3500)])
    project.dbt("test")
    # promote: decisions follow at once, no dbt run, nothing rescored
    assert _operation(project, "promote_fraud_model", version=b).returncode == 0
    promoted = decisions(project)
    assert {v[0] for v in promoted.values()} == {b}
    assert {i: v[2] for i, v in promoted.items()} == {i: v[0] >= promoted[i][1] for i, v in b_scores.items()}
    assert scores(project, b) == b_scores and scores(project, a) == before
    # roll back: a decides again; b stays a challenger
    assert _operation(project, "rollback_fraud_model").returncode == 0
    assert {v[0] for v in decisions(project).values()} == {a}
    assert query(f"select role from {project.fraud_schema}.deployments where model_version = %s", (b,)) == [
        ("challenger",)
    ]
    result = _operation(project, "retire_fraud_model", version=a)
    assert result.returncode != 0 and "is the champion: promote another version first" in result.stdout
    assert _operation(project, "retire_fraud_model", version=b).returncode == 0
    assert "INSERT 0 0" in project.dbt("run", "--select", "fraud_scores").stdout
    query(f"delete from {project.schema}.fraud_scores where model_version = %s", (b,))
    history = query(f"select model_version, role from {project.fraud_schema}.deployment_history order by changed_at")
    champion, challenger = "champion", "challenger"
    assert history == [(a, champion), (b, challenger), (a, challenger), (b, champion), (b, challenger), (a, champion),
                       (b, "retired")]  # fmt: skip


def test_the_threshold_changes_decisions_without_rescoring(project):
    before, flagged = scores(project), sum(v[2] for v in decisions(project).values())
    assert _operation(project, "set_fraud_threshold", threshold=0.01).returncode == 0
    lowered = decisions(project)
    assert {v[1] for v in lowered.values()} == {0.01}
    assert sum(v[2] for v in lowered.values()) > flagged
    assert scores(project) == before  # same probabilities, same scored_at: nothing rescored
    result = _operation(project, "set_fraud_threshold", threshold="0.5; drop table x")
    assert result.returncode != 0 and "strictly between 0 and 1" in result.stdout
    assert _operation(project, "set_fraud_threshold", threshold=None).returncode == 0  # back to the model's own
    assert sum(v[2] for v in decisions(project).values()) == flagged


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


def test_the_threshold_test_fails_when_the_threshold_does_not_match(project):
    result = project.dbt(
        "test",
        "--select",
        "fraud_decisions_match_threshold",
        check=False,
        fraud_model_version=project.version_a,
        fraud_threshold=0.01,
    )
    assert result.returncode != 0 and "FAIL" in result.stdout


def test_unknown_model_version_is_a_clear_error(project):
    before = scores(project)
    result = project.dbt("run", "--select", "fraud_scores", check=False, fraud_model_version="no-such-model")
    assert result.returncode != 0
    assert '"no-such-model" is not registered' in result.stdout
    assert scores(project) == before


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


def test_bad_feature_values_are_quarantined_and_every_other_row_scored(project):
    """NULL, NaN, Infinity and values no float4 holds: the run scores the rest; the quarantine names each."""
    before = scores(project)
    table = f"{project.raw_schema}.credit_card"
    bad = {17: ("v5", "'NaN'", "NaN"), 18: ("v3", "null", "NULL"), 19: ("v28", "'-Infinity'", "Infinity"),
           20: ("v1", "1e300", "beyond float4 range"), 21: ("v2", "1e-300", "rounds to zero as a float4")}  # fmt: skip
    original = {
        i: query(f"select {c} from {table} where transaction_id = %s", (i,))[0][0] for i, (c, _, _) in bad.items()
    }
    for i, (column, value, _) in bad.items():
        query(f"update {table} set {column} = {value} where transaction_id = {i}")
    restack = ("run", "--select", "int_credit_card__scoring_stacks+", "--full-refresh")  # a corrected source row
    try:
        project.dbt(*restack)
        after = scores(project)
        assert sorted(after) == sorted(set(before) - set(bad))
        assert {i: after[i][:2] for i in after} == {i: before[i][:2] for i in after}
        quarantined = query(f"select transaction_id, column_name, reason from {project.schema}.fraud_quarantine")
        assert sorted(quarantined) == [(i, c.upper(), reason) for i, (c, _, reason) in sorted(bad.items())]
        warned = project.dbt("test", "--select", "fraud_quarantine_is_empty")
        assert "WARN 5 fraud_quarantine_is_empty" in warned.stdout
        project.dbt("test", "--exclude", "fraud_quarantine_is_empty")  # complete without the quarantined
        failed = project.dbt("test", "--select", "fraud_quarantine_is_empty", check=False,
                             fraud_quarantine_severity="error")  # fmt: skip
        assert failed.returncode != 0 and "FAIL 5 fraud_quarantine_is_empty" in failed.stdout
    finally:
        for i, (column, _, _) in bad.items():
            query(f"update {table} set {column} = %s where transaction_id = {i}", (original[i],))
        project.dbt(*restack)
    assert {i: v[:2] for i, v in scores(project).items()} == {i: v[:2] for i, v in before.items()}


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


def test_probabilities_travel_as_float32_bit_patterns_without_loss(project):
    """score_stack returns float32 bit patterns; SQL's probability_from_bits must give each exact value."""
    values = np.array([0.0, 1.0, 0.5, 0.1, 1e-45, 1.1754943e-38, 3.4e38, -2.5, np.inf, -np.inf, 0.999999], np.float32)
    bits = values.view(np.int32).tolist() + [-2147483648]  # -0.0
    rows = query(
        f"select b, {project.fraud_schema}.probability_from_bits(b)::text from unnest(%s::integer[]) as b", (bits,)
    )
    for b, got in rows:
        want = float(np.array([b], np.int32).view(np.float32)[0])
        assert float(got) == want, (b, got, want)  # the float32's exact value, as a float8
        assert np.array([float(got)]).astype(np.float32).view(np.int32)[0] == b, (b, got)  # its sign (-0.0) too
    nan = int(np.array([np.nan], np.float32).view(np.int32)[0])
    assert query(f"select {project.fraud_schema}.probability_from_bits(%s)::text", (nan,)) == [("NaN",)]


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


def _compiled_fraud_scores(project, *flags: str, **vars) -> tuple[list[str], str]:
    """fraud_scores as dbt compiles it: (the pre-hooks a statement outside dbt needs, its select).

    The templated hook, the advisory lock on {{ this }}, only orders concurrent dbt runs."""
    hooks, compiled = project.compile_model("fraud_scores", *flags, **vars)
    return [h for h in hooks if "{{" not in h], compiled


def _in_rolled_back_transaction(statements: list[str]):
    """Run statements on one connection, return the last one's rows, and roll everything back."""
    from warehouse.connection import connect

    conn = connect()
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else None
    finally:
        conn.rollback()
        conn.close()


def test_scoring_and_stacking_hold_one_stack_at_a_time(project):
    """Scoring reads stored stacks one row at a time (no sort, no aggregate over the table), and
    stacking aggregates one batch per range scan: memory is one stack, not the table."""
    hooks, compiled = _compiled_fraud_scores(project, "--full-refresh")
    plan = "\n".join(r[0] for r in _in_rolled_back_transaction([*hooks, "explain " + compiled]))
    assert "ProjectSet" in plan and "Seq Scan on int_credit_card__scoring_stacks" in plan, plan
    assert "Sort" not in plan and "GroupAggregate" not in plan, plan
    _, stacking = project.compile_model("int_credit_card__scoring_stacks", "--full-refresh")
    plan = "\n".join(r[0] for r in _in_rolled_back_transaction(["explain " + stacking]))
    assert "Nested Loop" in plan and "Sort" not in plan, plan
    assert plan.count("Aggregate") >= 2, plan  # the distinct batches, then one aggregate per batch


EAGER_PARALLEL = [
    "set parallel_setup_cost = 0",
    "set parallel_tuple_cost = 0",
    "set min_parallel_table_scan_size = 0",
    "set max_parallel_workers_per_gather = 2",
    # the plan run by a parallel worker even when it is too small to be worth one (PostgreSQL 15's
    # name for it, and 16's)
    "select set_config(name, 'on', true) from pg_settings"
    " where name in ('force_parallel_mode', 'debug_parallel_query')",
]


def _stack_scores_sql(project, runtime: str) -> str:
    """Every stored stack scored by the project's version through score_stack, as a query."""
    return (
        f"select stack_id, {project.fraud_schema}.score_stack(stack, n_rows, '{project.version_a}', "
        f"'{runtime}', 0.5, 0, true) from {project.schema}.int_credit_card__scoring_stacks"
    )


def test_the_numpy_engine_scores_in_parallel_workers(project):
    """score_stack (SECURITY DEFINER, its search_path SET, reading the registry) and the numpy
    scorer under it (a pure function: no plpy.execute, which fails in parallel mode) are
    PARALLEL SAFE: forced into a parallel worker, scoring gives the serial plan's results."""
    sql = _stack_scores_sql(project, "numpy")
    plan = "\n".join(r[0] for r in _in_rolled_back_transaction([*EAGER_PARALLEL, "explain " + sql]))
    assert "Gather" in plan and "Workers Planned" in plan, plan
    parallel = _in_rolled_back_transaction([*EAGER_PARALLEL, sql])
    assert parallel and sorted(parallel) == sorted(_in_rolled_back_transaction([sql]))


def test_the_keras_engine_never_runs_tensorflow_in_a_backend_or_parallel_worker(project, server_watch):
    """TensorFlow in a backend crashed the server here: the keras runtime runs it in a child process
    (fraud_scoring.keras_worker), so a parallel worker scoring with it only talks to its child. Forced
    into a parallel worker, the keras scores agree with the numpy ones, and the server stayed up."""
    keras = _in_rolled_back_transaction([*EAGER_PARALLEL, _stack_scores_sql(project, "keras")])
    numpy = dict(_in_rolled_back_transaction([_stack_scores_sql(project, "numpy")]))
    assert keras and len(keras) == len(numpy)
    for stack_id, (bits, _) in keras:
        got = np.array(bits.strip("{}").split(","), dtype=np.int32).view(np.float32)
        want = np.array(numpy[stack_id][0].strip("{}").split(","), dtype=np.int32).view(np.float32)
        assert np.nanmax(np.abs(got - want)) < SCORE_TOLERANCE
    assert query("select pg_postmaster_start_time()")[0][0] == server_watch["started"]


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


def test_an_ordinary_role_scores_once_granted_and_cannot_replace_the_functions(project):
    """The least-privilege set-up of the README: a superuser installs and names the roles that score."""
    import psycopg2

    a, f, r = project.analyst, project.fraud_schema, project.raw_schema
    query(f"drop role if exists {a}")
    query(f"create role {a} login")
    query(f"grant usage on schema {r} to {a}")
    query(f"grant select on {r}.credit_card to {a}")
    query(f"create schema {project.schema}_analyst authorization {a}")
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


def test_a_reloaded_source_is_stacked_and_scored_anew(project, model_dir, tmp_path):
    """The loader swaps in a new table (same ids, other values): stacks of the earlier data are never scored."""
    csv = write_synthetic_csv(tmp_path / "reload.csv", 3000, seed=5, fraud_rate=0.01)
    with connection() as conn:
        load_csv(conn, csv, f"{project.raw_schema}.credit_card")
    # fraud_scores without the stacks model: the stored stacks are of the old table, so nothing is
    # scored, and no score of the old table survives (dbt test reports every transaction missing)
    project.dbt("run", "--select", "fraud_scores", fraud_model_version=project.version_a)
    assert scores(project) == {}
    missing = project.dbt("test", "--select", "fraud_scores_complete_for_every_deployed_model", check=False)
    assert missing.returncode != 0 and "Got 3000 results" in missing.stdout, missing.stdout[-2000:]
    # the stacks model drops the old table's stacks and stacks the new one's rows, which are then scored
    project.dbt("run", "--select", "int_credit_card__scoring_stacks+", fraud_model_version=project.version_a)
    rows = query(f"select transaction_id, {FEATURES} from {project.raw_schema}.credit_card")
    X = np.array([r[1:] for r in rows], dtype=np.float32)
    meta = artifacts.load_metadata(model_dir)
    expected = load_scorer((model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy").predict(X)
    s = scores(project)
    assert sorted(s) == sorted(r[0] for r in rows)
    assert all(np.float32(s[r[0]][0]) == p for r, p in zip(rows, expected, strict=True))  # the same bits
    stacked = query(
        f"select sum(n_rows), count(distinct source_table_id) from {project.schema}.int_credit_card__scoring_stacks"
    )
    assert stacked == [(3000, 1)]


def test_deleted_inserted_and_corrected_transactions_are_followed_by_a_plain_run(project):
    """A plain `dbt run` after deletions, an insertion below the highest id and an update in place."""
    table = f"{project.raw_schema}.credit_card"
    before = scores(project)
    query(f"delete from {table} where transaction_id in (100, 2500)")
    project.dbt("run")
    after = scores(project)
    assert sorted(after) == sorted(set(before) - {100, 2500})
    assert {i: v[:2] for i, v in after.items()} == {i: before[i][:2] for i in after}
    # transaction 100 again, with transaction 101's features: scored like 101
    query(f"insert into {table} select 100, time, {FEATURES}, amount, class from {table} where transaction_id = 101")
    project.dbt("run")
    again = scores(project)
    assert sorted(again) == sorted(set(before) - {2500})
    assert again[100][0] == again[101][0]
    # transaction 50 corrected in place (an UPDATE: same id, same count) to 60's features: found by
    # commit order (its new xmin), stacked and scored again
    assignments = ", ".join(f"v{i} = other.v{i}" for i in range(1, 29))
    query(f"update {table} as t set {assignments} from {table} as other "
          "where t.transaction_id = 50 and other.transaction_id = 60")  # fmt: skip
    assert again[50][0] != again[60][0]
    project.dbt("run")
    corrected = scores(project)
    assert corrected[50][0] == corrected[60][0]
    assert corrected[7][0] == before[7][0]
    project.dbt("test")


def test_a_reloaded_source_is_scored_anew_by_a_plain_run(project, model_dir, tmp_path):
    """Switching data (make demo, then make demo DATA=file): no score of the earlier data survives."""
    csv = write_synthetic_csv(tmp_path / "smaller.csv", 2000, seed=6, fraud_rate=0.01)
    with connection() as conn:
        load_csv(conn, csv, f"{project.raw_schema}.credit_card")
    project.dbt("run")
    s = scores(project)
    assert sorted(s) == list(range(1, 2001))
    rows = query(f"select transaction_id, {FEATURES} from {project.raw_schema}.credit_card order by transaction_id")
    X = np.array([r[1:] for r in rows], dtype=np.float32)
    meta = artifacts.load_metadata(model_dir)
    expected = load_scorer((model_dir / artifacts.MODEL_FILE).read_bytes(), meta, "numpy").predict(X)
    assert all(np.float32(s[r[0]][0]) == p for r, p in zip(rows, expected, strict=True))  # the same bits
    project.dbt("test")


def test_the_registry_quarantine_and_decision_layer_are_declared_in_the_dag(project):
    """Lineage from the registry (a source with freshness) to the case queue's exposure; contracts on
    what analysts build on."""
    listed = project.dbt("ls", "--select", "+exposure:fraud_case_queue", "--quiet").stdout.split()
    for node in ("source:fraud_scoring.fraud.models", "source:fraud_scoring.fraud.deployments",
                 "fraud_scoring.marts.fraud_decisions", "fraud_scoring.marts.fraud_deployments",
                 "fraud_scoring.marts.fraud_scores"):  # fmt: skip
        assert node in listed, listed
    assert "fraud_scoring.marts.fraud_quarantine" in project.dbt("ls", "--select", "fraud_quarantine").stdout
    manifest = json.loads((ROOT / f"target/test_{project.suffix}" / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values()}
    for name in ("fraud_scores", "fraud_deployments", "fraud_decisions", "fraud_case_queue"):
        assert nodes[name]["contract"]["enforced"], name
    source = next(s for s in manifest["sources"].values() if s["name"] == "models")
    assert source["loaded_at_field"] == "registered_at" and source["freshness"]["warn_after"]["count"] == 90
    assert "PASS freshness of fraud.models" in project.dbt("source", "freshness").stdout.replace(
        project.fraud_schema, "fraud"
    )


def test_an_empty_source_table_gives_an_empty_score_table(project):
    query(f"truncate {project.raw_schema}.credit_card")
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh")
    assert scores(project) == {}
    project.dbt("test", "--select", "fraud_scores")
