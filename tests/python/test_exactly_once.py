"""Every transaction scored exactly once, by the current model: fixed cases that broke it, and a
randomized, seeded sequence of operations (invariant.py) checked after every quiescent point.

The invariant (invariant.violations): for every deployed version, every scorable raw row has
exactly one score, equal to what that model gives for the row's current features; no deleted
or quarantined row has one. The long soak is `make soak` (tests/python/soak.py).
"""

from __future__ import annotations

import os
import random

import pytest
from dbtdb import drop_project, query, setup_project
from invariant import Operations, run_in_background, violations, wait_for_statement

from warehouse.connection import connection
from warehouse.registry import register

pytestmark = pytest.mark.database
BATCH = 500  # small stacks: many ranges and gaps in a few thousand rows


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, other_model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"once{os.getpid()}", rows=3000, seed=21)
    p.extra_vars["fraud_batch_rows"] = BATCH
    with connection() as conn:
        p.version_b = register(conn, other_model_dir, p.fraud_schema)[0]
    p.dbt("run")
    yield p
    drop_project(p)


@pytest.fixture
def ops(project):
    assert violations(project) == []  # each case starts from a project where the invariant holds
    return Operations(project, random.Random(0), [project.version_a, project.version_b])


def holds(p) -> None:
    found = violations(p)
    assert found == [], "\n".join(found)


def test_a_row_updated_in_a_transaction_that_commits_after_the_run_started_is_rescored(project, ops):
    ids = ops.append(10)
    late = ops.late(
        f"update {project.raw_schema}.credit_card set v14 = v14 - 20, v12 = v12 - 20 where transaction_id = %s",
        [ids[5]],
    )
    ops.run()  # stacks and scores the row as it was: the update is not committed
    late.commit()
    ops.run()
    holds(project)


def test_rows_written_in_a_subtransaction_that_commits_late_are_scored(project, ops):
    """A snapshot lists top-level transactions only: a row written under a savepoint of a transaction
    still running when the run took its snapshot carries the subtransaction's id, which that
    snapshot's xip list does not name."""
    top = max(ops.ids())
    insert, params = ops._insert_sql([top + 1000, top + 1001])
    late = ops.late("select 1", None)  # the top-level transaction: running, with an id, before the run
    late.cur.execute("create temporary table fraud_xid_holder (x int); insert into fraud_xid_holder values (1)")
    late.cur.execute("savepoint s")
    late.cur.execute(insert, params)
    late.cur.execute(f"update {project.raw_schema}.credit_card set v14 = v14 - 20 where transaction_id = %s", [3])
    late.cur.execute("release savepoint s")
    ops.append(3)  # so that the run stacks something, and records its snapshot
    ops.run()
    late.commit()
    ops.run()
    holds(project)


def test_a_row_inserted_between_stacks_is_scored(project, ops):
    top = max(ops.ids())
    ops.execute(*ops._insert_sql([top + 5 * BATCH]))  # a stack of its own, far above
    ops.run()
    ops.execute(*ops._insert_sql([top + 1]))  # below the highest stacked id, in no stack's range
    ops.run()
    holds(project)


def test_an_insert_that_commits_after_higher_ids_were_stacked_is_scored(project, ops):
    top = max(ops.ids())
    late = ops.late(*ops._insert_sql(list(range(top + 1, top + 6))))
    ops.execute(*ops._insert_sql(list(range(top + 6, top + 11))))
    ops.run()
    late.commit()
    ops.run()
    holds(project)


def test_deleting_every_row_of_a_stack_deletes_their_scores(project, ops):
    top = max(ops.ids())
    lonely = top + 7 * BATCH
    ops.execute(*ops._insert_sql([lonely]))
    ops.run()
    assert query(f"select count(*) from {project.schema}.fraud_scores where transaction_id = %s", [lonely]) != [(0,)]
    ops.delete([lonely])
    ops.run()
    holds(project)


