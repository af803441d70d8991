"""The Greenplum / Cloudberry path on a live cluster: `make test-greenplum`.

Runs where FRAUD_GP_HOST names a running cluster's coordinator (FRAUD_GP_PORT,
FRAUD_GP_USER, a superuser, FRAUD_GP_PASSWORD if it needs one); skipped, saying
so, everywhere else (CI has no cluster). Everything happens in a database of its
own, created here and dropped afterwards: docs/greenplum.md's operator section run as
written (its marked block), then on the result: a second run changing nothing,
appended rows scored alone, segments holding equal rows at any batch size, the
plan (no feature row or stack moves into the scoring slice, each new row moves
once to be stacked), keras on the segments agreeing with numpy, a bad row
quarantined while the others are scored, concurrent runs, a least-privilege
role; the exactly-once invariant (invariant.py) after a seeded sequence of what
Greenplum follows (soak.py's operations for platform greenplum), and dbt test failing
on what it does not follow (an update in place, a delete, a gap insert) until the full
refresh; a scoring role refused the inner scorers and unregistered versions; and the
Python models (docs/python-models.md) end to end.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from dbtdb import DbtProject
from invariant import Operations, violations

from conftest import make_stack
from fraud_scoring import SCORE_TOLERANCE
from training.data import write_synthetic_csv
from warehouse.connection import connect, connection

ROOT = Path(__file__).resolve().parents[2]
DBT = str(ROOT / ".venv" / "bin" / "dbt")
ROWS = 30_000
FLOW_MARK = "<!-- greenplum-operator-flow -->"

pytestmark = pytest.mark.greenplum


def operator_flow() -> str:
    """The operators' guide's commands (docs/greenplum.md): the fenced block after FLOW_MARK."""
    guide = (ROOT / "docs" / "greenplum.md").read_text()
    assert FLOW_MARK in guide, "docs/greenplum.md lost its operator block"
    block = guide.split(FLOW_MARK, 1)[1]
    return re.search(r"```(?:sh|bash)\n(.*?)```", block, re.S).group(1)


class Cluster:
    """A fresh database on the configured cluster, and dbt / Python tools pointed at it."""

    def __init__(self, tmp: Path):
        self.database = f"fraud_gptest_{os.getpid()}"
        profiles = tmp / "profiles"
        profiles.mkdir()
        shutil.copy(ROOT / "profiles.yml.example", profiles / "profiles.yml")
        self.env = {
            **os.environ,
            "FRAUD_DBT_TARGET": "greenplum",
            "FRAUD_GP_DATABASE": self.database,
            "DBT_PROFILES_DIR": str(profiles),
            "DBT_TARGET_PATH": str(ROOT / "target" / "gptest"),
            "DBT_LOG_PATH": str(ROOT / "logs" / "gptest"),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def query(self, sql: str, params=None, database: str | None = None, **env):
        settings = {**self.env, **env}
        overrides = {"dbname": database} if database else {}
        with connection(settings, **overrides) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None

    def dbt(self, *args: str, check: bool = True, env: dict | None = None, **vars) -> subprocess.CompletedProcess:
        cmd = [DBT, *args] + (["--vars", json.dumps(vars)] if vars else [])
        result = subprocess.run(cmd, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True)
        if check and result.returncode:
            pytest.fail(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
        return result

    def python(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not os.environ.get("FRAUD_GP_HOST"):
        pytest.skip(
            "no Greenplum / Cloudberry cluster: set FRAUD_GP_HOST (and FRAUD_GP_PORT, FRAUD_GP_USER) to run these"
        )
    c = Cluster(tmp_path_factory.mktemp("greenplum"))
    version = c.query("select version()", database="postgres")[0][0]
    if "greenplum" not in version.lower() and "cloudberry" not in version.lower():
        pytest.fail(f"FRAUD_GP_HOST:FRAUD_GP_PORT is not Greenplum or Cloudberry: {version}")
    c.query(f"drop database if exists {c.database}", database="postgres")
    c.query(f"create database {c.database}", database="postgres")
    c.version = version
    yield c
    c.query(f"drop database if exists {c.database}", database="postgres")
    c.query(f"drop role if exists {ANALYST}", database="postgres")


@pytest.fixture(scope="module")
def flow(cluster, model_dir, tmp_path_factory):
    """The operator block of docs/greenplum.md, as written but for the data file, its size and the model directory."""
    data = tmp_path_factory.mktemp("gpdata") / "transactions.csv"
    script = operator_flow()
    for written, here in [("data/transactions.csv", str(data)), ("artifacts/demo", str(model_dir))]:
        assert written in script, f"the operator block no longer mentions {written}"
        script = script.replace(written, here)
    script = re.sub(r"--rows \d+", f"--rows {ROWS}", script)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=cluster.env, capture_output=True, text=True
    )
    return result


def scores(cluster, schema="analytics") -> dict:
    rows = cluster.query(f"select transaction_id, fraud_probability, scored_at from {schema}.fraud_scores")
    return {r[0]: (r[1], r[2]) for r in rows}


def test_the_readme_operator_flow_runs_as_written(cluster, flow):
    out = flow.stdout + flow.stderr
    assert flow.returncode == 0, out[-6000:]
    # the loader says where it writes: the dbt target, the cluster and the database of this test
    port = cluster.env.get("FRAUD_GP_PORT", "5432")
    assert "(dbt target greenplum: " in out and f":{port}/{cluster.database})" in out, out[:2000]
    segments = cluster.query("select count(*) from gp_segment_configuration where content >= 0 and role = 'p'")[0][0]
    for s in range(segments):  # the probe reports every segment, with its cores, BLAS and threads
        assert re.search(rf"segment {s} \(.*\): python .*cores, scoring threads \d+", out), out[-4000:]
    assert len(scores(cluster)) == ROWS
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0", out)  # dbt test, the seed tests included


def test_a_second_run_changes_nothing_and_appended_rows_are_scored_alone(cluster, flow, tmp_path):
    before = scores(cluster)
    cluster.dbt("run")
    assert scores(cluster) == before
    extra = write_synthetic_csv(tmp_path / "more.csv", 3000, seed=9, fraud_rate=0.01)
    loaded = cluster.python("-m", "warehouse", "load", "--csv", str(extra), "--append")
    assert loaded.returncode == 0, loaded.stderr
    cluster.dbt("run")
    after = scores(cluster)
    assert len(after) == ROWS + 3000
    assert all(after[t] == before[t] for t in before)  # earlier scores untouched


def brin_indexes(cluster) -> int:
    return cluster.query(
        "select count(*) from pg_index as i join pg_class as c on i.indexrelid = c.oid"
        " join pg_am as am on c.relam = am.oid"
        " where i.indrelid = 'analytics.fraud_scores'::regclass and am.amname = 'brin'"
    )[0][0]


def test_a_full_refresh_keeps_the_scored_at_index_and_runs_append_through_a_view(cluster, flow):
    cluster.dbt("run", "--full-refresh", "--select", "fraud_scores+")
    # the new table's own index (the old table's still held the name when the hook ran)
    assert brin_indexes(cluster) == 1
    before = scores(cluster)
    ran = cluster.dbt("run", "--debug", "--select", "fraud_scores")
    # no temporary table written first on every segment: dbt's INSERT reads a view
    assert 'create temporary view "fraud_scores__dbt_tmp' in ran.stdout
    assert 'create temporary table "fraud_scores__dbt_tmp' not in ran.stdout
    assert brin_indexes(cluster) == 1
    assert scores(cluster) == before


def rows_per_segment(cluster) -> list[int]:
    return [
        int(n)
        for (n,) in cluster.query(
            "select sum(n_rows) from analytics.int_credit_card__scoring_stacks group by gp_segment_id order by 1"
        )
    ]


@pytest.mark.parametrize("batch_rows", [100_000, 2_000, 333])
def test_segments_hold_equal_rows_at_any_batch_size(cluster, flow, batch_rows):
    cluster.dbt("run", "--full-refresh", "--select", "int_credit_card__scoring_stacks", fraud_batch_rows=batch_rows)
    rows = rows_per_segment(cluster)
    segments = cluster.query("select count(*) from gp_segment_configuration where content >= 0 and role = 'p'")[0][0]
    assert len(rows) == segments and sum(rows) == len(scores(cluster))
    assert (max(rows) - min(rows)) / max(rows) <= 0.10, rows
    sizes = cluster.query("select max(n_rows) from analytics.int_credit_card__scoring_stacks")[0][0]
    assert sizes <= batch_rows
    cluster.dbt("run", "--full-refresh", "--select", "int_credit_card__scoring_stacks")
    cluster.dbt("run")  # restacked stacks are scored anew: leave the scores current


def plan(cluster, model: str, distributed_by: str) -> str:
    """EXPLAIN of a model's table as `dbt run --full-refresh` builds it (CREATE TABLE AS, its distribution)."""
    cluster.dbt("compile", "--select", "int_credit_card__scoring_stacks+", "--full-refresh")
    sql = next((Path(cluster.env["DBT_TARGET_PATH"]) / "compiled").rglob(f"{model}.sql")).read_text()
    explain = f"explain create table plan_only as ({sql}) distributed by ({distributed_by})"
    return "\n".join(r[0] for r in cluster.query(explain))


