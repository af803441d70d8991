"""The benchmark's own instruments, on real dbt runs: bench.breakdown splits a `dbt run` into its parts."""

import os

import pytest
from dbtdb import drop_project, query, setup_project

from bench import breakdown


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir):
    p = setup_project(tmp_path_factory, model_dir, f"bench{os.getpid()}", rows=2000, seed=5)
    try:
        yield p
    finally:
        drop_project(p)


def measured(p, *args):
    cmd, env = p.command(*args)
    return breakdown.measure(cmd[1:], env=env)


@pytest.mark.database
def test_a_run_splits_into_start_models_and_end_that_add_up_to_the_whole_process(project):
    b = measured(project, "run")
    models = {m["node"]: m for m in b["models"]}
    assert {"int_credit_card__scoring_stacks", "fraud_scores", "fraud_decisions"} <= set(models), models
    # one thread: the parts follow each other, so they add up to the process (less what runs between nodes)
    parts = b["start"] + b["hooks"] + b["models_total"] + b["end"]
    assert 0.8 * b["wall"] <= parts <= b["wall"] + 0.05, b
    for m in b["models"]:
        assert m["seconds"] > 0 and sum(m["sql"].values()) <= m["seconds"] + 0.01, m
    # the first run stacks and scores 2,000 rows: work, not DDL, is most of those two models' SQL
    for name in ("int_credit_card__scoring_stacks", "fraud_scores"):
        assert models[name]["sql"]["work"] > models[name]["sql"]["ddl"], models[name]
    table = breakdown.table(b)
    assert "fraud_scores" in table and f"{b['wall']:.2f}" in table


@pytest.mark.database
def test_a_run_with_nothing_new_does_no_scoring_work(project):
    measured(project, "run")
    before = query(f"select count(*) from {project.schema}.fraud_scores")[0][0]
    b = measured(project, "run")
    assert query(f"select count(*) from {project.schema}.fraud_scores")[0][0] == before
    scores = next(m for m in b["models"] if m["node"] == "fraud_scores")
    assert not any("score_stack" in s["statement"] for s in scores["slowest"] if s["seconds"] > 0.5), scores


@pytest.mark.parametrize(
    "sql, kind",
    [
        ("/* {} */ BEGIN", "transaction"),
        ("set transaction isolation level repeatable read; lock table a.b in exclusive mode", "transaction"),
        ('create temporary table "x__dbt_tmp" as (select 1)', "work"),
        ("drop table if exists pg_temp.t; create temporary table t on commit drop as select 1", "work"),
        ("do $v$ begin execute $s$create or replace view a.b as select 1$s$; end $v$", "ddl"),
        ("create unique index if not exists i on a.b (c)", "ddl"),
        ("select column_name from information_schema.columns where table_name = 'b'", "introspection"),
        ("select * from (select 1 as a) as q where false limit 0", "introspection"),
        ("delete from a.b where c not in (select c from a.d)", "work"),
    ],
)
def test_statements_are_told_apart_by_what_they_do(sql, kind):
    assert breakdown.kind(sql) == kind
