"""Approve / review / block bands on the real database: the recommendation is the brute-force
optimum within the review capacity; applying bands (explicit or recommended) changes decisions
at once without rescoring and writes the audit in the same transaction; bad arguments change
nothing; a hostile role can neither change bands nor touch the audit.

The tests run in order on one set of schemas of their own (test_*_band<pid>) and share its state.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import psycopg2
import pytest
from dbtdb import create_analyst, drop_project, query, scores, setup_project

pytestmark = pytest.mark.database

AUDIT_COLUMNS = (
    "model_version, role, operation, was_deployed, old_threshold, new_threshold, "
    "old_block_threshold, new_block_threshold, reason, changed_by, session_user_name"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"band{os.getpid()}", rows=3000, seed=41)
    # spread the rows over 10 days (3,000 synthetic rows span minutes), so the window matters
    query(f"update {p.raw_schema}.credit_card set time = time + (transaction_id % 10) * 86400")
    p.dbt("run")
    yield p
    drop_project(p, p.schema + "_analyst")
    query(f"drop role if exists {p.analyst}")


def _operation(project, name, user=None, **args):
    options = {"user": user, "schema_suffix": "_analyst"} if user else {}
    return project.dbt("run-operation", name, "--args", json.dumps(args), check=False, **options)


def _state(project):
    """Everything an operation may write: deployments, their history, the audit."""
    f = project.fraud_schema
    return (
        query(f"select model_version, role, threshold, block_threshold from {f}.deployments order by 1"),
        query(f"select count(*) from {f}.deployment_history"),
        query(f"select {AUDIT_COLUMNS} from {f}.threshold_audit order by changed_at"),
    )


def _window_rows(project, days: int):
    """(probability, is_fraud, amount) of the champion's labeled scores in the last `days` days."""
    rows = query(
        f"select s.fraud_probability, t.is_labeled_fraud, t.amount, floor(t.seconds_since_start / 86400)::int "
        f"from {project.schema}.fraud_scores as s "
        f"join {project.fraud_schema}.deployments as d on d.model_version = s.model_version and d.role = 'champion' "
        f"join {project.schema}.stg_raw__credit_card as t on t.transaction_id = s.transaction_id "
        "where t.is_labeled_fraud is not null"
    )
    last = max(r[3] for r in rows)
    kept = [r for r in rows if r[3] > last - days]
    return (
        np.array([r[0] for r in kept]),
        np.array([r[1] for r in kept]),
        np.array([r[2] for r in kept]),
        len({r[3] for r in kept}),
    )


def _brute_force(p, fraud, amount, window_days, candidates, review_cost, legit_cost):
    """Every (review, block) option's figures, recomputed row by row."""
    options = {}
    for review in candidates:
        for block in [b for b in candidates if b >= review] + [None]:
            blocked = p >= block if block is not None else np.zeros(len(p), bool)
            approved = p < review
            reviewed = ~approved & ~blocked
            missed = float(amount[approved & fraud].sum())
            legit_blocked = int((blocked & ~fraud).sum())
            options[(review, block)] = {
                "reviewed": int(reviewed.sum()),
                "frauds_approved": int((approved & fraud).sum()),
                "legit_blocked": legit_blocked,
                "expected_cost": missed + review_cost * int(reviewed.sum()) + legit_cost * legit_blocked,
                "reviews_per_day": int(reviewed.sum()) / window_days,
            }
    return options


def _best(options, capacity):
    feasible = [(k, o) for k, o in options.items() if o["reviews_per_day"] <= capacity]
    return min(
        feasible,
        key=lambda ko: (ko[1]["expected_cost"], ko[1]["reviewed"], -ko[0][0], ko[0][1] is not None, -(ko[0][1] or 0)),
    )


def _recommendation(project, **vars):
    project.dbt("run", "--select", "fraud_band_recommendation", **vars)
    columns = "review_threshold, block_threshold, reviewed, frauds_approved, legit_blocked, expected_cost, "
    columns += "reviews_per_day, window_days, is_recommended"
    rows = query(f"select {columns} from {project.schema}.fraud_band_recommendation")
    return {
        (r[0], r[1]): dict(zip(["reviewed", "frauds_approved", "legit_blocked", "expected_cost", "reviews_per_day",
                                "window_days", "is_recommended"], r[2:], strict=True))
        for r in rows
    }  # fmt: skip