def motions(plan_text: str, below: str | None = None) -> list[tuple[str, int]]:
    """(Motion line, row width) of the plan, or of the subtree of the first node containing `below`,
    leaving out InitPlans (each returns one value, read once: the model, a watermark, the keys)."""
    lines = plan_text.splitlines()
    start = next(i for i, line in enumerate(lines) if below in line) if below else -1
    depth = len(lines[start]) - len(lines[start].lstrip()) if below else -1
    found, skipping = [], None
    for line in lines[start + 1 :]:
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent <= depth:
            break
        if skipping is not None and indent <= skipping:
            skipping = None
        if skipping is None and ("InitPlan" in line or "SubPlan" in line):
            skipping = indent
        if skipping is None and "Motion" in line:
            found.append((line.strip().removeprefix("->").strip(), int(re.search(r"width=(\d+)", line).group(1))))
    return found


def test_the_plan_moves_no_feature_row_or_stack_into_scoring(cluster, flow):
    scoring = plan(cluster, "fraud_scores", "transaction_id")
    # under the scoring calls: stored stacks read where they lie; at most stack keys
    # (8-byte ids, to find the stacks not scored yet) move, never the stacks' bytes
    into_scoring = motions(scoring, below="ProjectSet")
    assert all(width <= 16 for _, width in into_scoring), into_scoring
    # above them: the scored rows, once, to fraud_scores' distribution
    above = [motion for motion in motions(scoring) if motion not in into_scoring]
    assert len(above) == 1 and above[0][0].startswith("Redistribute Motion"), scoring
    stacking = plan(cluster, "int_credit_card__scoring_stacks", "batch_id")
    moved = motions(stacking)
    # each new row moves once, hashed on its batch's placement key, to the segment that
    # aggregates and keeps the stack: no Motion above the aggregate
    assert len(moved) == 1 and moved[0][0].startswith("Redistribute Motion"), stacking
    assert re.search(r"Hash Key: \S*batch_id", stacking.split("Redistribute Motion", 1)[1]), stacking
    top = stacking.splitlines()[0]
    assert "Motion" not in top, stacking


