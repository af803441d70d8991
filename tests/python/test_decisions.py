"""Which model decides, on the real database: registering deploys nothing; challengers are
scored beside the champion; promoting, rolling back, retiring and thresholds change decisions
without rescoring; the decision layer in the DAG.

The tests run in order on one set of schemas of their own (test_*_dec<pid>), built once,
and share its state.
"""

from __future__ import annotations

import json
import os

import pytest
from dbtdb import decisions, drop_project, query, scores, setup_project

from conftest import ROOT
from warehouse.connection import connection
from warehouse.registry import register

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    # 3,500 rows: the counts below (INSERT 0 3500, labeled rows) are of the whole table
    p = setup_project(tmp_path_factory, model_dir, f"dec{os.getpid()}", rows=3500, seed=99)
    p.dbt("build")
    yield p
    drop_project(p)


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