def test_two_plain_runs_at_once_write_no_duplicate_stacks(project, ops):
    ops.append(2 * BATCH + 17)
    codes, outputs = ops.runs_at_once(2)
    assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
    stacks = f"{project.schema}.int_credit_card__scoring_stacks"
    assert query(f"select count(*) - count(distinct first_transaction_id) from {stacks}") == [(0,)]
    holds(project)
    project.dbt("run", "--select", "fraud_scores", "--full-refresh")
    holds(project)


def test_a_row_changed_while_stacking_waits_for_another_run_is_followed(project, ops):
    """Runs serialize on the stacks: a run that waited reads the source as it is when it gets the lock."""
    ops.append(BATCH)
    first = project.start("run", fraud_batch_rows=1)  # slow stacking: one stack per row
    wait_for_statement(project, "int_credit_card__scoring_stacks", first)
    changed = ops.ids()[-3:]
    ops.update(changed)
    second = run_in_background(ops.run)
    first.communicate(timeout=600)
    second.join(timeout=600)
    ops.run()
    holds(project)


def test_a_failed_scoring_run_leaves_the_decision_layer_in_place(project, ops):
    views = ("fraud_decisions", "fraud_case_queue", "fraud_model_metrics", "fraud_quarantine")
    before = {v: query(f"select count(*) from {project.schema}.{v}")[0][0] for v in views}
    ops.append(5)
    registry = f"{project.fraud_schema}.models"
    champion = ops.champion()
    saved = query(f"select model_h5 from {registry} where model_version = %s", [champion])[0][0]
    query(f"update {registry} set model_h5 = %s where model_version = %s", [b"broken", champion])
    try:
        result = project.dbt("run", check=False)
        assert result.returncode != 0 and "fraud_scores" in result.stdout
    finally:
        query(f"update {registry} set model_h5 = %s where model_version = %s", [saved, champion])
    after = {v: query(f"select count(*) from {project.schema}.{v}")[0][0] for v in views}
    assert after == before  # every view still there, over the scores as they were
    ops.run()
    holds(project)


def test_a_broken_challenger_does_not_stop_the_champion_and_dbt_test_names_it(project, ops):
    champion = ops.champion()
    other = project.version_b if champion == project.version_a else project.version_a
    ops.add_challenger(other)
    ops.run()
    ops.append(7)
    registry = f"{project.fraud_schema}.models"
    saved = query(f"select model_h5 from {registry} where model_version = %s", [other])[0][0]
    query(f"update {registry} set model_h5 = %s where model_version = %s", [b"broken", other])
    try:
        result = project.dbt("run")  # succeeds: the champion scores, the challenger's calls give NULL
        assert "ERROR=0" in result.stdout, result.stdout[-3000:]
        unscored = f"""
            select count(*) from {project.schema}.stg_raw__credit_card as staged
            where staged.has_scorable_features and not exists (
                select 1 from {project.schema}.fraud_scores as s
                where s.transaction_id = staged.transaction_id and s.model_version = %s
            )"""
        assert query(unscored, [champion]) == [(0,)]  # the champion scored the new rows
        missing = query(unscored, [other])[0][0]
        assert missing > 0  # the challenger did not, and said so (a WARNING per call)
        failed = project.dbt("test", "--select", "fraud_scores_complete_for_every_deployed_model", check=False)
        assert failed.returncode != 0 and f"Got {missing} results" in failed.stdout, failed.stdout[-2000:]
    finally:
        query(f"update {registry} set model_h5 = %s where model_version = %s", [saved, other])
    ops.run()
    holds(project)


def test_promoting_a_version_that_has_never_scored_is_refused_until_it_has(project, ops):
    champion = ops.champion()
    other = project.version_b if champion == project.version_a else project.version_a
    query(f"delete from {project.schema}.fraud_scores where model_version = %s", [other])
    query(f"delete from {project.fraud_schema}.deployments where model_version = %s", [other])
    refused = project.dbt("run-operation", "promote_fraud_model", "--args", f"{{version: {other}}}", check=False)
    assert refused.returncode != 0
    assert "has no scores for" in refused.stdout and "add_fraud_challenger" in refused.stdout, refused.stdout
    assert ops.champion() == champion
    decisions = query(f"select count(*) from {project.schema}.fraud_decisions")
    ops.add_challenger(other)
    ops.run()
    ops.promote(other)
    assert ops.champion() == other
    assert query(f"select count(*) from {project.schema}.fraud_decisions") == decisions
    holds(project)