def test_a_query_through_the_staged_view_reads_the_source_directly(cluster, flow):
    # the monitoring, the quarantine and dbt test read two or three of the staged view's
    # columns; a view Greenplum cannot pull up (a CTE inside it) read every column of every
    # row below a Subquery Scan (3.6 s a segment of 1,000,000 rows, against 0.46 s)
    explain = "explain select count(seconds_since_start) from analytics.stg_raw__credit_card"
    plan_text = "\n".join(r[0] for r in cluster.query(explain))
    assert "Subquery Scan" not in plan_text, plan_text
    assert re.search(r"Seq Scan on credit_card", plan_text), plan_text


def test_keras_on_the_segments_agrees_with_numpy(cluster, flow):
    cluster.dbt("run", env={"FRAUD_DBT_SCHEMA": "analytics_keras"}, fraud_scoring_runtime="keras")
    numpy_scores, keras_scores = scores(cluster), scores(cluster, "analytics_keras")
    assert keras_scores.keys() == numpy_scores.keys()
    worst = max(abs(keras_scores[t][0] - numpy_scores[t][0]) for t in numpy_scores)
    assert worst < SCORE_TOLERANCE, worst
    cluster.query("drop schema analytics_keras cascade")


def test_a_bad_row_is_quarantined_and_every_other_row_scored(cluster, flow):
    before = scores(cluster)
    top = cluster.query("select max(transaction_id) from raw.credit_card")[0][0]
    columns = ", ".join(["transaction_id", "time", *[f"v{i}" for i in range(1, 29)], "amount", "class"])
    # the good row in the bad row's lane (ids go to lanes by id modulo the segments), so one
    # new stack starts with the bad row and holds the good one
    segments = cluster.query("select count(*) from gp_segment_configuration where content >= 0 and role = 'p'")[0][0]
    bad, good = top + 1, top + 1 + segments
    for tid, v1 in [(bad, "'NaN'"), (good, "0.5")]:
        values = ", ".join([str(tid), "0", v1, *["0"] * 27, "1", "0"])
        cluster.query(f"insert into raw.credit_card ({columns}) values ({values})")
    try:
        cluster.dbt("run")  # the bad row does not stop anyone's scoring
        after = scores(cluster)
        assert good in after and bad not in after
        assert all(after[t] == before[t] for t in before)
        quarantined = cluster.query("select transaction_id, column_name, reason from analytics.fraud_quarantine")
        assert quarantined == [(bad, "V1", "NaN")]
        stacks = "analytics.int_credit_card__scoring_stacks"
        first = cluster.query(f"select first_transaction_id from {stacks} where {good} = any(transaction_ids)")
        assert first == [(bad,)]
        cluster.dbt("run")  # any score of a stack stands for it: nothing is scored again
        assert scores(cluster) == after
        warned = cluster.dbt("test", "--select", "fraud_quarantine_is_empty")
        assert "WARN 1 fraud_quarantine_is_empty" in warned.stdout
    finally:
        cluster.query(f"delete from raw.credit_card where transaction_id in ({good}, {bad})")
        cluster.dbt("run", "--full-refresh")


