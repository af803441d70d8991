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


def cluster_run(segments, rows, models, rest):
    """A measured cluster as bench.greenplum records one: medians of the full refreshes."""
    return {
        "segments": segments,
        "rows": rows,
        "stack_model_s": models["int_credit_card__scoring_stacks"],
        "score_model_s": models["fraud_scores"],
        "models_s": models,
        "wall_s": rest + sum(models.values()),
    }


def test_the_segment_fit_passes_through_both_clusters_and_never_predicts_a_negative_part():
    from bench.greenplum import fit_segments

    fit = fit_segments(7.0, 4.5, 1, 2)
    assert fit["a"] + fit["b"] == pytest.approx(7.0) and fit["a"] + fit["b"] / 2 == pytest.approx(4.5)
    # faster than linear: no fixed part, the larger cluster's per-row cost
    assert fit_segments(10.0, 4.0, 1, 2) == {"a": 0.0, "b": 8.0}
    # slower on more segments: a part that does not shrink, at the larger cluster's time
    assert fit_segments(6.8, 11.2, 1, 2) == {"a": 11.2, "b": 0.0}


def test_the_prediction_sums_every_models_fit_and_dbts_own_time():
    from bench.greenplum import predict

    one = cluster_run(1, 2_000_000, {"int_credit_card__scoring_stacks": 12.0, "fraud_scores": 7.0, "bins": 6.0}, 3.0)
    two = cluster_run(2, 2_000_000, {"int_credit_card__scoring_stacks": 6.0, "fraud_scores": 4.5, "bins": 9.0}, 3.0)
    p = predict([one, two], rows=8_000_000, segments=24)
    assert p["dbt_own_s"] == pytest.approx(3.0)
    assert p["models"]["bins"]["predicted_s"] == pytest.approx(9.0)  # grew: taken as not shrinking
    assert p["models"]["fraud_scores"]["predicted_s"] == pytest.approx(2.0 + 4 * 5.0 / 24)
    assert p["models"]["int_credit_card__scoring_stacks"]["predicted_s"] == pytest.approx(4 * 12.0 / 24)
    expected = 3.0 + sum(m["predicted_s"] for m in p["models"].values())
    assert p["dbt_run_by_model_s"] == pytest.approx(expected)