@pytest.mark.parametrize("window_days", [1, 7, 30])
def test_the_recommendation_is_the_brute_force_optimum_within_capacity(project, window_days):
    costs = {"fraud_review_cost": 3, "fraud_blocked_legit_cost": 40, "fraud_band_window_days": window_days}
    p, fraud, amount, days = _window_rows(project, window_days)
    fractions = [1 - 10 ** (-5.0 * i / 40) for i in range(41)]
    quantiles = np.quantile(p, fractions, method="inverted_cdf")
    candidates = sorted({float(q) for q in quantiles if 0 < q < 1})
    options = _brute_force(p, fraud, amount, days, candidates, 3, 40)
    unbounded = _recommendation(project, fraud_review_capacity=1e9, **costs)
    # the same candidates (score quantiles, as percentile_disc takes them), every option's figures
    assert sorted({k[0] for k in unbounded}) == candidates
    assert unbounded.keys() == options.keys()
    for key, option in options.items():
        got = unbounded[key]
        assert got["window_days"] == days
        for name in ("reviewed", "frauds_approved", "legit_blocked"):
            assert got[name] == option[name], (key, name)
        assert math.isclose(got["expected_cost"], option["expected_cost"], rel_tol=1e-9, abs_tol=1e-6)
    best_key, best = _best(options, math.inf)
    assert [k for k, o in unbounded.items() if o["is_recommended"]] == [best_key]
    if window_days < 30:
        return
    # over every day (3,000 rows, 32 frauds) reviewing is worth it: a capacity below the
    # unconstrained optimum's reviews a day binds, and the optimum among the rest is chosen
    assert best["reviewed"] > 0, "the test data should make reviewing worth something"
    capacity = best["reviews_per_day"] / 2
    bounded = _recommendation(project, fraud_review_capacity=capacity, **costs)
    chosen = [k for k, o in bounded.items() if o["is_recommended"]]
    assert chosen == [_best(options, capacity)[0]] and chosen != [best_key]
    assert bounded[chosen[0]]["reviews_per_day"] <= capacity
    assert bounded[chosen[0]]["expected_cost"] >= best["expected_cost"]


def _decisions(project):
    rows = query(
        f"select transaction_id, fraud_probability, decision, is_fraud, threshold, block_threshold "
        f"from {project.schema}.fraud_decisions"
    )
    return {r[0]: r[1:] for r in rows}


def _check_decisions(project, review, block):
    """Every decision recomputed from the stored probability and the bands; the case queue is the review band."""
    decided = _decisions(project)
    for p, decision, is_fraud, threshold, block_threshold in decided.values():
        assert (threshold, block_threshold) == (review, block)
        expected = "block" if block is not None and p >= block else "review" if p >= review else "approve"
        assert decision == expected and is_fraud == (expected != "approve")
    queue = {r[0] for r in query(f"select transaction_id from {project.schema}.fraud_case_queue")}
    assert queue == {i for i, d in decided.items() if d[1] == "review"}
    return decided


def test_applying_bands_audits_them_and_changes_decisions_at_once_without_rescoring(project):
    f = project.fraud_schema
    before = scores(project)
    flagged = {i for i, d in _decisions(project).items() if d[2]}
    probabilities = sorted(v[0] for v in before.values())
    review, block = (float(f"{probabilities[int(len(probabilities) * q)]:.6f}") for q in (0.9, 0.97))
    [(model_threshold,)] = query(
        f"select (m.metadata ->> 'threshold')::float8 from {f}.models as m "
        f"join {f}.deployments as d using (model_version) where d.role = 'champion'"
    )
    assert _operation(project, "apply_fraud_bands", reason="pilot: review the top 10%", review=review,
                      block=block).returncode == 0  # fmt: skip
    decided = _check_decisions(project, review, block)
    assert {d[1] for d in decided.values()} == {"approve", "review", "block"}
    assert scores(project) == before  # same probabilities, same scored_at: nothing rescored
    audit = _state(project)[2]
    champion = project.version_a
    assert audit[-1] == (champion, "champion", "apply_fraud_bands", True, None, review, None, block,
                         "pilot: review the top 10%", "postgres", "postgres")  # fmt: skip
    assert query(f"select threshold, block_threshold from {f}.deployment_history order by changed_at desc limit 1") == [
        (review, block)
    ]
    # the threshold alone: the block band stays; above the block it is refused
    assert _operation(project, "set_fraud_threshold", threshold=review / 2, reason="wider").returncode == 0
    _check_decisions(project, review / 2, block)
    assert _state(project)[2][-1][4:9] == (review, review / 2, block, block, "wider")
    result = _operation(project, "set_fraud_threshold", threshold=0.999999)
    assert result.returncode != 0 and "above its block threshold" in result.stdout
    # no block band: every flagged transaction is reviewed, as before bands
    assert _operation(project, "apply_fraud_bands", reason="no auto-block", review=model_threshold).returncode == 0
    decided = _check_decisions(project, model_threshold, None)
    assert {i for i, d in decided.items() if d[2]} == flagged
    # the recommendation, applied exactly as the model (built with the same vars) recommends it
    project.dbt("run", "--select", "fraud_band_recommendation")
    [(r, b)] = query(
        f"select review_threshold, block_threshold from {project.schema}.fraud_band_recommendation where is_recommended"
    )
    assert _operation(project, "apply_fraud_bands", reason="weekly review").returncode == 0
    _check_decisions(project, r, b)
    last = _state(project)[2][-1]
    assert (last[5], last[7]) == (r, b) and last[8].startswith("weekly review (recommended: expected cost ")
    assert scores(project) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"reason": "x", "review": 0.9, "block": 0.5}, "must not be above block"),
        ({"reason": "x", "review": 1.5}, "review must be a number strictly between 0 and 1"),
        ({"reason": "x", "review": 0.2, "block": 1}, "block must be a number strictly between 0 and 1"),
        ({"reason": "x", "review": "0.2; drop table x"}, "strictly between 0 and 1"),
        ({"reason": "x", "block": 0.5}, "review is required"),
        ({"review": 0.2, "block": 0.5}, "reason is required"),
        ({"reason": " ", "review": 0.2}, "reason is required"),
        ({"reason": "x", "review": 0.2, "version": "no-such-model"}, '"no-such-model" is not registered'),
        ({"reason": "x", "version": "v"}, "the recommendation is the champion's"),
    ],
)
def test_bad_arguments_are_clear_errors_and_change_nothing(project, args, message):
    before = _state(project)
    result = _operation(project, "apply_fraud_bands", **args)
    assert result.returncode != 0 and message in result.stdout, result.stdout[-2000:]
    assert _state(project) == before