def test_concurrent_runs_score_every_row_once(cluster, flow, tmp_path):
    extra = write_synthetic_csv(tmp_path / "more.csv", 2000, seed=13, fraud_rate=0.01)
    assert cluster.python("-m", "warehouse", "load", "--csv", str(extra), "--append").returncode == 0
    cluster.dbt("run", "--select", "int_credit_card__scoring_stacks")
    results = []

    def run():
        results.append(cluster.dbt("run", "--select", "fraud_scores", check=False))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results), [r.stdout[-2000:] for r in results]
    total, distinct = cluster.query("select count(*), count(distinct transaction_id) from analytics.fraud_scores")[0]
    source = cluster.query("select count(*) from raw.credit_card")[0][0]
    assert total == distinct == source


ANALYST = f"fraud_gptest_analyst_{os.getpid()}"


def test_a_least_privilege_role_runs_and_tests(cluster, flow):
    """The least-privilege set-up of docs/greenplum.md: the schema is created, then given to the role."""
    a = ANALYST
    cluster.query(f"drop role if exists {a}")
    cluster.query(f"create role {a} login")
    cluster.query(f"grant usage on schema raw to {a}")
    cluster.query(f"grant select on raw.credit_card, raw.credit_card_labels to {a}")
    # Greenplum 7 refuses CREATE SCHEMA ... AUTHORIZATION from the segments: create, then hand over
    cluster.query(f"create schema analytics_{a}")
    cluster.query(f"alter schema analytics_{a} owner to {a}")
    as_analyst = {"FRAUD_GP_USER": a, "FRAUD_DBT_SCHEMA": f"analytics_{a}"}
    refused = cluster.dbt("run", check=False, env=as_analyst)
    assert refused.returncode != 0 and "permission denied for schema fraud" in refused.stdout
    cluster.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    cluster.dbt("seed", env=as_analyst)
    cluster.dbt("run", env=as_analyst)
    cluster.dbt("test", env=as_analyst)
    assert len(scores(cluster, f"analytics_{a}")) == cluster.query("select count(*) from raw.credit_card")[0][0]
    cluster.query(f"drop schema analytics_{a} cascade")
    cluster.query(f"drop owned by {a}")


