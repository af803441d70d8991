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
role, and the Python models (docs/python-models.md) end to end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from fraud_scoring import SCORE_TOLERANCE
from training.data import write_synthetic_csv
from warehouse.connection import connection

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
    good, bad = top + 1, top + 2
    for tid, v1 in [(good, "0.5"), (bad, "'NaN'")]:
        values = ", ".join([str(tid), "0", v1, *["0"] * 27, "1", "0"])
        cluster.query(f"insert into raw.credit_card ({columns}) values ({values})")
    try:
        cluster.dbt("run")  # the bad row does not stop anyone's scoring
        after = scores(cluster)
        assert good in after and bad not in after
        assert all(after[t] == before[t] for t in before)
        quarantined = cluster.query("select transaction_id, column_name, reason from analytics.fraud_quarantine")
        assert quarantined == [(bad, "V1", "NaN")]
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
    cluster.query(f"grant select on raw.credit_card to {a}")
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


def test_python_models_run_on_the_coordinator_end_to_end(cluster, flow):
    """The monitoring Python models (docs/python-models.md), built by the operator flow's dbt run:
    their outputs agree with the SQL figures; an incremental run and a full refresh work; the
    least-privilege role ran them above (published code)."""
    distribution = cluster.query("select sum(scored_rows) from analytics.fraud_score_distribution")[0][0]
    assert distribution == cluster.query("select count(*) from analytics.fraud_scores")[0][0]
    pairs = cluster.query(
        "select p.pr_auc, m.pr_auc from analytics.fraud_pr_auc_daily p "
        "join analytics.fraud_model_metrics m using (model_version, transaction_day)"
    )
    assert pairs and all(abs(a - b) < 1e-9 for a, b in pairs if a is not None)
    result = cluster.dbt("run", "--select", "fraud_pr_auc_daily", "fraud_score_distribution")
    assert "OK created python incremental model" in result.stdout
    cluster.dbt("run", "--select", "fraud_pr_auc_daily", "--full-refresh")
    assert cluster.query("select count(*) from analytics.fraud_pr_auc_daily")[0][0] == len(pairs)