def test_without_a_champion_nothing_is_applied(project):
    f = project.fraud_schema
    query(f"update {f}.deployments set role = 'challenger' where role = 'champion'")
    try:
        before = _state(project)
        operations = [
            ("apply_fraud_bands", {"reason": "x"}),
            ("apply_fraud_bands", {"reason": "x", "review": 0.3}),
            ("set_fraud_threshold", {"threshold": 0.3}),
        ]
        for name, args in operations:
            result = _operation(project, name, **args)
            assert result.returncode != 0 and "no champion: promote a version first" in result.stdout
        assert _state(project) == before
    finally:
        query(f"update {f}.deployments set role = 'champion' where model_version = %s", (project.version_a,))


def test_a_hostile_role_can_read_the_audit_but_change_neither_bands_nor_audit(project):
    f = project.fraud_schema
    a = create_analyst(project)
    project.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    before = _state(project)
    assert query(f"select count(*) from {f}.threshold_audit", user=a) == [(len(before[2]),)]
    for sql in (
        f"insert into {f}.threshold_audit (model_version, role, operation, was_deployed, reason) "
        "values ('x', 'champion', 'forged', true, 'forged')",
        f"update {f}.threshold_audit set reason = 'rewritten'",
        f"delete from {f}.threshold_audit",
        f"truncate {f}.threshold_audit",
        f"update {f}.deployments set threshold = 0.99, block_threshold = 0.99",
        f"insert into {f}.deployment_history (model_version, role) values ('x', 'champion')",
    ):
        with pytest.raises(psycopg2.Error, match="permission denied"):
            query(sql, user=a)
    result = _operation(project, "apply_fraud_bands", user=a, reason="hostile", review=0.9, block=0.95)
    assert result.returncode != 0 and "permission denied" in result.stdout
    result = _operation(project, "set_fraud_threshold", user=a, threshold=0.01)
    assert result.returncode != 0 and "permission denied" in result.stdout, result.stdout[-2000:]
    assert _state(project) == before


def test_an_earlier_installation_gains_the_bands_and_the_audit(project):
    """The install adds block_threshold to an earlier installation's deployments and history (and
    creates the audit); the deployments themselves are kept."""
    f = project.fraud_schema
    deployed = query(f"select model_version, role, threshold from {f}.deployments order by 1")
    for table in ("deployments", "deployment_history"):
        query(f"alter table {f}.{table} drop column block_threshold cascade")
    query(f"drop table {f}.threshold_audit")
    project.dbt("run-operation", "install_fraud_scoring")
    assert query(f"select model_version, role, threshold from {f}.deployments order by 1") == deployed
    assert query(f"select count(*) from {f}.deployments where block_threshold is not null") == [(0,)]
    project.dbt("run", "--select", "stg_fraud__deployments+")
    assert _operation(project, "apply_fraud_bands", reason="after the upgrade", review=0.2, block=0.9).returncode == 0
    _check_decisions(project, 0.2, 0.9)
    assert [r[8] for r in _state(project)[2]] == ["after the upgrade"]
    with pytest.raises(psycopg2.Error, match="violates check constraint"):
        query(f"update {f}.deployments set block_threshold = 0.1 where role = 'champion'")