# ---- exactly once, as far as Greenplum follows it (docs/reliability.md) ---------------------------


@dataclass
class GreenplumProject(DbtProject):
    """A DbtProject (tests/python/dbtdb.py: schemas of its own, vars) on the cluster's test database,
    so that invariant.py and soak.py run there unchanged but for the platform."""

    cluster: Cluster | None = None

    def command(self, *args: str, user: str | None = None, schema_suffix: str = "", **vars):
        cmd, _ = super().command(*args, user=user, schema_suffix=schema_suffix, **vars)
        env = {**self.cluster.env, "FRAUD_DBT_SCHEMA": self.schema + schema_suffix, "FRAUD_GP_USER": user or self.user}
        return cmd, env

    def query(self, sql: str, params=None, user: str | None = None):
        return self.cluster.query(sql, params, FRAUD_GP_USER=user or self.user)

    def connect(self, user: str | None = None):
        return connect({**self.cluster.env, "FRAUD_GP_USER": user or self.user})


@pytest.fixture(scope="module")
def gp_project(cluster, model_dir, other_model_dir, tmp_path_factory):
    """3,000 rows in schemas of their own, stacks of 500, two registered versions (a the champion, b
    a challenger), scored by a first run."""
    from warehouse.loading import load_csv
    from warehouse.registry import register

    user = cluster.env.get("FRAUD_GP_USER", "gpadmin")
    p = GreenplumProject(
        suffix=f"gpinv{os.getpid()}",
        profiles_dir=Path(cluster.env["DBT_PROFILES_DIR"]),
        user=user,
        platform="greenplum",
        cluster=cluster,
    )
    p.extra_vars["fraud_batch_rows"] = 500
    data = write_synthetic_csv(tmp_path_factory.mktemp("gpinv") / "tx.csv", 3000, seed=21, fraud_rate=0.01)
    with connection(cluster.env) as conn:
        assert load_csv(conn, data, f"{p.raw_schema}.credit_card") == 3000
    # ids 1001..1010 absent before the first run: a gap below the stacked ids to insert into
    cluster.query(f"delete from {p.raw_schema}.credit_card where transaction_id between 1001 and 1010")
    p.dbt("run-operation", "install_fraud_scoring")
    with connection(cluster.env) as conn:
        p.version_a = register(conn, model_dir, p.fraud_schema)[0]
        p.version_b = register(conn, other_model_dir, p.fraud_schema)[0]
    p.dbt("run-operation", "promote_fraud_model", "--args", json.dumps({"version": p.version_a}))
    p.dbt("run-operation", "add_fraud_challenger", "--args", json.dumps({"version": p.version_b}))
    p.dbt("run")
    yield p
    for schema in (p.schema, p.raw_schema, p.fraud_schema):
        cluster.query(f"drop schema if exists {schema} cascade")


def holds(p) -> None:
    found = violations(p)
    assert found == [], "\n".join(found)


