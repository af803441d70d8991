"""The real pipeline on the real database: dbt build, incremental runs, both runtimes, the
scores themselves and how they travel, the plans that keep memory to one stack.

The tests run in order on one set of schemas of their own (test_*_sc<pid>) and share its
state; each says what it leaves behind.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from dbtdb import drop_project, query, scores, setup_project

from conftest import make_stack
from fraud_scoring import SCORE_TOLERANCE
from fraud_scoring.contract import project_contract
from fraud_scoring.scorer import load_scorer
from training import artifacts
from training.data import write_synthetic_csv
from warehouse.connection import connection
from warehouse.loading import load_csv

pytestmark = pytest.mark.database
FEATURES = ", ".join(project_contract().columns)


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"sc{os.getpid()}", rows=3000, seed=99)
    yield p
    drop_project(p)


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


def test_a_full_refresh_leaves_fraud_scores_its_own_scored_at_index(project):
    """The monitoring finds new scores through a BRIN index on scored_at; after a full refresh the
    old table still held the index's name when the hook ran, and the new table got none."""
    project.dbt("run", "--select", "fraud_scores", "--full-refresh")
    brin = project.query(
        "select count(*) from pg_index as i join pg_class as c on i.indexrelid = c.oid"
        " join pg_am as am on c.relam = am.oid"
        f" where i.indrelid = '{project.schema}.fraud_scores'::regclass and am.amname = 'brin'"
    )
    assert brin == [(1,)]
    project.dbt("run", "--select", "fraud_scores+")


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


def test_an_empty_source_table_gives_an_empty_score_table(project):
    query(f"truncate {project.raw_schema}.credit_card")
    project.dbt("run", "--select", "fraud_scores+", "--full-refresh")
    assert scores(project) == {}
    project.dbt("test", "--select", "fraud_scores")