def test_a_restack_leaves_every_other_transaction_s_score_bit_for_bit(project, ops):
    sql = f"select transaction_id, fraud_probability from {project.schema}.fraud_scores where model_version = %s"
    before = dict(query(sql, [project.version_a]))
    stack = ops.stack_ids()[1]
    ops.delete([stack[len(stack) // 2]])
    ops.run()
    after = dict(query(sql, [project.version_a]))
    assert {t: after[t] for t in stack if t in after} == {t: before[t] for t in stack if t in after}
    holds(project)


def test_dbt_test_fails_while_scores_are_stale_or_missing_and_passes_after_a_run(project, ops):
    ops.update(ops.ids()[10:12])
    ops.append(3)
    stack = ops.stack_ids()[2]
    ops.delete([stack[0]])
    failed = project.dbt("test", "--select", "fraud_scores_are_current", check=False)
    assert failed.returncode != 0, failed.stdout[-2000:]
    assert "Got 6 results" in failed.stdout, failed.stdout[-2000:]  # 2 updated + 3 appended + 1 lost range
    ops.run()
    project.dbt("test", "--select", "fraud_scores")  # every test on the scores, this one among them
    holds(project)


SEEDS = [int(s) for s in os.environ.get("FRAUD_INVARIANT_SEEDS", "1,2").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_invariant_holds_after_a_random_sequence_of_operations(project, seed):
    from soak import run_sequence

    report = run_sequence(project, seed, steps=6)
    assert report.violations == [], report.describe()


class _Target:
    """The same project built into another schema (FRAUD_DBT_SCHEMA + suffix), as a dev and a prod
    target are: the same source, the same registry and change log."""

    def __init__(self, p, suffix: str):
        self.p, self.suffix = p, suffix

    @property
    def schema(self) -> str:
        return self.p.schema + self.suffix

    def __getattr__(self, name):
        return getattr(self.p, name)

    def dbt(self, *args, **options):
        return self.p.dbt(*args, schema_suffix=self.suffix, **options)

    def start(self, *args, **options):
        return self.p.start(*args, schema_suffix=self.suffix, **options)


@pytest.mark.parametrize("seed", [3, 11])
def test_two_target_schemas_on_one_source_each_score_every_row(project, ops, seed):
    """Two targets stacking one source share its change log: what one stacking has read stays
    until the other has read it (the first clearing it alone left the second's new rows
    unstacked, unscored, while dbt test failed). Seeded: writes, then both targets run, one
    after the other in either order or at once; the invariant holds in each after every step."""
    rng = random.Random(seed)
    other = _Target(project, "_second")
    try:
        other.dbt("run")
        holds(other)
        for step in range(4):
            ops.rng = rng
            ids = ops.ids()
            op = rng.choice(["append", "gap", "update", "delete"])
            if op == "append":
                ops.append(rng.randint(1, 40))
            elif op == "gap" and ops.free_ids_in_gaps(1):
                ops.insert_in_gaps(rng.randint(1, 5))
            elif op == "update":
                ops.update(rng.sample(ids, 3))
            else:
                ops.delete(rng.sample(ids, 3))
            order = rng.choice(["first", "second", "at once"])
            if order == "at once":
                runs = [project.start("run"), other.start("run")]
                outputs = [r.communicate(timeout=600)[0] for r in runs]
                assert [r.returncode for r in runs] == [0, 0], f"seed {seed} step {step}: {outputs}"
            else:
                for target in (project, other) if order == "first" else (other, project):
                    target.dbt("run")
            for target in (project, other):
                found = violations(target)
                assert found == [], f"seed {seed} step {step} ({op}, {order}), {target.schema}: {found}"
    finally:
        query(f"drop schema if exists {other.schema} cascade")