SEEDS = [int(s) for s in os.environ.get("FRAUD_INVARIANT_SEEDS", "1").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_invariant_holds_after_a_random_sequence_of_followed_operations(gp_project, seed):
    """What Greenplum follows: appends (ids above the highest stacked), promotions, rollbacks and
    thresholds, two runs at once, runs cancelled, terminated or their client killed (soak.py draws
    only these for platform greenplum, and runs every way of running in the first six steps). The
    invariant is checked after every step; a violation names the seed and the step to replay."""
    from soak import run_sequence

    holds(gp_project)
    report = run_sequence(gp_project, seed, steps=6, per_run=3, log=print)  # shown by pytest on a failure
    history = "\n".join(report.history)
    assert report.violations == [], report.describe()
    assert "run at-once" in history and "run plain" in history, history
    # a promotion and a rollback whatever the seed drew (a promotion right after appends is refused:
    # the version has not scored them yet): decisions switch, the scores stay exactly once
    ops = Operations(gp_project, random.Random(seed), [gp_project.version_a, gp_project.version_b])
    champion = ops.champion()
    ops.promote(next(v for v in ops.versions if v != champion))
    ops.run()
    holds(gp_project)
    gp_project.dbt("run-operation", "rollback_fraud_model")
    ops.run()
    holds(gp_project)
    assert ops.champion() == champion
    assert re.search(r"run (cancel|terminate) \(interrupted\)", history), history  # a statement cancelled


def test_changes_greenplum_does_not_follow_fail_dbt_test_until_a_full_refresh(gp_project):
    """A row updated in place, a row deleted and a row inserted below the highest stacked id: a plain
    run leaves them (docs/reliability.md), dbt test fails naming each, and the full refresh it
    names repairs them."""
    p = gp_project
    holds(p)
    scored = [t for (t,) in p.query(f"select transaction_id from {p.schema}.fraud_scores order by 1")]
    updated, deleted = scored[100], scored[200]
    taken = set(Operations(p, random.Random(0), []).ids())
    gap = next(t for t in range(scored[50], scored[-1]) if t not in taken)
    p.query(
        f"update {p.raw_schema}.credit_card set v14 = v14 - 20, v12 = v12 - 20 where transaction_id = %s", [updated]
    )
    p.query(f"delete from {p.raw_schema}.credit_card where transaction_id = %s", [deleted])
    columns = ", ".join(["transaction_id", "time", *[f"v{i}" for i in range(1, 29)], "amount", "class"])
    p.query(f"insert into {p.raw_schema}.credit_card ({columns}) values ({gap}, 0, {', '.join(['0.5'] * 28)}, 1, 0)")
    p.dbt("run")  # not followed there: the run changes nothing

    tests = ["fraud_scores_are_current", "fraud_scores_complete_for_every_deployed_model"]
    failed = p.dbt("test", "--select", *tests, check=False)
    assert failed.returncode != 0, failed.stdout[-3000:]
    for name in tests:
        assert re.search(rf"FAIL \d+ {name}", failed.stdout), failed.stdout[-3000:]
    problems = set()
    for name in tests:  # what each test lists: the transaction and its problem
        sql = next((ROOT / f"target/test_{p.suffix}" / "compiled").rglob(f"{name}.sql")).read_text()
        problems |= {(row[0], row[-1]) for row in p.query(sql)}
    versions = {p.version_a, p.version_b}
    assert problems == {
        (updated, "stacked features differ from the source now (updated in place)"),
        (deleted, "stacked but no longer in the source (deleted)"),
        (deleted, "scored but not scorable or gone"),
        (gap, "not scored"),
    }, problems
    found = violations(p)  # per version: the deleted row's score, the gap's missing one (and the stale one)
    for what in ("1 scored but deleted or quarantined: %d" % deleted, "1 missing: %d" % gap):
        assert sorted(v.split(": ", 1)[0] for v in found if what in v) == sorted(versions), found

    p.dbt("run", "--full-refresh", "--select", "int_credit_card__scoring_stacks+")
    p.dbt("test", "--select", *tests)
    holds(p)


# ---- the least-privilege role and the scorer (docs/security.md) -----------------------------------

SECURITY_ROLE = f"fraud_gptest_sec_{os.getpid()}"


def test_the_role_reaches_only_the_entry_point_which_refuses_unregistered_versions(cluster, flow):
    """As a scoring role: the inner PL/Python functions (model bytes, a directory) are refused; the
    SECURITY DEFINER entry point reads the replicated registry on the coordinator and on every
    segment, scores a registered version and refuses one that is not registered; the cluster stays up."""
    import psycopg2

    a = SECURITY_ROLE
    cluster.query(f"drop role if exists {a}")
    cluster.query(f"create role {a} login")
    cluster.dbt("run-operation", "install_fraud_scoring", fraud_scoring_roles=[a])
    cluster.query(f"grant usage on schema analytics to {a}")
    cluster.query(f"grant select on analytics.int_credit_card__scoring_stacks to {a}")
    started = cluster.query("select pg_postmaster_start_time()")[0][0]
    [(version,)] = cluster.query("select model_version from fraud.deployments where role = 'champion'")
    stack = psycopg2.Binary(make_stack(np.arange(1, 29), np.eye(28, dtype=np.float32)))

    def as_role(sql, params=None):
        return cluster.query(sql, params, FRAUD_GP_USER=a)

    try:
        for call in (
            "fraud.score_stack_numpy(%(stack)s, 28, %(stack)s, '{}', 'x', null, 1, 'x', true)",
            "fraud.score_stack_keras(%(stack)s, 28, %(stack)s, '{}', 'x', null, 1, 'x', true)",
            "fraud.model_file_contents('/', 'etc/passwd')",
        ):
            with pytest.raises(psycopg2.Error, match="permission denied for function"):
                as_role(f"select {call}", {"stack": stack})
        on_segments = (
            "select count(*), count(fraud.score_stack(s.stack, s.n_rows, %s, 'numpy', null, 1, true)) "
            "from analytics.int_credit_card__scoring_stacks as s"
        )
        stacks = cluster.query("select count(*) from analytics.int_credit_card__scoring_stacks")[0][0]
        assert as_role(on_segments, [version]) == [(stacks, stacks)]  # each segment read the registry
        assert as_role("select fraud.score_stack(%s, 28, %s, 'numpy', null, 1, true)", [stack, version])[0][0]
        for ref in ("fraud-mlp-not-registered", "x'; drop table fraud.models; --", None):
            with pytest.raises(psycopg2.Error, match="no model: the selected model is not in the registry"):
                as_role("select fraud.score_stack(%s, 28, %s, 'numpy', null, 1, true)", [stack, ref])
            with pytest.raises(psycopg2.Error, match="no model: the selected model is not in the registry") as refused:
                as_role(on_segments, [ref])
            assert re.search(r"\(seg\d+ ", str(refused.value)), refused.value  # refused on a segment
        assert cluster.query("select count(*) from fraud.models where model_version = %s", [version]) == [(1,)]
    finally:
        cluster.query(f"drop owned by {a}")
        cluster.query(f"drop role if exists {a}")
    # the cluster stayed up: no restart, every segment up and answering
    assert cluster.query("select pg_postmaster_start_time()")[0][0] == started
    assert cluster.query("select count(*) from gp_segment_configuration where status != 'u'") == [(0,)]
    segments = cluster.query("select count(*) from gp_segment_configuration where content >= 0 and role = 'p'")[0][0]
    assert cluster.query("select count(*) from gp_dist_random('gp_id')") == [(segments,)]


def test_python_models_run_on_the_coordinator_end_to_end(cluster, flow):
    """The monitoring Python models (docs/python-models.md), built by the operator flow's dbt run:
    their outputs agree with the SQL figures; an incremental run and a full refresh work; the
    least-privilege role ran them above (published code)."""
    # other tests of this module append rows after the operator flow's run: build the models anew,
    # with the aggregate they read
    monitoring = ("fraud_score_bins", "fraud_pr_auc_daily", "fraud_score_distribution")
    cluster.dbt("run", "--select", *monitoring)
    distribution = cluster.query("select sum(scored_rows) from analytics.fraud_score_distribution")[0][0]
    assert distribution == cluster.query("select count(*) from analytics.fraud_scores")[0][0]
    pairs = cluster.query(
        "select p.pr_auc, m.pr_auc, p.pr_auc_error_bound from analytics.fraud_pr_auc_daily p "
        "join analytics.fraud_model_metrics m using (model_version, transaction_day)"
    )
    # PR-AUC from fine bins: the exact SQL figure within the bound the bins give (docs/monitoring.md)
    assert pairs and all(abs(a - b) <= bound + 1e-12 for a, b, bound in pairs if a is not None)
    result = cluster.dbt("run", "--select", *monitoring)
    assert "OK created python incremental model" in result.stdout
    cluster.dbt("run", "--select", "fraud_pr_auc_daily", "--full-refresh")
    assert cluster.query("select count(*) from analytics.fraud_pr_auc_daily")[0][0] == len(pairs)
