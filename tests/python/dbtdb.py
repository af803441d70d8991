"""Drive the real database and dbt from tests, in schemas of their own."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from warehouse.connection import connect

ROOT = Path(__file__).resolve().parents[2]
DBT = str(ROOT / ".venv" / "bin" / "dbt")


@dataclass
class DbtProject:
    """One isolated copy of the project's schemas: raw, scoring (fraud) and models."""

    suffix: str
    profiles_dir: Path
    user: str = "postgres"
    extra_vars: dict = field(default_factory=dict)
    # what the project runs on: invariant.py and soak.py draw only the operations the platform
    # follows (docs/reliability.md) and reach the database through query() and connect() below,
    # which a Greenplum project (tests/python/test_greenplum_cluster.py) points at its cluster
    platform: str = "postgres"

    @property
    def raw_schema(self) -> str:
        return f"test_raw_{self.suffix}"

    @property
    def fraud_schema(self) -> str:
        return f"test_fraud_{self.suffix}"

    @property
    def schema(self) -> str:
        return f"test_analytics_{self.suffix}"

    @property
    def analyst(self) -> str:
        return f"test_analyst_{self.suffix}"

    def vars(self, **more) -> dict:
        # fraud_load_sample: the suite builds the Kaggle-format seed and runs its data tests
        base = {"raw_schema": self.raw_schema, "fraud_schema": self.fraud_schema, "fraud_load_sample": True}
        return {**base, **self.extra_vars, **more}

    def command(self, *args: str, user: str | None = None, schema_suffix: str = "", **vars):
        """(argv, environment) of a dbt command on this copy of the project."""
        env = {
            **os.environ,
            "FRAUD_DBT_SCHEMA": self.schema + schema_suffix,
            "FRAUD_PG_USER": user or self.user,
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        cmd = [
            DBT,
            *args,
            "--vars",
            json.dumps(self.vars(**vars)),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            f"target/test_{self.suffix}",
            "--log-path",
            f"logs/test_{self.suffix}",
        ]
        return cmd, env

    def dbt(self, *args: str, check: bool = True, **options) -> subprocess.CompletedProcess:
        cmd, env = self.command(*args, **options)
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if check and result.returncode:
            pytest.fail(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
        return result

    def start(self, *args: str, **options) -> subprocess.Popen:
        """A dbt command left running (stdout and stderr together), to interrupt or run beside another."""
        cmd, env = self.command(*args, **options)
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def query(self, sql: str, params=None, user: str | None = None):
        """A statement on this project's database, committed; its rows, if any."""
        return query(sql, params, user=user or self.user)

    def connect(self, user: str | None = None):
        """A psycopg2 connection to this project's database (the caller closes it)."""
        return connect(user=user or self.user)

    def compile_model(self, name: str, *flags: str, **vars) -> tuple[list[str], str]:
        """A model as dbt compiles it: (its pre-hooks as written, unrendered; its compiled SQL)."""
        self.dbt("compile", "--select", name, *flags, **vars)
        target = ROOT / f"target/test_{self.suffix}"
        compiled = next((target / "compiled").rglob(f"{name}.sql")).read_text()
        manifest = json.loads((target / "manifest.json").read_text())
        node = next(n for n in manifest["nodes"].values() if n["name"] == name)
        return [h["sql"] for h in node["config"]["pre-hook"]], compiled


def query(sql: str, params=None, user: str = "postgres"):
    conn = connect(user=user)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


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
    """transaction_id -> (model_version, threshold, is_fraud): what fraud_decisions says."""
    rows = query(f"select transaction_id, model_version, threshold, is_fraud from {p.schema}.fraud_decisions")
    return {r[0]: r[1:] for r in rows}


def dbt_test_problems(p: DbtProject, test: str) -> list[str]:
    """The `problem` column of the rows a failing or warning dbt test stored (--store-failures);
    none when the test passed."""
    result = p.dbt("test", "--select", test, "--store-failures", check=False)
    audit = f"{p.schema}_dbt_test__audit"
    if not query("select 1 from pg_tables where schemaname = %s and tablename = %s", [audit, test]):
        return []
    return (
        [r[0] for r in query(f"select problem from {audit}.{test}")]
        if result.returncode or "WARN" in result.stdout
        else []
    )


def setup_project(tmp_path_factory, model_dir: Path, suffix: str, rows: int, seed: int) -> DbtProject:
    """A fresh copy of the project's schemas: `rows` synthetic transactions loaded into raw,
    the scoring functions installed, the model in `model_dir` registered (as version_a) and promoted."""
    import shutil

    from training.data import write_synthetic_csv
    from warehouse.connection import connection
    from warehouse.loading import load_csv
    from warehouse.registry import register

    profiles = tmp_path_factory.mktemp("profiles")
    shutil.copy(ROOT / "profiles.yml.example", profiles / "profiles.yml")
    p = DbtProject(suffix=suffix, profiles_dir=profiles)
    data = write_synthetic_csv(tmp_path_factory.mktemp("data") / "tx.csv", rows, seed=seed, fraud_rate=0.01)
    with connection() as conn:
        assert load_csv(conn, data, f"{p.raw_schema}.credit_card") == rows
    p.dbt("run-operation", "install_fraud_scoring")
    with connection() as conn:
        p.version_a = register(conn, model_dir, p.fraud_schema)[0]
    # registering deploys nothing: the champion is named explicitly
    p.dbt("run-operation", "promote_fraud_model", "--args", json.dumps({"version": p.version_a}))
    return p


def create_analyst(p: DbtProject) -> str:
    """The README's least-privilege role for this project (dropped first if left over): it may log
    in, read the raw table, and owns the schema its dbt runs write (schema_suffix "_analyst").
    Nothing in the scoring schema: install_fraud_scoring grants that (var fraud_scoring_roles)."""
    a = p.analyst
    query(f"drop role if exists {a}")
    query(f"create role {a} login")
    query(f"grant usage on schema {p.raw_schema} to {a}")
    query(f"grant select on {p.raw_schema}.credit_card, {p.raw_schema}.credit_card_labels to {a}")
    query(f"create schema {p.schema}_analyst authorization {a}")
    return a


def drop_project(p: DbtProject, *more_schemas: str) -> None:
    for schema in (p.schema, p.raw_schema, p.fraud_schema, *more_schemas):
        query(f"drop schema if exists {schema} cascade")
